//! The two hashings of the ledger's Merkle trees, one tree shape.
//!
//! Every tree has the RFC 6962 / RFC 9162 shape and is proved and verified
//! by the same algorithms ([`super::proof`]); what differs is how a leaf, an
//! interior node and the empty tree are hashed, which a [`MerkleHasher`]
//! says:
//!
//! | hasher | trees | leaf | node | empty tree |
//! |---|---|---|---|---|
//! | [`Blake3Merkle`] | transactions, receipts | `H_leaf(data)` | `H_node(left ‖ right)` | `H_node("")` |
//! | [`Rfc6962Sha256`] | history | `SHA-256(0x00 ‖ data)` | `SHA-256(0x01 ‖ left ‖ right)` | `SHA-256("")` |
//!
//! (`H_leaf`, `H_node`: blake3 in the Merkle leaf and node domains,
//! [`Domain::MerkleLeaf`](crate::hash::Domain::MerkleLeaf) and
//! [`Domain::MerkleNode`](crate::hash::Domain::MerkleNode).) The history
//! tree uses RFC 6962's own hashing so that its root *is* the root a C2SP
//! `tlog-checkpoint` (and any RFC 6962 / tlog-tiles client) expects; it has
//! one leaf per block, so SHA-256 costs nothing measurable there, while the
//! transaction and receipts trees, with up to 100,000 leaves a block, keep
//! the faster blake3.

use sha2::{Digest, Sha256};

use super::{leaf_hash, node_hash, EMPTY_ROOT};
use crate::hash::Hash;

/// How one kind of Merkle tree hashes its leaves, nodes and empty tree.
/// Leaves and nodes must hash in separate domains, so that a leaf can never
/// pose as a node.
pub trait MerkleHasher {
    /// The root of the tree with no leaves.
    fn empty_root() -> Hash;
    /// The hash of a leaf's data.
    fn leaf(data: &[u8]) -> Hash;
    /// The hash of an interior node over its two children.
    fn node(left: &Hash, right: &Hash) -> Hash;
}

/// The transaction and receipts trees: blake3 in the Merkle leaf and node
/// domains ([`Domain::MerkleLeaf`](crate::hash::Domain::MerkleLeaf),
/// [`Domain::MerkleNode`](crate::hash::Domain::MerkleNode)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blake3Merkle {}

impl MerkleHasher for Blake3Merkle {
    fn empty_root() -> Hash {
        *EMPTY_ROOT
    }
    fn leaf(data: &[u8]) -> Hash {
        leaf_hash(data)
    }
    fn node(left: &Hash, right: &Hash) -> Hash {
        node_hash(left, right)
    }
}

/// The history tree: RFC 6962 §2.1 hashing (c2sp.org/tlog-tiles), SHA-256
/// with a `0x00` prefix for leaves and `0x01` for nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rfc6962Sha256 {}

/// `SHA-256("")`: the root of the empty RFC 6962 tree.
pub const EMPTY_SHA256_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// RFC 6962's leaf prefix.
const LEAF_PREFIX: u8 = 0x00;
/// RFC 6962's node prefix.
const NODE_PREFIX: u8 = 0x01;

impl MerkleHasher for Rfc6962Sha256 {
    fn empty_root() -> Hash {
        EMPTY_SHA256_ROOT
    }
    fn leaf(data: &[u8]) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update([LEAF_PREFIX]);
        hasher.update(data);
        Hash(hasher.finalize().into())
    }
    fn node(left: &Hash, right: &Hash) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update([NODE_PREFIX]);
        hasher.update(left.as_bytes());
        hasher.update(right.as_bytes());
        Hash(hasher.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sha256_root_is_sha256_of_nothing() {
        assert_eq!(
            EMPTY_SHA256_ROOT,
            Hash(Sha256::digest(b"").into()),
            "RFC 6962 §2.1: MTH({{}}) = SHA-256()"
        );
    }

    #[test]
    fn leaves_and_nodes_are_prefixed() {
        let (a, b) = (Hash([1; 32]), Hash([2; 32]));
        let mut node_input = vec![1u8];
        node_input.extend_from_slice(a.as_bytes());
        node_input.extend_from_slice(b.as_bytes());
        assert_eq!(
            Rfc6962Sha256::node(&a, &b),
            Hash(Sha256::digest(&node_input).into())
        );
        assert_eq!(
            Rfc6962Sha256::leaf(b"abc"),
            Hash(Sha256::digest(b"\0abc").into())
        );
        assert_ne!(
            Rfc6962Sha256::leaf(&node_input[1..]),
            Rfc6962Sha256::node(&a, &b)
        );
        assert_eq!(Blake3Merkle::node(&a, &b), node_hash(&a, &b));
        assert_eq!(Blake3Merkle::empty_root(), *EMPTY_ROOT);
    }
}
