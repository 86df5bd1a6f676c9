//! Executing a block's transactions in order against the state: nonce and
//! chain checks, the application's [`StateMachine`], per-transaction
//! overlays so that a failed transaction leaves only its nonce behind, the
//! block's budgets, and the block's final writes as sorted state-tree
//! updates.
//!
//! This stage is pure given its inputs: the committed state is read through
//! a [`StateRead`], and nothing is written until the engine commits the
//! result in one store batch.
//!
//! Two modes ([`InvalidTransactions`]): a validator refuses a block that
//! holds an invalid transaction (wrong chain, wrong nonce, a repeat); a
//! proposer skips such transactions and keeps going, so that building a
//! block from a mempool is one pass whatever the mempool holds.

use foldhash::{HashMap, HashMapExt};
use rayon::prelude::*;

use bytes::Bytes;

use crate::hash::Hash;
use crate::limits::{
    MAX_BLOCK_EVENTS, MAX_BLOCK_EVENT_BYTES, MAX_BLOCK_STATE_WRITES, MAX_BLOCK_STATE_WRITE_BYTES,
    MAX_EVENTS_PER_TX, MAX_EVENT_BYTES, MAX_READS_PER_TX, MAX_READ_HINTS_PER_TX,
    MAX_STATE_KEY_BYTES, MAX_STATE_VALUE_BYTES, MAX_WRITES_PER_TX,
};
use crate::machine::{
    Event, Events, Receipt, StateAccess, StateAccessError, StateMachine, TxContext,
};
use crate::state_tree::{application_position, nonce_positions, StateTreeError, StateUpdate};
use crate::types::Transaction;
use crate::value::StateValue;

/// Reads committed state values by position.
pub trait StateRead: Sync {
    /// The committed value at `position`, if any.
    fn read(&self, position: &Hash) -> Result<Option<StateValue>, StateTreeError>;
}

/// Why a block's transactions cannot be executed: the block is invalid
/// (the first three variants) or the node failed ([`ExecutionError::Storage`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutionError {
    /// A transaction for another chain.
    #[error("transaction {index} is for chain {found}, this chain is {expected}")]
    WrongChain {
        /// Its index in the block.
        index: u32,
        /// This chain's id.
        expected: u64,
        /// The transaction's chain id.
        found: u64,
    },
    /// A transaction whose nonce is not its sender's next.
    #[error("transaction {index} has nonce {found}, its sender's next nonce is {expected}")]
    WrongNonce {
        /// Its index in the block.
        index: u32,
        /// The sender's next nonce.
        expected: u64,
        /// The transaction's nonce.
        found: u64,
    },
    /// The same transaction twice in the block.
    #[error("transaction {index} repeats transaction {first}")]
    DuplicateTransaction {
        /// Index of the repeat.
        index: u32,
        /// Index of the first occurrence.
        first: u32,
    },
    /// The state could not be read; nothing about the block is decided.
    #[error("state storage failed while executing transaction {index}")]
    Storage {
        /// The transaction being executed.
        index: u32,
        /// The state tree's (or the store's) error.
        #[source]
        source: StateTreeError,
    },
}

impl ExecutionError {
    /// True if the block is at fault (an invalid transaction), false if the
    /// node is (storage).
    pub fn is_block_invalid(&self) -> bool {
        !matches!(self, ExecutionError::Storage { .. })
    }
}

/// What to do with an invalid transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidTransactions {
    /// Refuse the block (a validator).
    Refuse,
    /// Leave the transaction out and go on (a proposer building a block).
    Skip,
}

/// The result of executing a block's transactions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecutedBlock {
    /// The block's net writes (nonces and application keys), sorted by
    /// position, each position once: the input of the state tree update.
    pub updates: Vec<StateUpdate>,
    /// One receipt per included transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// Indices (ascending) of the transactions left out in
    /// [`InvalidTransactions::Skip`] mode; empty in `Refuse` mode.
    pub skipped: Vec<u32>,
}

