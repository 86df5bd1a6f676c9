//! `FaultyStore`: an in-memory store that fails on purpose, for tests.
//!
//! It counts every read (a `get`, `multi_get`, `scan` or
//! `last_at_or_before`, on the store or on one of its snapshots) and every
//! commit, and fails the ones a [`Fault`] names with a
//! [`StoreError::Io`]. A failed commit writes nothing, as a real store's
//! atomic batch would.
//!
//! It also remembers which commits were durable: a [`Durability::Buffered`]
//! commit is visible at once but reaches the *durable* copy only with the
//! next [`Durability::Synced`] commit, and [`FaultyStore::crash`] returns
//! what a machine that lost power would find: the durable copy, without the
//! buffered commits since the last synced one.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::mem::MemStore;
use super::{
    Column, Durability, Entry, EntryIter, KeyRange, Store, StoreError, StoreRead, WriteBatch,
};

/// Which operations of one kind fail, counted from 0 since the fault was set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    /// None.
    #[default]
    Never,
    /// Only the n-th.
    Once(u64),
    /// The n-th and every later one.
    From(u64),
}

impl Fault {
    fn hits(self, count: u64) -> bool {
        match self {
            Fault::Never => false,
            Fault::Once(n) => count == n,
            Fault::From(n) => count >= n,
        }
    }
}

#[derive(Debug, Default)]
struct Faults {
    read: Fault,
    commit: Fault,
}

/// Counters and the fault plan, shared with snapshots.
#[derive(Debug, Default)]
struct Plan {
    faults: Mutex<Faults>,
    reads: AtomicU64,
    commits: AtomicU64,
}

impl Plan {
    fn read(&self) -> Result<(), StoreError> {
        let count = self.reads.fetch_add(1, Ordering::SeqCst);
        if self.faults.lock().read.hits(count) {
            return Err(StoreError::Io {
                path: "faulty-store".into(),
                detail: format!("injected fault on read {count}"),
            });
        }
        Ok(())
    }
}

/// The fault-injecting store; see the module documentation.
#[derive(Debug)]
pub struct FaultyStore {
    live: MemStore,
    durable: MemStore,
    /// Buffered commits not yet in `durable`, oldest first.
    unsynced: Mutex<Vec<WriteBatch>>,
    plan: std::sync::Arc<Plan>,
}

impl Default for FaultyStore {
    fn default() -> Self {
        FaultyStore::new(MemStore::new())
    }
}

impl FaultyStore {
    /// A faulty store starting with `store`'s contents, all of them durable.
    pub fn new(store: MemStore) -> Self {
        FaultyStore {
            durable: store.fork(),
            live: store,
            unsynced: Mutex::new(Vec::new()),
            plan: std::sync::Arc::default(),
        }
    }

    /// Sets which reads fail, counting from 0 from now on.
    pub fn fail_reads(&self, fault: Fault) {
        self.plan.reads.store(0, Ordering::SeqCst);
        self.plan.faults.lock().read = fault;
    }

    /// Sets which commits fail, counting from 0 from now on.
    pub fn fail_commits(&self, fault: Fault) {
        self.plan.commits.store(0, Ordering::SeqCst);
        self.plan.faults.lock().commit = fault;
    }

    /// Reads since the read fault was last set (or since creation).
    pub fn reads(&self) -> u64 {
        self.plan.reads.load(Ordering::SeqCst)
    }

    /// Commits attempted since the commit fault was last set.
    pub fn commits(&self) -> u64 {
        self.plan.commits.load(Ordering::SeqCst)
    }

    /// What survives a crash now: every synced commit and the buffered ones
    /// before it, none after.
    pub fn crash(&self) -> MemStore {
        self.durable.fork()
    }

    /// The current contents (durable or not), as an independent store.
    pub fn contents(&self) -> MemStore {
        self.live.fork()
    }
}

impl StoreRead for FaultyStore {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<bytes::Bytes>, StoreError> {
        self.plan.read()?;
        self.live.get(column, key)
    }

