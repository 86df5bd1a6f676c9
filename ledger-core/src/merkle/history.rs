//! The history tree: a Merkle tree with one leaf per block, the block's
//! encoded header, appended one block at a time; the root over blocks
//! `0 .. h` goes into the header of block `h`.
//!
//! It hashes as RFC 6962 does ([`Rfc6962Sha256`]: SHA-256, leaf prefix
//! `0x00`, node prefix `0x01`, the empty tree `SHA-256("")`), so the
//! `history_root` of header `n` is exactly the root hash of a C2SP
//! `tlog-checkpoint` of tree size `n`, and its proofs are RFC 6962 / C2SP
//! `tlog-tiles` proofs ([`verify_history_inclusion`],
//! [`verify_history_consistency`]; tested against an independent
//! implementation in `tests/history_interop.rs`).
//!
//! The tree keeps only its *frontier* in memory: the roots of the perfect
//! subtrees that make up its leaves (one per set bit of the size, at most
//! 64). Appending a leaf hashes O(log n) nodes and completes at most as many
//! perfect subtrees, which the caller stores ([`NodePosition`] gives each a
//! canonical key). Any inclusion or consistency proof, for any past size, is
//! answered from stored perfect subtrees, because every subtree of the
//! RFC 9162 shape is either perfect or a right edge made of perfect ones.
//!
//! It knows no storage: it reads nodes through [`HistoryNodes`].

use std::collections::BTreeMap;

use super::hasher::{MerkleHasher, Rfc6962Sha256, EMPTY_SHA256_ROOT};
use super::proof::{
    verify_consistency_with, verify_inclusion_with, ConsistencyProof, InclusionProof,
    MerkleProofError, RangeRoots,
};
use crate::hash::Hash;
use crate::store::StoreError;

/// A perfect subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodePosition {
    /// Height above the leaves (0: a leaf hash).
    pub level: u8,
    /// Position among the subtrees of that level.
    pub index: u64,
}

/// Bytes of an encoded [`NodePosition`].
pub const NODE_POSITION_BYTES: usize = 9;

impl NodePosition {
    /// Canonical key: level (u8) ‖ index (u64 big-endian), so keys sort by
    /// level, then index.
    pub fn to_key(&self) -> [u8; NODE_POSITION_BYTES] {
        let mut key = [0u8; NODE_POSITION_BYTES];
        key[0] = self.level;
        key[1..].copy_from_slice(&self.index.to_be_bytes());
        key
    }

    /// Decodes [`NodePosition::to_key`]'s output.
    pub fn from_key(key: &[u8]) -> Option<Self> {
        let (&level, index) = key.split_first()?;
        let index: [u8; 8] = index.try_into().ok()?;
        (level < 64).then_some(NodePosition {
            level,
            index: u64::from_be_bytes(index),
        })
    }
}

/// Why the history tree could not be read from its stored nodes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// A stored node is missing.
    #[error("history node at level {level}, index {index} is missing")]
    MissingNode {
        /// Its level.
        level: u8,
        /// Its index.
        index: u64,
    },
    /// A stored node is not a 32-byte hash.
    #[error("history node at level {level}, index {index} is malformed")]
    MalformedNode {
        /// Its level.
        level: u8,
        /// Its index.
        index: u64,
    },
    /// The node store failed.
    #[error("history node storage failed")]
    Storage(#[from] StoreError),
    /// The sizes or index asked for do not fit the tree.
    #[error(transparent)]
    Proof(#[from] MerkleProofError),
}

/// Reads stored perfect subtrees.
pub trait HistoryNodes {
    /// The root of the perfect subtree at `position`, if stored.
    fn node(&self, position: NodePosition) -> Result<Option<Hash>, HistoryError>;
}

/// Stored nodes in memory (tests, and embedders without a store).
#[derive(Clone, Debug, Default)]
pub struct MemoryHistoryNodes(pub BTreeMap<NodePosition, Hash>);

impl MemoryHistoryNodes {
    /// Stores nodes returned by [`HistoryTree::append`].
    pub fn insert_all(&mut self, nodes: impl IntoIterator<Item = (NodePosition, Hash)>) {
        self.0.extend(nodes);
    }
}

impl HistoryNodes for MemoryHistoryNodes {
    fn node(&self, position: NodePosition) -> Result<Option<Hash>, HistoryError> {
        Ok(self.0.get(&position).copied())
    }
}

/// The history tree's frontier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryTree {
    size: u64,
    /// Perfect subtrees from the left: (level, root), levels decreasing.
    frontier: Vec<(u8, Hash)>,
}

