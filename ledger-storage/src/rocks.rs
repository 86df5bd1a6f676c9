//! `RocksStore`: the RocksDB backend, one column family per ledger column.
//!
//! Options, and why (figures in `docs/PERFORMANCE.md`, layout in
//! `docs/STORAGE.md`):
//!
//! * **One shared LRU block cache** for all column families
//!   ([`RocksConfig::block_cache_bytes`]), so the memory bound is one number.
//! * **Bloom filters** (10 bits per key, about 1% false positives) on the
//!   point-lookup columns (meta, block ids, transaction index): a lookup of
//!   an absent key then rarely touches a data block. Index and filter
//!   blocks live in the block cache, so they count against its bound.
//!   **None on state nodes**: they are looked up only by keys that exist
//!   (a parent names each), so a filter never saves a read there.
//! * **A fixed 32-byte prefix extractor** with prefix blooms on state values,
//!   whose keys are position ‖ version and which are read by "newest version
//!   at or before" seeks within one position.
//! * **LZ4** on bulky columns (blocks, receipts), at little CPU: the engine
//!   compresses their large records itself (zstd, `docs/STORAGE.md`), so it
//!   saves disk on small ones; **no compression** on columns of hashes
//!   (state nodes, ids), which do not compress. LZ4 is the only library
//!   RocksDB is built with.
//! * **Two background jobs** and `increase_parallelism(2)`: this targets
//!   2-core machines, where more flush/compaction threads only steal the
//!   verifier's core.
//! * **A hashed memtable for the transaction index**
//!   ([`RocksConfig::hashed_tx_index_memtable`]): its keys are random ids
//!   written 10,000 per block and read by point lookups only.
//! * **64 MiB write buffers** on the state columns, which take their writes
//!   in one batch per state checkpoint (256 MiB measured no faster).
//! * The **write-ahead log is always on**: a batch spans column families and
//!   only the WAL makes that atomic across a crash. `Durability::Synced`
//!   fsyncs it before the commit returns; `Durability::Buffered` leaves the
//!   fsync to the OS (a process crash loses nothing, a power loss may lose
//!   the latest commits, never part of one).
//!
//! On open the store takes its own lock (`LEDGER.lock` in the store's
//! directory, an advisory file lock held while the store is open; a second
//! open gets [`StoreError::Locked`], decided by the lock's error kind, never
//! by an error message), checks a marker and the schema version in the meta
//! column, and maps RocksDB's errors to [`StoreError`] variants a user can
//! act on (not a ledger, schema mismatch, corruption, I/O).
//!
//! **A new store appears whole or not at all.** It is created in a
//! temporary sibling directory (`.NAME.creating-…`), given its marker and
//! schema version with a synced write, closed, and renamed into place, so
//! that a crash at any moment of a first start leaves either no store
//! (the next open creates it, and removes the abandoned temporary
//! directory) or a complete, empty one.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use ledger_core::store::{
    AccessPattern, BatchOp, Column, Durability, Entry, EntryIter, KeyRange, Store, StoreError,
    StoreRead, WriteBatch, SCHEMA_VERSION,
};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Direction,
    IteratorMode, MemtableFactory, Options, ReadOptions, SliceTransform, SnapshotWithThreadMode,
    WriteOptions, DB,
};

/// Default size of the shared block cache: 256 MiB.
pub const DEFAULT_BLOCK_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// Default bound of the write-ahead log: 64 MiB (about 25 blocks of
/// 10,000 transfers, or one large state checkpoint).
pub const DEFAULT_MAX_WAL_BYTES: u64 = 64 * 1024 * 1024;

/// Meta key of the marker that says "this is a ledger store".
const MARKER_KEY: &[u8] = ledger_core::store::STORE_MARKER_KEY;
/// The marker's value.
const MARKER_VALUE: &[u8] = b"ledger-core store";
/// Meta key of the schema version (u32 LE).
const SCHEMA_KEY: &[u8] = ledger_core::store::STORE_SCHEMA_KEY;
/// The store's lock file, in its directory.
const LOCK_FILE: &str = "LEDGER.lock";
/// Marks the temporary directory of a store being created:
/// `.NAME.creating-PID-NANOS` beside the store's path.
const CREATING: &str = ".creating-";

