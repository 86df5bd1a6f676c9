//! The head-state value cache and the committed state that execution reads.
//!
//! **Invariant:** the cache holds only values of the applied head version.
//! The engine inserts a block's writes once it is the head (after its
//! commit succeeded, or while it commits in the background, in which case
//! a failed commit poisons the whole ledger), and reads fill it only at the
//! head. It is bounded in bytes ([`crate::LedgerConfig::value_cache_bytes`]).

use bytes::Bytes;

use crate::cache::{CacheUsage, TwoGenerationCache, Weigh};
use crate::hash::Hash;
use crate::state_tree::{StateTreeError, StateTreeReader};

use super::execute::StateRead;

/// Values up to this many bytes (balances, nonces, small records) are kept
/// inline by the engine's caches: no allocation of their own, and no shared
/// reference count to touch (a cache miss) on every read.
const INLINE_VALUE_BYTES: usize = 32;

/// A state value as the engine's caches hold it.
#[derive(Clone, Debug)]
pub(super) enum CachedValue {
    Inline {
        len: u8,
        bytes: [u8; INLINE_VALUE_BYTES],
    },
    Shared(Bytes),
}

impl CachedValue {
    pub(super) fn new(value: &Bytes) -> Self {
        let mut bytes = [0u8; INLINE_VALUE_BYTES];
        match (bytes.get_mut(..value.len()), u8::try_from(value.len())) {
            (Some(head), Ok(len)) => {
                head.copy_from_slice(value);
                CachedValue::Inline { len, bytes }
            }
            _ => CachedValue::Shared(value.clone()),
        }
    }

    pub(super) fn to_bytes(&self) -> Bytes {
        match self {
            CachedValue::Inline { len, bytes } => {
                Bytes::copy_from_slice(bytes.get(..usize::from(*len)).unwrap_or(&[]))
            }
            CachedValue::Shared(bytes) => bytes.clone(),
        }
    }
}

impl Weigh for CachedValue {
    fn heap_bytes(&self) -> usize {
        match self {
            CachedValue::Inline { .. } => 0,
            // The bytes themselves and the shared buffer's header.
            CachedValue::Shared(bytes) => bytes.len() + 32,
        }
    }
}

/// The latest committed value (or absence) of recently used positions.
pub(super) struct HeadValues {
    values: TwoGenerationCache<Hash, Option<CachedValue>>,
}

impl HeadValues {
    pub(super) fn new(capacity_bytes: usize) -> Self {
        HeadValues {
            values: TwoGenerationCache::new(capacity_bytes),
        }
    }

    pub(super) fn get(&self, position: &Hash) -> Option<Option<Bytes>> {
        self.values
            .get_with(position, |value| value.as_ref().map(CachedValue::to_bytes))
    }

    pub(super) fn insert(&self, position: Hash, value: Option<&Bytes>) {
        self.values.insert(position, value.map(CachedValue::new));
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
    fn read(&self, position: &Hash) -> Result<Option<Bytes>, StateTreeError> {
        let Some(version) = self.version else {
            return Ok(None);
        };
        if let Some(value) = self.cache.and_then(|cache| cache.get(position)) {
            return Ok(value);
        }
        let value = self.reader.value_at(position, version)?;
        if let Some(cache) = self.cache {
            cache.insert(*position, value.as_ref());
        }
        Ok(value)
    }
}
