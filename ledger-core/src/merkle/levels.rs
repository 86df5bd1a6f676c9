//! Every level of a Merkle tree kept in memory, so that inclusion proofs
//! for many leaves of one tree (queries on one block) cost O(log n) each
//! instead of rehashing the tree.
//!
//! The RFC 9162 tree over n leaves is the tree built bottom-up by hashing
//! pairs and moving an odd last node up unchanged: both split at the largest
//! power of two below n. So level i + 1 holds the parents of level i, and a
//! leaf's inclusion path is its sibling at every level where it has one.

use super::proof::{InclusionProof, MerkleProofError};
use super::{leaf_hashes, parent_level, EMPTY_ROOT};
use crate::hash::Hash;

/// The levels of a tree, leaves' hashes first, root last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleLevels {
    levels: Vec<Vec<Hash>>,
}

impl MerkleLevels {
    /// Builds every level of the tree over `leaves` (32-byte leaf data).
    pub fn build(leaves: &[Hash]) -> Self {
        let mut levels = vec![leaf_hashes(leaves)];
        while let Some(level) = levels.last().filter(|level| level.len() > 1) {
            let parents = parent_level(level);
            levels.push(parents);
        }
        MerkleLevels { levels }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// The root ([`EMPTY_ROOT`] for no leaves).
    pub fn root(&self) -> Hash {
        match self.levels.last().and_then(|top| top.first()) {
            Some(root) if self.size() > 0 => *root,
            _ => *EMPTY_ROOT,
        }
    }

    /// The inclusion proof of leaf `index`.
    pub fn inclusion_proof(&self, index: u64) -> Result<InclusionProof, MerkleProofError> {
        let size = self.size();
        if index >= size {
            return Err(MerkleProofError::IndexOutOfRange { index, size });
        }
        let mut path = Vec::with_capacity(self.levels.len());
        let mut at = index as usize;
        for level in &self.levels {
            if level.len() <= 1 {
                break;
            }
            if let Some(sibling) = level.get(at ^ 1) {
                path.push(*sibling);
            }
            at /= 2;
        }
        Ok(InclusionProof { index, size, path })
    }

    /// Bytes of hashes held.
    pub fn hash_bytes(&self) -> usize {
        self.levels.iter().map(|level| level.len() * 32).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{hash, Domain};
    use crate::merkle::{merkle_root, verify_inclusion};

    #[test]
    fn levels_give_the_rfc_root_and_paths() {
        for n in 0..70u64 {
            let leaves: Vec<Hash> = (0..n)
                .map(|i| hash(Domain::TransactionId, &i.to_le_bytes()))
                .collect();
            let levels = MerkleLevels::build(&leaves);
            assert_eq!(levels.root(), merkle_root(&leaves), "n = {n}");
            for index in 0..n {
                let proof = levels.inclusion_proof(index).unwrap();
                assert_eq!(
                    proof,
                    InclusionProof::from_leaves(&leaves, index).unwrap(),
                    "n = {n}, index = {index}"
                );
                verify_inclusion(&levels.root(), n, &leaves[index as usize], &proof).unwrap();
            }
            assert!(levels.inclusion_proof(n).is_err());
        }
    }
}
