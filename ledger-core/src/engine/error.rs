//! [`LedgerError`]: why the ledger refused a block or could not answer, with
//! the store's own error carried as a `source` all the way up.

use crate::codec::{DecodeError, EncodeError};
use crate::hash::Hash;
use crate::merkle::{HistoryError, MerkleProofError};
use crate::state_tree::StateTreeError;
use crate::store::{Column, StoreError};
use crate::verify::VerifyError;

use super::execute::ExecutionError;

/// Why the ledger refused a block or could not answer.
///
/// [`LedgerError::is_block_invalid`] sorts them into the block's fault
/// (reject the block and its sender, keep going) and the node's fault
/// (storage failed or is inconsistent: stop, repair, reopen).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The block bytes are malformed.
    #[error("block bytes")]
    Decode(#[from] DecodeError),
    /// A block could not be built within the limits.
    #[error("block cannot be built")]
    Encode(#[from] EncodeError),
    /// The block is for another chain.
    #[error("block is for chain {found}, this ledger is chain {expected}")]
    WrongChain {
        /// This chain.
        expected: u64,
        /// The block's.
        found: u64,
    },
    /// Some signatures are invalid (every index listed).
    #[error("invalid signatures")]
    InvalidSignatures(#[from] VerifyError),
    /// The block is not the next height.
    #[error("block height {found}, expected {expected}")]
    WrongHeight {
        /// The next height.
        expected: u64,
        /// The block's.
        found: u64,
    },
    /// The parent hash is not the head's id.
    #[error("block parent {found}, the head is {expected}")]
    WrongParent {
        /// The head's id.
        expected: Hash,
        /// The block's parent.
        found: Hash,
    },
    /// The timestamp is before the parent's (timestamps never decrease).
    #[error("block timestamp {found} ms is before its parent's {parent} ms")]
    TimestampBeforeParent {
        /// The parent's timestamp.
        parent: u64,
        /// The block's.
        found: u64,
    },
    /// A root in the header differs from the one computed.
    #[error("{root} root mismatch: header has {header}, computed {computed}")]
    RootMismatch {
        /// Which root (`transaction`, `receipts`, `state`, `history`).
        root: &'static str,
        /// The header's.
        header: Hash,
        /// The computed one.
        computed: Hash,
    },
    /// A transaction is invalid (wrong chain, nonce, or a duplicate), or
    /// the state could not be read while executing.
    #[error("execution")]
    Execution(#[from] ExecutionError),
    /// The state tree failed (storage or corruption).
    #[error("state tree")]
    StateTree(#[from] StateTreeError),
    /// The store failed.
    #[error("store")]
    Store(#[from] StoreError),
    /// The history tree could not be read from the store.
    #[error("history tree")]
    History(#[from] HistoryError),
    /// A proof could not be built (an index or size outside the tree).
    #[error("proof")]
    Proof(#[from] MerkleProofError),
    /// Stored data contradicts itself: the record under `key` in `column`.
    #[error("ledger storage is inconsistent: {column} record {key}: {detail}")]
    Corrupt {
        /// Where.
        column: Column,
        /// The record's key, in hex.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// The height is pruned or not yet written.
    #[error("height {height} is not available (oldest {oldest}, head {head:?})")]
    HeightUnavailable {
        /// Asked for.
        height: u64,
        /// Oldest retained state version.
        oldest: u64,
        /// The head.
        head: Option<u64>,
    },
    /// The state at this height is not kept: the store holds the state of
    /// its state checkpoints (those in the retention window) and memory the
    /// heights after the last one; the heights between two checkpoints are
    /// not kept once the later one is written.
    #[error(
        "the state at height {height} is not kept (last state checkpoint {checkpoint:?}; \
         kept: the retained checkpoints and every height after the last one)"
    )]
    StateNotKept {
        /// Asked for.
        height: u64,
        /// The last state checkpoint.
        checkpoint: Option<u64>,
    },
    /// A background commit or state checkpoint failed: the ledger's memory
    /// is ahead of its store, so it refuses every call until it is reopened
    /// (which recovers the last durable block).
    #[error("a background commit or state checkpoint failed; reopen the ledger")]
    Poisoned(#[source] StoreError),
}

impl LedgerError {
    /// True if the error is the block's fault: it is malformed, for another
    /// chain or height, badly signed, or its roots or transactions are
    /// wrong. The node should refuse the block (and may penalise whoever
    /// sent it) and go on. False if the node is at fault (storage failed,
    /// stored data is inconsistent, a background commit failed) or the
    /// error answers a query: the node should stop applying blocks, since a
    /// healthy node would have decided differently.
    pub fn is_block_invalid(&self) -> bool {
        match self {
            LedgerError::Decode(_)
            | LedgerError::WrongChain { .. }
            | LedgerError::InvalidSignatures(_)
            | LedgerError::WrongHeight { .. }
            | LedgerError::WrongParent { .. }
            | LedgerError::TimestampBeforeParent { .. }
            | LedgerError::RootMismatch { .. } => true,
            LedgerError::Execution(error) => error.is_block_invalid(),
            LedgerError::Encode(_)
            | LedgerError::StateTree(_)
            | LedgerError::Store(_)
            | LedgerError::History(_)
            | LedgerError::Proof(_)
            | LedgerError::Corrupt { .. }
            | LedgerError::HeightUnavailable { .. }
            | LedgerError::StateNotKept { .. }
            | LedgerError::Poisoned(_) => false,
        }
    }

    pub(crate) fn corrupt(column: Column, key: &[u8], detail: impl Into<String>) -> Self {
        LedgerError::Corrupt {
            column,
            key: crate::hash::to_hex(key),
            detail: detail.into(),
        }
    }
}

/// An error and its sources, as one line (for reports and command lines).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_tree::StateTreeError;

    #[test]
    fn the_block_is_at_fault_only_for_what_is_in_the_block() {
        let io = StoreError::Io {
            path: "p".into(),
            detail: "d".into(),
        };
        let block_faults = [
            LedgerError::WrongChain {
                expected: 1,
                found: 2,
            },
            LedgerError::InvalidSignatures(VerifyError::InvalidSignatures { indices: vec![0] }),
            LedgerError::WrongHeight {
                expected: 1,
                found: 2,
            },
            LedgerError::WrongParent {
                expected: Hash::ZERO,
                found: Hash([1; 32]),
            },
            LedgerError::TimestampBeforeParent {
                parent: 2,
                found: 1,
            },
            LedgerError::RootMismatch {
                root: "state",
                header: Hash::ZERO,
                computed: Hash([1; 32]),
            },
            LedgerError::Execution(ExecutionError::WrongNonce {
                index: 0,
                expected: 1,
                found: 0,
            }),
            LedgerError::Decode(DecodeError::Truncated {
                offset: 0,
                needed: 1,
                available: 0,
            }),
        ];
        for error in &block_faults {
            assert!(error.is_block_invalid(), "{error:?}");
        }
        let node_faults = [
            LedgerError::Store(io.clone()),
            LedgerError::Poisoned(io.clone()),
            LedgerError::StateTree(StateTreeError::Storage(io.clone())),
            LedgerError::History(HistoryError::Storage(io.clone())),
            LedgerError::Execution(ExecutionError::Storage {
                index: 3,
                source: StateTreeError::Storage(io),
            }),
            LedgerError::corrupt(Column::Meta, b"head", "missing block"),
            LedgerError::HeightUnavailable {
                height: 9,
                oldest: 1,
                head: Some(3),
            },
        ];
        for error in &node_faults {
            assert!(!error.is_block_invalid(), "{error:?}");
        }
    }

    #[test]
    fn the_store_error_travels_as_a_source() {
        let io = StoreError::Io {
            path: "/data".into(),
            detail: "disk full".into(),
        };
        let error = LedgerError::Execution(ExecutionError::Storage {
            index: 3,
            source: StateTreeError::Storage(io.clone()),
        });
        let mut chain = Vec::new();
        let mut source: Option<&dyn std::error::Error> = Some(&error);
        while let Some(cause) = source {
            chain.push(cause.to_string());
            source = cause.source();
        }
        assert_eq!(chain.last(), Some(&io.to_string()), "{chain:?}");
        assert_eq!(chain.len(), 4, "{chain:?}");
    }
}
