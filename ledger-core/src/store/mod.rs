//! The `Store` trait: what the ledger needs from a storage engine, and the
//! columns it keeps there.
//!
//! A store holds byte keys and values in named [`Column`]s that this crate
//! defines, so that every backend lays out the same data. It offers point
//! reads, batched reads, ordered scans, "newest entry at or before a key"
//! lookups (versioned records), consistent snapshots, and **one atomic write
//! batch across columns**: a commit either applies every operation of its
//! [`WriteBatch`] or none, also across a crash.
//!
//! Durability is explicit ([`Durability`]): `Synced` (the default) returns
//! only after the batch is durable (an fsync'd write-ahead log on disk
//! backends); `Buffered` may return before, trading the last few commits on
//! power loss for latency. What each backend does is documented on it.
//!
//! Backends (`ledger-storage`: RocksDB and in-memory) never interpret keys or
//! values. The engine takes its store as a generic `S: Store`; the trait is
//! also object-safe, so `Box<dyn Store>` works where the backend is chosen at
//! run time (see `docs/STORAGE.md` for the measurement behind the default).

use std::fmt;
use std::ops::Bound;

use bytes::Bytes;

/// Schema version of the column layout. A store written with another version
/// is refused at open ([`StoreError::SchemaMismatch`]); adding or changing a
/// column bumps it.
pub const SCHEMA_VERSION: u32 = 5;

/// `meta` key of a backend's marker record ("this is a ledger store").
pub const STORE_MARKER_KEY: &[u8] = b"ledger-store";
/// `meta` key of a backend's schema-version record (u32 LE).
pub const STORE_SCHEMA_KEY: &[u8] = b"schema-version";
/// The `meta` keys reserved for a backend's own records; every other `meta`
/// key is the engine's.
pub const STORE_META_KEYS: [&[u8]; 2] = [STORE_MARKER_KEY, STORE_SCHEMA_KEY];

/// The ledger's columns. Key layouts are in `docs/STORAGE.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Column {
    /// Store-level records: the schema marker, the committed head.
    Meta,
    /// Blocks by height (u64 BE), packed (`docs/FORMAT.md`).
    Blocks,
    /// Block height (u64 BE) by block id.
    BlockIds,
    /// Transaction location (height u64 BE, index u32 BE) by transaction id.
    TxIndex,
    /// A block's receipts by height (u64 BE), packed.
    Receipts,
    /// State-tree nodes by version (u64 BE) and nibble path.
    StateNodes,
    /// State values by position (32) and version (u64 BE).
    StateValues,
    /// Stale state-tree records by the version that replaced them.
    StateStale,
    /// History-tree nodes by level and index.
    History,
    /// State checkpoints by height (u64 BE): the previous checkpoint's
    /// height and the state root.
    StateCheckpoints,
}

/// How a column is read most, so that backends can tune it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessPattern {
    /// Random point reads (bloom filters pay).
    PointLookup,
    /// Point reads and seeks within a fixed-length key prefix.
    PrefixSeek {
        /// Length of the prefix that groups related keys.
        prefix_len: usize,
    },
    /// Appended in key order and read by range (little point-read traffic).
    Sequential,
}

impl Column {
    /// Every column, in a fixed order.
    pub const ALL: [Column; 10] = [
        Column::Meta,
        Column::Blocks,
        Column::BlockIds,
        Column::TxIndex,
        Column::Receipts,
        Column::StateNodes,
        Column::StateValues,
        Column::StateStale,
        Column::History,
        Column::StateCheckpoints,
    ];

    /// The column's position in [`Column::ALL`].
    pub const fn index(self) -> usize {
        match self {
            Column::Meta => 0,
            Column::Blocks => 1,
            Column::BlockIds => 2,
            Column::TxIndex => 3,
            Column::Receipts => 4,
            Column::StateNodes => 5,
            Column::StateValues => 6,
            Column::StateStale => 7,
            Column::History => 8,
            Column::StateCheckpoints => 9,
        }
    }

