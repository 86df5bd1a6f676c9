//! Inclusion and consistency proofs (RFC 9162 §2.1.3, §2.1.4): generation,
//! canonical encoding, and pure verification that never panics.
//!
//! The algorithms are the same for every tree; the hashing is a
//! [`MerkleHasher`](super::hasher::MerkleHasher) parameter of the verifiers
//! (`verify.rs`: [`verify_inclusion_with`], [`verify_consistency_with`]).
//! [`verify_inclusion`] and [`verify_consistency`] are the blake3 trees'
//! (transactions, receipts); the history tree's are in [`super::history`].
//!
//! Encodings (little-endian):
//!
//! | proof | bytes |
//! |---|---|
//! | inclusion | leaf index (u64) ‖ tree size (u64) ‖ hash count (u8) ‖ hashes (32 each) |
//! | consistency | old size (u64) ‖ new size (u64) ‖ hash count (u8) ‖ hashes (32 each) |
//!
//! The count is at most [`MAX_PROOF_HASHES`], checked before anything is
//! allocated; trailing bytes are rejected.

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use bytes::Bytes;

use super::{largest_power_of_two_below, merkle_root};
use crate::codec::{DecodeError, Limit, Reader};
use crate::hash::Hash;

mod verify;

pub use verify::{
    verify_consistency, verify_consistency_with, verify_inclusion, verify_inclusion_with,
};

/// Most hashes in a proof: an inclusion proof in a tree of fewer than 2^64
/// leaves has at most 64, a consistency proof at most 65.
pub const MAX_PROOF_HASHES: usize = 65;

/// Why a Merkle proof could not be made or does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of {size} leaves")]
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old size of a consistency proof is larger than the new size.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizeOrder {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// The proof is for another tree size than the one the root belongs to.
    #[error("proof is for tree size {proof}, the trusted root is for size {trusted}")]
    SizeMismatch {
        /// The size in the proof.
        proof: u64,
        /// The size of the trusted root.
        trusted: u64,
    },
    /// The proof has the wrong number of hashes for its sizes.
    #[error("proof has the wrong number of hashes for its tree sizes")]
    WrongLength,
    /// The proof leads to another root.
    #[error("proof gives root {computed}, expected {expected}")]
    RootMismatch {
        /// The root the proof leads to.
        computed: Hash,
        /// The root it was checked against.
        expected: Hash,
    },
    /// The proof bytes are malformed.
    #[error("proof bytes: {0}")]
    Decode(#[from] DecodeError),
}

/// Computes roots of subtree ranges `[start, end)` of the tree; the ranges
/// asked for are always subtrees of the RFC 9162 shape.
pub(crate) trait RangeRoots {
    /// What can go wrong reading the tree (a proof error, or a store's).
    type Error: From<MerkleProofError>;
    fn range_root(&self, start: u64, end: u64) -> Result<Hash, Self::Error>;
}

/// Ranges of an in-memory leaf list.
pub(crate) struct LeafList<'a>(pub &'a [Hash]);

impl RangeRoots for LeafList<'_> {
    type Error = MerkleProofError;
    fn range_root(&self, start: u64, end: u64) -> Result<Hash, MerkleProofError> {
        let leaves =
            self.0
                .get(start as usize..end as usize)
                .ok_or(MerkleProofError::IndexOutOfRange {
                    index: end,
                    size: self.0.len() as u64,
                })?;
        Ok(merkle_root(leaves))
    }
}

/// A proof that a leaf is at `index` in a tree of `size` leaves.
///
/// Its path holds at most [`MAX_PROOF_HASHES`] hashes (the constructors
/// check it), so that every proof that exists encodes exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    pub(crate) index: u64,
    pub(crate) size: u64,
    pub(crate) path: Vec<Hash>,
}

/// A proof that the tree of `old_size` leaves is a prefix of the tree of
/// `new_size` leaves; its path holds at most [`MAX_PROOF_HASHES`] hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub(crate) old_size: u64,
    pub(crate) new_size: u64,
    pub(crate) path: Vec<Hash>,
}

fn check_path_len(path: &[Hash]) -> Result<(), MerkleProofError> {
    if path.len() > MAX_PROOF_HASHES {
        return Err(MerkleProofError::Decode(DecodeError::LimitExceeded {
            offset: 16,
            what: Limit::ProofHashes,
            value: path.len() as u64,
            max: MAX_PROOF_HASHES as u64,
        }));
    }
    Ok(())
}

impl InclusionProof {
    /// A proof from its parts (for tools that carry proofs in other
    /// forms); refuses a path longer than [`MAX_PROOF_HASHES`].
    pub fn new(index: u64, size: u64, path: Vec<Hash>) -> Result<Self, MerkleProofError> {
        check_path_len(&path)?;
        Ok(InclusionProof { index, size, path })
    }

    /// The leaf's index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The tree's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Sibling subtree roots, from the leaf up.
    pub fn path(&self) -> &[Hash] {
        &self.path
    }
}

