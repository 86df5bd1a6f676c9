//! Executing a block's transactions in order against the state: nonce and
//! chain checks, the application's [`StateMachine`], per-transaction
//! overlays so that a failed transaction leaves only its nonce behind, and
//! the block's final writes as sorted state-tree updates.
//!
//! This stage is pure given its inputs: the committed state is read through
//! a [`StateRead`], and nothing is written until the engine commits the
//! result in one store batch.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use bytes::Bytes;

use crate::hash::{hash_parts, Domain, Hash};
use crate::machine::{
    Event, Failure, Receipt, StateAccess, StateAccessError, StateMachine, TxContext,
    MAX_EVENTS_PER_TX, MAX_EVENT_BYTES, MAX_READS_PER_TX, MAX_STATE_KEY_BYTES,
    MAX_STATE_VALUE_BYTES, MAX_WRITES_PER_TX,
};
use crate::state_tree::StateUpdate;
use crate::types::{PublicKey, Transaction};

/// Namespace byte of the engine's per-sender nonces in the state tree.
const NAMESPACE_NONCE: u8 = 0;
/// Namespace byte of application keys in the state tree.
const NAMESPACE_APPLICATION: u8 = 1;

/// The state-tree position of an application key. Application keys and the
/// engine's own records live in separate namespaces, so no application key
/// can overwrite a nonce.
pub fn application_position(key: &[u8]) -> Hash {
    hash_parts(Domain::StateKey, &[&[NAMESPACE_APPLICATION], key])
}

/// The state-tree position of a sender's next nonce (`u64` little-endian;
/// absent means 0). Nonces are in the state, so a light client can prove
/// them too.
pub fn nonce_position(sender: &PublicKey) -> Hash {
    hash_parts(Domain::StateKey, &[&[NAMESPACE_NONCE], &sender.0])
}

/// Reads committed state values by position.
pub trait StateRead: Sync {
    /// The committed value at `position`, if any.
    fn read(&self, position: &Hash) -> Result<Option<Bytes>, String>;
}

/// Why a block's transactions cannot be executed: the block is invalid
/// (first three variants) or the node failed (the last).
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
    #[error("state storage failed while executing transaction {index}: {detail}")]
    Storage {
        /// The transaction being executed.
        index: u32,
        /// The storage error, rendered.
        detail: String,
    },
}

/// The result of executing a block's transactions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutedBlock {
    /// The block's net writes (nonces and application keys), sorted by
    /// position, each position once: the input of the state tree update.
    pub updates: Vec<StateUpdate>,
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
}

/// Block-level facts the application may see.
#[derive(Clone, Copy, Debug)]
pub struct BlockContext {
    /// This chain's id.
    pub chain_id: u64,
    /// Height of the block.
    pub height: u64,
    /// Timestamp of the block.
    pub timestamp_ms: u64,
}

/// Executes `transactions` (with their precomputed `ids`) in order.
pub fn execute_transactions<M: StateMachine + ?Sized, S: StateRead + ?Sized>(
    machine: &M,
    committed: &S,
    block: BlockContext,
    transactions: &[Transaction],
    ids: &[Hash],
) -> Result<ExecutedBlock, ExecutionError> {
    let mut block_writes: HashMap<Hash, Option<Bytes>> = HashMap::new();
    let mut receipts = Vec::with_capacity(transactions.len());
    let mut seen: HashSet<Hash> = HashSet::with_capacity(transactions.len());
    let mut first_index: HashMap<Hash, u32> = HashMap::new();
    for (index, (tx, id)) in transactions.iter().zip(ids).enumerate() {
        let index = index as u32;
        if tx.chain_id() != block.chain_id {
            return Err(ExecutionError::WrongChain {
                index,
                expected: block.chain_id,
                found: tx.chain_id(),
            });
        }
        if !seen.insert(*id) {
            let first = first_index.get(id).copied().unwrap_or(0);
            return Err(ExecutionError::DuplicateTransaction { index, first });
        }
        first_index.insert(*id, index);

        let nonce_key = nonce_position(tx.sender());
        let expected = read_nonce(&block_writes, committed, &nonce_key)
            .map_err(|detail| ExecutionError::Storage { index, detail })?;
        if tx.nonce() != expected {
            return Err(ExecutionError::WrongNonce {
                index,
                expected,
                found: tx.nonce(),
            });
        }

        let mut overlay = TxOverlay {
            block_writes: &block_writes,
            committed,
            writes: HashMap::new(),
            positions: Vec::new(),
            events: Vec::new(),
            reads: 0,
            write_count: 0,
            storage_error: None,
        };
        let context = TxContext {
            tx,
            tx_id: *id,
            height: block.height,
            timestamp_ms: block.timestamp_ms,
            index,
        };
        let outcome = machine.execute(&context, &mut overlay);
        if let Some(detail) = overlay.storage_error.take() {
            // Whatever the application made of it, a storage fault must not
            // decide the transaction's outcome.
            return Err(ExecutionError::Storage { index, detail });
        }
        let TxOverlay { writes, events, .. } = overlay;
        let receipt = match outcome {
            Ok(()) => {
                block_writes.extend(writes);
                Receipt::Success { events }
            }
            Err(failure) => Receipt::Failed(failure),
        };
        // The nonce is consumed whether the application succeeded or not.
        let next = expected.checked_add(1).ok_or(ExecutionError::WrongNonce {
            index,
            expected,
            found: tx.nonce(),
        })?;
        block_writes.insert(nonce_key, Some(Bytes::copy_from_slice(&next.to_le_bytes())));
        receipts.push(receipt);
    }
    let mut updates: Vec<StateUpdate> = block_writes
        .into_iter()
        .map(|(key_hash, value)| StateUpdate { key_hash, value })
        .collect();
    updates.sort_unstable_by_key(|update| update.key_hash);
    Ok(ExecutedBlock { updates, receipts })
}