    /// The column's stable name (a RocksDB column family name).
    pub const fn name(self) -> &'static str {
        match self {
            Column::Meta => "meta",
            Column::Blocks => "blocks",
            Column::BlockIds => "block_ids",
            Column::TxIndex => "tx_index",
            Column::Receipts => "receipts",
            Column::StateNodes => "state_nodes",
            Column::StateValues => "state_values",
            Column::StateStale => "state_stale",
            Column::History => "history",
            Column::StateCheckpoints => "state_checkpoints",
        }
    }

    /// How the column is read.
    pub const fn access_pattern(self) -> AccessPattern {
        match self {
            Column::Meta | Column::BlockIds | Column::TxIndex | Column::StateNodes => {
                AccessPattern::PointLookup
            }
            Column::StateValues => AccessPattern::PrefixSeek { prefix_len: 32 },
            Column::Blocks
            | Column::Receipts
            | Column::StateStale
            | Column::History
            | Column::StateCheckpoints => AccessPattern::Sequential,
        }
    }

    /// True for columns whose values are large and compress well.
    pub const fn is_bulky(self) -> bool {
        matches!(self, Column::Blocks | Column::Receipts)
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// When a commit returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// After the batch is durable (fsync'd). The default.
    #[default]
    Synced,
    /// Possibly before: a crash of the machine may lose the latest commits
    /// (never part of one).
    Buffered,
}

/// Why a store operation failed. Backends map their own errors into these,
/// so that callers can act on them without knowing the backend.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The path exists but does not hold a ledger store.
    #[error("{path} is not a ledger store: {detail}")]
    NotALedger {
        /// The path opened.
        path: String,
        /// What was found instead.
        detail: String,
    },
    /// Another process holds the store open.
    #[error("the store at {path} is locked by another process")]
    Locked {
        /// The path opened.
        path: String,
    },
    /// The store was written with another schema version.
    #[error("store schema version {found} is not supported (this build uses {expected})")]
    SchemaMismatch {
        /// The version found.
        found: u32,
        /// The version this build uses.
        expected: u32,
    },
    /// The backend found damaged data.
    #[error("store corruption: {detail}")]
    Corruption {
        /// What was damaged.
        detail: String,
    },
    /// An I/O error.
    #[error("store I/O error at {path}: {detail}")]
    Io {
        /// The store's path.
        path: String,
        /// The error.
        detail: String,
    },
    /// A commit failed earlier; the store refuses writes until reopened,
    /// because it can no longer know what is durable.
    #[error("the store refused a write after an earlier commit failed; reopen it")]
    Poisoned,
    /// Any other backend error.
    #[error("store backend error: {detail}")]
    Backend {
        /// The error, rendered.
        detail: String,
    },
}

/// One write of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOp {
    /// Set `key` to `value`.
    Put {
        /// The column.
        column: Column,
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
    },
    /// Remove `key` (a no-op if absent).
    Delete {
        /// The column.
        column: Column,
        /// The key.
        key: Bytes,
    },
}

/// An atomic group of writes across columns, applied in order (a later
/// write to the same key wins).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
    payload_bytes: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `ops` writes.
    pub fn with_capacity(ops: usize) -> Self {
        WriteBatch {
            ops: Vec::with_capacity(ops),
            payload_bytes: 0,
        }
    }

    /// Adds a put.
    pub fn put(&mut self, column: Column, key: impl Into<Bytes>, value: impl Into<Bytes>) {
        let (key, value) = (key.into(), value.into());
        self.payload_bytes += key.len() + value.len();
        self.ops.push(BatchOp::Put { column, key, value });
    }

    /// Adds a delete.
    pub fn delete(&mut self, column: Column, key: impl Into<Bytes>) {
        let key = key.into();
        self.payload_bytes += key.len();
        self.ops.push(BatchOp::Delete { column, key });
    }

    /// Appends every write of `other`.
    pub fn extend(&mut self, other: WriteBatch) {
        self.payload_bytes += other.payload_bytes;
        self.ops.extend(other.ops);
    }

    /// The writes, in order.
    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    /// The writes, by value.
    pub fn into_ops(self) -> Vec<BatchOp> {
        self.ops
    }

    /// Number of writes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True if there are no writes.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Bytes of keys and values in the batch.
    pub fn payload_bytes(&self) -> usize {
        self.payload_bytes
    }
}

/// A key range for scans: `start` inclusive or unbounded, `end` exclusive or
/// unbounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    /// Lower bound.
    pub start: Bound<Bytes>,
    /// Upper bound.
    pub end: Bound<Bytes>,
}

impl KeyRange {
    /// Every key.
    pub fn all() -> Self {
        KeyRange {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
        }
    }

    /// Keys from `start` (inclusive) to `end` (exclusive).
    pub fn between(start: impl Into<Bytes>, end: impl Into<Bytes>) -> Self {
        KeyRange {
            start: Bound::Included(start.into()),
            end: Bound::Excluded(end.into()),
        }
    }

