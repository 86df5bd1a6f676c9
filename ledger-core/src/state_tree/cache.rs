//! A bounded, concurrent cache of state-tree nodes.
//!
//! Nodes are immutable (their key includes the version that wrote them), so
//! a cached node can never be stale: the cache needs no invalidation, only a
//! memory bound. Updates read the newest version's upper nodes on every
//! block; keeping them here turns most of those reads into a hash-map probe
//! instead of a storage read. The engine reads the versions it holds in
//! memory from its layers before this cache, and puts a checkpoint's nodes
//! here once the checkpoint is committed.
//!
//! It is the crate's [`TwoGenerationCache`], bounded in bytes: a node used
//! in every block stays cached, one not used for a generation is dropped.

use super::node::{Node, NodeKey};
use super::update::StateTreeWrites;
use super::{StateTreeError, StateTreeReader};
use crate::cache::{CacheUsage, TwoGenerationCache, Weigh};
use crate::hash::Hash;

/// Default memory budget of a [`NodeCache`]: 512 MiB.
///
/// A tree of n random keys has about 0.36·n internal nodes of about 460
/// bytes in memory (320 for the node, 136 for its remembered quarter
/// subtrees; 165 MB at 1M keys). Random updates touch any one bottom
/// node only every few blocks, so the budget must hold the whole working set
/// in one generation (half the budget) or most reads go to storage:
/// measured at 1M keys, 256 MiB let generations turn over every 2–3 blocks
/// and doubled the update time. 512 MiB serves about 1M keys; size it at
/// about 1,000 bytes per key for larger states.
pub const DEFAULT_NODE_CACHE_BYTES: usize = 512 * 1024 * 1024;

impl Weigh for Node {
    fn heap_bytes(&self) -> usize {
        match self {
            Node::Internal(internal) => internal.memory_bytes() + 16,
            Node::Empty | Node::LeafRoot(_) => 0,
        }
    }
}

/// A bounded cache of nodes; see the module documentation.
#[derive(Debug)]
pub struct NodeCache {
    nodes: TwoGenerationCache<NodeKey, Node>,
}

impl NodeCache {
    /// A cache that holds at most `capacity_bytes` of nodes.
    pub fn new(capacity_bytes: usize) -> Self {
        NodeCache {
            nodes: TwoGenerationCache::new(capacity_bytes),
        }
    }

    /// The cached node under `key`, if any.
    pub fn get(&self, key: &NodeKey) -> Option<Node> {
        self.nodes.get(key)
    }

    /// Caches `node` under `key`.
    pub fn insert(&self, key: NodeKey, node: Node) {
        self.nodes.insert(key, node);
    }

    /// Caches every node a version wrote (after it is committed), so that
    /// the next version's update finds them: for a store written version by
    /// version (the engine, which holds versions in layers, caches a
    /// checkpoint's merged nodes instead).
    pub fn insert_writes(&self, writes: &StateTreeWrites) {
        for (key, node) in &writes.nodes {
            self.insert(*key, node.clone());
        }
    }

    /// The budget and what is held.
    pub fn usage(&self) -> CacheUsage {
        self.nodes.usage()
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
        position: &Hash,
        version: u64,
    ) -> Result<Option<bytes::Bytes>, StateTreeError> {
        self.inner.value_at(position, version)
    }

    fn value_record(
        &self,
        position: &Hash,
        version: u64,
    ) -> Result<Option<bytes::Bytes>, StateTreeError> {
        self.inner.value_record(position, version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{hash, Domain};
    use crate::state_tree::{MemoryStateTree, StateUpdate};

    #[test]
    fn cached_reads_equal_uncached_and_memory_stays_bounded() {
        let mut tree = MemoryStateTree::new();
        let mut updates: Vec<StateUpdate> = (0u32..3_000)
            .map(|i| StateUpdate {
                position: hash(Domain::StateKey, &i.to_le_bytes()),
                value: Some(bytes::Bytes::from_static(b"v").into()),
            })
            .collect();
        updates.sort_by_key(|u| u.position);
        tree.update(0, &updates).unwrap();
        let cache = NodeCache::new(64 * 1024);
        let reader = cache.reader(&tree);
        for update in &updates {
            let cached = crate::state_tree::prove(&reader, 0, &update.position).unwrap();
            let direct = tree.prove(0, &update.position).unwrap();
            assert_eq!(cached, direct);
        }
        let usage = cache.usage();
        assert!(usage.entries > 0);
        assert!(usage.held_bytes <= 64 * 1024, "{usage:?}");
    }
}
