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

use crate::hash::{to_hex, Hash};
use crate::limits::HEADER_BYTES;
use crate::machine::StateMachine;
use crate::merkle::{merkle_root, HistoryTree};
use crate::state_tree::{stored_column, MemoryStateTree};
use crate::store::{Column, KeyRange, Store, StoreError, StoreRead, STORE_META_KEYS};
use crate::types::{Block, BlockHeader};
use crate::verify::SignatureVerifier;
use rayon::prelude::*;

use super::apply::{receipt_leaves, verify_block};
use super::execute::{execute_transactions, BlockContext, InvalidTransactions};
use super::head_values::CommittedState;
use super::records::{decode_height, encode_receipts, height_key, TxLocation, HEAD_KEY};
use super::{Ledger, LedgerConfig, LedgerError};

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
    /// in flight, then checks every record. Fails only if the store cannot
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
        Ok(audit_store(
            &*self.store,
            &self.machine,
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
    let state = &replay.state;
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

/// A block as the read-ahead thread hands it over.
enum ReadBlock {
    /// Not stored.
    Missing,
    /// Stored, but not a block.
    Undecodable { bytes: usize, problem: String },
    /// Decoded; the stateless checks' verdict.
    Verified {
        bytes: usize,
        header: BlockHeader,
        verified: Result<Box<super::VerifiedBlock>, String>,
    },
}

/// A column's records as (key, value) pairs.
type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads, decodes and verifies (signatures, transaction root) the block
/// at `height`.
fn read_block<S: StoreRead + ?Sized>(
    store: &S,
    verifier: &SignatureVerifier,
    chain_id: u64,
    height: u64,
) -> Result<ReadBlock, StoreError> {
    let Some(bytes) = store.get(Column::Blocks, &height_key(height))? else {
        return Ok(ReadBlock::Missing);
    };
    let block = match Block::decode(&bytes) {
        Ok(block) => block,
        Err(error) => {
            return Ok(ReadBlock::Undecodable {
                bytes: bytes.len(),
                problem: error.to_string(),
            })
        }
    };
    let header = *block.header();
    let verified = verify_block(verifier, chain_id, block)
        .map(Box::new)
        .map_err(|error| super::error::error_chain(&error));
    Ok(ReadBlock::Verified {
        bytes: bytes.len(),
        header,
        verified,
    })
}

/// Replays blocks on a scratch state and collects what the index and
/// history columns must hold.
struct Replay {
    chain_id: u64,
    retention: u64,
    state: MemoryStateTree,
    history: HistoryTree,
    history_nodes: Records,
    block_ids: Records,
    locations: Records,
    next_height: u64,
    parent: Hash,
    parent_time: u64,
    last_header: Option<BlockHeader>,
}

impl Replay {
    fn new(config: &LedgerConfig) -> Self {
        Replay {
            chain_id: config.chain_id,
            retention: config.state_retention,
            state: MemoryStateTree::new(),
            history: HistoryTree::new(),
            history_nodes: Vec::new(),
            block_ids: Vec::new(),
            locations: Vec::new(),
            next_height: 0,
            parent: Hash::ZERO,
            parent_time: 0,
            last_header: None,
        }
    }

    /// Replays the block at `height` (read ahead by [`read_block`]); false
    /// (after a finding) if the replay cannot go on.
    fn block<S: StoreRead + ?Sized, M: StateMachine + ?Sized>(
        &mut self,
        store: &S,
        machine: &M,
        block: ReadBlock,
        height: u64,
        report: &mut AuditReport,
    ) -> Result<bool, StoreError> {
        let key = height_key(height);
        let invalid = |report: &mut AuditReport, detail: String| {
            report.find(Column::Blocks, &key, FindingKind::InvalidBlock, detail);
            Ok(false)
        };
        let (header, verified) = match block {
            ReadBlock::Missing => {
                report.find(
                    Column::Blocks,
                    &key,
                    FindingKind::Missing,
                    "block below the head",
                );
                return Ok(false);
            }
            ReadBlock::Undecodable { bytes, problem } => {
                report.records += 1;
                report.bytes += bytes as u64;
                return invalid(report, format!("does not decode: {problem}"));
            }
            ReadBlock::Verified {
                bytes,
                header,
                verified,
            } => {
                report.records += 1;
                report.bytes += bytes as u64;
                (header, verified)
            }
        };
        if let Some(problem) = self.link_problem(&header, height) {
            if header.parent != self.parent {
                // Either this header's parent field or the previous
                // block's header was changed: name both.
                if let Some(previous) = height.checked_sub(1) {
                    report.find(
                        Column::Blocks,
                        &height_key(previous),
                        FindingKind::InvalidBlock,
                        format!("its id is not the parent block {height} names"),
                    );
                }
            }
            return invalid(report, problem);
        }
        let verified = match verified {
            Ok(verified) => verified,
            Err(problem) => return invalid(report, problem),
        };
        let committed = CommittedState {
            reader: &self.state,
            version: height.checked_sub(1),
            cache: None,
        };
        let context = BlockContext::new(self.chain_id, height, header.timestamp_ms);
        let executed = match execute_transactions(
            machine,
            &committed,
            context,
            verified.block.transactions(),
            &verified.tx_ids,
            InvalidTransactions::Refuse,
        ) {
            Ok(executed) => executed,
            Err(error) => return invalid(report, error.to_string()),
        };
        let receipts_root = merkle_root(&receipt_leaves(&verified.tx_ids, &executed.receipts));
        if receipts_root != header.receipts_root {
            return invalid(report, "the receipts root differs from re-execution".into());
        }
        let writes = match crate::state_tree::apply_updates(
            &self.state,
            height.checked_sub(1),
            height,
            &executed.updates,
        ) {
            Ok(writes) => writes,
            Err(error) => return invalid(report, error.to_string()),
        };
        if writes.root_hash != header.state_root {
            return invalid(report, "the state root differs from re-execution".into());
        }
        self.state.apply(writes);
        if height >= self.retention {
            self.state.prune(height - self.retention);
        }
        self.check_receipts(store, height, &executed.receipts, report)?;
        self.record_indexes(&verified.block, &verified.tx_ids, height);
        for (position, hash) in self.history.append(&header.id()) {
            self.history_nodes
                .push((position.to_key().to_vec(), hash.0.to_vec()));
        }
        self.parent = header.id();
        self.parent_time = header.timestamp_ms;
        self.last_header = Some(header);
        self.next_height = height + 1;
        report.blocks += 1;
        report.transactions += u64::from(header.tx_count);
        Ok(true)
    }

    /// What is wrong with the header's place in the chain, if anything.
    fn link_problem(&self, header: &BlockHeader, height: u64) -> Option<String> {
        if header.height != height {
            return Some(format!("stored at height {height}, says {}", header.height));
        }
        if header.chain_id != self.chain_id {
            return Some(format!(
                "for chain {}, not {}",
                header.chain_id, self.chain_id
            ));
        }
        if header.parent != self.parent {
            return Some("parent hash does not link to the previous block".into());
        }
        if header.timestamp_ms < self.parent_time {
            return Some("timestamp goes backwards".into());
        }
        if header.history_root != self.history.root() {
            return Some("history root differs from the earlier blocks' ids".into());
        }
        None
    }

    fn check_receipts<S: StoreRead + ?Sized>(
        &self,
        store: &S,
        height: u64,
        receipts: &[crate::machine::Receipt],
        report: &mut AuditReport,
    ) -> Result<(), StoreError> {
        let key = height_key(height);
        match store.get(Column::Receipts, &key)? {
            None => report.find(
                Column::Receipts,
                &key,
                FindingKind::Missing,
                "no receipts record",
            ),
            Some(stored) => {
                report.records += 1;
                report.bytes += stored.len() as u64;
                if stored[..] != encode_receipts(receipts)[..] {
                    report.find(
                        Column::Receipts,
                        &key,
                        FindingKind::Wrong,
                        "differs from the receipts of re-execution",
                    );
                }
            }
        }
        Ok(())
    }

    /// The block-id entry and every transaction's location.
    fn record_indexes(&mut self, block: &Block, tx_ids: &[Hash], height: u64) {
        self.block_ids
            .push((block.id().0.to_vec(), height_key(height).to_vec()));
        let mut offset = HEADER_BYTES as usize;
        for (index, (id, tx)) in tx_ids.iter().zip(block.transactions()).enumerate() {
            let len = tx.encoded_len();
            let location = TxLocation {
                height,
                index: u32::try_from(index).unwrap_or(u32::MAX),
                offset: u32::try_from(offset).unwrap_or(u32::MAX),
                len: u32::try_from(len).unwrap_or(u32::MAX),
            };
            self.locations
                .push((id.0.to_vec(), location.encode().to_vec()));
            offset += len;
        }
    }

    /// What every column but blocks, receipts and meta must hold: the
    /// records collected during the replay, or `None` for the state
    /// columns, whose records are encoded from the replayed tree
    /// ([`stored_column`]) by the comparison itself.
    fn expected_columns(&mut self) -> Vec<(Column, Option<Records>)> {
        vec![
            (Column::BlockIds, Some(std::mem::take(&mut self.block_ids))),
            (Column::TxIndex, Some(std::mem::take(&mut self.locations))),
            (Column::StateNodes, None),
            (Column::StateValues, None),
            (Column::StateStale, None),
            (
                Column::History,
                Some(std::mem::take(&mut self.history_nodes)),
            ),
        ]
    }
}

/// Blocks and receipts are keyed by height: every key must be a height
/// below `count`. Returns whether records were found above it.
fn check_heights<S: StoreRead + ?Sized>(
    store: &S,
    column: Column,
    count: u64,
    report: &mut AuditReport,
) -> Result<bool, StoreError> {
    let mut above = false;
    let range = KeyRange {
        start: std::ops::Bound::Included(height_key(count).to_vec().into()),
        end: std::ops::Bound::Unbounded,
    };
    for entry in store.scan(column, range)? {
        let (key, value) = entry?;
        report.records += 1;
        report.bytes += (key.len() + value.len()) as u64;
        report.find(column, &key, FindingKind::Orphan, "above the head");
        above = true;
    }
    // Keys that are not heights sort anywhere: find them too.
    for entry in store.scan(
        column,
        KeyRange::between(Vec::new(), height_key(count).to_vec()),
    )? {
        let (key, _) = entry?;
        if key.len() != 8 {
            report.find(column, &key, FindingKind::Orphan, "not a height key");
        }
    }
    Ok(above)
}

/// The meta column holds the head and the store's own records only.
fn check_meta<S: StoreRead + ?Sized>(
    store: &S,
    report: &mut AuditReport,
) -> Result<(), StoreError> {
    let blocks_exist = store
        .scan(Column::Blocks, KeyRange::all())?
        .next()
        .is_some();
    let mut head_seen = false;
    for entry in store.scan(Column::Meta, KeyRange::all())? {
        let (key, value) = entry?;
        if key[..] == *HEAD_KEY {
            head_seen = true;
        } else if STORE_META_KEYS.contains(&&key[..]) {
            report.records += 1;
            report.bytes += (key.len() + value.len()) as u64;
        } else {
            report.find(
                Column::Meta,
                &key,
                FindingKind::Orphan,
                "not a ledger record",
            );
        }
    }
    if !head_seen && blocks_exist {
        report.find(
            Column::Meta,
            HEAD_KEY,
            FindingKind::Missing,
            "blocks are stored but the head record is missing",
        );
    }
    Ok(())
}

/// Merges `column`'s records (in key order) with `expected` (sorted here).
fn compare_column<S: StoreRead + ?Sized>(
    store: &S,
    column: Column,
    mut expected: Records,
    report: &mut AuditReport,
) -> Result<(), StoreError> {
    expected.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut expected = expected.into_iter().peekable();
    for entry in store.scan(column, KeyRange::all())? {
        let (key, value) = entry?;
        report.records += 1;
        report.bytes += (key.len() + value.len()) as u64;
        while let Some((missing, _)) = expected.next_if(|(want, _)| want[..] < key[..]) {
            report.find(column, &missing, FindingKind::Missing, "not stored");
        }
        match expected.next_if(|(want, _)| want[..] == key[..]) {
            Some((_, want)) if want[..] == value[..] => {}
            Some(_) => report.find(column, &key, FindingKind::Wrong, "value differs"),
            None => report.find(
                column,
                &key,
                FindingKind::Orphan,
                "not written by the ledger",
            ),
        }
    }
    for (missing, _) in expected {
        report.find(column, &missing, FindingKind::Missing, "not stored");
    }
    Ok(())
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
