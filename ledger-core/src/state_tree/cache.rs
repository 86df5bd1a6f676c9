//! A bounded, concurrent cache of state-tree nodes.
//!
//! Nodes are immutable (their key includes the version that wrote them), so
//! a cached node can never be stale: the cache needs no invalidation, only a
//! memory bound. Updates read the newest version's upper nodes on every
//! block; keeping them here turns most of those reads into a hash-map probe
//! instead of a storage read.
//!
//! Eviction is by two generations per shard: new and re-used nodes go to
//! the *hot* map; when it reaches half the shard's budget, the *cold* map is
//! dropped and the hot one becomes cold. A node used in every block so stays
//! cached; one not used for a generation is dropped. It costs no per-entry
//! bookkeeping, which a strict LRU would.

use foldhash::HashMap;

use parking_lot::Mutex;

use super::node::{Node, NodeKey};
use super::update::StateTreeWrites;
use super::{StateTreeError, StateTreeReader};
use crate::hash::Hash;

/// Default memory budget of a [`NodeCache`]: 512 MiB.
///
/// A tree of n random keys has about 0.36·n internal nodes of about 320
/// bytes in memory (115 MB at 1M keys). Random updates touch any one bottom
/// node only every few blocks, so the budget must hold the whole working set
/// in one generation (half the budget) or most reads go to storage:
/// measured at 1M keys, 256 MiB let generations turn over every 2–3 blocks
/// and doubled the update time. 512 MiB serves about 1.5M keys; size it at
/// about 700 bytes per key for larger states.
pub const DEFAULT_NODE_CACHE_BYTES: usize = 512 * 1024 * 1024;

/// Shards, so that parallel readers rarely contend on one lock.
const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    hot: HashMap<NodeKey, Node>,
    cold: HashMap<NodeKey, Node>,
    hot_bytes: usize,
}

/// A bounded cache of nodes; see the module documentation.
pub struct NodeCache {
    shards: Vec<Mutex<Shard>>,
    generation_bytes: usize,
}

impl std::fmt::Debug for NodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCache")
            .field("generation_bytes", &self.generation_bytes)
            .finish_non_exhaustive()
    }
}

fn node_bytes(node: &Node) -> usize {
    let base = std::mem::size_of::<NodeKey>() + std::mem::size_of::<Node>();
    match node {
        Node::Internal(internal) => base + internal.memory_bytes(),
        Node::Empty | Node::LeafRoot(_) => base,
    }
}

impl NodeCache {
    /// A cache that holds at most about `capacity_bytes` of nodes.
    pub fn new(capacity_bytes: usize) -> Self {
        NodeCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            // Each shard holds two generations of up to this many bytes.
            generation_bytes: capacity_bytes / SHARDS / 2,
        }
    }

    fn shard(&self, key: &NodeKey) -> &Mutex<Shard> {
        let index =
            (key.path.fingerprint() ^ key.version.wrapping_mul(0x9e37_79b9_7f4a_7c15)) >> 60;
        // Cannot fail: a 4-bit index is below SHARDS (16).
        &self.shards[index as usize % SHARDS]
    }

    /// The cached node under `key`, if any.
    pub fn get(&self, key: &NodeKey) -> Option<Node> {
        let mut shard = self.shard(key).lock();
        if let Some(node) = shard.hot.get(key) {
            return Some(node.clone());
        }
        let node = shard.cold.remove(key)?;
        Self::insert_locked(&mut shard, *key, node.clone(), self.generation_bytes);
        Some(node)
    }

    /// Caches `node` under `key`.
    pub fn insert(&self, key: NodeKey, node: Node) {
        let mut shard = self.shard(&key).lock();
        Self::insert_locked(&mut shard, key, node, self.generation_bytes);
    }

    fn insert_locked(shard: &mut Shard, key: NodeKey, node: Node, generation_bytes: usize) {
        let bytes = node_bytes(&node);
        if shard.hot.insert(key, node).is_none() {
            shard.hot_bytes += bytes;
        }
        if shard.hot_bytes > generation_bytes {
            shard.cold = std::mem::take(&mut shard.hot);
            shard.hot_bytes = 0;
        }
    }

    /// Caches every node a version wrote (after it is committed), so that
    /// the next version's update finds them.
    pub fn insert_writes(&self, writes: &StateTreeWrites) {
        for (key, node) in &writes.nodes {
            self.insert(*key, node.clone());
        }
    }

    /// A reader that consults this cache before `inner`, and caches what it
    /// reads from `inner`.
    pub fn reader<'a, R: StateTreeReader + ?Sized>(&'a self, inner: &'a R) -> CachedReader<'a, R> {
        CachedReader { cache: self, inner }
    }
}

impl Default for NodeCache {
    fn default() -> Self {
        NodeCache::new(DEFAULT_NODE_CACHE_BYTES)
    }
}

/// A [`StateTreeReader`] that reads through a [`NodeCache`].
#[derive(Debug)]
pub struct CachedReader<'a, R: ?Sized> {
    cache: &'a NodeCache,
    inner: &'a R,
}

impl<R: StateTreeReader + ?Sized> StateTreeReader for CachedReader<'_, R> {
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
        if let Some(node) = self.cache.get(key) {
            return Ok(Some(node));
        }
        let node = self.inner.node(key)?;
        if let Some(node) = &node {
            self.cache.insert(*key, node.clone());
        }
        Ok(node)
    }

    fn value_at(
        &self,
        key_hash: &Hash,
        version: u64,
    ) -> Result<Option<bytes::Bytes>, StateTreeError> {
        self.inner.value_at(key_hash, version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_tree::{key_hash, MemoryStateTree, StateUpdate};

    #[test]
    fn cached_reads_equal_uncached_and_memory_stays_bounded() {
        let mut tree = MemoryStateTree::new();
        let mut updates: Vec<StateUpdate> = (0u32..3_000)
            .map(|i| StateUpdate {
                key_hash: key_hash(&i.to_le_bytes()),
                value: Some(bytes::Bytes::from_static(b"v")),
            })
            .collect();
        updates.sort_by_key(|u| u.key_hash);
        tree.update(0, &updates).unwrap();
        let cache = NodeCache::new(64 * 1024);
        let reader = cache.reader(&tree);
        for update in &updates {
            let cached = crate::state_tree::prove(&reader, 0, &update.key_hash).unwrap();
            let direct = tree.prove(0, &update.key_hash).unwrap();
            assert_eq!(cached, direct);
        }
        let held: usize = cache
            .shards
            .iter()
            .map(|shard| {
                let shard = shard.lock();
                shard
                    .hot
                    .values()
                    .chain(shard.cold.values())
                    .map(node_bytes)
                    .sum::<usize>()
            })
            .sum();
        assert!(
            held <= 64 * 1024 + SHARDS * 4096,
            "cache holds {held} bytes"
        );
    }
}
