//! The audit's replay: blocks read and verified ahead, re-executed on a
//! scratch in-memory state, and what the index and history columns must
//! hold collected on the way.

use crate::engine::apply::{receipt_leaves, verify_block};
use crate::engine::execute::{execute_transactions, BlockContext, InvalidTransactions};
use crate::engine::head_values::CommittedState;
use crate::engine::records::{
    decode_stored_block, encode_receipts, height_key, unpack_receipts, TxLocation,
};
use crate::engine::state_checkpoint::CheckpointRecord;
use crate::engine::LedgerConfig;
use crate::hash::Hash;
use crate::machine::StateMachine;
use crate::merkle::{merkle_root, HistoryTree};
use crate::state_tree::{merge_versions, MemoryStateTree, StateTreeWrites};
use crate::store::{Column, StoreError, StoreRead};
use crate::types::{Block, BlockHeader};
use crate::verify::SignatureVerifier;

use super::{AuditReport, FindingKind};

/// A block as the read-ahead thread hands it over.
pub(super) enum ReadBlock {
    /// Not stored.
    Missing,
    /// Stored, but not a block.
    Undecodable { bytes: usize, problem: String },
    /// Decoded; the stateless checks' verdict.
    Verified {
        bytes: usize,
        header: BlockHeader,
        verified: Result<Box<crate::engine::VerifiedBlock>, String>,
    },
}