/// Block-level facts the application may see.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct BlockContext {
    /// This chain's id.
    pub chain_id: u64,
    /// Height of the block.
    pub height: u64,
    /// Timestamp of the block.
    pub timestamp_ms: u64,
}

impl BlockContext {
    /// The context of the block at `height` of chain `chain_id`.
    pub fn new(chain_id: u64, height: u64, timestamp_ms: u64) -> Self {
        BlockContext {
            chain_id,
            height,
            timestamp_ms,
        }
    }
}

/// What the block's successful transactions have used of its budgets
/// (`crate::limits`: `MAX_BLOCK_*`).
#[derive(Clone, Copy, Debug, Default)]
struct BlockUsage {
    writes: usize,
    write_bytes: usize,
    events: usize,
    event_bytes: usize,
}

/// The block's net writes so far, by position.
type BlockWrites = HashMap<Hash, Option<StateValue>>;

/// Executes `transactions` (with their precomputed `ids`) in order.
///
/// Nothing here allocates per transaction once the block's maps are sized:
/// keys' positions and small values are held inline ([`StateValue`]), and
/// one transaction's writes go to a scratch list reused by the next.
pub fn execute_transactions<M: StateMachine + ?Sized, S: StateRead + ?Sized>(
    machine: &M,
    committed: &S,
    block: BlockContext,
    transactions: &[Transaction],
    ids: &[Hash],
    invalid: InvalidTransactions,
) -> Result<ExecutedBlock, ExecutionError> {
    let mut scratch = ExecutionScratch::default();
    execute_with_scratch(
        &mut scratch,
        machine,
        committed,
        block,
        transactions,
        ids,
        invalid,
        ReadAhead::Off,
    )
}

/// Whether execution reads the committed values of the keys the
/// application hints at ([`StateMachine::read_hints`]) ahead of the
/// transactions, in parallel. Either way the outcome is the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadAhead {
    /// Read each value when a transaction asks for it.
    Off,
    /// Read the hinted keys first, in parallel.
    Hinted,
}

/// The block-sized maps of an execution, kept from one block to the next
/// by the engine: a fresh multi-megabyte map per block costs page faults
/// on every block.
#[derive(Default)]
pub(super) struct ExecutionScratch {
    block_writes: BlockWrites,
    tx_writes: TxWrites,
    hinted: HintedReads,
}

/// Entries of the block's writes map kept allocated between blocks (about
/// 4.5 MiB); a block that needed more gives the rest back.
const RETAINED_BLOCK_WRITES: usize = 1 << 16;

