//! The head-state value cache and the committed state that execution reads.
//!
//! **Invariant:** the cache holds only values of the applied head version.
//! The engine inserts a block's writes once it is the head (after its
//! commit succeeded, or while it commits in the background, in which case
//! a failed commit poisons the whole ledger), and reads fill it only at the
//! head. The replay at open leaves it empty (its own execution reads a map
//! of the replayed writes), which the invariant allows. It is bounded in bytes ([`crate::LedgerConfig::value_cache_bytes`]).

use crate::cache::{CacheUsage, TwoGenerationCache, Weigh};
use crate::hash::Hash;
use crate::state_tree::{StateTreeError, StateTreeReader};
use crate::value::StateValue;

use super::execute::StateRead;

impl Weigh for StateValue {
    fn heap_bytes(&self) -> usize {
        StateValue::heap_bytes(self)
    }
}

/// The latest committed value (or absence) of recently used positions.
pub(super) struct HeadValues {
    values: TwoGenerationCache<Hash, Option<StateValue>>,
}

impl HeadValues {
    pub(super) fn new(capacity_bytes: usize) -> Self {
        HeadValues {
            values: TwoGenerationCache::new(capacity_bytes),
        }
    }

    pub(super) fn get(&self, position: &Hash) -> Option<Option<StateValue>> {
        self.values.get_with(position, Option::clone)
    }

    pub(super) fn insert(&self, position: Hash, value: Option<&StateValue>) {
        self.values.insert(position, value.cloned());
    }

    pub(super) fn usage(&self) -> CacheUsage {
        self.values.usage()
    }
}

/// Committed state at one version, read through the state tree's values.
pub(super) struct CommittedState<'a, R: ?Sized> {
    pub(super) reader: &'a R,
    pub(super) version: Option<u64>,
    /// The head's values, when `version` is the head.
    pub(super) cache: Option<&'a HeadValues>,
}

impl<R: StateTreeReader + ?Sized> StateRead for CommittedState<'_, R> {
    fn read(&self, position: &Hash) -> Result<Option<StateValue>, StateTreeError> {
        let Some(version) = self.version else {
            return Ok(None);
        };
        if let Some(value) = self.cache.and_then(|cache| cache.get(position)) {
            return Ok(value);
        }
        let value = self
            .reader
            .value_at(position, version)?
            .map(StateValue::from);
        if let Some(cache) = self.cache {
            cache.insert(*position, value.as_ref());
        }
        Ok(value)
    }
}