/// Tuning knobs of a [`RocksStore`].
#[derive(Clone, Debug)]
pub struct RocksConfig {
    /// Bytes of the block cache shared by all column families.
    pub block_cache_bytes: usize,
    /// Background flush and compaction jobs.
    pub background_jobs: i32,
    /// Write buffer of the state columns, in bytes.
    pub state_write_buffer_bytes: usize,
    /// Keep the transaction index's memtable as a hash of small skiplists
    /// instead of one skiplist: its keys are random transaction ids, 10,000
    /// per block of 10,000 transactions, and an insert into one large
    /// skiplist is a chain of cache misses (measured: 10–15% of a block's
    /// commit time saved). Costs 8 MiB of buckets per memtable and makes a
    /// range scan of a not-yet-flushed index slower (the ledger reads it by
    /// point lookups only).
    pub hashed_tx_index_memtable: bool,
    /// Largest total size of the write-ahead log files before RocksDB
    /// flushes the column families that keep the oldest one alive. Opening
    /// replays the log: this bounds that replay. The ledger writes its head
    /// record (in `meta`, a tiny column) with every block, so without a
    /// bound the log grows until the sum of all write buffers (about 1 GiB)
    /// and opening replays all of it.
    pub max_wal_bytes: u64,
    /// After a crash, keep what opening replays from the write-ahead log in
    /// the memtables (RocksDB's `avoid_flush_during_recovery`) instead of
    /// flushing it to new table files before `open` returns; the log files
    /// stay until a later flush. A crash leaves up to `max_wal_bytes` of
    /// log, mostly blocks and their index: flushing it during open
    /// (compressing the blocks, building the index's filters) took 2.0–2.1
    /// s of a 20-block reopen; keeping it, 0.30–0.34 s (docs/STORAGE.md).
    pub keep_recovered_log_in_memory: bool,
    /// Store blocks (the `blocks` column, about 1.1 MB each at 10,000
    /// transfers, compressed by the engine) in RocksDB's blob files, with only
    /// a small reference in the column's tables: flushes and compactions
    /// then move references, not the blocks (see docs/STORAGE.md).
    pub blob_files_for_blocks: bool,
}

impl Default for RocksConfig {
    fn default() -> Self {
        RocksConfig {
            block_cache_bytes: DEFAULT_BLOCK_CACHE_BYTES,
            background_jobs: 2,
            state_write_buffer_bytes: 64 * 1024 * 1024,
            hashed_tx_index_memtable: true,
            max_wal_bytes: DEFAULT_MAX_WAL_BYTES,
            keep_recovered_log_in_memory: true,
            blob_files_for_blocks: true,
        }
    }
}

/// The RocksDB store.
pub struct RocksStore {
    db: DB,
    path: PathBuf,
    poisoned: AtomicBool,
    /// Held while the store is open; declared after `db`, so that the
    /// database is closed before the lock is released.
    _lock: File,
}