/// A column's records as (key, value) pairs.
pub(super) type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads, decodes and verifies (signatures, transaction root) the block
/// at `height`.
pub(super) fn read_block<S: StoreRead + ?Sized>(
    store: &S,
    verifier: &SignatureVerifier,
    chain_id: u64,
    height: u64,
) -> Result<ReadBlock, StoreError> {
    let Some(bytes) = store.get(Column::Blocks, &height_key(height))? else {
        return Ok(ReadBlock::Missing);
    };
    let block = match decode_stored_block(&bytes) {
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
        .map_err(|error| crate::engine::error::error_chain(&error));
    Ok(ReadBlock::Verified {
        bytes: bytes.len(),
        header,
        verified,
    })
}

/// Replays blocks on a scratch state and collects what the index and
/// history columns must hold.
pub(super) struct Replay {
    chain_id: u64,
    retention: u64,
    /// Every version, pruned as the engine prunes: what execution reads.
    pub(super) state: MemoryStateTree,
    /// The state columns as the store must hold them after the state
    /// checkpoints of `schedule` (`None` while they equal `state`: before
    /// the first checkpoint the audit knows, versions are simulated as
    /// checkpointed one by one, which leaves the same records; see
    /// `expected_columns`).
    stored: Option<MemoryStateTree>,
    /// Heights of the state checkpoints (from the store), and the stored
    /// `previous` field of the oldest one (which names a pruned record).
    schedule: std::collections::BTreeSet<u64>,
    oldest_previous: Option<u64>,
    /// Versions after the last simulated checkpoint.
    pending: Vec<StateTreeWrites>,
    last_checkpoint: Option<u64>,
    checkpoint_records: Records,
    history: HistoryTree,
    history_nodes: Records,
    block_ids: Records,
    locations: Records,
    pub(super) next_height: u64,
    parent: Hash,
    parent_time: u64,
    pub(super) last_header: Option<BlockHeader>,
}

impl Replay {
    pub(super) fn new(config: &LedgerConfig) -> Self {
        Replay {
            chain_id: config.chain_id,
            retention: config.state_retention,
            state: MemoryStateTree::new(),
            stored: None,
            schedule: Default::default(),
            oldest_previous: None,
            pending: Vec::new(),
            last_checkpoint: None,
            checkpoint_records: Vec::new(),
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
    pub(super) fn block<S: StoreRead + ?Sized, M: StateMachine + ?Sized>(
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
        let root = writes.root_hash;
        let copy = self.needs_writes(height).then(|| writes.clone());
        self.state.apply(writes);
        if height >= self.retention {
            self.state.prune(height - self.retention);
        }
        self.checkpoint(copy, root, height);
        self.check_receipts(store, height, &executed.receipts, report)?;
        self.record_indexes(&verified.block, &verified.tx_ids, height);
        for (position, hash) in self.history.append(&header.encode()) {
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

    /// Sets the state checkpoints the store claims (heights, and the
    /// oldest one's `previous`), to simulate them.
    pub(super) fn set_schedule(
        &mut self,
        schedule: std::collections::BTreeSet<u64>,
        oldest_previous: Option<u64>,
    ) {
        self.schedule = schedule;
        self.oldest_previous = oldest_previous;
    }

    /// Whether the simulation needs this version's writes: from the first
    /// checkpoint the audit knows on, and before it too if that is the
    /// ledger's first (its `previous` is none).
    fn needs_writes(&self, height: u64) -> bool {
        match self.schedule.first() {
            None => false,
            Some(&first) => height > first || self.oldest_previous.is_none(),
        }
    }

    /// Simulates the state checkpoints: at each checkpoint height, merges
    /// the versions since the previous one into the stored state. Before
    /// the first checkpoint the audit knows, if older ones were pruned
    /// (its `previous` names one), versions are simulated as checkpointed
    /// one by one: that leaves the same records once pruning has passed
    /// them, and the store's pruning has (the engine keeps the record of
    /// the newest checkpoint at or before the oldest kept version, and
    /// none older).
    fn checkpoint(&mut self, writes: Option<StateTreeWrites>, root: Hash, height: u64) {
        let Some(&first) = self.schedule.first() else {
            return;
        };
        if let Some(writes) = writes {
            self.pending.push(writes);
        }
        if !self.schedule.contains(&height) {
            return;
        }
        let previous = if height == first {
            self.oldest_previous.filter(|previous| *previous < height)
        } else {
            self.last_checkpoint
        };
        if height == first && self.oldest_previous.is_some() {
            self.stored = Some(self.state.clone());
        } else {
            let refs: Vec<&StateTreeWrites> = self.pending.iter().collect();
            let delta = merge_versions(self.last_checkpoint, &refs);
            let stored = self.stored.get_or_insert_with(MemoryStateTree::new);
            stored.apply_delta(delta);
            if height >= self.retention {
                stored.prune(height - self.retention);
            }
        }
        self.pending.clear();
        let record = CheckpointRecord {
            height,
            previous,
            state_root: root,
        };
        self.checkpoint_records
            .push((height_key(height).to_vec(), record.encode().to_vec()));
        self.last_checkpoint = Some(height);
    }

    /// The state columns' tree as the store must hold it.
    pub(super) fn take_stored_state(&mut self) -> MemoryStateTree {
        // No checkpoint: the store holds no state.
        self.stored.take().unwrap_or_default()
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
            return Some("history root differs from the earlier blocks' headers".into());
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
                // Compared by content: any packing that unpacks to the
                // receipts of re-execution holds the same facts.
                match unpack_receipts(&stored) {
                    Err(error) => report.find(
                        Column::Receipts,
                        &key,
                        FindingKind::Wrong,
                        format!("does not unpack: {error}"),
                    ),
                    Ok(record) if record[..] != encode_receipts(receipts)[..] => report.find(
                        Column::Receipts,
                        &key,
                        FindingKind::Wrong,
                        "differs from the receipts of re-execution",
                    ),
                    Ok(_) => {}
                }
            }
        }
        Ok(())
    }

    /// The block-id entry and every transaction's location.
    fn record_indexes(&mut self, block: &Block, tx_ids: &[Hash], height: u64) {
        self.block_ids
            .push((block.id().0.to_vec(), height_key(height).to_vec()));
        for (index, id) in tx_ids.iter().enumerate() {
            let location = TxLocation {
                height,
                index: u32::try_from(index).unwrap_or(u32::MAX),
            };
            self.locations
                .push((id.0.to_vec(), location.encode().to_vec()));
        }
    }

    /// What every column but blocks, receipts and meta must hold: the
    /// records collected during the replay, or `None` for the state
    /// columns, whose records are encoded from the replayed tree
    /// ([`stored_column`](crate::state_tree::stored_column)) by the comparison itself.
    pub(super) fn expected_columns(&mut self) -> Vec<(Column, Option<Records>)> {
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
            (
                Column::StateCheckpoints,
                Some(std::mem::take(&mut self.checkpoint_records)),
            ),
        ]
    }
}
