//! The verifiers of RFC 9162 §2.1.3.2 and §2.1.4.2, generic over the tree's
//! hashing ([`MerkleHasher`]). Pure; they never panic, whatever the proof.

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use super::{ConsistencyProof, InclusionProof, MerkleProofError, MAX_PROOF_HASHES};
use crate::hash::Hash;
use crate::merkle::hasher::{Blake3Merkle, MerkleHasher};

/// Checks that `leaf` (the leaf's data, e.g. a transaction id) is at
/// `proof.index` in the blake3 tree ([`Blake3Merkle`]: transactions,
/// receipts) of `size` leaves with root `root` (RFC 9162 §2.1.3.2). Pure;
/// never panics.
///
/// `root` and `size` must come together from a trusted source (a header's
/// `tx_root` and `tx_count`): an RFC 9162 path can fit more than one size,
/// so the size is checked here rather than taken from the proof.
pub fn verify_inclusion(
    root: &Hash,
    size: u64,
    leaf: &Hash,
    proof: &InclusionProof,
) -> Result<(), MerkleProofError> {
    verify_inclusion_with::<Blake3Merkle>(root, size, &Blake3Merkle::leaf(leaf.as_bytes()), proof)
}

/// Checks that the leaf whose hash is `leaf_hash` (`H::leaf` of its data) is
/// at `proof.index` in the tree hashed by `H` of `size` leaves with root
/// `root` (RFC 9162 §2.1.3.2). Pure; never panics. `root` and `size` must
/// come together from a trusted source, as for [`verify_inclusion`].
pub fn verify_inclusion_with<H: MerkleHasher>(
    root: &Hash,
    size: u64,
    leaf_hash: &Hash,
    proof: &InclusionProof,
) -> Result<(), MerkleProofError> {
    if proof.size != size {
        return Err(MerkleProofError::SizeMismatch {
            proof: proof.size,
            trusted: size,
        });
    }
    if proof.index >= proof.size {
        return Err(MerkleProofError::IndexOutOfRange {
            index: proof.index,
            size: proof.size,
        });
    }
    if proof.path.len() > MAX_PROOF_HASHES {
        return Err(MerkleProofError::WrongLength);
    }
    let mut f = proof.index;
    let mut s = proof.size.saturating_sub(1);
    let mut computed = *leaf_hash;
    for sibling in &proof.path {
        if s == 0 {
            return Err(MerkleProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            computed = H::node(sibling, &computed);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            computed = H::node(&computed, sibling);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(MerkleProofError::WrongLength);
    }
    check_root(&computed, root)
}

/// Checks that the blake3 tree ([`Blake3Merkle`]) of `old_size` leaves
/// with root `old_root` is a prefix of the one of `new_size` leaves with
/// root `new_root` (RFC 9162 §2.1.4.2). Pure; never panics. Each size must
/// be the trusted size of its root; the proof's sizes must equal them.
pub fn verify_consistency(
    old_size: u64,
    old_root: &Hash,
    new_size: u64,
    new_root: &Hash,
    proof: &ConsistencyProof,
) -> Result<(), MerkleProofError> {
    verify_consistency_with::<Blake3Merkle>(old_size, old_root, new_size, new_root, proof)
}

/// [`verify_consistency`] for the tree hashed by `H`.
pub fn verify_consistency_with<H: MerkleHasher>(
    old_size: u64,
    old_root: &Hash,
    new_size: u64,
    new_root: &Hash,
    proof: &ConsistencyProof,
) -> Result<(), MerkleProofError> {
    for (proof_size, trusted) in [(proof.old_size, old_size), (proof.new_size, new_size)] {
        if proof_size != trusted {
            return Err(MerkleProofError::SizeMismatch {
                proof: proof_size,
                trusted,
            });
        }
    }
    let (old, new) = (proof.old_size, proof.new_size);
    if old > new {
        return Err(MerkleProofError::SizeOrder { old, new });
    }
    if proof.path.len() > MAX_PROOF_HASHES {
        return Err(MerkleProofError::WrongLength);
    }
    if old == 0 {
        // Every tree extends the empty one.
        if !proof.path.is_empty() {
            return Err(MerkleProofError::WrongLength);
        }
        return check_root(old_root, &H::empty_root());
    }
    if old == new {
        if !proof.path.is_empty() {
            return Err(MerkleProofError::WrongLength);
        }
        return check_root(new_root, old_root);
    }
    // When the old tree is a perfect subtree, its root starts the path.
    let mut path = proof.path.iter();
    let first = if old.is_power_of_two() {
        *old_root
    } else {
        *path.next().ok_or(MerkleProofError::WrongLength)?
    };
    let mut f = old.saturating_sub(1);
    let mut s = new.saturating_sub(1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut old_computed = first;
    let mut new_computed = first;
    for sibling in path {
        if s == 0 {
            return Err(MerkleProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            old_computed = H::node(sibling, &old_computed);
            new_computed = H::node(sibling, &new_computed);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            new_computed = H::node(&new_computed, sibling);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(MerkleProofError::WrongLength);
    }
    check_root(&old_computed, old_root)?;
    check_root(&new_computed, new_root)
}

fn check_root(computed: &Hash, expected: &Hash) -> Result<(), MerkleProofError> {
    if computed != expected {
        return Err(MerkleProofError::RootMismatch {
            computed: *computed,
            expected: *expected,
        });
    }
    Ok(())
}
