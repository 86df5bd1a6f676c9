//! Opening a ledger: recovering the head from the store and a quick,
//! bounded check that the store agrees with it. (The full check of every
//! record is [`Ledger::audit`].)
//!
//! **Invariant:** `open` never presents an inconsistent store as a valid
//! ledger — and never an empty ledger over existing data, on top of which
//! a node would start a second chain.

use std::sync::Arc;

use crate::cache::TwoGenerationCache;
use crate::machine::StateMachine;
use crate::merkle::{HistoryError, HistoryNodes, HistoryTree, NodePosition};
use crate::state_tree::NodeCache;
use crate::store::{Column, KeyRange, Store, StoreRead};
use crate::types::BlockHeader;
use crate::verify::SignatureVerifier;

use super::head_values::HeadValues;
use super::records::{height_key, HEAD_KEY};
use super::state_checkpoint::last_checkpoint;
use super::{CheckpointReport, Head, Ledger, LedgerConfig, LedgerError, RecoveryReport};
use crate::state_tree::StateLayers;

/// History nodes in the store.
pub(super) struct StoredHistory<'a, S: ?Sized>(pub(super) &'a S);

impl<S: StoreRead + ?Sized> HistoryNodes for StoredHistory<'_, S> {
    fn node(&self, position: NodePosition) -> Result<Option<crate::hash::Hash>, HistoryError> {
        let Some(bytes) = self.0.get(Column::History, &position.to_key())? else {
            return Ok(None);
        };
        <[u8; 32]>::try_from(&bytes[..])
            .map(|hash| Some(crate::hash::Hash(hash)))
            .map_err(|_| HistoryError::MalformedNode {
                level: position.level,
                index: position.index,
            })
    }
}

impl<S: Store, M: StateMachine> Ledger<S, M> {
    /// Opens the ledger in `store`: recovers the committed head and checks
    /// that the store agrees with it — the head's block is stored and
    /// matches it, no block is stored above it (or at all, without a head),
    /// the last state checkpoint is at most the head and its state root is
    /// its block's and the stored tree's, and the history root is the
    /// head's. Then replays the blocks after the checkpoint into memory
    /// (see [`Ledger::recovery_report`]), checking every root.
    pub fn open(store: S, machine: M, config: LedgerConfig) -> Result<Self, LedgerError> {
        let durable = read_head(&store)?;
        check_blocks_around_head(&store, durable.as_ref())?;
        let history = match &durable {
            None => HistoryTree::new(),
            Some(head) => HistoryTree::restore(head.header.height + 1, &StoredHistory(&store))?,
        };
        let checkpoint = last_checkpoint(&store)?;
        let mut ledger = Ledger {
            verifier: SignatureVerifier::new(config.verifier.clone()),
            node_cache: Arc::new(NodeCache::new(config.node_cache_bytes)),
            head_values: HeadValues::new(config.value_cache_bytes),
            read_ahead: Default::default(),
            execution_scratch: Default::default(),
            block_leaves: TwoGenerationCache::with_shards(config.block_cache_bytes, 1),
            store: Arc::new(store),
            in_flight: parking_lot::Mutex::new(None),
            committer: None,
            failed: parking_lot::Mutex::new(None),
            machine: Arc::new(machine),
            config,
            head: None,
            history,
            layers: StateLayers::default(),
            state_checkpoint: checkpoint.map(|record| record.height),
            checkpoint_in_flight: None,
            checkpointer: None,
            layers_since: std::time::Instant::now(),
            checkpoint_report: CheckpointReport::default(),
            recovery: RecoveryReport::default(),
        };
        let Some(durable) = durable else {
            if let Some(record) = checkpoint {
                return Err(LedgerError::corrupt(
                    Column::StateCheckpoints,
                    &height_key(record.height),
                    "a state checkpoint is stored but no block",
                ));
            }
            return Ok(ledger);
        };
        if durable.header.chain_id != ledger.config.chain_id {
            return Err(LedgerError::WrongChain {
                expected: ledger.config.chain_id,
                found: durable.header.chain_id,
            });
        }
        // The state checkpoint: at most the head, its root the one of its
        // block's header and of the stored tree.
        let replay_from = match checkpoint {
            None => 0,
            Some(record) => {
                let key = height_key(record.height);
                let corrupt =
                    |detail: &str| LedgerError::corrupt(Column::StateCheckpoints, &key, detail);
                if record.height > durable.header.height {
                    return Err(corrupt("the state checkpoint is above the head"));
                }
                let header = ledger
                    .header_at(record.height)?
                    .ok_or_else(|| corrupt("the checkpoint's block is missing"))?;
                if header.state_root != record.state_root {
                    return Err(corrupt("the checkpoint's state root is not its block's"));
                }
                let stored = ledger.state_root_at(record.height)?;
                super::apply::check_root("stored state", header.state_root, stored)?;
                ledger.head = Some(Head::new(header));
                record.height + 1
            }
        };
        if replay_from <= durable.header.height {
            ledger.replay(replay_from, durable.header.height)?;
        }
        if ledger.head != Some(durable) {
            return Err(LedgerError::corrupt(
                Column::Meta,
                HEAD_KEY,
                "replay did not end at the head",
            ));
        }
        let history_root =
            HistoryTree::root_at(&StoredHistory(&*ledger.store), durable.header.height)?;
        super::apply::check_root("stored history", durable.header.history_root, history_root)?;
        Ok(ledger)
    }
}

fn read_head<S: StoreRead + ?Sized>(store: &S) -> Result<Option<Head>, LedgerError> {
    let Some(bytes) = store.get(Column::Meta, HEAD_KEY)? else {
        return Ok(None);
    };
    let header = BlockHeader::decode(&bytes)
        .map_err(|error| LedgerError::corrupt(Column::Meta, HEAD_KEY, error.to_string()))?;
    Ok(Some(Head::new(header)))
}

/// The head's block must be stored and be the head; nothing may be stored
/// above it; without a head, no block may be stored at all.
fn check_blocks_around_head<S: StoreRead + ?Sized>(
    store: &S,
    head: Option<&Head>,
) -> Result<(), LedgerError> {
    let above = match head {
        None => KeyRange::all(),
        Some(head) => match head.header.height.checked_add(1) {
            Some(next) => KeyRange {
                start: std::ops::Bound::Included(height_key(next).to_vec().into()),
                end: std::ops::Bound::Unbounded,
            },
            None => KeyRange::between(Vec::new(), Vec::new()),
        },
    };
    if let Some(entry) = store.scan(Column::Blocks, above)?.next() {
        let (key, _) = entry?;
        let detail = match head {
            None => "a block is stored but the head record is missing",
            Some(_) => "a block is stored above the head",
        };
        return Err(LedgerError::corrupt(Column::Blocks, &key, detail));
    }
    let Some(head) = head else {
        return Ok(());
    };
    let key = height_key(head.header.height);
    let bytes = store
        .get(Column::Blocks, &key)?
        .ok_or_else(|| LedgerError::corrupt(Column::Blocks, &key, "the head's block is missing"))?;
    let block = super::records::decode_stored_block(&bytes)
        .map_err(|error| LedgerError::corrupt(Column::Blocks, &key, error.to_string()))?;
    if *block.header() != head.header {
        return Err(LedgerError::corrupt(
            Column::Blocks,
            &key,
            "the head's block has another header than the head record",
        ));
    }
    Ok(())
}
