//! Opening's replay of the durable blocks after the last state checkpoint.
//!
//! Execution and the state tree only: the blocks' signatures were verified
//! before this node acknowledged them (`audit` re-verifies everything).
//! Each block's receipts and state root are checked against its stored
//! header.
//!
//! Execution reads values only, never the tree, so the two run as a
//! pipeline: an execution thread reads, decodes and executes block after
//! block on the checkpointed state (a store snapshot) under the net writes
//! of the blocks it executed before, and hands each block's writes to the
//! opening thread, which computes the state tree's version from them,
//! checks its root and holds it in memory. The execution thread runs at
//! most [`REPLAY_AHEAD_BLOCKS`] blocks ahead, and runs its own parallel
//! parts in a rayon pool of its own: in the global pool they queued behind
//! the state tree's, and execution is the pipeline's critical path.
//!
//! **Invariant:** the values execution reads are the ones it would read at
//! the head through the layers, because the layers over the checkpoint
//! hold exactly the replayed blocks' writes. Its map of writes holds each
//! position written since the checkpoint it reads at, once (values only,
//! no nodes). When the next replayed version would not fit inside the
//! memory budget beside those held, the opening thread checkpoints them
//! first; the execution thread then reads a new
//! snapshot at that checkpoint and forgets the writes it covers, so the
//! map stays as small as the versions in memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use foldhash::HashMap;

use crate::hash::Hash;
use crate::machine::StateMachine;
use crate::merkle::merkle_root;
use crate::state_tree::{
    apply_updates, StateLayers, StateTreeError, StateTreeReader, StateUpdate, StoredStateTree,
};
use crate::store::{Column, Store, StoreError, StoreRead};
use crate::types::{Block, BlockHeader};
use crate::value::StateValue;

use super::apply::{receipt_leaves, transaction_ids};
use super::execute::{
    execute_with_scratch, BlockContext, ExecutionScratch, InvalidTransactions, ReadAhead, StateRead,
};
use super::records::height_key;
use super::state_checkpoint::write_checkpoint;
use super::{Head, Ledger, LedgerError};

/// Blocks the replay's execution thread may run ahead of the state tree.
pub(super) const REPLAY_AHEAD_BLOCKS: usize = 2;

/// One replayed block, executed and its receipts checked: what the state
/// tree needs of it.
struct ExecutedBlock {
    header: BlockHeader,
    transactions: u64,
    updates: Vec<StateUpdate>,
    execute: Duration,
}

/// The state execution reads during the replay: the last state checkpoint
/// (in a store snapshot) under the writes of the blocks replayed since.
struct ReplayState<'a> {
    /// The checkpoint `snapshot` is read at.
    checkpoint: Option<u64>,
    snapshot: Box<dyn StoreRead + 'a>,
    /// Each position written after `checkpoint`: the height of its last
    /// write and its value.
    written: HashMap<Hash, (u64, Option<StateValue>)>,
}

impl<'a> ReplayState<'a> {
    /// Reads at the checkpoint `through`, committed since the last call:
    /// a fresh snapshot holds it, and the writes it covers are forgotten.
    fn advance(&mut self, snapshot: Box<dyn StoreRead + 'a>, through: u64) {
        self.snapshot = snapshot;
        self.checkpoint = Some(through);
        self.written.retain(|_, (height, _)| *height > through);
    }
}

impl StateRead for ReplayState<'_> {
    fn read(&self, position: &Hash) -> Result<Option<StateValue>, StateTreeError> {
        if let Some((_, value)) = self.written.get(position) {
            return Ok(value.clone());
        }
        let Some(version) = self.checkpoint else {
            return Ok(None);
        };
        Ok(StoredStateTree::new(&*self.snapshot)
            .value_at(position, version)?
            .map(StateValue::from))
    }
}

fn mismatch(height: u64) -> LedgerError {
    LedgerError::corrupt(
        Column::Blocks,
        &height_key(height),
        "replaying the stored block on the checkpointed state gives other roots than its header",
    )
}

impl<S: Store, M: StateMachine> Ledger<S, M> {
    /// Opening: replays the durable blocks after the last state checkpoint
    /// (`from`..=`to`) into memory, checking each block's receipts and state
    /// roots against its header. Checkpoints synchronously the versions held
    /// when the next one would not fit inside the memory budget beside them.
    pub(super) fn replay(&mut self, from: u64, to: u64) -> Result<(), LedgerError> {
        let start = Instant::now();
        let store = Arc::clone(&self.store);
        let machine = Arc::clone(&self.machine);
        let chain_id = self.config.chain_id;
        let checkpoint = self.applied_height();
        // The newest checkpoint committed by this thread during the replay
        // (when the next version would not fit in the memory budget), for the
        // execution thread to read at; `u64::MAX` while there is none.
        let checkpointed = AtomicU64::new(u64::MAX);
        std::thread::scope(|scope| -> Result<(), LedgerError> {
            let (executed, receive) = std::sync::mpsc::sync_channel(REPLAY_AHEAD_BLOCKS);
            let checkpointed = &checkpointed;
            scope.spawn(move || {
                let store: &S = &store;
                let run = || {
                    let mut state = ReplayState {
                        checkpoint,
                        snapshot: store.snapshot(),
                        written: HashMap::default(),
                    };
                    let mut scratch = ExecutionScratch::default();
                    for height in from..=to {
                        let through = checkpointed.load(Ordering::Acquire);
                        if through != u64::MAX && state.checkpoint.is_none_or(|c| through > c) {
                            state.advance(store.snapshot(), through);
                        }
                        let block =
                            execute_block(&*machine, chain_id, &mut scratch, &mut state, height);
                        let stop = block.is_err();
                        if executed.send(block).is_err() || stop {
                            break;
                        }
                    }
                };
                // Execution's parallel parts (transaction ids, senders'
                // nonces, receipt leaves) run in a pool of their own, so
                // they never queue behind the state tree's work in the
                // global pool: execution is the replay's critical path.
                // Without a pool (it could not start) they share the global
                // one, only more slowly.
                match rayon::ThreadPoolBuilder::new()
                    .num_threads(rayon::current_num_threads())
                    .thread_name(|i| format!("ledger-replay-{i}"))
                    .build()
                {
                    Ok(pool) => pool.install(run),
                    Err(_) => run(),
                }
            });
            for _ in from..=to {
                let block = receive.recv().map_err(|_| {
                    LedgerError::Store(StoreError::Backend {
                        detail: "the replay's execution thread stopped".into(),
                    })
                })??;
                self.replay_state_tree(block)?;
                if let Some(done) = self.state_checkpoint {
                    checkpointed.store(done, Ordering::Release);
                }
            }
            Ok(())
        })?;
        self.recovery.duration = start.elapsed();
        self.layers_since = Instant::now();
        Ok(())
    }

