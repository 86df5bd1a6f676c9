//! A small in-memory RFC 6962 Merkle tree over SHA-256, written straight
//! from the RFC's recursive definitions (MTH, §2.1; PROOF and SUBPROOF,
//! §2.1.2): a reference for tests and for tools that make proofs. Its root
//! and proof cost O(size) each; it is not for large trees.

use sha2::{Digest, Sha256};

use crate::consistency::{empty_tree_root, TreeHash};

/// The leaf hash of `data`: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> TreeHash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    hasher.finalize().into()
}

fn node(left: &TreeHash, right: &TreeHash) -> TreeHash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The largest power of two smaller than `n` (`n` ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(leaves: &[TreeHash]) -> TreeHash {
    match leaves {
        [] => empty_tree_root(),
        [one] => *one,
        _ => {
            let k = split(leaves.len());
            node(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn subproof(m: usize, leaves: &[TreeHash], complete: bool, out: &mut Vec<TreeHash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(mth(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, out);
        out.push(mth(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(mth(&leaves[..k]));
    }
}

/// A Merkle tree held in memory as its leaf hashes.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    leaves: Vec<TreeHash>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf.
    pub fn push(&mut self, data: &[u8]) {
        self.leaves.push(leaf_hash(data));
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// The leaf hashes.
    pub fn leaf_hashes(&self) -> &[TreeHash] {
        &self.leaves
    }

    fn prefix(&self, size: u64) -> &[TreeHash] {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        &self.leaves[..size.min(self.leaves.len())]
    }

    /// The root of the tree's first `size` leaves (all of them if `size` is
    /// larger).
    pub fn root(&self, size: u64) -> TreeHash {
        mth(self.prefix(size))
    }

    /// The consistency proof from the first `old` leaves to the first `new`
    /// (clamped to the tree); empty if `old` is 0 or not below `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Vec<TreeHash> {
        let leaves = self.prefix(new);
        let m = usize::try_from(old).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if m > 0 && m < leaves.len() {
            subproof(m, leaves, true, &mut out);
        }
        out
    }
}
