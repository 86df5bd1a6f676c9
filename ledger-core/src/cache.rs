//! A concurrent cache bounded in bytes, with two generations per shard.
//!
//! The engine caches three kinds of things: state-tree nodes, head-state
//! values and decompressed public keys. All three are immutable once
//! cached (a node's key includes its version, a head value is replaced as a
//! whole, a key's point never changes), so the cache needs no invalidation
//! protocol, only a memory bound — and the bound must be in **bytes**, not
//! entries: a state value can be 64 KiB, so a bound of entries lets an
//! adversary who writes large values grow the cache to gigabytes.
//!
//! Eviction is by generations: new and re-used entries go to the *hot* map
//! of their shard; when an insert would take the hot map past half the
//! shard's budget, the *cold* map is dropped and the hot one becomes cold.
//! An entry used every generation so stays; one not used for a generation
//! goes. No per-entry bookkeeping (a strict LRU would need a list).
//!
//! **Invariant:** the bytes charged to the entries held never exceed the
//! budget. An entry is charged its key and value inline sizes (times the
//! worst-case slack of the hash table) plus the heap bytes it owns
//! ([`Weigh::heap_bytes`]); an entry larger than half a shard's budget is
//! not cached at all. `tests` check the charge against a counting
//! allocator.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::HashMap;
use parking_lot::Mutex;

/// Shards, so that parallel readers rarely contend on one lock.
const SHARDS: usize = 16;

/// How much heap memory a cached value owns besides its inline size.
pub trait Weigh {
    /// Heap bytes owned by this value (0 for plain data).
    fn heap_bytes(&self) -> usize;
}

impl<T: Weigh> Weigh for Option<T> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, Weigh::heap_bytes)
    }
}

/// What a cache holds and how well it serves, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheUsage {
    /// The budget, in bytes.
    pub capacity_bytes: usize,
    /// Bytes charged to the entries held now (never above the budget).
    pub held_bytes: usize,
    /// Entries held now.
    pub entries: usize,
    /// Lookups that found their entry.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
}

struct Shard<K, V> {
    hot: HashMap<K, V>,
    cold: HashMap<K, V>,
    hot_bytes: usize,
    cold_bytes: usize,
}

impl<K, V> Default for Shard<K, V> {
    fn default() -> Self {
        Shard {
            hot: HashMap::default(),
            cold: HashMap::default(),
            hot_bytes: 0,
            cold_bytes: 0,
        }
    }
}