fn read<N: HistoryNodes + ?Sized>(nodes: &N, position: NodePosition) -> Result<Hash, HistoryError> {
    nodes.node(position)?.ok_or(HistoryError::MissingNode {
        level: position.level,
        index: position.index,
    })
}

impl HistoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored nodes.
    pub fn restore<N: HistoryNodes + ?Sized>(size: u64, nodes: &N) -> Result<Self, HistoryError> {
        let mut frontier = Vec::new();
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            let width = 1u64 << level;
            if size & width != 0 {
                let position = NodePosition {
                    level,
                    index: start >> level,
                };
                frontier.push((level, read(nodes, position)?));
                start += width;
            }
        }
        Ok(HistoryTree { size, frontier })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root (RFC 6962 hashing and shape); [`EMPTY_SHA256_ROOT`] for no
    /// leaves.
    pub fn root(&self) -> Hash {
        let mut roots = self.frontier.iter().rev().map(|(_, hash)| *hash);
        let Some(mut root) = roots.next() else {
            return EMPTY_SHA256_ROOT;
        };
        for left in roots {
            root = Rfc6962Sha256::node(&left, &root);
        }
        root
    }

    /// Appends a leaf (a block's encoded header) and returns the perfect
    /// subtrees it completed, for the caller to store: the leaf hash itself
    /// (level 0, `SHA-256(0x00 ‖ entry)`) and every node it completed above
    /// it.
    pub fn append(&mut self, entry: &[u8]) -> Vec<(NodePosition, Hash)> {
        let index = self.size;
        self.size += 1;
        let mut completed = Vec::with_capacity(2);
        let hash = Rfc6962Sha256::leaf(entry);
        completed.push((NodePosition { level: 0, index }, hash));
        self.frontier.push((0, hash));
        while let [.., (left_level, left), (right_level, right)] = self.frontier[..] {
            if left_level != right_level {
                break;
            }
            let level = left_level + 1;
            let merged = Rfc6962Sha256::node(&left, &right);
            self.frontier.truncate(self.frontier.len() - 2);
            self.frontier.push((level, merged));
            completed.push((
                NodePosition {
                    level,
                    index: (self.size >> level) - 1,
                },
                merged,
            ));
        }
        completed
    }

    /// The proof that leaf `index` is in the tree of `size` leaves (any size
    /// up to the stored one), from stored nodes.
    pub fn inclusion_proof<N: HistoryNodes + ?Sized>(
        nodes: &N,
        index: u64,
        size: u64,
    ) -> Result<InclusionProof, HistoryError> {
        InclusionProof::generate(&StoredRanges(nodes), index, size)
    }

    /// The proof that the tree of `old_size` leaves is a prefix of the tree
    /// of `new_size` leaves, from stored nodes.
    pub fn consistency_proof<N: HistoryNodes + ?Sized>(
        nodes: &N,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, HistoryError> {
        ConsistencyProof::generate(&StoredRanges(nodes), old_size, new_size)
    }

    /// The root of the tree of `size` leaves (a past size), from stored nodes.
    pub fn root_at<N: HistoryNodes + ?Sized>(nodes: &N, size: u64) -> Result<Hash, HistoryError> {
        if size == 0 {
            return Ok(EMPTY_SHA256_ROOT);
        }
        StoredRanges(nodes).range_root(0, size)
    }
}

/// Range roots from stored perfect subtrees.
struct StoredRanges<'a, N: ?Sized>(&'a N);

impl<N: HistoryNodes + ?Sized> RangeRoots for StoredRanges<'_, N> {
    type Error = HistoryError;
    fn range_root(&self, start: u64, end: u64) -> Result<Hash, HistoryError> {
        // Split [start, end) into the largest aligned perfect subtrees, left
        // to right, then fold them from the right: the RFC 9162 shape.
        let mut parts = Vec::new();
        let mut at = start;
        while at < end {
            let mut level = if at == 0 {
                63
            } else {
                at.trailing_zeros().min(63)
            };
            while level > 0 && at.checked_add(1u64 << level).is_none_or(|next| next > end) {
                level -= 1;
            }
            parts.push(read(
                self.0,
                NodePosition {
                    level: level as u8,
                    index: at >> level,
                },
            )?);
            at += 1u64 << level;
        }
        let mut parts = parts.into_iter().rev();
        let mut root = parts.next().ok_or(MerkleProofError::WrongLength)?;
        for left in parts {
            root = Rfc6962Sha256::node(&left, &root);
        }
        Ok(root)
    }
}

