//! The audit's replay: blocks read and verified ahead, re-executed on a
//! scratch in-memory state, and what the index and history columns must
//! hold collected on the way.

use crate::engine::apply::{receipt_leaves, verify_block};
use crate::engine::execute::{execute_transactions, BlockContext, InvalidTransactions};
use crate::engine::head_values::CommittedState;
use crate::engine::records::{encode_receipts, height_key, TxLocation};
use crate::engine::LedgerConfig;
use crate::hash::Hash;
use crate::limits::HEADER_BYTES;
use crate::machine::StateMachine;
use crate::merkle::{merkle_root, HistoryTree};
use crate::state_tree::MemoryStateTree;
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
    pub(super) state: MemoryStateTree,
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
        self.state.apply(writes);
        if height >= self.retention {
            self.state.prune(height - self.retention);
        }
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
        ]
    }
}