/// The cache; see the module documentation.
pub struct TwoGenerationCache<K, V> {
    shards: Box<[Mutex<Shard<K, V>>]>,
    /// Budget of one generation of one shard.
    generation_bytes: usize,
    capacity_bytes: usize,
    shard_hasher: foldhash::fast::RandomState,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<K, V> std::fmt::Debug for TwoGenerationCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwoGenerationCache")
            .field("capacity_bytes", &self.capacity_bytes)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq, V: Weigh> TwoGenerationCache<K, V> {
    /// A cache that charges at most `capacity_bytes` to what it holds.
    pub fn new(capacity_bytes: usize) -> Self {
        Self::with_shards(capacity_bytes, SHARDS)
    }

    /// A cache of `shards` shards (at least one): fewer shards for fewer,
    /// larger entries, since no entry may exceed half a shard's budget.
    pub fn with_shards(capacity_bytes: usize, shards: usize) -> Self {
        let shards = shards.max(1);
        TwoGenerationCache {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            generation_bytes: capacity_bytes / shards / 2,
            capacity_bytes,
            shard_hasher: foldhash::fast::RandomState::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The bytes an entry is charged: its slot in a hash table at the worst
    /// load right after a resize (about 2.3 slots of key, value and control
    /// byte per entry, rounded up to 2.5) and the heap it owns.
    pub fn charge(value: &V) -> usize {
        let slot = std::mem::size_of::<(K, V)>() + 1;
        slot * 5 / 2 + value.heap_bytes()
    }

    /// Whether `value` is small enough to be cached (no entry may exceed
    /// a generation).
    pub fn fits(&self, value: &V) -> bool {
        Self::charge(value) <= self.generation_bytes
    }

    fn shard(&self, key: &K) -> &Mutex<Shard<K, V>> {
        let index = (self.shard_hasher.hash_one(key) >> 32) as usize % self.shards.len();
        // Cannot fail: `index` is reduced modulo the (non-zero) shard count.
        #[allow(clippy::indexing_slicing)]
        &self.shards[index]
    }

    /// Calls `read` on the cached value of `key`, if any, and returns its
    /// result. A value found in the cold generation moves to the hot one.
    pub fn get_with<R>(&self, key: &K, read: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Clone,
    {
        let mut shard = self.shard(key).lock();
        if let Some(value) = shard.hot.get(key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(read(value));
        }
        let Some(value) = shard.cold.remove(key) else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        let bytes = Self::charge(&value);
        shard.cold_bytes = shard.cold_bytes.saturating_sub(bytes);
        let result = read(&value);
        self.insert_locked(&mut shard, key.clone(), value, bytes);
        Some(result)
    }

    /// A clone of the cached value of `key`, if any.
    pub fn get(&self, key: &K) -> Option<V>
    where
        K: Clone,
        V: Clone,
    {
        self.get_with(key, V::clone)
    }

    /// Caches `value` under `key` (replacing an older value).
    pub fn insert(&self, key: K, value: V) {
        let bytes = Self::charge(&value);
        let mut shard = self.shard(&key).lock();
        self.insert_locked(&mut shard, key, value, bytes);
    }

    fn insert_locked(&self, shard: &mut Shard<K, V>, key: K, value: V, bytes: usize) {
        if let Some(old) = shard.cold.remove(&key) {
            shard.cold_bytes = shard.cold_bytes.saturating_sub(Self::charge(&old));
        }
        if let Some(old) = shard.hot.remove(&key) {
            shard.hot_bytes = shard.hot_bytes.saturating_sub(Self::charge(&old));
        }
        if bytes > self.generation_bytes {
            // Larger than a generation: caching it would break the bound.
            return;
        }
        if shard.hot_bytes + bytes > self.generation_bytes {
            shard.cold = std::mem::take(&mut shard.hot);
            shard.cold_bytes = std::mem::take(&mut shard.hot_bytes);
        }
        shard.hot.insert(key, value);
        shard.hot_bytes += bytes;
    }

    /// Drops every entry.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            *shard.lock() = Shard::default();
        }
    }

    /// The budget and what is held now.
    pub fn usage(&self) -> CacheUsage {
        let mut usage = CacheUsage {
            capacity_bytes: self.capacity_bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            ..CacheUsage::default()
        };
        for shard in self.shards.iter() {
            let shard = shard.lock();
            usage.held_bytes += shard.hot_bytes + shard.cold_bytes;
            usage.entries += shard.hot.len() + shard.cold.len();
        }
        usage
    }
}

impl Weigh for bytes::Bytes {
    fn heap_bytes(&self) -> usize {
        self.len()
    }
}

impl<T: Weigh + ?Sized> Weigh for std::sync::Arc<T> {
    fn heap_bytes(&self) -> usize {
        std::mem::size_of_val::<T>(self) + 16 + (**self).heap_bytes()
    }
}

impl<T> Weigh for [T] {
    fn heap_bytes(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct Blob(Vec<u8>);

    impl Weigh for Blob {
        fn heap_bytes(&self) -> usize {
            self.0.capacity()
        }
    }

    #[test]
    fn keeps_what_is_used_and_drops_what_is_not() {
        let cache: TwoGenerationCache<u64, Blob> = TwoGenerationCache::new(1 << 20);
        cache.insert(1, Blob(vec![1; 100]));
        assert_eq!(cache.get(&1).map(|b| b.0.len()), Some(100));
        assert!(cache.get(&2).is_none());
        let usage = cache.usage();
        assert_eq!((usage.hits, usage.misses, usage.entries), (1, 1, 1));
        // Flood the cache: the early entry is gone, the bound holds.
        for key in 10..100_000u64 {
            cache.insert(key, Blob(vec![0; 64]));
        }
        assert!(cache.get(&1).is_none());
        assert!(cache.usage().held_bytes <= 1 << 20);
    }

    #[test]
    fn replacing_a_value_recharges_it() {
        let cache: TwoGenerationCache<u64, Blob> = TwoGenerationCache::new(1 << 20);
        cache.insert(7, Blob(vec![0; 1000]));
        cache.insert(7, Blob(vec![0; 10]));
        let usage = cache.usage();
        assert_eq!(usage.entries, 1);
        assert_eq!(
            usage.held_bytes,
            TwoGenerationCache::<u64, Blob>::charge(&Blob(vec![0; 10]))
        );
    }

    #[test]
    fn entries_larger_than_a_generation_are_not_cached() {
        let cache: TwoGenerationCache<u64, Blob> = TwoGenerationCache::new(64 * 1024);
        cache.insert(1, Blob(vec![0; 64 * 1024]));
        assert!(cache.get(&1).is_none());
        assert_eq!(cache.usage().held_bytes, 0);
        let none: TwoGenerationCache<u64, Blob> = TwoGenerationCache::new(0);
        none.insert(1, Blob(vec![0; 1]));
        assert!(none.get(&1).is_none());
    }
}