    fn multi_get(
        &self,
        column: Column,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<bytes::Bytes>>, StoreError> {
        self.plan.read()?;
        self.live.multi_get(column, keys)
    }

    fn scan(&self, column: Column, range: KeyRange) -> Result<EntryIter<'_>, StoreError> {
        self.plan.read()?;
        self.live.scan(column, range)
    }

    fn last_at_or_before(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<Entry>, StoreError> {
        self.plan.read()?;
        self.live.last_at_or_before(column, prefix, key)
    }
}

impl Store for FaultyStore {
    fn commit(&self, batch: WriteBatch, durability: Durability) -> Result<(), StoreError> {
        let count = self.plan.commits.fetch_add(1, Ordering::SeqCst);
        if self.plan.faults.lock().commit.hits(count) {
            return Err(StoreError::Io {
                path: "faulty-store".into(),
                detail: format!("injected fault on commit {count}"),
            });
        }
        let mut unsynced = self.unsynced.lock();
        self.live.apply(&batch);
        match durability {
            Durability::Buffered => unsynced.push(batch),
            Durability::Synced => {
                for earlier in unsynced.drain(..) {
                    self.durable.apply(&earlier);
                }
                self.durable.apply(&batch);
            }
        }
        Ok(())
    }

    fn snapshot(&self) -> Box<dyn StoreRead + '_> {
        Box::new(FaultySnapshot {
            inner: self.live.fork(),
            plan: &self.plan,
        })
    }
}

/// A snapshot whose reads count against (and can fail by) the store's plan.
struct FaultySnapshot<'a> {
    inner: MemStore,
    plan: &'a Plan,
}

impl StoreRead for FaultySnapshot<'_> {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<bytes::Bytes>, StoreError> {
        self.plan.read()?;
        self.inner.get(column, key)
    }

    fn scan(&self, column: Column, range: KeyRange) -> Result<EntryIter<'_>, StoreError> {
        self.plan.read()?;
        self.inner.scan(column, range)
    }

    fn last_at_or_before(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<Entry>, StoreError> {
        self.plan.read()?;
        self.inner.last_at_or_before(column, prefix, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str) -> WriteBatch {
        let mut batch = WriteBatch::new();
        batch.put(Column::Meta, key.as_bytes().to_vec(), b"v".to_vec());
        batch
    }

    #[test]
    fn fails_exactly_the_named_read() {
        let store = FaultyStore::default();
        store.fail_reads(Fault::Once(2));
        assert!(store.get(Column::Meta, b"a").is_ok());
        assert!(store.get(Column::Meta, b"a").is_ok());
        assert!(matches!(
            store.get(Column::Meta, b"a"),
            Err(StoreError::Io { .. })
        ));
        assert!(store.get(Column::Meta, b"a").is_ok());
        assert_eq!(store.reads(), 4);
        store.fail_reads(Fault::From(1));
        assert!(store.snapshot().get(Column::Meta, b"a").is_ok());
        assert!(store.snapshot().get(Column::Meta, b"a").is_err());
        assert!(store.get(Column::Meta, b"a").is_err());
    }

    #[test]
    fn a_failed_commit_writes_nothing() {
        let store = FaultyStore::default();
        store.fail_commits(Fault::Once(0));
        assert!(store.commit(put("a"), Durability::Synced).is_err());
        assert_eq!(store.get(Column::Meta, b"a").unwrap(), None);
        store.commit(put("a"), Durability::Synced).unwrap();
        assert!(store.get(Column::Meta, b"a").unwrap().is_some());
    }

    #[test]
    fn a_crash_loses_buffered_commits_after_the_last_synced_one() {
        let store = FaultyStore::default();
        store.commit(put("a"), Durability::Buffered).unwrap();
        store.commit(put("b"), Durability::Synced).unwrap();
        store.commit(put("c"), Durability::Buffered).unwrap();
        assert!(store.get(Column::Meta, b"c").unwrap().is_some());
        let survivor = store.crash();
        for (key, kept) in [("a", true), ("b", true), ("c", false)] {
            assert_eq!(
                survivor
                    .get(Column::Meta, key.as_bytes())
                    .unwrap()
                    .is_some(),
                kept,
                "{key}"
            );
        }
    }
}