/// [`execute_transactions`] with maps reused from earlier blocks, reading
/// the application's hinted keys ahead if `read_ahead` says so.
#[expect(
    clippy::too_many_arguments,
    reason = "the engine's three callers pass each input separately; a struct would only rename them"
)]
pub(super) fn execute_with_scratch<M: StateMachine + ?Sized, S: StateRead + ?Sized>(
    scratch: &mut ExecutionScratch,
    machine: &M,
    committed: &S,
    block: BlockContext,
    transactions: &[Transaction],
    ids: &[Hash],
    invalid: InvalidTransactions,
    read_ahead: ReadAhead,
) -> Result<ExecutedBlock, ExecutionError> {
    let ExecutionScratch {
        block_writes,
        tx_writes: scratch,
        hinted,
    } = scratch;
    block_writes.clear();
    scratch.clear();
    hinted.clear();
    // Room for a nonce and two more writes per transaction without growing
    // (within the block's write budget).
    let expected_writes = transactions
        .len()
        .saturating_mul(3)
        .min(MAX_BLOCK_STATE_WRITES);
    block_writes.reserve(expected_writes);
    let mut receipts = Vec::with_capacity(transactions.len());
    let mut skipped = Vec::new();
    let mut repeats = Repeats::default();
    let mut usage = BlockUsage::default();
    let senders = match read_ahead {
        ReadAhead::Off => senders_nonces(transactions, committed),
        ReadAhead::Hinted => {
            let (senders, reads) = rayon::join(
                || senders_nonces(transactions, committed),
                || hinted_reads(machine, transactions, committed),
            );
            hinted.reserve(reads.iter().map(Vec::len).sum());
            for part in reads {
                hinted.extend(part);
            }
            senders
        }
    };
    for (index, ((tx, id), sender)) in transactions.iter().zip(ids).zip(senders).enumerate() {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        let nonce_at = sender.position;
        let checked =
            check_transaction(tx, index, block, sender, block_writes).map_err(
                |error| match error {
                    // A repeat has its first occurrence's nonce, which that
                    // consumed: name the repeat rather than the nonce.
                    ExecutionError::WrongNonce { .. } => match repeats.first(id, ids) {
                        Some(first) => ExecutionError::DuplicateTransaction { index, first },
                        None => error,
                    },
                    error => error,
                },
            );
        let expected = match (checked, invalid) {
            (Ok(nonce), _) => nonce,
            (Err(error @ ExecutionError::Storage { .. }), _) => return Err(error),
            (Err(_), InvalidTransactions::Skip) => {
                skipped.push(index);
                continue;
            }
            (Err(error), InvalidTransactions::Refuse) => return Err(error),
        };
        repeats.included(index, id);

        scratch.clear();
        let mut overlay = TxOverlay::new(block_writes, hinted, committed, scratch, usage);
        let context = TxContext {
            tx,
            tx_id: *id,
            height: block.height,
            timestamp_ms: block.timestamp_ms,
            index,
        };
        let outcome = machine.execute(&context, &mut overlay);
        if let Some(source) = overlay.storage_error.take() {
            // Whatever the application made of it, a storage fault must not
            // decide the transaction's outcome.
            return Err(ExecutionError::Storage { index, source });
        }
        let TxOverlay {
            events,
            usage: used,
            ..
        } = overlay;
        let receipt = match outcome {
            Ok(()) => {
                usage = used;
                block_writes.extend(scratch.writes.drain(..));
                Receipt::Success { events }
            }
            Err(failure) => Receipt::Failed(failure),
        };
        // The nonce is consumed whether the application succeeded or not;
        // `check_transaction` refused a sender at u64::MAX.
        let next = expected.saturating_add(1);
        block_writes.insert(nonce_at, Some(StateValue::from(next.to_le_bytes())));
        receipts.push(receipt);
    }
    let mut updates: Vec<StateUpdate> = block_writes
        .drain()
        .map(|(position, value)| StateUpdate { position, value })
        .collect();
    updates.sort_unstable_by_key(|update| update.position);
    block_writes.shrink_to(RETAINED_BLOCK_WRITES);
    hinted.clear();
    hinted.shrink_to(RETAINED_BLOCK_WRITES);
    Ok(ExecutedBlock {
        updates,
        receipts,
        skipped,
    })
}

/// Transactions whose senders' nonces are looked up as one task.
const NONCE_CHUNK: usize = 2_048;

/// Committed values of the keys the application hinted at, read ahead of
/// execution (the committed state does not change during a block, so they
/// stay valid for all its transactions; the overlays hold its writes).
type HintedReads = HashMap<Hash, Option<StateValue>>;

/// Transactions whose hinted keys are read as one task.
const HINT_CHUNK: usize = 512;

/// The committed values of the keys each transaction's
/// [`StateMachine::read_hints`] names (at most [`MAX_READ_HINTS_PER_TX`]
/// each, none longer than [`MAX_STATE_KEY_BYTES`]), read in parallel. A read
/// that fails is left out: the transaction that needs the value reads it
/// again and reports the error then.
fn hinted_reads<M: StateMachine + ?Sized, S: StateRead + ?Sized>(
    machine: &M,
    transactions: &[Transaction],
    committed: &S,
) -> Vec<Vec<(Hash, Option<StateValue>)>> {
    transactions
        .par_chunks(HINT_CHUNK)
        .map(|chunk| {
            let mut reads = Vec::with_capacity(chunk.len() * 2);
            for tx in chunk {
                let mut named = 0usize;
                machine.read_hints(tx, &mut |key: &[u8]| {
                    if named >= MAX_READ_HINTS_PER_TX || key.len() > MAX_STATE_KEY_BYTES {
                        return;
                    }
                    named += 1;
                    let position = application_position(key);
                    if let Ok(value) = committed.read(&position) {
                        reads.push((position, value));
                    }
                });
            }
            reads
        })
        .collect()
}

