//! The authenticated state: a versioned, path-compressed sparse Merkle tree
//! over 256-bit key hashes, with membership and non-membership proofs.
//!
//! ## The tree (what the root commits to)
//! Application keys are hashed in [`Domain::StateKey`] to 256-bit positions.
//! For a set of (position, value) pairs the root is defined recursively over
//! the bits of the positions, most significant first:
//!
//! * no pairs: [`EMPTY_SUBTREE`] (all zero bytes);
//! * one pair: its leaf hash, `H_leaf(position ‖ H_value(value))`, wherever
//!   it sits (path compression: a lone key is never pushed further down);
//! * more: `H_node(root(left) ‖ root(right))`, split on the next bit.
//!
//! So the root depends only on the final key/value set, never on insertion
//! order, batch split or thread count, and a tree of n random keys has depth
//! about log2 n.
//!
//! ## Storage (how the tree is kept)
//! Nodes are stored in groups of four bit-levels: an *internal node* at a
//! nibble path holds up to 16 children, each a reference to another internal
//! node or to a leaf. Every node is immutable and keyed by the version (block
//! height) that wrote it, so the tree at any retained version can be read and
//! proved while newer versions are written. A batch of updates writes one new
//! node per changed path and lists the nodes it replaced as *stale since* its
//! version, so pruning versions older than a window is a scan of those lists.
//! Values are stored per (position, version) so that a point read at any
//! version is one seek. See `docs/ARCHITECTURE.md` for why this layout.
//!
//! The tree reads through [`StateTreeReader`] and returns its writes as
//! [`StateTreeWrites`], so it knows no storage engine; [`MemoryStateTree`] is
//! the in-memory implementation used by tests and by embedders with no disk.

mod cache;
mod layers;
mod memory;
mod merge;
mod node;
mod position;
mod proof;
mod prove;
mod stored;
mod update;
mod verifying;

pub use cache::{CachedReader, NodeCache, DEFAULT_NODE_CACHE_BYTES};
pub use layers::{LayeredReader, StateLayers};
pub use memory::MemoryStateTree;
pub use merge::{merge_versions, CheckpointDelta};
pub use node::{
    leaf_key, range_hash, Child, InternalNode, NibblePath, Node, NodeKey, Slots, LEAF_KEY_BYTES,
};
pub use position::{application_position, nonce_position, nonce_positions};
pub use proof::{
    verify_state_proof, ProofTerminal, StateProof, StateProofError, MAX_STATE_PROOF_SIBLINGS,
};
pub use prove::prove;
#[cfg(feature = "testing")]
pub(crate) use stored::decode_stale as decode_stale_list;
pub use stored::{add_delta_to_batch, add_pruning_to_batch, add_writes_to_batch, StoredStateTree};
pub(crate) use stored::{stale_keys, stored_column};
pub use update::{apply_updates, StaleEntry, StateTreeWrites, StateUpdate};
pub use verifying::VerifyingReader;

use std::sync::LazyLock;

use crate::hash::{hash, Domain, Hash, HASH_BYTES};
use crate::merkle::lanes;
use crate::store::StoreError;

/// Hash of an empty subtree, and the root of an empty tree.
pub const EMPTY_SUBTREE: Hash = Hash::ZERO;

/// Bits in a key position; the deepest a proof can be.
pub const KEY_BITS: usize = 256;

/// Nibbles (four-bit steps) in a key position: the most levels of internal
/// nodes a path can cross.
pub const KEY_NIBBLES: usize = 64;

