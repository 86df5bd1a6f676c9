//! RFC 6962 Merkle consistency-proof verification over SHA-256, the one
//! function through which the witness checks that a new checkpoint extends
//! the tree it co-signed before: `ledger_core::merkle`'s RFC 9162
//! §2.1.4.2 verifier with the RFC 6962 SHA-256 hasher (leaf hashes
//! `SHA-256(0x00 ‖ leaf)`, interior nodes `SHA-256(0x01 ‖ left ‖ right)`),
//! the one the ledger's history tree and its checkpoints use.

use ledger_core::merkle::{
    verify_consistency_with, ConsistencyProof, MerkleProofError, Rfc6962Sha256,
};
use ledger_core::Hash;
use sha2::{Digest, Sha256};

/// A SHA-256 tree hash.
pub type TreeHash = [u8; 32];

/// The RFC 6962 root hash of the empty tree: SHA-256 of the empty string.
pub fn empty_tree_root() -> TreeHash {
    Sha256::digest([]).into()
}

/// Why a consistency proof did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct ConsistencyError(pub MerkleProofError);

/// Verifies that the tree of `new_size` leaves with root `new_root`
/// extends the tree of `old_size` leaves with root `old_root`, given the
/// RFC 6962 consistency proof between them.
///
/// Between equal sizes the proof must be empty and the roots equal; from
/// the empty tree (`old_size` 0, whose root must be [`empty_tree_root`])
/// the proof must be empty and any new tree is consistent.
///
/// # Errors
/// Why the proof does not hold, as a [`ConsistencyError`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &TreeHash,
    new_root: &TreeHash,
    proof: &[TreeHash],
) -> Result<(), ConsistencyError> {
    let proof = ConsistencyProof::new(old_size, new_size, proof.iter().map(|h| Hash(*h)).collect())
        .map_err(ConsistencyError)?;
    verify_consistency_with::<Rfc6962Sha256>(
        old_size,
        &Hash(*old_root),
        new_size,
        &Hash(*new_root),
        &proof,
    )
    .map_err(ConsistencyError)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tree::MemoryTree;

    fn leaf(i: u64) -> TreeHash {
        crate::tree::leaf_hash(&i.to_be_bytes())
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_tree_root()[..4],
            [0xe3, 0xb0, 0xc4, 0x42],
            "e3b0c442…, SHA-256 of the empty string"
        );
    }

    #[test]
    fn every_reference_proof_verifies_and_every_tampering_fails() {
        let mut tree = MemoryTree::new();
        for i in 0..70u64 {
            tree.push(&i.to_be_bytes());
        }
        let leaves = tree.leaf_hashes();
        for n in 1..=leaves.len() {
            let new_root = tree.root(n as u64);
            for m in 1..=n {
                let old_root = tree.root(m as u64);
                let p = tree.consistency_proof(m as u64, n as u64);
                verify_consistency(m as u64, n as u64, &old_root, &new_root, &p)
                    .unwrap_or_else(|e| panic!("{m} -> {n}: {e}"));
                // Every flipped bit of every proof hash fails.
                for i in 0..p.len() {
                    let mut bad = p.clone();
                    bad[i][i % 32] ^= 1 << (i % 8);
                    assert!(
                        verify_consistency(m as u64, n as u64, &old_root, &new_root, &bad).is_err()
                    );
                }
                if m < n {
                    // Wrong roots, and a truncated or extended proof, fail.
                    // (The same proof may verify for other sizes whose proofs
                    // have the same shape: the sizes are bound to the roots
                    // by the log's signature, not by the proof.)
                    let mut other = new_root;
                    other[0] ^= 1;
                    assert!(verify_consistency(m as u64, n as u64, &old_root, &other, &p).is_err());
                    assert!(verify_consistency(m as u64, n as u64, &other, &new_root, &p).is_err());
                    let mut long = p.clone();
                    long.push(leaf(999));
                    assert!(
                        verify_consistency(m as u64, n as u64, &old_root, &new_root, &long)
                            .is_err()
                    );
                    assert!(verify_consistency(
                        m as u64,
                        n as u64,
                        &old_root,
                        &new_root,
                        &p[..p.len() - 1]
                    )
                    .is_err());
                }
            }
        }
    }

    #[test]
    fn edge_cases() {
        let empty = empty_tree_root();
        let a = leaf(1);
        let b = leaf(2);
        assert_eq!(verify_consistency(0, 5, &empty, &b, &[]), Ok(()));
        assert!(verify_consistency(0, 5, &empty, &b, &[a]).is_err());
        assert!(
            verify_consistency(0, 5, &a, &b, &[]).is_err(),
            "size 0 is the empty tree"
        );
        assert_eq!(verify_consistency(5, 5, &a, &a, &[]), Ok(()));
        assert!(verify_consistency(5, 5, &a, &b, &[]).is_err());
        assert!(verify_consistency(5, 5, &a, &a, &[a]).is_err());
        assert!(verify_consistency(6, 5, &a, &a, &[]).is_err());
        assert!(verify_consistency(3, 5, &a, &b, &[]).is_err());
        // Sizes near u64::MAX do not overflow.
        assert!(verify_consistency(u64::MAX - 1, u64::MAX, &a, &b, &[a; 63]).is_err());
    }
}