/// A transaction's sender's nonce position and committed nonce record.
struct SenderNonce {
    position: Hash,
    /// The committed value (read whether or not the block wrote it before
    /// this transaction; used only if it did not). An error is reported
    /// only if the value is needed.
    committed: Result<Option<StateValue>, StateTreeError>,
}

/// Each transaction's sender's nonce position (hashed in bulk) and
/// committed nonce, looked up in parallel before the sequential execution:
/// every transaction reads its sender's nonce, so these reads need not wait
/// for the application.
fn senders_nonces<S: StateRead + ?Sized>(
    transactions: &[Transaction],
    committed: &S,
) -> Vec<SenderNonce> {
    let chunk = |chunk: &[Transaction]| -> Vec<SenderNonce> {
        nonce_positions(chunk.iter().map(Transaction::sender))
            .into_iter()
            .map(|position| SenderNonce {
                position,
                committed: committed.read(&position),
            })
            .collect()
    };
    if transactions.len() <= NONCE_CHUNK {
        return chunk(transactions);
    }
    let chunks: Vec<Vec<SenderNonce>> = transactions.par_chunks(NONCE_CHUNK).map(chunk).collect();
    chunks.into_iter().flatten().collect()
}

/// Finds the first occurrence of a repeated transaction among those
/// included so far.
///
/// A repeat always fails the nonce check (its first occurrence consumed
/// that nonce), so it is looked for only then: the index of included ids is
/// built on the first failed nonce check and kept up to date after it, and
/// a block without one builds none.
#[derive(Default)]
struct Repeats {
    /// Indices (in the block) of the included transactions, in order.
    included: Vec<u32>,
    /// Id to first index, once built.
    index: Option<HashMap<Hash, u32>>,
}

impl Repeats {
    /// Records that transaction `index`, of id `id`, is included.
    fn included(&mut self, index: u32, id: &Hash) {
        self.included.push(index);
        if let Some(map) = &mut self.index {
            map.entry(*id).or_insert(index);
        }
    }

    /// The index of the included transaction of id `id`, if any (`ids`:
    /// the block's transaction ids).
    fn first(&mut self, id: &Hash, ids: &[Hash]) -> Option<u32> {
        let included = &self.included;
        let map = self.index.get_or_insert_with(|| {
            let mut map = HashMap::with_capacity(included.len());
            for &index in included {
                if let Some(id) = ids.get(index as usize) {
                    map.entry(*id).or_insert(index);
                }
            }
            map
        });
        map.get(id).copied()
    }
}

/// The chain and nonce checks of one transaction; returns its nonce.
fn check_transaction(
    tx: &Transaction,
    index: u32,
    block: BlockContext,
    sender: SenderNonce,
    block_writes: &BlockWrites,
) -> Result<u64, ExecutionError> {
    if tx.chain_id() != block.chain_id {
        return Err(ExecutionError::WrongChain {
            index,
            expected: block.chain_id,
            found: tx.chain_id(),
        });
    }
    let value = match block_writes.get(&sender.position) {
        Some(value) => value.clone(),
        None => sender
            .committed
            .map_err(|source| ExecutionError::Storage { index, source })?,
    };
    let expected = match value {
        None => 0,
        Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
            .map(u64::from_le_bytes)
            .map_err(|_| ExecutionError::Storage {
                index,
                source: StateTreeError::Corrupt {
                    detail: format!("stored nonce at {} is not 8 bytes", sender.position),
                },
            })?,
    };
    // A sender at u64::MAX has no next nonce: nothing of it is valid.
    if tx.nonce() != expected || expected == u64::MAX {
        return Err(ExecutionError::WrongNonce {
            index,
            expected,
            found: tx.nonce(),
        });
    }
    Ok(expected)
}

