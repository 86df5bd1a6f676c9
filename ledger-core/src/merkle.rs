//! Merkle trees with the RFC 6962 / RFC 9162 shape: transaction and receipts
//! roots (blake3), inclusion proofs, consistency proofs, and the history tree
//! over blocks (SHA-256, RFC 6962 hashing: [`history`]). The hashing of a
//! tree is a [`MerkleHasher`] ([`hasher`]); everything below that is not in
//! [`history`] is about the blake3 trees.
//!
//! A tree over `n` leaves splits at the largest power of two below `n`; an
//! odd node is never duplicated (so the CVE-2012-2459 class of bugs, two
//! leaf lists with one root, cannot occur). Leaves and interior nodes hash in
//! separate domains:
//!
//! * leaf: `H_leaf(data)` ([`Domain::MerkleLeaf`]),
//! * node: `H_node(left ‖ right)` ([`Domain::MerkleNode`]),
//! * the empty tree: [`EMPTY_ROOT`] = `H_node("")` (no node input is empty).
//!
//! Roots are computed many hashes at a time ([`lanes`]): where the CPU has
//! AVX2, each perfect subtree of eight leaves or more in one pass, leaves
//! included, eight hashes per step and no intermediate buffer; elsewhere
//! bottom-up in one buffer, level by level (16 nodes per step with AVX-512,
//! one `blake3` call per node without). Subtrees of
//! [`PARALLEL_SUBTREE_LEAVES`] leaves are hashed on rayon. [`MerkleLevels`] keeps every level of
//! one tree for repeated proofs.
//!
//! Proofs use the RFC 9162 algorithms; their encodings and the verifiers
//! (generic over the hasher) are in [`proof`]. The [`history`] tree appends
//! block headers in O(log n) and answers proofs from stored perfect subtrees.

pub mod hasher;
pub mod history;
pub mod lanes;
mod levels;
pub mod proof;
pub mod tiles;

use std::sync::LazyLock;

use rayon::prelude::*;

use crate::hash::{hash, hash_parts, Domain, Hash, HASH_BYTES};

pub use hasher::{Blake3Merkle, MerkleHasher, Rfc6962Sha256, EMPTY_SHA256_ROOT};
pub use history::{
    verify_history_consistency, verify_history_inclusion, HistoryError, HistoryNodes, HistoryTree,
    MemoryHistoryNodes, NodePosition,
};
pub use levels::MerkleLevels;
pub use proof::{
    verify_consistency, verify_consistency_with, verify_inclusion, verify_inclusion_with,
    ConsistencyProof, InclusionProof, MerkleProofError, MAX_PROOF_HASHES,
};

/// Root of the blake3 tree with no leaves: `H_node` of the empty string.
pub static EMPTY_ROOT: LazyLock<Hash> = LazyLock::new(|| hash(Domain::MerkleNode, b""));

/// Subtrees of this many leaves are hashed as one rayon task: big enough
/// that task overhead vanishes, small enough (2 MiB of leaves) to balance
/// two cores on a 100,000-transaction block.
pub const PARALLEL_SUBTREE_LEAVES: usize = 1 << 14;

/// The hash of a leaf's data.
pub fn leaf_hash(data: &[u8]) -> Hash {
    hash(Domain::MerkleLeaf, data)
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    hash_parts(Domain::MerkleNode, &[left.as_bytes(), right.as_bytes()])
}

static LEAF_KEY: LazyLock<[u32; 8]> =
    LazyLock::new(|| lanes::key_words(Domain::MerkleLeaf.context_key()));
static NODE_KEY: LazyLock<[u32; 8]> =
    LazyLock::new(|| lanes::key_words(Domain::MerkleNode.context_key()));

/// Leaf hashes of 32-byte leaves (transaction ids, receipt leaves), in bulk.
pub fn leaf_hashes(leaves: &[Hash]) -> Vec<Hash> {
    let blocks: Vec<[u8; 64]> = leaves
        .iter()
        .map(|leaf| {
            let mut block = [0u8; 64];
            block[..HASH_BYTES].copy_from_slice(leaf.as_bytes());
            block
        })
        .collect();
    let mut out = vec![[0u8; 32]; leaves.len()];
    lanes::hash_blocks(&LEAF_KEY, HASH_BYTES as u32, &blocks, &mut out);
    out.into_iter().map(Hash).collect()
}