impl std::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn column_options(column: Column, cache: &Cache, config: &RocksConfig) -> Options {
    let mut options = Options::default();
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    match column.access_pattern() {
        // State nodes are read only by keys their parents name, so a
        // lookup always finds its key, and keys lead with the version that
        // wrote them, so a table's key range already excludes most tables:
        // a filter would be built at every flush and compaction and never
        // say no (without it: 3% less time per checkpoint cycle at 1M keys,
        // 2–3% less CPU per transaction at 1M accounts; docs/STORAGE.md).
        AccessPattern::PointLookup if column == Column::StateNodes => {}
        AccessPattern::PointLookup => {
            table.set_bloom_filter(10.0, false);
        }
        AccessPattern::PrefixSeek { prefix_len } => {
            table.set_bloom_filter(10.0, false);
            table.set_whole_key_filtering(false);
            options.set_prefix_extractor(SliceTransform::create_fixed_prefix(prefix_len));
            options.set_memtable_prefix_bloom_ratio(0.1);
        }
        AccessPattern::Sequential => {}
    }
    options.set_block_based_table_factory(&table);
    options.set_compression_type(if column.is_bulky() {
        DBCompressionType::Lz4
    } else {
        DBCompressionType::None
    });
    if matches!(
        column,
        Column::StateNodes | Column::StateValues | Column::StateStale
    ) {
        options.set_write_buffer_size(config.state_write_buffer_bytes);
    }
    if column == Column::Blocks && config.blob_files_for_blocks {
        options.set_enable_blob_files(true);
        options.set_min_blob_size(BLOB_MIN_BYTES);
        options.set_blob_compression_type(DBCompressionType::Lz4);
    }
    if column == Column::TxIndex && config.hashed_tx_index_memtable {
        // The whole key is the hash bucket's key: any key length works, and
        // a point lookup finds its bucket directly.
        options.set_prefix_extractor(SliceTransform::create_noop());
        options.set_memtable_factory(MemtableFactory::HashSkipList {
            bucket_count: TX_INDEX_MEMTABLE_BUCKETS,
            height: 4,
            branching_factor: 4,
        });
    }
    options
}

/// Values of the `blocks` column at least this large go to blob files
/// when [`RocksConfig::blob_files_for_blocks`] is on (an empty block is
/// about 200 bytes and stays inline).
pub const BLOB_MIN_BYTES: u64 = 4096;

/// Hash buckets of the transaction index's memtable (8 bytes each).
const TX_INDEX_MEMTABLE_BUCKETS: usize = 1 << 20;

fn db_options(config: &RocksConfig) -> Result<Options, rocksdb::Error> {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    options.increase_parallelism(config.background_jobs.max(1));
    options.set_max_background_jobs(config.background_jobs.max(1));
    options.set_bytes_per_sync(1024 * 1024);
    options.set_keep_log_file_num(4);
    options.set_max_total_wal_size(config.max_wal_bytes);
    if config.hashed_tx_index_memtable {
        // Hash memtables take one writer at a time; the ledger has one.
        options.set_allow_concurrent_memtable_write(false);
    }
    if config.keep_recovered_log_in_memory {
        // The binding has no setter for this one; RocksDB parses it.
        options = options.get_options_from_string("avoid_flush_during_recovery=true")?;
    }
    Ok(options)
}

fn io_error(path: &Path, error: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        detail: error.to_string(),
    }
}

/// Maps a RocksDB error to the variant a user can act on, by its kind
/// (being locked out is decided by the store's own lock, before RocksDB
/// opens).
fn map_error(path: &Path, error: rocksdb::Error) -> StoreError {
    let text = error.to_string();
    match error.kind() {
        rocksdb::ErrorKind::Corruption => StoreError::Corruption { detail: text },
        rocksdb::ErrorKind::IOError => io_error(path, text),
        _ => StoreError::Backend { detail: text },
    }
}

/// Takes the store's lock in `dir` (creating the lock file if needed).
fn lock_store(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_error(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: dir.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(error)) => Err(io_error(&path, error)),
    }
}

/// Makes `path` a new, empty ledger store, all at once: built in a
/// temporary sibling directory and renamed into place (see the module
/// documentation).
fn create_atomically(path: &Path, config: &RocksConfig) -> Result<(), StoreError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| StoreError::NotALedger {
            path: path.display().to_string(),
            detail: "a path without a file name".into(),
        })?;
    remove_abandoned_creations(&parent, &name);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let temporary = parent.join(format!(".{name}{CREATING}{}-{nanos}", std::process::id()));
    std::fs::create_dir(&temporary).map_err(|e| io_error(&temporary, e))?;
    let creation = (|| {
        // Locked from the start, so that no other opener takes this
        // directory for an abandoned one.
        let lock = lock_store(&temporary)?;
        {
            let store = RocksStore::open_db(&temporary, config, Some(lock))?;
            let mut batch = WriteBatch::new();
            batch.put(Column::Meta, MARKER_KEY, MARKER_VALUE);
            batch.put(
                Column::Meta,
                SCHEMA_KEY,
                SCHEMA_VERSION.to_le_bytes().to_vec(),
            );
            store.commit(batch, Durability::Synced)?;
        }
        sync_dir(&temporary)?;
        match std::fs::rename(&temporary, path) {
            Ok(()) => sync_dir(&parent),
            // Another process created the store first: use theirs.
            Err(_) if path.join("CURRENT").exists() => Ok(()),
            Err(error) => Err(io_error(path, error)),
        }
    })();
    if temporary.exists() {
        let _ = std::fs::remove_dir_all(&temporary);
    }
    creation
}