/// Key positions a transaction remembers (the rest are recomputed).
const REMEMBERED_POSITIONS: usize = 8;

/// Keys up to this long are remembered with their position.
const REMEMBERED_KEY_BYTES: usize = 64;

/// A transaction's writes up to this many are found by a linear scan;
/// beyond it, through an index (built once, then kept up to date).
const SCANNED_WRITES: usize = 16;

/// One transaction's writes, in the order first written, each position
/// once; reused from one transaction to the next so that it allocates only
/// when a transaction writes more than any before it.
#[derive(Default)]
struct TxWrites {
    writes: Vec<(Hash, Option<StateValue>)>,
    /// Position to index in `writes`, kept only past [`SCANNED_WRITES`].
    index: HashMap<Hash, usize>,
}

impl TxWrites {
    fn clear(&mut self) {
        self.writes.clear();
        if !self.index.is_empty() {
            self.index.clear();
        }
    }

    fn get(&self, position: &Hash) -> Option<&Option<StateValue>> {
        let at = if self.writes.len() > SCANNED_WRITES {
            *self.index.get(position)?
        } else {
            self.writes
                .iter()
                .position(|(known, _)| known == position)?
        };
        self.writes.get(at).map(|(_, value)| value)
    }

    fn set(&mut self, position: Hash, value: Option<StateValue>) {
        let at = if self.writes.len() > SCANNED_WRITES {
            self.index.get(&position).copied()
        } else {
            self.writes.iter().position(|(known, _)| *known == position)
        };
        if let Some(slot) = at.and_then(|at| self.writes.get_mut(at)) {
            slot.1 = value;
            return;
        }
        self.writes.push((position, value));
        if self.writes.len() > SCANNED_WRITES {
            if self.index.is_empty() {
                let entries = self.writes.iter().enumerate();
                self.index
                    .extend(entries.map(|(at, (known, _))| (*known, at)));
            } else {
                self.index.insert(position, self.writes.len() - 1);
            }
        }
    }
}

/// Positions of the keys a transaction used, so that a read and a write of
/// the same key hash it once; held inline (a few short keys).
struct KeyPositions {
    entries: [(u8, [u8; REMEMBERED_KEY_BYTES], Hash); REMEMBERED_POSITIONS],
    len: usize,
}

impl KeyPositions {
    fn new() -> Self {
        KeyPositions {
            entries: [(0, [0; REMEMBERED_KEY_BYTES], Hash::ZERO); REMEMBERED_POSITIONS],
            len: 0,
        }
    }

    fn position(&mut self, key: &[u8]) -> Hash {
        let known = self.entries.get(..self.len).unwrap_or(&[]);
        let found = known
            .iter()
            .find(|(len, bytes, _)| bytes.get(..usize::from(*len)) == Some(key));
        if let Some((_, _, position)) = found {
            return *position;
        }
        let position = application_position(key);
        if let (Some(entry), Ok(len)) = (self.entries.get_mut(self.len), u8::try_from(key.len())) {
            if let Some(head) = entry.1.get_mut(..key.len()) {
                head.copy_from_slice(key);
                entry.0 = len;
                entry.2 = position;
                self.len += 1;
            }
        }
        position
    }
}

/// One transaction's view: its own writes over the block's over the
/// committed state, with the per-transaction limits and the block's
/// remaining budgets enforced.
struct TxOverlay<'a, S: ?Sized> {
    block_writes: &'a BlockWrites,
    hinted: &'a HintedReads,
    committed: &'a S,
    writes: &'a mut TxWrites,
    positions: KeyPositions,
    events: Events,
    reads: usize,
    write_count: usize,
    /// The block's usage including this transaction's so far.
    usage: BlockUsage,
    storage_error: Option<StateTreeError>,
}

