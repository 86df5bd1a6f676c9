//! The audit: every record a ledger stores, checked against what the blocks
//! say it must be.
//!
//! The blocks are replayed from genesis — each one decoded, linked to its
//! parent, its signatures and transaction root verified, its transactions
//! re-executed on a scratch in-memory state, its receipts, state and
//! history roots recomputed and compared with its header. The scratch state
//! is pruned exactly as the engine prunes, so after the replay the audit
//! knows, byte for byte, every record each column must hold: the blocks and
//! the head, one block-id entry per block and one location per
//! transaction, one receipts record per block, every state-tree node, value
//! record and stale list of the retained versions, every history node. Each
//! column is then read in key order and merged with what it must hold, so
//! every record is one of: right, wrong (a [`FindingKind::Wrong`]), missing
//! ([`FindingKind::Missing`]), or there when nothing reads it
//! ([`FindingKind::Orphan`]).
//!
//! The audit needs no working [`Ledger`]: [`audit_store`] runs on a store
//! that `Ledger::open` refuses (a missing head, a head without its block),
//! and reports why. It assumes the ledger ran with `config`'s state
//! retention; a ledger whose retention changed reports the pruning
//! difference as findings. Memory: the retained state (as the store holds
//! it) plus about 60 bytes per transaction.

use crate::hash::to_hex;
use crate::machine::StateMachine;
use crate::state_tree::stored_column;
use crate::store::{Column, KeyRange, Store, StoreError, StoreRead};
use crate::types::BlockHeader;
use crate::verify::SignatureVerifier;
use rayon::prelude::*;

use super::records::{decode_height, height_key, HEAD_KEY};
use super::{Ledger, LedgerConfig, LedgerError};

mod columns;
mod replay;

use columns::{check_heights, check_meta, compare_column};
use replay::{read_block, ReadBlock, Replay};

/// Most findings an audit keeps (the rest are counted): a store damaged
/// everywhere must not make the report unbounded.
pub const MAX_AUDIT_FINDINGS: usize = 10_000;

/// What kind of problem a record has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FindingKind {
    /// The record is not what the blocks say it must be.
    Wrong,
    /// A record the blocks say must exist is not stored.
    Missing,
    /// A stored record that nothing reads or needs (harmless until it is
    /// read, but never written by the ledger: reported).
    Orphan,
    /// A block breaks the chain's rules (link, signature, root): the
    /// replay stops there, and what depends on later blocks is unchecked.
    InvalidBlock,
}

impl FindingKind {
    /// A lower-case name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Wrong => "wrong",
            FindingKind::Missing => "missing",
            FindingKind::Orphan => "orphan",
            FindingKind::InvalidBlock => "invalid block",
        }
    }
}

/// One record the audit found wrong, missing or orphaned.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditFinding {
    /// Where.
    pub column: Column,
    /// The record's key, in hex.
    pub key: String,
    /// What kind of problem.
    pub kind: FindingKind,
    /// What exactly.
    pub detail: String,
}

impl std::fmt::Display for AuditFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}: {}",
            self.column,
            self.key,
            self.kind.name(),
            self.detail
        )
    }
}

/// What [`Ledger::audit`] checked and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditReport {
    /// Blocks replayed (re-verified and re-executed).
    pub blocks: u64,
    /// Transactions re-verified and re-executed.
    pub transactions: u64,
    /// Stored records compared with what the blocks say.
    pub records: u64,
    /// Stored bytes (keys and values) read.
    pub bytes: u64,
    /// Problems, in the order found (at most [`MAX_AUDIT_FINDINGS`]).
    pub findings: Vec<AuditFinding>,
    /// Problems found beyond [`MAX_AUDIT_FINDINGS`].
    pub findings_dropped: u64,
}

impl AuditReport {
    /// True if the store holds exactly what its blocks say.
    pub fn passed(&self) -> bool {
        self.findings.is_empty() && self.findings_dropped == 0
    }

    /// Adds what another part of the audit checked and found, after what
    /// this report holds (still at most [`MAX_AUDIT_FINDINGS`] findings).
    fn merge(&mut self, other: AuditReport) {
        self.blocks += other.blocks;
        self.transactions += other.transactions;
        self.records += other.records;
        self.bytes += other.bytes;
        self.findings_dropped += other.findings_dropped;
        for finding in other.findings {
            if self.findings.len() < MAX_AUDIT_FINDINGS {
                self.findings.push(finding);
            } else {
                self.findings_dropped += 1;
            }
        }
    }

    fn find(&mut self, column: Column, key: &[u8], kind: FindingKind, detail: impl Into<String>) {
        if self.findings.len() < MAX_AUDIT_FINDINGS {
            self.findings.push(AuditFinding {
                column,
                key: to_hex(key),
                kind,
                detail: detail.into(),
            });
        } else {
            self.findings_dropped += 1;
        }
    }
}