impl ConsistencyProof {
    /// A proof from its parts; refuses a path longer than
    /// [`MAX_PROOF_HASHES`].
    pub fn new(old_size: u64, new_size: u64, path: Vec<Hash>) -> Result<Self, MerkleProofError> {
        check_path_len(&path)?;
        Ok(ConsistencyProof {
            old_size,
            new_size,
            path,
        })
    }

    /// The old size.
    pub fn old_size(&self) -> u64 {
        self.old_size
    }

    /// The new size.
    pub fn new_size(&self) -> u64 {
        self.new_size
    }

    /// The RFC 9162 consistency path.
    pub fn path(&self) -> &[Hash] {
        &self.path
    }
}

fn inclusion_path<R: RangeRoots + ?Sized>(
    roots: &R,
    index: u64,
    start: u64,
    size: u64,
    out: &mut Vec<Hash>,
) -> Result<(), R::Error> {
    if size <= 1 {
        return Ok(());
    }
    let split = largest_power_of_two_below(size);
    if index < split {
        inclusion_path(roots, index, start, split, out)?;
        out.push(roots.range_root(start.saturating_add(split), start.saturating_add(size))?);
    } else {
        inclusion_path(
            roots,
            index.saturating_sub(split),
            start.saturating_add(split),
            size.saturating_sub(split),
            out,
        )?;
        out.push(roots.range_root(start, start.saturating_add(split))?);
    }
    Ok(())
}

fn consistency_subproof<R: RangeRoots + ?Sized>(
    roots: &R,
    old: u64,
    start: u64,
    size: u64,
    whole_old_tree: bool,
    out: &mut Vec<Hash>,
) -> Result<(), R::Error> {
    if old == size {
        if !whole_old_tree {
            out.push(roots.range_root(start, start.saturating_add(size))?);
        }
        return Ok(());
    }
    let split = largest_power_of_two_below(size);
    if old <= split {
        consistency_subproof(roots, old, start, split, whole_old_tree, out)?;
        out.push(roots.range_root(start.saturating_add(split), start.saturating_add(size))?);
    } else {
        consistency_subproof(
            roots,
            old.saturating_sub(split),
            start.saturating_add(split),
            size.saturating_sub(split),
            false,
            out,
        )?;
        out.push(roots.range_root(start, start.saturating_add(split))?);
    }
    Ok(())
}

impl InclusionProof {
    pub(crate) fn generate<R: RangeRoots + ?Sized>(
        roots: &R,
        index: u64,
        size: u64,
    ) -> Result<Self, R::Error> {
        if index >= size {
            return Err(MerkleProofError::IndexOutOfRange { index, size }.into());
        }
        let mut path = Vec::new();
        inclusion_path(roots, index, 0, size, &mut path)?;
        Ok(InclusionProof { index, size, path })
    }

    /// The proof for leaf `index` of the tree over `leaves`.
    pub fn from_leaves(leaves: &[Hash], index: u64) -> Result<Self, MerkleProofError> {
        Self::generate(&LeafList(leaves), index, leaves.len() as u64)
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Bytes {
        encode(self.index, self.size, &self.path)
    }

    /// Strict decoding.
    pub fn decode(input: &Bytes) -> Result<Self, MerkleProofError> {
        let (index, size, path) = decode(input)?;
        Ok(InclusionProof { index, size, path })
    }
}

impl ConsistencyProof {
    pub(crate) fn generate<R: RangeRoots + ?Sized>(
        roots: &R,
        old_size: u64,
        new_size: u64,
    ) -> Result<Self, R::Error> {
        if old_size > new_size {
            return Err(MerkleProofError::SizeOrder {
                old: old_size,
                new: new_size,
            }
            .into());
        }
        let mut path = Vec::new();
        if old_size > 0 && old_size < new_size {
            consistency_subproof(roots, old_size, 0, new_size, true, &mut path)?;
        }
        Ok(ConsistencyProof {
            old_size,
            new_size,
            path,
        })
    }

