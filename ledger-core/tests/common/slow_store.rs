//! A store over a [`MemStore`] whose commits are slow (all of them, or only
//! the state checkpoints') and can be made to fail from the n-th commit on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ledger_core::store::{BatchOp, Entry, EntryIter, KeyRange};
use ledger_core::{Column, Durability, MemStore, Store, StoreError, StoreRead, WriteBatch};

/// Which commits [`SlowStore`] delays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slow {
    /// Every commit.
    Every,
    /// Only state checkpoints (batches writing a `state_checkpoints`
    /// record); block commits are fast.
    Checkpoints,
}

/// See the module documentation.
pub struct SlowStore {
    pub inner: MemStore,
    delay: Duration,
    slow: Slow,
    commits: AtomicUsize,
    fail_from: usize,
}

impl SlowStore {
    /// Delays `slow` commits by `delay`; the commit numbered `fail_from`
    /// (from 0) and every later one fail with an I/O error.
    pub fn new(inner: MemStore, delay: Duration, slow: Slow, fail_from: usize) -> Self {
        SlowStore {
            inner,
            delay,
            slow,
            commits: AtomicUsize::new(0),
            fail_from,
        }
    }
}

impl StoreRead for SlowStore {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<bytes::Bytes>, StoreError> {
        self.inner.get(column, key)
    }
    fn scan(&self, column: Column, range: KeyRange) -> Result<EntryIter<'_>, StoreError> {
        self.inner.scan(column, range)
    }
    fn last_at_or_before(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<Entry>, StoreError> {
        self.inner.last_at_or_before(column, prefix, key)
    }
}

impl Store for SlowStore {
    fn commit(&self, batch: WriteBatch, durability: Durability) -> Result<(), StoreError> {
        let slow = match self.slow {
            Slow::Every => true,
            Slow::Checkpoints => batch.ops().iter().any(|op| {
                matches!(
                    op,
                    BatchOp::Put {
                        column: Column::StateCheckpoints,
                        ..
                    }
                )
            }),
        };
        if slow {
            std::thread::sleep(self.delay);
        }
        if self.commits.fetch_add(1, Ordering::SeqCst) >= self.fail_from {
            return Err(StoreError::Io {
                path: "slow store".into(),
                detail: "disk full".into(),
            });
        }
        self.inner.commit(batch, durability)
    }
    fn snapshot(&self) -> Box<dyn StoreRead + '_> {
        self.inner.snapshot()
    }
}