/// Reduces one level in place: node `i` of the next level is the hash of
/// nodes `2i` and `2i + 1`; an odd last node moves up unchanged. Returns the
/// next level's length. The pairs are hashed many at a time ([`lanes`]).
fn reduce_level(nodes: &mut [[u8; 32]], scratch: &mut Vec<[u8; 64]>) -> usize {
    let pairs = nodes.len() / 2;
    scratch.clear();
    scratch.extend(nodes.chunks_exact(2).map(|pair| {
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&pair[0]);
        block[32..].copy_from_slice(&pair[1]);
        block
    }));
    let odd = nodes.len() % 2 == 1;
    let last = nodes.last().copied();
    lanes::hash_blocks(&NODE_KEY, 64, scratch, &mut nodes[..pairs]);
    if let (true, Some(last)) = (odd, last) {
        nodes[pairs] = last;
        pairs + 1
    } else {
        pairs
    }
}

/// The level above `level` (pairs hashed many at a time, an odd last node
/// moved up unchanged).
fn parent_level(level: &[Hash]) -> Vec<Hash> {
    let mut nodes: Vec<[u8; 32]> = level.iter().map(|node| node.0).collect();
    let mut scratch = Vec::with_capacity(nodes.len() / 2);
    let len = reduce_level(&mut nodes, &mut scratch);
    nodes.truncate(len);
    nodes.into_iter().map(Hash).collect()
}

/// Root of a level of node hashes, bottom-up, on this thread.
fn root_of_level(mut nodes: Vec<[u8; 32]>) -> Hash {
    let mut scratch = Vec::with_capacity(nodes.len() / 2);
    let mut len = nodes.len();
    while len > 1 {
        len = reduce_level(&mut nodes[..len], &mut scratch);
    }
    nodes.first().map(|root| Hash(*root)).unwrap_or(*EMPTY_ROOT)
}

/// The root over `leaves` on this thread. Where [`lanes::perfect_root`]
/// runs (AVX2), the tree is cut into perfect subtrees (one per bit of the
/// number of leaves, largest first, as the RFC 9162 split does) of at least
/// eight leaves, each hashed in one pass; the few leaves left (fewer than
/// eight) are reduced level by level, and the roots joined from the right.
fn subtree_root(leaves: &[Hash]) -> [u8; 32] {
    let mut parts = Vec::new();
    let mut rest = leaves;
    while rest.len() >= 8 {
        let size = 1 << rest.len().ilog2();
        let (perfect, after) = rest.split_at(size);
        let Some(root) = lanes::perfect_root(&LEAF_KEY, &NODE_KEY, perfect) else {
            break;
        };
        parts.push(root);
        rest = after;
    }
    let mut root = (!rest.is_empty()).then(|| levels_root(rest));
    for part in parts.into_iter().rev() {
        root = Some(match root {
            Some(right) => node_hash(&Hash(part), &Hash(right)).0,
            None => part,
        });
    }
    root.unwrap_or(EMPTY_ROOT.0)
}

/// The root over `leaves`, leaf hashes first, then level by level.
fn levels_root(leaves: &[Hash]) -> [u8; 32] {
    let mut nodes: Vec<[u8; 32]> = leaf_hashes(leaves).into_iter().map(|h| h.0).collect();
    let mut scratch = Vec::with_capacity(nodes.len() / 2);
    let mut len = nodes.len();
    while len > 1 {
        len = reduce_level(&mut nodes[..len], &mut scratch);
    }
    nodes.first().copied().unwrap_or(EMPTY_ROOT.0)
}

