//! `MemStore`: the in-memory backend.
//!
//! All columns live in ordered maps behind one `parking_lot` lock. A
//! snapshot shares the maps (an `Arc`); a commit while a snapshot is alive
//! copies them first (copy on write), so snapshots never see later commits
//! and commits without live snapshots cost no copy. Commits are atomic
//! because they apply under the write lock. Durability is moot: nothing
//! survives the process, whatever [`Durability`] says.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use super::{
    BatchOp, Column, Durability, Entry, EntryIter, KeyRange, Store, StoreError, StoreRead,
    WriteBatch,
};
use bytes::Bytes;
use parking_lot::RwLock;

type Table = BTreeMap<Bytes, Bytes>;

#[derive(Clone, Default)]
struct Tables(Vec<Table>);

impl Tables {
    fn new() -> Self {
        Tables(vec![Table::new(); Column::ALL.len()])
    }

    fn table(&self, column: Column) -> &Table {
        // Cannot fail: `Tables::new` makes one table per column and
        // `Column::index` is below `Column::ALL.len()`.
        #[allow(clippy::indexing_slicing)]
        &self.0[column.index()]
    }

    fn table_mut(&mut self, column: Column) -> &mut Table {
        #[allow(clippy::indexing_slicing)]
        &mut self.0[column.index()]
    }
}

/// The in-memory store.
#[derive(Clone)]
pub struct MemStore {
    tables: Arc<RwLock<Arc<Tables>>>,
}

impl std::fmt::Debug for MemStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemStore").finish_non_exhaustive()
    }
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        MemStore {
            tables: Arc::new(RwLock::new(Arc::new(Tables::new()))),
        }
    }

    /// An independent copy of the store's current contents: later commits
    /// to either store are invisible to the other. Cheap (the maps are
    /// shared until one side writes).
    pub fn fork(&self) -> MemStore {
        MemStore {
            tables: Arc::new(RwLock::new(Arc::clone(&self.tables.read()))),
        }
    }

    /// Applies `batch` (atomically, under the write lock).
    pub(super) fn apply(&self, batch: &WriteBatch) {
        let mut guard = self.tables.write();
        let tables = Arc::make_mut(&mut guard);
        for op in batch.ops() {
            match op {
                BatchOp::Put { column, key, value } => {
                    tables.table_mut(*column).insert(key.clone(), value.clone());
                }
                BatchOp::Delete { column, key } => {
                    tables.table_mut(*column).remove(key);
                }
            }
        }
    }

    /// Number of records in `column` (tests and tools).
    pub fn record_count(&self, column: Column) -> usize {
        self.tables.read().table(column).len()
    }

    fn view(&self) -> MemView {
        MemView {
            tables: Arc::clone(&self.tables.read()),
        }
    }
}

/// A frozen view of the maps.
struct MemView {
    tables: Arc<Tables>,
}

fn bound_ref(bound: &Bound<Bytes>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(key) => Bound::Included(&key[..]),
        Bound::Excluded(key) => Bound::Excluded(&key[..]),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl StoreRead for MemView {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        Ok(self.tables.table(column).get(key).cloned())
    }

    fn scan(&self, column: Column, range: KeyRange) -> Result<EntryIter<'_>, StoreError> {
        let bounds = (bound_ref(&range.start), bound_ref(&range.end));
        if let (
            Bound::Included(start) | Bound::Excluded(start),
            Bound::Included(end) | Bound::Excluded(end),
        ) = bounds
        {
            if start > end {
                return Ok(Box::new(std::iter::empty()));
            }
        }
        let entries: Vec<Entry> = self
            .tables
            .table(column)
            .range::<[u8], _>(bounds)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Box::new(entries.into_iter().map(Ok)))
    }

    fn last_at_or_before(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<Entry>, StoreError> {
        Ok(self
            .tables
            .table(column)
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
            .filter(|(found, _)| found.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone())))
    }
}

impl StoreRead for MemStore {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        Ok(self.tables.read().table(column).get(key).cloned())
    }

    fn scan(&self, column: Column, range: KeyRange) -> Result<EntryIter<'_>, StoreError> {
        // A scan reads a consistent view, like RocksDB's implicit snapshot.
        let view = self.view();
        let entries: Vec<Result<Entry, StoreError>> = view.scan(column, range)?.collect();
        Ok(Box::new(entries.into_iter()))
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

impl Store for MemStore {
    fn commit(&self, batch: WriteBatch, _durability: Durability) -> Result<(), StoreError> {
        self.apply(&batch);
        Ok(())
    }

    fn snapshot(&self) -> Box<dyn StoreRead + '_> {
        Box::new(self.view())
    }
}