    /// Every key that starts with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Self {
        KeyRange {
            start: Bound::Included(Bytes::copy_from_slice(prefix)),
            end: match prefix_successor(prefix) {
                Some(end) => Bound::Excluded(Bytes::from(end)),
                None => Bound::Unbounded,
            },
        }
    }

    /// True if `key` is in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        let above = match &self.start {
            Bound::Included(start) => key >= &start[..],
            Bound::Excluded(start) => key > &start[..],
            Bound::Unbounded => true,
        };
        let below = match &self.end {
            Bound::Included(end) => key <= &end[..],
            Bound::Excluded(end) => key < &end[..],
            Bound::Unbounded => true,
        };
        above && below
    }
}

/// The smallest key greater than every key with this prefix, if any.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A key/value pair from a scan.
pub type Entry = (Bytes, Bytes);

/// An iterator over a scan's entries, in key order.
pub type EntryIter<'a> = Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a>;

/// Reads, from the live store or from a snapshot.
pub trait StoreRead: Send + Sync {
    /// The value of `key` in `column`.
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Bytes>, StoreError>;

    /// The values of `keys` in `column`, in the same order.
    fn multi_get(&self, column: Column, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, StoreError> {
        keys.iter().map(|key| self.get(column, key)).collect()
    }

    /// The entries of `column` in `range`, in ascending key order.
    fn scan(&self, column: Column, range: KeyRange) -> Result<EntryIter<'_>, StoreError>;

    /// The entry with the greatest key ≤ `key` among keys starting with
    /// `prefix` (for versioned records keyed `id ‖ version`).
    fn last_at_or_before(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<Entry>, StoreError>;
}

/// A ledger store: reads, snapshots and atomic commits. A store owns its
/// data (`'static`): the engine shares it with its commit and checkpoint
/// threads.
pub trait Store: StoreRead + 'static {
    /// Applies `batch` atomically: afterwards every write is visible, or
    /// (on error, or after a crash during the call) none is.
    fn commit(&self, batch: WriteBatch, durability: Durability) -> Result<(), StoreError>;

    /// A consistent read-only view of the store as of now: later commits are
    /// invisible to it.
    fn snapshot(&self) -> Box<dyn StoreRead + '_>;
}

/// A boxed or shared store reads like the store itself, so that the engine
/// can hold `Box<dyn Store>` or `Arc<S>`.
macro_rules! forward_store {
    ($($wrapper:ident),*) => {$(
        impl<T: StoreRead + ?Sized> StoreRead for $wrapper<T> {
            fn get(&self, column: Column, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
                (**self).get(column, key)
            }
            fn multi_get(
                &self,
                column: Column,
                keys: &[&[u8]],
            ) -> Result<Vec<Option<Bytes>>, StoreError> {
                (**self).multi_get(column, keys)
            }
            fn scan(&self, column: Column, range: KeyRange) -> Result<EntryIter<'_>, StoreError> {
                (**self).scan(column, range)
            }
            fn last_at_or_before(
                &self,
                column: Column,
                prefix: &[u8],
                key: &[u8],
            ) -> Result<Option<Entry>, StoreError> {
                (**self).last_at_or_before(column, prefix, key)
            }
        }

        impl<T: Store + ?Sized> Store for $wrapper<T> {
            fn commit(&self, batch: WriteBatch, durability: Durability) -> Result<(), StoreError> {
                (**self).commit(batch, durability)
            }
            fn snapshot(&self) -> Box<dyn StoreRead + '_> {
                (**self).snapshot()
            }
        }
    )*};
}

use std::sync::Arc;
forward_store!(Box, Arc);

mod faulty;
mod mem;

pub use faulty::{Fault, FaultyStore};
pub use mem::MemStore;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_unique() {
        let mut names: Vec<_> = Column::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Column::ALL.len());
    }

    #[test]
    fn column_index_is_position_in_all() {
        for (position, column) in Column::ALL.iter().enumerate() {
            assert_eq!(column.index(), position, "{column}");
        }
    }

    #[test]
    fn prefix_ranges() {
        let range = KeyRange::prefix(&[1, 0xff]);
        assert!(range.contains(&[1, 0xff]));
        assert!(range.contains(&[1, 0xff, 0]));
        assert!(!range.contains(&[2]));
        assert!(!range.contains(&[1, 0xfe, 0xff]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
        assert_eq!(prefix_successor(&[1, 0xff]), Some(vec![2]));
    }

    #[test]
    fn batch_accounts_bytes() {
        let mut batch = WriteBatch::new();
        batch.put(Column::Meta, &b"k"[..], &b"vv"[..]);
        batch.delete(Column::Blocks, &b"kk"[..]);
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.payload_bytes(), 5);
    }
}