/// Removes temporary directories of creations of `name` whose creator is
/// gone (its lock can be taken).
fn remove_abandoned_creations(parent: &Path, name: &str) {
    let prefix = format!(".{name}{CREATING}");
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let abandoned = entry.file_name().to_string_lossy().starts_with(&prefix)
            && lock_store(&entry.path()).is_ok();
        if abandoned {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| io_error(dir, e))
}

impl RocksStore {
    /// Opens the ledger store at `path`, creating it if the path does not
    /// exist (or is an empty directory), with default tuning.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, RocksConfig::default())
    }

    /// Opens with explicit tuning.
    pub fn open_with(path: impl AsRef<Path>, config: RocksConfig) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if check_path(&path)? {
            create_atomically(&path, &config)?;
        }
        let options = db_options(&config).map_err(|e| map_error(&path, e))?;
        let families = DB::list_cf(&options, &path).map_err(|e| map_error(&path, e))?;
        if !families.iter().any(|name| name == Column::Meta.name()) {
            return Err(StoreError::NotALedger {
                path: path.display().to_string(),
                detail: "a RocksDB database without the ledger's column families".into(),
            });
        }
        let store = Self::open_db(&path, &config, None)?;
        store.check_schema()?;
        Ok(store)
    }

    /// Takes the lock (unless the caller holds it) and opens the database
    /// at `path` with the ledger's column families, creating what is
    /// missing.
    fn open_db(path: &Path, config: &RocksConfig, lock: Option<File>) -> Result<Self, StoreError> {
        let lock = match lock {
            Some(lock) => lock,
            None => lock_store(path)?,
        };
        let options = db_options(config).map_err(|e| map_error(path, e))?;
        let cache = Cache::new_lru_cache(config.block_cache_bytes);
        let descriptors = Column::ALL.iter().map(|column| {
            ColumnFamilyDescriptor::new(column.name(), column_options(*column, &cache, config))
        });
        let db =
            DB::open_cf_descriptors(&options, path, descriptors).map_err(|e| map_error(path, e))?;
        Ok(RocksStore {
            db,
            path: path.to_path_buf(),
            poisoned: AtomicBool::new(false),
            _lock: lock,
        })
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        if self.get(Column::Meta, MARKER_KEY)?.as_deref() != Some(MARKER_VALUE) {
            return Err(StoreError::NotALedger {
                path: self.path.display().to_string(),
                detail: "the ledger marker is missing".into(),
            });
        }
        let version = self
            .get(Column::Meta, SCHEMA_KEY)?
            .and_then(|bytes| <[u8; 4]>::try_from(&bytes[..]).ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| StoreError::Corruption {
                detail: "the schema version record is missing or malformed".into(),
            })?;
        if version != SCHEMA_VERSION {
            return Err(StoreError::SchemaMismatch {
                found: version,
                expected: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// Flushes every memtable to table files (benchmarks use it to measure
    /// reads that must go to disk or the block cache; the ledger never needs
    /// it, the log already makes commits durable).
    pub fn flush(&self) -> Result<(), StoreError> {
        for column in Column::ALL {
            self.db
                .flush_cf(self.cf(column)?)
                .map_err(|e| map_error(&self.path, e))?;
        }
        Ok(())
    }

    /// The directory of the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes the store's files take on disk.
    pub fn disk_bytes(&self) -> u64 {
        fn walk(path: &Path) -> u64 {
            std::fs::read_dir(path)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|entry| match entry.metadata() {
                            Ok(meta) if meta.is_dir() => walk(&entry.path()),
                            Ok(meta) => meta.len(),
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&self.path)
    }

    fn cf(&self, column: Column) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(column.name())
            .ok_or_else(|| StoreError::Corruption {
                detail: format!("column family {column} is missing"),
            })
    }

    fn view(&self) -> RocksView<'_> {
        RocksView {
            store: self,
            snapshot: None,
        }
    }
}

/// Returns whether `path` is to be created (absent or an empty directory);
/// refuses files and non-empty directories that are not RocksDB databases.
fn check_path(path: &Path) -> Result<bool, StoreError> {
    match std::fs::metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(error) => Err(io_error(path, error)),
        Ok(meta) if !meta.is_dir() => Err(StoreError::NotALedger {
            path: path.display().to_string(),
            detail: "a file, not a directory".into(),
        }),
        Ok(_) => {
            let mut entries = std::fs::read_dir(path).map_err(|e| io_error(path, e))?;
            if entries.next().is_none() {
                return Ok(true);
            }
            if !path.join("CURRENT").exists() {
                return Err(StoreError::NotALedger {
                    path: path.display().to_string(),
                    detail: "a directory that holds no database".into(),
                });
            }
            Ok(false)
        }
    }
}

/// True if `key` is above the range's end.
fn past_end(range: &KeyRange, key: &[u8]) -> bool {
    match &range.end {
        std::ops::Bound::Included(end) => key > &end[..],
        std::ops::Bound::Excluded(end) => key >= &end[..],
        std::ops::Bound::Unbounded => false,
    }
}

/// An ordered scan of `range` with `options` (which may carry a snapshot).
fn scan_with<'a>(
    store: &'a RocksStore,
    column: Column,
    range: KeyRange,
    mut options: ReadOptions,
) -> Result<EntryIter<'a>, StoreError> {
    let cf = store.cf(column)?;
    options.set_total_order_seek(true);
    if let std::ops::Bound::Excluded(end) = &range.end {
        options.set_iterate_upper_bound(end.to_vec());
    }
    let start = match &range.start {
        std::ops::Bound::Included(start) | std::ops::Bound::Excluded(start) => Some(start.clone()),
        std::ops::Bound::Unbounded => None,
    };
    let mode = match &start {
        Some(start) => IteratorMode::From(start, Direction::Forward),
        None => IteratorMode::Start,
    };
    let path = store.path.clone();
    let start_range = range.clone();
    let iter = store
        .db
        .iterator_cf_opt(cf, options, mode)
        .map(move |item| {
            item.map(|(key, value)| (Bytes::from(key.into_vec()), Bytes::from(value.into_vec())))
                .map_err(|e| map_error(&path, e))
        })
        // The bounds above are coarse (an excluded start, an included end):
        // the range itself decides, and the scan stops at its end.
        .skip_while(move |item| matches!(item, Ok((key, _)) if !start_range.contains(key) && !past_end(&start_range, key)))
        .take_while(move |item| match item {
            Ok((key, _)) => !past_end(&range, key),
            Err(_) => true,
        });
    Ok(Box::new(iter))
}

