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

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use bytes::Bytes;

use crate::hash::Hash;
use crate::limits::{
    MAX_BLOCK_EVENTS, MAX_BLOCK_EVENT_BYTES, MAX_BLOCK_STATE_WRITES, MAX_BLOCK_STATE_WRITE_BYTES,
    MAX_EVENTS_PER_TX, MAX_EVENT_BYTES, MAX_READS_PER_TX, MAX_STATE_KEY_BYTES,
    MAX_STATE_VALUE_BYTES, MAX_WRITES_PER_TX,
};
use crate::machine::{
    Event, Events, Receipt, StateAccess, StateAccessError, StateMachine, TxContext,
};
use crate::state_tree::{application_position, nonce_position, StateTreeError, StateUpdate};
use crate::types::Transaction;

/// Reads committed state values by position.
pub trait StateRead: Sync {
    /// The committed value at `position`, if any.
    fn read(&self, position: &Hash) -> Result<Option<Bytes>, StateTreeError>;
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

/// Executes `transactions` (with their precomputed `ids`) in order.
pub fn execute_transactions<M: StateMachine + ?Sized, S: StateRead + ?Sized>(
    machine: &M,
    committed: &S,
    block: BlockContext,
    transactions: &[Transaction],
    ids: &[Hash],
    invalid: InvalidTransactions,
) -> Result<ExecutedBlock, ExecutionError> {
    let mut block_writes: HashMap<Hash, Option<Bytes>> = HashMap::new();
    let mut receipts = Vec::with_capacity(transactions.len());
    let mut skipped = Vec::new();
    let mut first_index: HashMap<Hash, u32> = HashMap::with_capacity(transactions.len());
    let mut included: HashSet<Hash> = HashSet::with_capacity(transactions.len());
    let mut usage = BlockUsage::default();
    for (index, (tx, id)) in transactions.iter().zip(ids).enumerate() {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        let checked = if included.contains(id) {
            let first = first_index.get(id).copied().unwrap_or(0);
            Err(ExecutionError::DuplicateTransaction { index, first })
        } else {
            check_transaction(tx, index, block, &block_writes, committed)
        };
        let expected = match (checked, invalid) {
            (Ok(nonce), _) => nonce,
            (Err(error @ ExecutionError::Storage { .. }), _) => return Err(error),
            (Err(_), InvalidTransactions::Skip) => {
                skipped.push(index);
                continue;
            }
            (Err(error), InvalidTransactions::Refuse) => return Err(error),
        };
        included.insert(*id);
        first_index.entry(*id).or_insert(index);

        let mut overlay = TxOverlay::new(&block_writes, committed, usage);
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
            writes,
            events,
            usage: used,
            ..
        } = overlay;
        let receipt = match outcome {
            Ok(()) => {
                usage = used;
                block_writes.extend(writes);
                Receipt::Success { events }
            }
            Err(failure) => Receipt::Failed(failure),
        };
        // The nonce is consumed whether the application succeeded or not;
        // `check_transaction` refused a sender at u64::MAX.
        let next = expected.saturating_add(1);
        block_writes.insert(
            nonce_position(tx.sender()),
            Some(Bytes::copy_from_slice(&next.to_le_bytes())),
        );
        receipts.push(receipt);
    }
    let mut updates: Vec<StateUpdate> = block_writes
        .into_iter()
        .map(|(position, value)| StateUpdate { position, value })
        .collect();
    updates.sort_unstable_by_key(|update| update.position);
    Ok(ExecutedBlock {
        updates,
        receipts,
        skipped,
    })
}

/// The chain and nonce checks of one transaction; returns its nonce.
fn check_transaction<S: StateRead + ?Sized>(
    tx: &Transaction,
    index: u32,
    block: BlockContext,
    block_writes: &HashMap<Hash, Option<Bytes>>,
    committed: &S,
) -> Result<u64, ExecutionError> {
    if tx.chain_id() != block.chain_id {
        return Err(ExecutionError::WrongChain {
            index,
            expected: block.chain_id,
            found: tx.chain_id(),
        });
    }
    let expected = read_nonce(block_writes, committed, &nonce_position(tx.sender()))
        .map_err(|source| ExecutionError::Storage { index, source })?;
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

fn read_nonce<S: StateRead + ?Sized>(
    block_writes: &HashMap<Hash, Option<Bytes>>,
    committed: &S,
    position: &Hash,
) -> Result<u64, StateTreeError> {
    let value = match block_writes.get(position) {
        Some(value) => value.clone(),
        None => committed.read(position)?,
    };
    match value {
        None => Ok(0),
        Some(bytes) => <[u8; 8]>::try_from(&bytes[..])
            .map(u64::from_le_bytes)
            .map_err(|_| StateTreeError::Corrupt {
                detail: format!("stored nonce at {position} is not 8 bytes"),
            }),
    }
}

/// Key positions a transaction remembers (the rest are recomputed).
const REMEMBERED_POSITIONS: usize = 8;

/// One transaction's view: its own writes over the block's over the
/// committed state, with the per-transaction limits and the block's
/// remaining budgets enforced.
struct TxOverlay<'a, S: ?Sized> {
    block_writes: &'a HashMap<Hash, Option<Bytes>>,
    committed: &'a S,
    writes: HashMap<Hash, Option<Bytes>>,
    /// Positions of the keys this transaction used, so that a read and a
    /// write of the same key hash it once (a few keys per transaction).
    positions: Vec<(Box<[u8]>, Hash)>,
    events: Events,
    reads: usize,
    write_count: usize,
    /// The block's usage including this transaction's so far.
    usage: BlockUsage,
    storage_error: Option<StateTreeError>,
}

impl<'a, S: StateRead + ?Sized> TxOverlay<'a, S> {
    fn new(
        block_writes: &'a HashMap<Hash, Option<Bytes>>,
        committed: &'a S,
        usage: BlockUsage,
    ) -> Self {
        TxOverlay {
            block_writes,
            committed,
            writes: HashMap::new(),
            positions: Vec::new(),
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
        if let Some((_, position)) = self.positions.iter().find(|(known, _)| **known == *key) {
            return Ok(*position);
        }
        let position = application_position(key);
        if self.positions.len() < REMEMBERED_POSITIONS {
            self.positions.push((key.into(), position));
        }
        Ok(position)
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
    fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, StateAccessError> {
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
        self.committed.read(&position).map_err(|source| {
            self.storage_error = Some(source);
            StateAccessError::StorageFailed
        })
    }

    fn put(&mut self, key: &[u8], value: Bytes) -> Result<(), StateAccessError> {
        let position = self.check_key(key)?;
        if value.len() > MAX_STATE_VALUE_BYTES {
            return Err(StateAccessError::ValueTooLarge { len: value.len() });
        }
        self.count_write(key.len() + value.len())?;
        self.writes.insert(position, Some(value));
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateAccessError> {
        let position = self.check_key(key)?;
        self.count_write(key.len())?;
        self.writes.insert(position, None);
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