/// Checks that `entry` (a block's encoded header) is leaf `proof.index` of
/// the history tree of `size` leaves with root `root` (RFC 6962 hashing;
/// RFC 9162 §2.1.3.2). Pure; never panics. `root` and `size` must come
/// together from a trusted source: a header's `history_root` and `height`,
/// or a checkpoint's root hash and tree size.
pub fn verify_history_inclusion(
    root: &Hash,
    size: u64,
    entry: &[u8],
    proof: &InclusionProof,
) -> Result<(), MerkleProofError> {
    verify_inclusion_with::<Rfc6962Sha256>(root, size, &Rfc6962Sha256::leaf(entry), proof)
}

/// Checks that the history tree of `old_size` leaves with root `old_root`
/// is a prefix of the one of `new_size` leaves with root `new_root`
/// (RFC 6962 hashing; RFC 9162 §2.1.4.2). Pure; never panics. Each size
/// must be the trusted size of its root (a header's `height` with its
/// `history_root`, a checkpoint's tree size with its root hash).
pub fn verify_history_consistency(
    old_size: u64,
    old_root: &Hash,
    new_size: u64,
    new_root: &Hash,
    proof: &ConsistencyProof,
) -> Result<(), MerkleProofError> {
    verify_consistency_with::<Rfc6962Sha256>(old_size, old_root, new_size, new_root, proof)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 6962 §2.1 tree hash, by its recursive definition.
    fn mth(entries: &[Vec<u8>]) -> Hash {
        match entries {
            [] => EMPTY_SHA256_ROOT,
            [entry] => Rfc6962Sha256::leaf(entry),
            _ => {
                let k = crate::merkle::largest_power_of_two_below(entries.len() as u64) as usize;
                Rfc6962Sha256::node(&mth(&entries[..k]), &mth(&entries[k..]))
            }
        }
    }

    #[test]
    fn appends_match_batch_roots_and_proofs_come_from_stored_nodes() {
        let ids: Vec<Vec<u8>> = (0..100u64)
            .map(|i| format!("entry {i}").into_bytes())
            .collect();
        let mut tree = HistoryTree::new();
        let mut nodes = MemoryHistoryNodes::default();
        let mut roots = vec![tree.root()];
        for (n, id) in ids.iter().enumerate() {
            let completed = tree.append(id);
            assert!(completed.len() <= 1 + 64);
            nodes.insert_all(completed);
            assert_eq!(tree.root(), mth(&ids[..=n]));
            roots.push(tree.root());
            let restored = HistoryTree::restore(tree.size(), &nodes).unwrap();
            assert_eq!(restored, tree);
        }
        for size in 1..=100u64 {
            assert_eq!(
                HistoryTree::root_at(&nodes, size).unwrap(),
                roots[size as usize]
            );
            for index in [0, size / 2, size - 1] {
                let proof = HistoryTree::inclusion_proof(&nodes, index, size).unwrap();
                verify_history_inclusion(&roots[size as usize], size, &ids[index as usize], &proof)
                    .unwrap();
                let other = &ids[((index + 1) % size) as usize];
                if size > 1 {
                    assert!(
                        verify_history_inclusion(&roots[size as usize], size, other, &proof)
                            .is_err()
                    );
                }
            }
            for old in [0, 1, size / 3, size - 1, size] {
                let proof = HistoryTree::consistency_proof(&nodes, old, size).unwrap();
                verify_history_consistency(
                    old,
                    &roots[old as usize],
                    size,
                    &roots[size as usize],
                    &proof,
                )
                .unwrap();
            }
        }
    }

    #[test]
    fn position_keys_roundtrip_and_sort() {
        let a = NodePosition { level: 0, index: 7 };
        let b = NodePosition { level: 1, index: 0 };
        assert_eq!(NodePosition::from_key(&a.to_key()), Some(a));
        assert!(a.to_key() < b.to_key());
        assert_eq!(NodePosition::from_key(&[64, 0, 0, 0, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn missing_node_is_an_error() {
        let nodes = MemoryHistoryNodes::default();
        assert!(matches!(
            HistoryTree::inclusion_proof(&nodes, 0, 2),
            Err(HistoryError::MissingNode { .. })
        ));
    }
}