/// Why the state tree could not answer or update.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateTreeError {
    /// A node that the tree refers to is not in storage: the version was
    /// pruned, or storage lost it.
    #[error("state tree node {key} is missing (pruned version or lost data)")]
    MissingNode {
        /// The node's key, rendered.
        key: String,
    },
    /// Stored bytes are not a valid node, or nodes contradict each other.
    #[error("state tree storage is corrupt: {detail}")]
    Corrupt {
        /// What was wrong.
        detail: String,
    },
    /// The new version is not after the base version.
    #[error("state tree version {new} does not follow base version {base:?}")]
    VersionOrder {
        /// The version the batch applies on.
        base: Option<u64>,
        /// The version the batch would write.
        new: u64,
    },
    /// The updates were not sorted by position with each position once.
    #[error("state updates must be sorted by key hash with no duplicates (at index {index})")]
    UnsortedUpdates {
        /// Index of the first update out of order.
        index: usize,
    },
    /// The store failed.
    #[error("state tree storage read failed")]
    Storage(#[from] StoreError),
}

/// The hash of a stored value.
pub fn value_hash(value: &[u8]) -> Hash {
    hash(Domain::StateValue, value)
}

/// The hash of a leaf: its position and its value's hash.
pub fn leaf_hash(position: &Hash, value_hash: &Hash) -> Hash {
    let mut input = [0u8; 2 * HASH_BYTES];
    input[..HASH_BYTES].copy_from_slice(position.as_bytes());
    input[HASH_BYTES..].copy_from_slice(value_hash.as_bytes());
    hash(Domain::StateLeaf, &input)
}

static VALUE_KEY_WORDS: LazyLock<[u32; 8]> =
    LazyLock::new(|| lanes::key_words(Domain::StateValue.context_key()));
static LEAF_KEY_WORDS: LazyLock<[u32; 8]> =
    LazyLock::new(|| lanes::key_words(Domain::StateLeaf.context_key()));

/// [`leaf_hash`]`(position, `[`value_hash`]`(value))` of each pair, in bulk.
///
/// Every leaf hash is one blake3 block, and so is the value hash of a value
/// of up to 64 bytes: they are compressed many at a time
/// ([`lanes::hash_each`], [`lanes::hash_blocks`]). An update of 10,000
/// transfers hashes about 20,000 leaves; one `blake3` call each costs
/// several times a lane.
pub fn leaf_hashes(leaves: &[(Hash, &[u8])]) -> Vec<Hash> {
    let values: Vec<&[u8]> = leaves.iter().map(|(_, value)| *value).collect();
    let value_hashes = lanes::hash_each(&VALUE_KEY_WORDS, &[], &values);
    let blocks: Vec<[u8; lanes::BLOCK_BYTES]> = leaves
        .iter()
        .zip(&value_hashes)
        .map(|((position, _), value_hash)| {
            let mut block = [0u8; lanes::BLOCK_BYTES];
            block[..HASH_BYTES].copy_from_slice(position.as_bytes());
            block[HASH_BYTES..].copy_from_slice(value_hash.as_bytes());
            block
        })
        .collect();
    let mut out = vec![[0u8; HASH_BYTES]; leaves.len()];
    lanes::hash_blocks(
        &LEAF_KEY_WORDS,
        lanes::BLOCK_BYTES as u32,
        &blocks,
        &mut out,
    );
    out.into_iter().map(Hash).collect()
}

/// The hash of an interior binary node over its two subtrees.
pub fn interior_hash(left: &Hash, right: &Hash) -> Hash {
    let mut input = [0u8; 2 * HASH_BYTES];
    input[..HASH_BYTES].copy_from_slice(left.as_bytes());
    input[HASH_BYTES..].copy_from_slice(right.as_bytes());
    hash(Domain::StateNode, &input)
}

/// Bit `index` (0 = most significant) of a key position.
pub(crate) fn key_bit(key: &Hash, index: usize) -> bool {
    let byte = key.0.get(index / 8).copied().unwrap_or(0);
    (byte >> (7 - index % 8)) & 1 == 1
}

/// Nibble `index` (0 = most significant) of a key position.
pub(crate) fn key_nibble(key: &Hash, index: usize) -> u8 {
    let byte = key.0.get(index / 2).copied().unwrap_or(0);
    if index.is_multiple_of(2) {
        byte >> 4
    } else {
        byte & 0x0f
    }
}