    /// The proof that the first `old_size` of `leaves` form a prefix of the
    /// tree over all of `leaves`.
    pub fn from_leaves(leaves: &[Hash], old_size: u64) -> Result<Self, MerkleProofError> {
        Self::generate(&LeafList(leaves), old_size, leaves.len() as u64)
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Bytes {
        encode(self.old_size, self.new_size, &self.path)
    }

    /// Strict decoding.
    pub fn decode(input: &Bytes) -> Result<Self, MerkleProofError> {
        let (old_size, new_size, path) = decode(input)?;
        Ok(ConsistencyProof {
            old_size,
            new_size,
            path,
        })
    }
}

fn encode(first: u64, second: u64, path: &[Hash]) -> Bytes {
    let mut out = Vec::with_capacity(path.len().saturating_mul(32).saturating_add(17));
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&second.to_le_bytes());
    // Cannot truncate: every proof's path is at most MAX_PROOF_HASHES (65)
    // long (constructors and decoders check it).
    out.push(u8::try_from(path.len()).unwrap_or(u8::MAX));
    for hash in path {
        out.extend_from_slice(hash.as_bytes());
    }
    Bytes::from(out)
}

fn decode(input: &Bytes) -> Result<(u64, u64, Vec<Hash>), MerkleProofError> {
    let mut reader = Reader::new(input);
    let first = reader.u64()?;
    let second = reader.u64()?;
    let count_offset = reader.offset();
    let [count] = reader.array::<1>()?;
    let count = usize::from(count);
    if count > MAX_PROOF_HASHES {
        return Err(DecodeError::LimitExceeded {
            offset: count_offset,
            what: Limit::ProofHashes,
            value: count as u64,
            max: MAX_PROOF_HASHES as u64,
        }
        .into());
    }
    reader.ensure((count as u64).saturating_mul(32))?;
    let mut path = Vec::with_capacity(count);
    for _ in 0..count {
        path.push(Hash(reader.array()?));
    }
    reader.finish()?;
    Ok((first, second, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{hash, Domain};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| hash(Domain::BlockHeader, &i.to_le_bytes()))
            .collect()
    }

    #[test]
    fn every_inclusion_proof_up_to_64_verifies_and_tampering_fails() {
        for n in 1..=64u64 {
            let leaves = leaves(n);
            let root = merkle_root(&leaves);
            for i in 0..n {
                let proof = InclusionProof::from_leaves(&leaves, i).unwrap();
                verify_inclusion(&root, n, &leaves[i as usize], &proof).unwrap();
                let decoded = InclusionProof::decode(&proof.encode()).unwrap();
                assert_eq!(decoded, proof);
                let other = leaves[((i + 1) % n) as usize];
                if n > 1 {
                    assert!(verify_inclusion(&root, n, &other, &proof).is_err());
                }
                let mut wrong_index = proof.clone();
                wrong_index.index = (i + 1) % n;
                if n > 1 {
                    assert!(verify_inclusion(&root, n, &leaves[i as usize], &wrong_index).is_err());
                }
                let mut wrong_size = proof.clone();
                wrong_size.size = n + 1;
                assert!(matches!(
                    verify_inclusion(&root, n, &leaves[i as usize], &wrong_size),
                    Err(MerkleProofError::SizeMismatch { .. })
                ));
                assert!(verify_inclusion(&root, n + 1, &leaves[i as usize], &proof).is_err());
                for k in 0..proof.path.len() {
                    let mut tampered = proof.clone();
                    tampered.path[k].0[0] ^= 1;
                    assert!(verify_inclusion(&root, n, &leaves[i as usize], &tampered).is_err());
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_up_to_64_verifies_and_tampering_fails() {
        let all = leaves(64);
        for n in 1..=64u64 {
            let new_root = merkle_root(&all[..n as usize]);
            for m in 0..=n {
                let old_root = merkle_root(&all[..m as usize]);
                let proof = ConsistencyProof::from_leaves(&all[..n as usize], m).unwrap();
                verify_consistency(m, &old_root, n, &new_root, &proof).unwrap();
                assert_eq!(ConsistencyProof::decode(&proof.encode()).unwrap(), proof);
                for k in 0..proof.path.len() {
                    let mut tampered = proof.clone();
                    tampered.path[k].0[31] ^= 0x80;
                    assert!(verify_consistency(m, &old_root, n, &new_root, &tampered).is_err());
                }
                if m > 0 && m < n {
                    let mut wrong = proof.clone();
                    wrong.old_size = m - 1;
                    assert!(verify_consistency(m, &old_root, n, &new_root, &wrong).is_err());
                    assert!(verify_consistency(m - 1, &old_root, n, &new_root, &wrong).is_err());
                    let mut wrong = proof.clone();
                    wrong.new_size = n + 1;
                    assert!(verify_consistency(m, &old_root, n, &new_root, &wrong).is_err());
                    assert!(verify_consistency(m - 1, &old_root, n, &new_root, &wrong).is_err());
                    let forged_old = hash(Domain::MerkleNode, b"forged");
                    assert!(verify_consistency(m, &forged_old, n, &new_root, &proof).is_err());
                }
            }
        }
    }

    #[test]
    fn decode_rejects_oversized_count_and_trailing_bytes() {
        let mut bytes = vec![0u8; 16];
        bytes.push(200);
        assert!(matches!(
            InclusionProof::decode(&Bytes::from(bytes)),
            Err(MerkleProofError::Decode(DecodeError::LimitExceeded { .. }))
        ));
        let proof = InclusionProof::from_leaves(&leaves(5), 3).unwrap();
        let mut bytes = proof.encode().to_vec();
        bytes.push(0);
        assert!(InclusionProof::decode(&Bytes::from(bytes)).is_err());
    }
}
