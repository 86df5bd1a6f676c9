//! RFC 6962 Merkle consistency-proof verification over SHA-256, the one
//! function through which the witness checks that a new checkpoint extends
//! the tree it co-signed before.
//!
//! The algorithm is RFC 9162 §2.1.4.2 (the verification side of RFC 6962
//! §2.1.2's proofs), with leaf hashes `SHA-256(0x00 ‖ leaf)` and interior
//! nodes `SHA-256(0x01 ‖ left ‖ right)`; only interior hashes are computed
//! here.

use sha2::{Digest, Sha256};

/// A SHA-256 tree hash.
pub type TreeHash = [u8; 32];

/// The RFC 6962 root hash of the empty tree: SHA-256 of the empty string.
pub fn empty_tree_root() -> TreeHash {
    Sha256::digest([]).into()
}

/// Why a consistency proof did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsistencyError {
    /// The old size is larger than the new size.
    #[error("old size {old} is larger than new size {new}")]
    SizesOutOfOrder {
        /// The old tree size.
        old: u64,
        /// The new tree size.
        new: u64,
    },
    /// A proof between equal sizes, or from the empty tree, must be empty.
    #[error("the proof must be empty between these sizes")]
    ProofNotEmpty,
    /// Equal sizes with different root hashes.
    #[error("equal sizes with different root hashes")]
    RootMismatch,
    /// The proof has the wrong number of hashes for the two sizes.
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    /// The proof's hashes do not lead to the two root hashes.
    #[error("the proof does not verify")]
    Mismatch,
}

fn node(left: &TreeHash, right: &TreeHash) -> TreeHash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Verifies that the tree of `new_size` leaves with root `new_root`
/// extends the tree of `old_size` leaves with root `old_root`, given the
/// RFC 6962 consistency proof between them.
///
/// Between equal sizes the proof must be empty and the roots equal; from
/// the empty tree (`old_size` 0) the proof must be empty and any new tree
/// is consistent.
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
    if old_size > new_size {
        return Err(ConsistencyError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(ConsistencyError::ProofNotEmpty);
        }
        if old_size == new_size && old_root != new_root {
            return Err(ConsistencyError::RootMismatch);
        }
        return Ok(());
    }
    // RFC 9162 §2.1.4.2. Step 1: a power-of-two old tree is a complete
    // subtree of the new one and its root is the proof's implicit first
    // hash.
    let mut path = proof.iter();
    let first = if old_size.is_power_of_two() {
        *old_root
    } else {
        *path.next().ok_or(ConsistencyError::WrongLength)?
    };
    // Steps 2 and 3.
    let mut fnode = old_size - 1;
    let mut snode = new_size - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // Steps 4 and 5.
    let (mut fr, mut sr) = (first, first);
    for c in path {
        if snode == 0 {
            return Err(ConsistencyError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node(c, &fr);
            sr = node(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 6.
    if snode != 0 {
        return Err(ConsistencyError::WrongLength);
    }
    if &fr != old_root || &sr != new_root {
        return Err(ConsistencyError::Mismatch);
    }
    Ok(())
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
        let a = leaf(1);
        let b = leaf(2);
        assert_eq!(verify_consistency(0, 5, &a, &b, &[]), Ok(()));
        assert_eq!(
            verify_consistency(0, 5, &a, &b, &[a]),
            Err(ConsistencyError::ProofNotEmpty)
        );
        assert_eq!(verify_consistency(5, 5, &a, &a, &[]), Ok(()));
        assert_eq!(
            verify_consistency(5, 5, &a, &b, &[]),
            Err(ConsistencyError::RootMismatch)
        );
        assert_eq!(
            verify_consistency(5, 5, &a, &a, &[a]),
            Err(ConsistencyError::ProofNotEmpty)
        );
        assert_eq!(
            verify_consistency(6, 5, &a, &a, &[]),
            Err(ConsistencyError::SizesOutOfOrder { old: 6, new: 5 })
        );
        assert_eq!(
            verify_consistency(3, 5, &a, &b, &[]),
            Err(ConsistencyError::WrongLength)
        );
        // Sizes near u64::MAX do not overflow.
        assert!(verify_consistency(u64::MAX - 1, u64::MAX, &a, &b, &[a; 63]).is_err());
    }
}