fn read_nonce<S: StateRead + ?Sized>(
    block_writes: &HashMap<Hash, Option<Bytes>>,
    committed: &S,
    position: &Hash,
) -> Result<u64, String> {
    let value = match block_writes.get(position) {
        Some(value) => value.clone(),
        None => committed.read(position)?,
    };
    match value {
        None => Ok(0),
        Some(bytes) => <[u8; 8]>::try_from(&bytes[..])
            .map(u64::from_le_bytes)
            .map_err(|_| format!("stored nonce at {position:?} is not 8 bytes")),
    }
}

/// Key positions a transaction remembers (the rest are recomputed).
const REMEMBERED_POSITIONS: usize = 8;

/// One transaction's view: its own writes over the block's over the
/// committed state, with the per-transaction limits enforced.
struct TxOverlay<'a, S: ?Sized> {
    block_writes: &'a HashMap<Hash, Option<Bytes>>,
    committed: &'a S,
    writes: HashMap<Hash, Option<Bytes>>,
    /// Positions of the keys this transaction used, so that a read and a
    /// write of the same key hash it once (a few keys per transaction).
    positions: Vec<(Box<[u8]>, Hash)>,
    events: Vec<Event>,
    reads: usize,
    write_count: usize,
    storage_error: Option<String>,
}

impl<S: StateRead + ?Sized> TxOverlay<'_, S> {
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

    fn count_write(&mut self) -> Result<(), StateAccessError> {
        self.write_count += 1;
        if self.write_count > MAX_WRITES_PER_TX {
            return Err(StateAccessError::TooManyWrites);
        }
        Ok(())
    }
}

impl<S: StateRead + ?Sized> StateAccess for TxOverlay<'_, S> {
    fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, StateAccessError> {
        let position = self.check_key(key)?;
        self.reads += 1;
        if self.reads > MAX_READS_PER_TX {
            return Err(StateAccessError::TooManyReads);
        }
        if let Some(value) = self.writes.get(&position) {
            return Ok(value.clone());
        }
        if let Some(value) = self.block_writes.get(&position) {
            return Ok(value.clone());
        }
        self.committed.read(&position).map_err(|detail| {
            self.storage_error = Some(detail.clone());
            StateAccessError::Storage(detail)
        })
    }

    fn put(&mut self, key: &[u8], value: Bytes) -> Result<(), StateAccessError> {
        let position = self.check_key(key)?;
        if value.len() > MAX_STATE_VALUE_BYTES {
            return Err(StateAccessError::ValueTooLarge { len: value.len() });
        }
        self.count_write()?;
        self.writes.insert(position, Some(value));
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateAccessError> {
        let position = self.check_key(key)?;
        self.count_write()?;
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
        self.events.push(Event {
            topic: Bytes::copy_from_slice(topic),
            data: Bytes::copy_from_slice(data),
        });
        Ok(())
    }
}

impl From<Failure> for Receipt {
    fn from(failure: Failure) -> Self {
        Receipt::Failed(failure)
    }
}