    /// Computes a replayed block's state version, checks its root and holds
    /// it (see [`Ledger::replay`]).
    fn replay_state_tree(&mut self, block: ExecutedBlock) -> Result<(), LedgerError> {
        let start = Instant::now();
        let header = block.header;
        let stored = StoredStateTree::new(&*self.store);
        let cached = self.node_cache.reader(&stored);
        let reader = self.layers.reader(&cached);
        let writes = apply_updates(
            &reader,
            self.applied_height(),
            header.height,
            &block.updates,
        )?;
        self.recovery.state_root += start.elapsed();
        self.recovery.execute += block.execute;
        if writes.root_hash != header.state_root {
            return Err(mismatch(header.height));
        }
        // Room for this version inside the memory budget: a checkpoint of
        // every version held (all before this block's).
        if !self.fits_in_memory(StateLayers::estimate(&writes)) {
            let job = self.checkpoint_job(self.layers.through(header.height));
            let done = write_checkpoint(&*self.store, job, &self.node_cache)?;
            self.layers.drop_through(done.version);
            self.state_checkpoint = Some(done.version);
        }
        self.hold_version(writes);
        self.head = Some(Head::new(header));
        self.recovery.replayed_blocks += 1;
        self.recovery.replayed_transactions += block.transactions;
        Ok(())
    }
}

/// The execution thread's part of replaying the block at `height`: reads
/// and decodes it, executes it on `state`, checks its receipts root and
/// adds its writes to `state`.
fn execute_block<M: StateMachine + ?Sized>(
    machine: &M,
    chain_id: u64,
    scratch: &mut ExecutionScratch,
    state: &mut ReplayState<'_>,
    height: u64,
) -> Result<ExecutedBlock, LedgerError> {
    let (block, tx_ids) = read_replay_block(&*state.snapshot, height)?;
    let start = Instant::now();
    let header = *block.header();
    let context = BlockContext::new(chain_id, header.height, header.timestamp_ms);
    let executed = execute_with_scratch(
        scratch,
        machine,
        &*state,
        context,
        block.transactions(),
        &tx_ids,
        InvalidTransactions::Refuse,
        ReadAhead::Off,
    )?;
    if merkle_root(&receipt_leaves(&tx_ids, &executed.receipts)) != header.receipts_root {
        return Err(mismatch(height));
    }
    state.written.extend(
        executed
            .updates
            .iter()
            .map(|update| (update.position, (height, update.value.clone()))),
    );
    Ok(ExecutedBlock {
        header,
        transactions: tx_ids.len() as u64,
        updates: executed.updates,
        execute: start.elapsed(),
    })
}

/// A stored block for the replay, decoded, with its transaction ids.
fn read_replay_block<S: StoreRead + ?Sized>(
    store: &S,
    height: u64,
) -> Result<(Block, Vec<Hash>), LedgerError> {
    let key = height_key(height);
    let bytes = store
        .get(Column::Blocks, &key)?
        .ok_or_else(|| LedgerError::corrupt(Column::Blocks, &key, "missing"))?;
    let block = super::records::decode_stored_block(&bytes)
        .map_err(|error| LedgerError::corrupt(Column::Blocks, &key, error.to_string()))?;
    if block.header().height != height {
        return Err(LedgerError::corrupt(
            Column::Blocks,
            &key,
            "the stored block has another height",
        ));
    }
    let tx_ids = transaction_ids(block.transactions());
    Ok((block, tx_ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{hash, Domain};
    use crate::store::MemStore;

    #[test]
    fn moving_to_a_newer_checkpoint_forgets_the_writes_it_covers() {
        let store = MemStore::new();
        let position = |n: u8| hash(Domain::StateKey, &[n]);
        let mut state = ReplayState {
            checkpoint: None,
            snapshot: store.snapshot(),
            written: HashMap::default(),
        };
        let value = StateValue::from_slice(b"written at 5");
        state
            .written
            .insert(position(1), (3, Some(StateValue::from_slice(b"at 3"))));
        state.written.insert(position(2), (5, Some(value.clone())));
        state.advance(store.snapshot(), 4);
        assert_eq!(state.checkpoint, Some(4));
        assert_eq!(state.written.len(), 1);
        // Written after the checkpoint: read from memory.
        assert_eq!(state.read(&position(2)).unwrap(), Some(value));
        // Covered by the checkpoint: read from the store (empty here).
        assert_eq!(state.read(&position(1)).unwrap(), None);
    }
}