/// Reads the stored tree. Implemented over a `Store` by the engine and by
/// [`MemoryStateTree`]; must be `Sync` because updates read in parallel.
pub trait StateTreeReader: Sync {
    /// The node stored under `key`, if any.
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError>;

    /// The value of `position` as of `version`: the newest value record at a
    /// version ≤ `version`; `None` if there is none or it is a deletion.
    fn value_at(
        &self,
        position: &Hash,
        version: u64,
    ) -> Result<Option<bytes::Bytes>, StateTreeError>;

    /// The value record of `position` written at exactly `version` (the
    /// version a leaf names): `None` if there is none or it is a deletion.
    /// A reader that can fetch a record by its key does so (a point read);
    /// the default searches with [`StateTreeReader::value_at`], which
    /// finds the same record in a consistent tree.
    fn value_record(
        &self,
        position: &Hash,
        version: u64,
    ) -> Result<Option<bytes::Bytes>, StateTreeError> {
        self.value_at(position, version)
    }
}

/// The root hash of a set of (position, value hash) pairs computed from
/// scratch by the definition, ignoring storage: the reference that tests and
/// audits compare the stored tree against. `pairs` must be sorted by position
/// with no duplicates.
pub fn root_from_pairs(pairs: &[(Hash, Hash)]) -> Hash {
    fn subtree(pairs: &[(Hash, Hash)], depth: usize) -> Hash {
        match pairs {
            [] => EMPTY_SUBTREE,
            [(key, value)] => leaf_hash(key, value),
            _ if depth >= KEY_BITS => EMPTY_SUBTREE, // unreachable for distinct keys
            _ => {
                let split = pairs.partition_point(|(key, _)| !key_bit(key, depth));
                let (left, right) = pairs.split_at(split);
                interior_hash(&subtree(left, depth + 1), &subtree(right, depth + 1))
            }
        }
    }
    subtree(pairs, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_leaf_hashes_equal_one_by_one() {
        // Every length from the empty value to past one block (0 to 90),
        // interleaved, and one length (8) in full vectors.
        let values: Vec<Vec<u8>> = (0..600usize)
            .map(|i| {
                let len = match i % 3 {
                    0 => 8,
                    _ => i % 91,
                };
                (0..len).map(|j| (i * 31 + j) as u8).collect()
            })
            .collect();
        assert!(values.iter().any(Vec::is_empty));
        let leaves: Vec<(Hash, &[u8])> = values
            .iter()
            .enumerate()
            .map(|(i, value)| (hash(Domain::StateKey, &i.to_le_bytes()), value.as_slice()))
            .collect();
        let bulk = leaf_hashes(&leaves);
        let single: Vec<Hash> = leaves
            .iter()
            .map(|(position, value)| leaf_hash(position, &value_hash(value)))
            .collect();
        assert_eq!(bulk, single);
        assert!(leaf_hashes(&[]).is_empty());
    }

    #[test]
    fn bits_and_nibbles_agree() {
        let key = Hash([0b1010_0101; 32]);
        for nibble_index in 0..KEY_NIBBLES {
            let nibble = key_nibble(&key, nibble_index);
            for bit in 0..4 {
                let expected = (nibble >> (3 - bit)) & 1 == 1;
                assert_eq!(key_bit(&key, nibble_index * 4 + bit), expected);
            }
        }
    }

    #[test]
    fn reference_root_shapes() {
        assert_eq!(root_from_pairs(&[]), EMPTY_SUBTREE);
        let a = (Hash([0x00; 32]), Hash([1; 32]));
        let b = (Hash([0x80; 32]), Hash([2; 32]));
        assert_eq!(root_from_pairs(&[a]), leaf_hash(&a.0, &a.1));
        assert_eq!(
            root_from_pairs(&[a, b]),
            interior_hash(&leaf_hash(&a.0, &a.1), &leaf_hash(&b.0, &b.1))
        );
    }
}
