//! Where checkpoints come from: the ledger's history tree, read through
//! the small [`HistorySource`] trait so that the log needs only the
//! engine's public API (and tests can use any tree).
//!
//! The history tree has one leaf per block (the encoded header, RFC 6962
//! SHA-256), so a ledger whose durable head is block `h` has a tree of
//! `h + 1` leaves. Its root is not stored in any header (header `n` commits
//! to the tree of `n` blocks); [`tree_head`] computes it from the head's
//! header and the head's inclusion proof in that tree, then checks it
//! with the engine's own verifier.

use std::sync::Arc;

use ledger_core::{
    verify_history_inclusion, Hash, InclusionProof, Ledger, LedgerError, MerkleProofError,
    StateMachine, Store,
};
use parking_lot::RwLock;
use sha2::{Digest as _, Sha256};

/// A tree hash (RFC 6962 SHA-256).
pub type TreeHash = [u8; 32];

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The ledger failed.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// The head's inclusion proof does not lead to a root that verifies.
    #[error("the head's history proof does not verify: {0}")]
    Proof(#[from] MerkleProofError),
    /// A consistency proof was asked for sizes the tree does not have.
    #[error("no consistency proof from size {old} to {new}")]
    Sizes {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
}

/// A log's history tree, as the checkpoint log reads it: the durable tree
/// head, and consistency proofs between two of its sizes.
///
/// Implemented for a ledger behind a `parking_lot::RwLock` (and for an
/// `Arc` of any source), so that a node applies blocks under the write lock
/// while the log reads under the read lock.
pub trait HistorySource: Send + Sync {
    /// The durable tree head: its size (blocks) and root, `None` before the
    /// first block.
    ///
    /// # Errors
    /// The history could not be read.
    fn tree_head(&self) -> Result<Option<(u64, TreeHash)>, HistoryError>;

    /// The RFC 6962 consistency proof from the tree of `old` leaves to the
    /// one of `new` (empty when `old` is 0 or equal to `new`).
    ///
    /// # Errors
    /// `old > new`, a size not durable yet, or the history could not be read.
    fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<TreeHash>, HistoryError>;
}

impl<T: HistorySource + ?Sized> HistorySource for Arc<T> {
    fn tree_head(&self) -> Result<Option<(u64, TreeHash)>, HistoryError> {
        (**self).tree_head()
    }

    fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<TreeHash>, HistoryError> {
        (**self).consistency_proof(old, new)
    }
}

impl<S, M> HistorySource for RwLock<Ledger<S, M>>
where
    S: Store,
    M: StateMachine,
    Ledger<S, M>: Send + Sync,
{
    fn tree_head(&self) -> Result<Option<(u64, TreeHash)>, HistoryError> {
        tree_head(&self.read())
    }

    fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<TreeHash>, HistoryError> {
        if old > new {
            return Err(HistoryError::Sizes { old, new });
        }
        if old == 0 || old == new {
            return Ok(Vec::new());
        }
        let proof = self.read().history_consistency_proof(old, new)?;
        Ok(proof.path().iter().map(|h| h.0).collect())
    }
}

/// The durable tree head of `ledger`: `(h + 1, root)` for durable head
/// block `h`, its root computed from block `h`'s header and inclusion
/// proof, then verified by [`verify_history_inclusion`].
///
/// # Errors
/// The ledger failed, or the proof does not verify.
pub fn tree_head<S: Store, M: StateMachine>(
    ledger: &Ledger<S, M>,
) -> Result<Option<(u64, TreeHash)>, HistoryError> {
    let Some(head) = ledger.durable_head() else {
        return Ok(None);
    };
    let size = head.height + 1;
    let entry = head.encode();
    let proof = ledger.history_proof_at(head.height, size)?;
    let root = root_of_last_leaf(&entry, &proof).ok_or(HistoryError::Sizes {
        old: head.height,
        new: size,
    })?;
    verify_history_inclusion(&Hash(root), size, &entry, &proof)?;
    Ok(Some((size, root)))
}

fn node(left: &TreeHash, right: &TreeHash) -> TreeHash {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The root an inclusion proof of the tree's last leaf leads to (RFC 9162
/// §2.1.3.2, the root computation), `None` if the proof is not of the last
/// leaf or has the wrong length.
fn root_of_last_leaf(entry: &[u8], proof: &InclusionProof) -> Option<TreeHash> {
    let size = proof.size();
    if size == 0 || proof.index() != size - 1 {
        return None;
    }
    let mut hash: TreeHash = Sha256::new()
        .chain_update([0u8])
        .chain_update(entry)
        .finalize()
        .into();
    let (mut fn_, mut sn) = (proof.index(), size - 1);
    for sibling in proof.path() {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            hash = node(&sibling.0, &hash);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            hash = node(&hash, &sibling.0);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some(hash)
}