/// Where an audit is, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditProgress {
    /// Replaying blocks: `done` of `total`.
    Replay {
        /// Blocks replayed.
        done: u64,
        /// Blocks to replay.
        total: u64,
    },
    /// Comparing a column with what it must hold.
    Column(Column),
}

impl<S: Store, M: StateMachine> Ledger<S, M> {
    /// Audits the stored ledger (see [`audit_store`]): waits for the commit
    /// in flight, then checks every record of a snapshot of the store. Fails only if the store cannot
    /// be read; what is wrong with it is in the report's findings.
    pub fn audit(&self) -> Result<AuditReport, LedgerError> {
        self.audit_with_progress(&mut |_| {})
    }

    /// [`Ledger::audit`], calling `progress` as it goes.
    pub fn audit_with_progress(
        &self,
        progress: &mut dyn FnMut(AuditProgress),
    ) -> Result<AuditReport, LedgerError> {
        self.settle()?;
        // A consistent view: a state checkpoint may commit (and prune)
        // while the audit reads.
        let snapshot = self.store.snapshot();
        Ok(audit_store(
            &*snapshot,
            &*self.machine,
            &self.config,
            &self.verifier,
            progress,
        )?)
    }
}

/// Audits the ledger stored in `store`, run by `machine` with `config`
/// (see the module documentation). Fails only if the store cannot be read.
pub fn audit_store<S: StoreRead + ?Sized, M: StateMachine + ?Sized>(
    store: &S,
    machine: &M,
    config: &LedgerConfig,
    verifier: &SignatureVerifier,
    progress: &mut dyn FnMut(AuditProgress),
) -> Result<AuditReport, StoreError> {
    let mut report = AuditReport::default();
    let head = read_head(store, &mut report)?;
    let top = match head {
        Some(head) => Some(head.height),
        None => last_contiguous_block(store)?,
    };
    let mut replay = Replay::new(config);
    let (schedule, oldest_previous) = checkpoint_schedule(store)?;
    check_oldest_checkpoint(&schedule, oldest_previous, config, &mut report);
    replay.set_schedule(schedule, oldest_previous);
    if let Some(top) = top {
        // Blocks are read, decoded and their signatures verified one block
        // ahead, on another thread, while the current one re-executes.
        std::thread::scope(|scope| -> Result<(), StoreError> {
            let (ahead, prepared) = std::sync::mpsc::sync_channel(2);
            scope.spawn(move || {
                for height in 0..=top {
                    let block = read_block(store, verifier, config.chain_id, height);
                    let stop = !matches!(block, Ok(ReadBlock::Verified { .. }));
                    if ahead.send(block).is_err() || stop {
                        break;
                    }
                }
            });
            for height in 0..=top {
                progress(AuditProgress::Replay {
                    done: height,
                    total: top + 1,
                });
                let Ok(block) = prepared.recv() else { break };
                if !replay.block(store, machine, block?, height, &mut report)? {
                    break;
                }
            }
            Ok(())
        })?;
    }
    let complete = replay.next_height == top.map_or(0, |top| top + 1);
    if let (true, Some(head)) = (complete, head) {
        if replay.last_header != Some(head) {
            // Either record may have been changed: name both.
            report.find(
                Column::Meta,
                HEAD_KEY,
                FindingKind::Wrong,
                "the head record is not the last block's header",
            );
            report.find(
                Column::Blocks,
                &height_key(head.height),
                FindingKind::Wrong,
                "its header is not the head record",
            );
        }
    }
    progress(AuditProgress::Column(Column::Blocks));
    let count = top.map_or(0, |top| top + 1);
    let above_head = check_heights(store, Column::Blocks, count, &mut report)?;
    if above_head && head.is_some() {
        // Either the blocks were added or the head was set back.
        report.find(
            Column::Meta,
            HEAD_KEY,
            FindingKind::Wrong,
            "blocks are stored above the head",
        );
    }
    check_heights(store, Column::Receipts, count, &mut report)?;
    check_meta(store, &mut report)?;
    if !complete {
        // What later blocks would have written is unknown: comparing the
        // other columns would only repeat the first finding.
        return Ok(report);
    }
    // The columns are independent: compare them in parallel, then merge
    // the findings in column order (the report does not depend on timing).
    let columns = replay.expected_columns();
    for (column, _) in &columns {
        progress(AuditProgress::Column(*column));
    }
    let stored_state = replay.take_stored_state();
    let state = &stored_state;
    let partials: Vec<Result<AuditReport, StoreError>> = columns
        .into_par_iter()
        .map(|(column, expected)| {
            let expected = expected.unwrap_or_else(|| stored_column(state, column));
            let mut partial = AuditReport::default();
            compare_column(store, column, expected, &mut partial)?;
            Ok(partial)
        })
        .collect();
    for partial in partials {
        report.merge(partial?);
    }
    Ok(report)
}

