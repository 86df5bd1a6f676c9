//! Witnessed record proofs: everything an offline verifier needs to check
//! one record (a transaction with its receipt, or a state value) against a
//! signed, witness-cosigned checkpoint, and the one function that checks it.
//!
//! Pure: functions of bytes and keys only (no I/O, no threads, no storage,
//! no clock), so that they compile as they are to an offline verifier
//! (wasm on phones and in browsers). [`Ledger`](super::Ledger) builds the
//! proofs ([`Ledger::witnessed_transaction_proof`],
//! [`Ledger::witnessed_state_proof`], in `query.rs`).
//!
//! [`Ledger::witnessed_transaction_proof`]: super::Ledger::witnessed_transaction_proof
//! [`Ledger::witnessed_state_proof`]: super::Ledger::witnessed_state_proof

use bytes::Bytes;

use crate::checkpoint::{
    verify_checkpoint, CheckpointError, Policy, VerifiedCheckpoint, VerifierKey,
};
use crate::hash::Hash;
use crate::merkle::{verify_history_inclusion, InclusionProof, MerkleProofError};
use crate::state_tree::StateProofError;
use crate::types::BlockHeader;

use super::query::{StateRecord, TransactionRecord};

/// The record a [`WitnessedProof`] proves, with its proof against its
/// block header (which it carries).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WitnessedRecord {
    /// A transaction and its receipt, in the block of `record.header`.
    Transaction(TransactionRecord),
    /// The value of application key `key` (or its absence) in the state
    /// of `record.header` (after that block).
    State {
        /// The application key.
        key: Bytes,
        /// The value, its proof, and the header of its height.
        record: StateRecord,
    },
}

impl WitnessedRecord {
    /// The header the record is proved against (not yet trusted).
    pub fn header(&self) -> &BlockHeader {
        match self {
            WitnessedRecord::Transaction(record) => &record.header,
            WitnessedRecord::State { record, .. } => &record.header,
        }
    }
}

/// One record, its block header, and the header's inclusion in the history
/// tree of a checkpoint's size: with the checkpoint note, the log key and
/// the witness policy, what [`verify_witnessed`] needs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WitnessedProof {
    /// The record and its proof against its header.
    pub record: WitnessedRecord,
    /// The header's inclusion in the history tree of the checkpoint's tree
    /// size (leaf: the encoded header, at index `header.height`).
    pub history: InclusionProof,
}

impl WitnessedProof {
    /// A proof from its parts (checked only by [`verify_witnessed`]).
    pub fn new(record: WitnessedRecord, history: InclusionProof) -> Self {
        WitnessedProof { record, history }
    }
}

/// Why a witnessed proof did not verify: which step failed, with the inner
/// error as its [`source`](std::error::Error::source).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessedProofError {
    /// The checkpoint note is not signed by the log key and cosigned by a
    /// quorum of the policy's witnesses (or is malformed).
    #[error("the checkpoint does not verify")]
    Checkpoint(#[source] CheckpointError),
    /// The record's block is not in the checkpoint's tree: its height is
    /// not below the checkpoint's tree size.
    #[error("block {height} is not in the checkpoint's tree of {size} blocks")]
    BlockNotInCheckpoint {
        /// The header's height.
        height: u64,
        /// The checkpoint's tree size.
        size: u64,
    },
    /// The history proof is not for the header's height (its index).
    #[error("the history proof is for block {index}, the header is block {height}")]
    HistoryIndex {
        /// The proof's leaf index.
        index: u64,
        /// The header's height.
        height: u64,
    },
    /// The header is not in the checkpoint's history tree: the history
    /// proof does not lead from the encoded header to the checkpoint's root
    /// at its size.
    #[error("block {height}'s header is not in the checkpoint's history tree")]
    HeaderNotInHistory {
        /// The header's height.
        height: u64,
        /// Why the inclusion proof failed.
        #[source]
        source: MerkleProofError,
    },
    /// The transaction or its receipt is not in the (verified) header's
    /// block.
    #[error("the transaction or its receipt is not in block {height}")]
    Transaction {
        /// The header's height.
        height: u64,
        /// Why the inclusion proofs failed.
        #[source]
        source: MerkleProofError,
    },
    /// The state value (or absence) is not the one in the (verified)
    /// header's state root.
    #[error("the state value does not match block {height}'s state root")]
    State {
        /// The header's height.
        height: u64,
        /// Why the state proof failed.
        #[source]
        source: StateProofError,
    },
}

/// A witnessed proof that verified: the record is in the log's history as
/// of a checkpoint signed by the log and cosigned by a quorum of witnesses.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedRecord {
    /// The checkpoint and its verified cosignatures.
    pub checkpoint: VerifiedCheckpoint,
    /// The record's block header, now trusted as far as the checkpoint is.
    pub header: BlockHeader,
    /// The record.
    pub record: WitnessedRecord,
}

/// Verifies a witnessed proof, in order: the checkpoint note (the log's
/// signature and the policy's cosignature quorum, [`verify_checkpoint`]);
/// the header's inclusion in the checkpoint's history tree (root and tree
/// size from the checkpoint; the header's height below the size and equal
/// to the proof's index); then the record against that header
/// ([`TransactionRecord::verify`], [`StateRecord::verify`]).
///
/// Pure; never panics.
///
/// # Errors
/// The first step that failed, as a [`WitnessedProofError`].
pub fn verify_witnessed(
    proof: &WitnessedProof,
    checkpoint_note: &[u8],
    log_key: &VerifierKey,
    policy: &Policy,
) -> Result<VerifiedRecord, WitnessedProofError> {
    let checkpoint = verify_checkpoint(checkpoint_note, log_key, policy)
        .map_err(WitnessedProofError::Checkpoint)?;
    let size = checkpoint.checkpoint.size();
    let header = *proof.record.header();
    let height = header.height;
    if height >= size {
        return Err(WitnessedProofError::BlockNotInCheckpoint { height, size });
    }
    if proof.history.index() != height {
        return Err(WitnessedProofError::HistoryIndex {
            index: proof.history.index(),
            height,
        });
    }
    let root = Hash::from(*checkpoint.checkpoint.root_hash());
    verify_history_inclusion(&root, size, &header.encode(), &proof.history)
        .map_err(|source| WitnessedProofError::HeaderNotInHistory { height, source })?;
    match &proof.record {
        WitnessedRecord::Transaction(record) => record
            .verify(&header)
            .map_err(|source| WitnessedProofError::Transaction { height, source })?,
        WitnessedRecord::State { key, record } => record
            .verify(key, &header.state_root)
            .map_err(|source| WitnessedProofError::State { height, source })?,
    }
    Ok(VerifiedRecord {
        checkpoint,
        header,
        record: proof.record.clone(),
    })
}