impl<'a, S: StateRead + ?Sized> TxOverlay<'a, S> {
    fn new(
        block_writes: &'a BlockWrites,
        hinted: &'a HintedReads,
        committed: &'a S,
        writes: &'a mut TxWrites,
        usage: BlockUsage,
    ) -> Self {
        TxOverlay {
            block_writes,
            hinted,
            committed,
            writes,
            positions: KeyPositions::new(),
            events: Events::default(),
            reads: 0,
            write_count: 0,
            usage,
            storage_error: None,
        }
    }

    fn check_key(&mut self, key: &[u8]) -> Result<Hash, StateAccessError> {
        if key.len() > MAX_STATE_KEY_BYTES {
            return Err(StateAccessError::KeyTooLong { len: key.len() });
        }
        Ok(self.positions.position(key))
    }

    /// Counts a write of `bytes` against the transaction's and the block's
    /// limits.
    fn count_write(&mut self, bytes: usize) -> Result<(), StateAccessError> {
        if self.write_count >= MAX_WRITES_PER_TX {
            return Err(StateAccessError::TooManyWrites);
        }
        if self.usage.writes >= MAX_BLOCK_STATE_WRITES {
            return Err(StateAccessError::BlockBudgetSpent {
                what: "state writes",
            });
        }
        let write_bytes = self.usage.write_bytes.saturating_add(bytes);
        if write_bytes > MAX_BLOCK_STATE_WRITE_BYTES {
            return Err(StateAccessError::BlockBudgetSpent {
                what: "state write bytes",
            });
        }
        self.write_count += 1;
        self.usage.writes += 1;
        self.usage.write_bytes = write_bytes;
        Ok(())
    }
}

impl<S: StateRead + ?Sized> StateAccess for TxOverlay<'_, S> {
    fn get(&mut self, key: &[u8]) -> Result<Option<StateValue>, StateAccessError> {
        let position = self.check_key(key)?;
        if self.reads >= MAX_READS_PER_TX {
            return Err(StateAccessError::TooManyReads);
        }
        self.reads += 1;
        if let Some(value) = self.writes.get(&position) {
            return Ok(value.clone());
        }
        if let Some(value) = self.block_writes.get(&position) {
            return Ok(value.clone());
        }
        if !self.hinted.is_empty() {
            if let Some(value) = self.hinted.get(&position) {
                return Ok(value.clone());
            }
        }
        self.committed.read(&position).map_err(|source| {
            self.storage_error = Some(source);
            StateAccessError::StorageFailed
        })
    }

    fn put(&mut self, key: &[u8], value: StateValue) -> Result<(), StateAccessError> {
        let position = self.check_key(key)?;
        if value.len() > MAX_STATE_VALUE_BYTES {
            return Err(StateAccessError::ValueTooLarge { len: value.len() });
        }
        self.count_write(key.len() + value.len())?;
        self.writes.set(position, Some(value));
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateAccessError> {
        let position = self.check_key(key)?;
        self.count_write(key.len())?;
        self.writes.set(position, None);
        Ok(())
    }

    fn emit(&mut self, topic: &[u8], data: &[u8]) -> Result<(), StateAccessError> {
        let len = topic.len().saturating_add(data.len());
        if len > MAX_EVENT_BYTES {
            return Err(StateAccessError::EventTooLarge { len });
        }
        if self.events.len() >= MAX_EVENTS_PER_TX {
            return Err(StateAccessError::TooManyEvents);
        }
        if self.usage.events >= MAX_BLOCK_EVENTS {
            return Err(StateAccessError::BlockBudgetSpent { what: "events" });
        }
        let event_bytes = self.usage.event_bytes.saturating_add(len);
        if event_bytes > MAX_BLOCK_EVENT_BYTES {
            return Err(StateAccessError::BlockBudgetSpent {
                what: "event bytes",
            });
        }
        let event = Event::new(Bytes::copy_from_slice(topic), Bytes::copy_from_slice(data))?;
        self.events.push(event)?;
        self.usage.events += 1;
        self.usage.event_bytes = event_bytes;
        Ok(())
    }
}