/// The state checkpoints the store claims: the keys of the
/// `state_checkpoints` records, and of the stale lists from the oldest of
/// them on (each checkpoint writes one, so a deleted record is still
/// simulated, and found missing); and the oldest record's `previous`.
fn checkpoint_schedule<S: StoreRead + ?Sized>(
    store: &S,
) -> Result<(std::collections::BTreeSet<u64>, Option<u64>), StoreError> {
    let mut schedule = std::collections::BTreeSet::new();
    let mut oldest_previous = None;
    for entry in store.scan(Column::StateCheckpoints, KeyRange::all())? {
        let (key, value) = entry?;
        // A damaged record is not taken for a checkpoint (it is reported
        // as wrong if its stale list says it is one, else as an orphan).
        if let Ok(record) = super::state_checkpoint::CheckpointRecord::decode(&key, &value) {
            if schedule.is_empty() {
                oldest_previous = record.previous;
            }
            schedule.insert(record.height);
        }
    }
    let first = schedule.first().copied();
    for entry in store.scan(Column::StateStale, KeyRange::all())? {
        let (key, _) = entry?;
        if let Some(height) = decode_height(&key) {
            if first.is_none_or(|first| height >= first) {
                schedule.insert(height);
            }
        }
    }
    Ok((schedule, oldest_previous))
}

/// The engine deletes a checkpoint's record only once a newer checkpoint
/// at or before the oldest kept version exists: the oldest record left
/// names no previous one, or is at or before the oldest kept version of
/// the newest checkpoint. Otherwise the record it names was deleted.
fn check_oldest_checkpoint(
    schedule: &std::collections::BTreeSet<u64>,
    oldest_previous: Option<u64>,
    config: &LedgerConfig,
    report: &mut AuditReport,
) {
    let (Some(&oldest), Some(&newest), Some(previous)) =
        (schedule.first(), schedule.last(), oldest_previous)
    else {
        return;
    };
    let pruned_to = newest.checked_sub(config.state_retention);
    if pruned_to.is_none_or(|pruned_to| oldest > pruned_to) {
        report.find(
            Column::StateCheckpoints,
            &height_key(previous),
            FindingKind::Missing,
            "the oldest checkpoint's previous one is within the retention window",
        );
    }
}

/// The head record, decoded (a finding if it is malformed).
fn read_head<S: StoreRead + ?Sized>(
    store: &S,
    report: &mut AuditReport,
) -> Result<Option<BlockHeader>, StoreError> {
    let Some(bytes) = store.get(Column::Meta, HEAD_KEY)? else {
        return Ok(None);
    };
    report.records += 1;
    report.bytes += bytes.len() as u64;
    match BlockHeader::decode(&bytes) {
        Ok(header) => Ok(Some(header)),
        Err(error) => {
            report.find(
                Column::Meta,
                HEAD_KEY,
                FindingKind::Wrong,
                error.to_string(),
            );
            Ok(None)
        }
    }
}

/// Without a head record: the last height of the run of blocks from 0
/// (the head is then reported missing by the block check if blocks exist).
fn last_contiguous_block<S: StoreRead + ?Sized>(store: &S) -> Result<Option<u64>, StoreError> {
    let mut last = None;
    for entry in store.scan(Column::Blocks, KeyRange::all())? {
        let (key, _) = entry?;
        match decode_height(&key) {
            Some(height) if Some(height) == last.map_or(Some(0), |h: u64| h.checked_add(1)) => {
                last = Some(height);
            }
            _ => break,
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_with(findings: usize, column: Column) -> AuditReport {
        let mut report = AuditReport {
            records: 1,
            bytes: 10,
            ..AuditReport::default()
        };
        for i in 0..findings {
            report.find(column, &(i as u64).to_be_bytes(), FindingKind::Wrong, "x");
        }
        report
    }

    #[test]
    fn merged_reports_keep_order_and_the_cap() {
        let mut report = report_with(MAX_AUDIT_FINDINGS - 1, Column::BlockIds);
        report.merge(report_with(3, Column::TxIndex));
        assert_eq!(report.records, 2);
        assert_eq!(report.bytes, 20);
        assert_eq!(report.findings.len(), MAX_AUDIT_FINDINGS);
        assert_eq!(report.findings_dropped, 2);
        assert_eq!(
            report.findings[MAX_AUDIT_FINDINGS - 2].column,
            Column::BlockIds
        );
        assert_eq!(
            report.findings[MAX_AUDIT_FINDINGS - 1].column,
            Column::TxIndex
        );
        assert!(!report.passed());
        let mut clean = AuditReport::default();
        clean.merge(AuditReport::default());
        assert!(clean.passed());
    }
}