/// Reads of the live database or of one snapshot.
struct RocksView<'a> {
    store: &'a RocksStore,
    snapshot: Option<SnapshotWithThreadMode<'a, DB>>,
}

impl RocksView<'_> {
    fn read_options(&self) -> ReadOptions {
        let mut options = ReadOptions::default();
        if let Some(snapshot) = &self.snapshot {
            options.set_snapshot(snapshot);
        }
        options
    }

    fn error(&self, error: rocksdb::Error) -> StoreError {
        map_error(&self.store.path, error)
    }
}

impl StoreRead for RocksView<'_> {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        let cf = self.store.cf(column)?;
        self.store
            .db
            .get_pinned_cf_opt(cf, key, &self.read_options())
            .map(|value| value.map(|value| Bytes::copy_from_slice(&value)))
            .map_err(|e| self.error(e))
    }

    fn multi_get(&self, column: Column, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, StoreError> {
        let cf = self.store.cf(column)?;
        self.store
            .db
            .batched_multi_get_cf_opt(cf, keys, false, &self.read_options())
            .into_iter()
            .map(|result| {
                result
                    .map(|value| value.map(|value| Bytes::copy_from_slice(&value)))
                    .map_err(|e| self.error(e))
            })
            .collect()
    }

    fn scan(&self, column: Column, range: KeyRange) -> Result<EntryIter<'_>, StoreError> {
        scan_with(self.store, column, range, self.read_options())
    }

    fn last_at_or_before(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<Entry>, StoreError> {
        let cf = self.store.cf(column)?;
        let mut options = self.read_options();
        options.set_iterate_lower_bound(prefix.to_vec());
        // Keys that share the extractor's prefix are all this seek may see;
        // `prefix_same_as_start` lets RocksDB use the prefix bloom.
        if matches!(column.access_pattern(), AccessPattern::PrefixSeek { prefix_len } if prefix_len == prefix.len())
        {
            options.set_prefix_same_as_start(true);
        } else {
            options.set_total_order_seek(true);
        }
        let mut iter = self.store.db.raw_iterator_cf_opt(cf, options);
        iter.seek_for_prev(key);
        if !iter.valid() {
            iter.status().map_err(|e| self.error(e))?;
            return Ok(None);
        }
        match (iter.key(), iter.value()) {
            (Some(found), Some(value)) if found.starts_with(prefix) && found <= key => Ok(Some((
                Bytes::copy_from_slice(found),
                Bytes::copy_from_slice(value),
            ))),
            _ => Ok(None),
        }
    }
}