/// The blake3 Merkle root over 32-byte leaves (transaction ids for a block's
/// transaction root, receipt leaves for its receipts root), in order.
///
/// Aligned subtrees of [`PARALLEL_SUBTREE_LEAVES`] leaves are hashed in
/// parallel; because the tree is left-balanced they are subtrees of the
/// whole tree, and the last, partial one reduces exactly as in the whole
/// tree, so the root does not depend on the thread count.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return *EMPTY_ROOT;
    }
    if leaves.len() <= PARALLEL_SUBTREE_LEAVES {
        return Hash(subtree_root(leaves));
    }
    let subtree_roots: Vec<[u8; 32]> = leaves
        .par_chunks(PARALLEL_SUBTREE_LEAVES)
        .map(subtree_root)
        .collect();
    root_of_level(subtree_roots)
}

/// The root over `leaves`, one `blake3` call per node: the reference that
/// the fast path is tested against, kept for clarity.
pub fn merkle_root_simple(leaves: &[Hash]) -> Hash {
    fn subtree(leaves: &[Hash]) -> Hash {
        match leaves {
            [] => *EMPTY_ROOT,
            [leaf] => leaf_hash(leaf.as_bytes()),
            _ => {
                let split = largest_power_of_two_below(leaves.len() as u64) as usize;
                let (left, right) = leaves.split_at(split);
                node_hash(&subtree(left), &subtree(right))
            }
        }
    }
    subtree(leaves)
}

/// The largest power of two strictly below `n` (for `n ≥ 2`).
pub(crate) fn largest_power_of_two_below(n: u64) -> u64 {
    if n < 2 {
        return 0;
    }
    1u64 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u64)
            .map(|i| hash(Domain::TransactionId, &i.to_le_bytes()))
            .collect()
    }

    #[test]
    fn fast_root_equals_simple_root() {
        for n in (0..70).chain([
            1000,
            4097,
            PARALLEL_SUBTREE_LEAVES + 3,
            3 * PARALLEL_SUBTREE_LEAVES + 1,
        ]) {
            let leaves = leaves(n);
            assert_eq!(merkle_root(&leaves), merkle_root_simple(&leaves), "n = {n}");
        }
    }

    /// Every way to a root agrees with one `blake3` call per node: one and
    /// two rayon threads, the level-by-level path (no one-pass subtrees),
    /// and [`MerkleLevels`], for sizes around the lane counts and the
    /// parallel split.
    #[test]
    fn every_root_path_equals_one_call_per_node() {
        let pool = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
        };
        let (one, two) = (pool(1), pool(2));
        for n in [
            1usize,
            2,
            3,
            7,
            8,
            9,
            17,
            1000,
            16385,
            2 * PARALLEL_SUBTREE_LEAVES + 9,
        ] {
            let leaves = leaves(n);
            let expected = merkle_root_simple(&leaves);
            assert_eq!(one.install(|| merkle_root(&leaves)), expected, "n = {n}");
            assert_eq!(two.install(|| merkle_root(&leaves)), expected, "n = {n}");
            assert_eq!(Hash(levels_root(&leaves)), expected, "n = {n}");
            assert_eq!(MerkleLevels::build(&leaves).root(), expected, "n = {n}");
        }
    }

    #[test]
    fn shapes() {
        let l = leaves(3);
        let h = |i: usize| leaf_hash(l[i].as_bytes());
        assert_eq!(merkle_root(&[]), *EMPTY_ROOT);
        assert_eq!(merkle_root(&l[..1]), h(0));
        assert_eq!(merkle_root(&l), node_hash(&node_hash(&h(0), &h(1)), &h(2)));
        // No duplication of the odd node: [a, b, c] and [a, b, c, c] differ.
        let mut duplicated = l.clone();
        duplicated.push(l[2]);
        assert_ne!(merkle_root(&l), merkle_root(&duplicated));
    }

    #[test]
    fn powers_of_two() {
        assert_eq!(largest_power_of_two_below(2), 1);
        assert_eq!(largest_power_of_two_below(3), 2);
        assert_eq!(largest_power_of_two_below(4), 2);
        assert_eq!(largest_power_of_two_below(5), 4);
        assert_eq!(largest_power_of_two_below(u64::MAX), 1 << 63);
    }
}
