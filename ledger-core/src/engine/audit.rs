//! Re-checking a stored ledger from genesis.

use crate::hash::Hash;
use crate::machine::StateMachine;
use crate::merkle::{merkle_root, HistoryTree};
use crate::state_tree::MemoryStateTree;
use crate::store::{Column, Store};

use super::apply::{check_root, receipt_leaves, verify_block};
use super::execute::{execute_transactions, BlockContext, InvalidTransactions};
use super::head_values::CommittedState;
use super::records::{decode_receipts, height_key};
use super::{Ledger, LedgerError};

/// What [`Ledger::audit`] checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditReport {
    /// Blocks re-verified.
    pub blocks: u64,
    /// Transactions re-verified and re-executed.
    pub transactions: u64,
}

/// The first inconsistency [`Ledger::audit`] found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit failed at height {height}: {problem}")]
#[non_exhaustive]
pub struct AuditError {
    /// Where.
    pub height: u64,
    /// What.
    pub problem: String,
}

impl<S: Store, M: StateMachine> Ledger<S, M> {
    /// Re-verifies the whole stored ledger from genesis: every block's
    /// encoding, chain links, signatures and transaction root, the history
    /// root, and the receipts and state roots by re-executing every
    /// transaction on a scratch in-memory state; receipts are compared with
    /// the stored ones, and retained stored state roots with the headers.
    /// Reports the first inconsistency.
    pub fn audit(&self) -> Result<AuditReport, AuditError> {
        self.settle().map_err(|error| AuditError {
            height: 0,
            problem: error.to_string(),
        })?;
        let Some(head) = self.applied_height() else {
            return Ok(AuditReport::default());
        };
        let mut report = AuditReport::default();
        let mut replay = MemoryStateTree::new();
        let mut history = HistoryTree::new();
        let mut parent = Hash::ZERO;
        let mut parent_time = 0u64;
        for height in 0..=head {
            let fail = |problem: String| AuditError { height, problem };
            let failed = |error: LedgerError| fail(error_chain(&error));
            let block = self
                .block_by_height(height)
                .map_err(failed)?
                .ok_or_else(|| fail("block is missing".into()))?;
            let header = *block.header();
            if header.height != height {
                return Err(fail(format!("header says height {}", header.height)));
            }
            if header.parent != parent {
                return Err(fail(
                    "parent hash does not link to the previous block".into(),
                ));
            }
            if header.timestamp_ms < parent_time {
                return Err(fail("timestamp goes backwards".into()));
            }
            check_root("history", header.history_root, history.root()).map_err(failed)?;
            let verified =
                verify_block(&self.verifier, self.config.chain_id, block).map_err(failed)?;
            let context = BlockContext::new(self.config.chain_id, height, header.timestamp_ms);
            let committed = CommittedState {
                reader: &replay,
                version: height.checked_sub(1),
                cache: None,
            };
            let executed = execute_transactions(
                &self.machine,
                &committed,
                context,
                verified.block.transactions(),
                &verified.tx_ids,
                InvalidTransactions::Refuse,
            )
            .map_err(|error| failed(error.into()))?;
            let leaves = receipt_leaves(&verified.tx_ids, &executed.receipts);
            check_root("receipts", header.receipts_root, merkle_root(&leaves)).map_err(failed)?;
            let root = replay
                .update(height, &executed.updates)
                .map_err(|error| failed(error.into()))?;
            check_root("state", header.state_root, root).map_err(failed)?;
            if height >= self.oldest_state_height() {
                let stored = self.state_root_at(height).map_err(failed)?;
                check_root("stored state", header.state_root, stored).map_err(failed)?;
            }
            let stored = self
                .store
                .get(Column::Receipts, &height_key(height))
                .map_err(|error| failed(error.into()))?
                .and_then(|bytes| decode_receipts(&bytes));
            if stored.as_ref() != Some(&executed.receipts) {
                return Err(fail("stored receipts differ from re-execution".to_string()));
            }
            // Keep the scratch state small: only the previous version is read.
            replay.prune(height);
            parent = header.id();
            parent_time = header.timestamp_ms;
            history.append(&parent);
            report.blocks += 1;
            report.transactions += u64::from(header.tx_count);
        }
        Ok(report)
    }
}

/// An error and its sources, as one line.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