impl StoreRead for RocksStore {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        self.view().get(column, key)
    }

    fn multi_get(&self, column: Column, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, StoreError> {
        self.view().multi_get(column, keys)
    }

    fn scan(&self, column: Column, range: KeyRange) -> Result<EntryIter<'_>, StoreError> {
        // An iterator without an explicit snapshot reads an implicit one
        // taken when it is created.
        scan_with(self, column, range, ReadOptions::default())
    }

    fn last_at_or_before(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<Entry>, StoreError> {
        self.view().last_at_or_before(column, prefix, key)
    }
}

impl Store for RocksStore {
    fn commit(&self, batch: WriteBatch, durability: Durability) -> Result<(), StoreError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        // Resolve each column family once per batch, not once per write
        // (a lookup by name).
        let handles = Column::ALL
            .iter()
            .map(|column| self.cf(*column))
            .collect::<Result<Vec<_>, _>>()?;
        let handle = |column: Column| {
            Column::ALL
                .iter()
                .position(|c| *c == column)
                .and_then(|index| handles.get(index).copied())
                .ok_or_else(|| StoreError::Backend {
                    detail: format!("unknown column {column}"),
                })
        };
        let mut rocks_batch = rocksdb::WriteBatch::default();
        for op in batch.ops() {
            match op {
                BatchOp::Put { column, key, value } => {
                    rocks_batch.put_cf(handle(*column)?, key, value);
                }
                BatchOp::Delete { column, key } => {
                    rocks_batch.delete_cf(handle(*column)?, key);
                }
            }
        }
        let mut options = WriteOptions::default();
        options.set_sync(durability == Durability::Synced);
        self.db.write_opt(rocks_batch, &options).map_err(|error| {
            // After a failed write we cannot know what reached the log;
            // refuse further writes until the store is reopened (which
            // recovers from the log).
            self.poisoned.store(true, Ordering::Release);
            map_error(&self.path, error)
        })
    }

    fn snapshot(&self) -> Box<dyn StoreRead + '_> {
        Box::new(RocksView {
            store: self,
            snapshot: Some(self.db.snapshot()),
        })
    }
}
