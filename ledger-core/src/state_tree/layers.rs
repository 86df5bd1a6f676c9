//! The state versions held in memory: every version after the last state
//! checkpoint, indexed so that one lookup finds a node, or the newest value
//! of a position (a read at an older version held searches the versions'
//! sorted value lists).
//!
//! The engine holds every version after its last state checkpoint here;
//! a checkpoint merges them ([`super::merge_versions`]) into the store.
//!
//! **Invariants:** the versions are consecutive and start right after the
//! store's last state checkpoint (`checkpoint + 1 ..= newest`), so a read
//! at a version that finds nothing here reads the store, which holds every
//! version up to the checkpoint; they are dropped only once a checkpoint
//! that covers them is committed. [`StateLayers::bytes`] estimates what
//! they hold, which the engine keeps inside
//! [`LedgerConfig::state_memory_bytes`](crate::LedgerConfig::state_memory_bytes).

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use foldhash::HashMap;

use super::{Node, NodeKey, StateTreeError, StateTreeReader, StateTreeWrites};
use crate::cache::Weigh;
use crate::hash::Hash;
use crate::value::StateValue;

/// Estimated bytes of one indexed node beyond its own heap: the key and
/// node in the version's writes and in the index's map slot (an internal
/// node's heap is shared between the two, behind an `Arc`).
const NODE_OVERHEAD_BYTES: usize = 2 * (std::mem::size_of::<NodeKey>() + 16) + 16;
/// Estimated bytes of one indexed value beyond its heap (shared likewise):
/// the write and, at most, the index's entry (which holds a position's
/// newest write only).
const VALUE_OVERHEAD_BYTES: usize = 2 * (32 + 8 + std::mem::size_of::<StateValue>());

/// One version's writes and what they are estimated to hold.
struct Layer {
    writes: Arc<StateTreeWrites>,
    bytes: usize,
    /// Whether `writes.values` is sorted by position, each position once
    /// (as [`super::apply_updates`] writes it): then a read at this version
    /// is a binary search, else a scan.
    values_sorted: bool,
}

impl Layer {
    /// This version's write of `position`, if it wrote one.
    fn value_of(&self, position: &Hash) -> Option<&Option<StateValue>> {
        let values = &self.writes.values;
        if self.values_sorted {
            let index = values
                .binary_search_by(|(written, _)| written.cmp(position))
                .ok()?;
            values.get(index).map(|(_, value)| value)
        } else {
            values
                .iter()
                .rev()
                .find(|(written, _)| written == position)
                .map(|(_, value)| value)
        }
    }
}

/// State versions held in memory over a store (the versions after its
/// last state checkpoint).
#[derive(Default)]
pub struct StateLayers {
    versions: VecDeque<Layer>,
    nodes: HashMap<NodeKey, Node>,
    /// Each position's newest value record among the versions held: the
    /// version that wrote it and the value (`None`: deleted). Reads at the
    /// newest versions, nearly all of them, stop here; one at an older
    /// version than the newest write searches the versions' own lists.
    values: HashMap<Hash, (u64, Option<StateValue>)>,
    bytes: usize,
}

impl StateLayers {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next version.
    pub fn push(&mut self, writes: Arc<StateTreeWrites>) {
        debug_assert!(self
            .newest()
            .is_none_or(|newest| writes.version == newest + 1));
        let bytes = Self::estimate(&writes);
        let values_sorted = writes.values.is_sorted_by(|a, b| a.0 < b.0);
        self.index(&writes);
        self.bytes += bytes;
        self.versions.push_back(Layer {
            writes,
            bytes,
            values_sorted,
        });
    }

    /// The bytes a version's writes are estimated to hold once pushed
    /// (what [`StateLayers::push`] adds to [`StateLayers::bytes`]), so that
    /// a caller can make room before holding them.
    pub fn estimate(writes: &StateTreeWrites) -> usize {
        let nodes: usize = writes
            .nodes
            .iter()
            .map(|(_, node)| NODE_OVERHEAD_BYTES + node.heap_bytes())
            .sum();
        let values: usize = writes
            .values
            .iter()
            .map(|(_, value)| {
                VALUE_OVERHEAD_BYTES + value.as_ref().map_or(0, StateValue::heap_bytes)
            })
            .sum();
        nodes + values + writes.stale.len() * std::mem::size_of::<crate::state_tree::StaleEntry>()
    }

    /// Adds a version's nodes and values to the maps.
    fn index(&mut self, writes: &StateTreeWrites) {
        // The two maps are independent: each is filled on its own core.
        let (nodes, values) = (&mut self.nodes, &mut self.values);
        rayon::join(
            || {
                // Every key is new (a node key names its version).
                nodes.reserve(writes.nodes.len());
                for (key, node) in &writes.nodes {
                    nodes.insert(*key, node.clone());
                }
            },
            || {
                // Versions are indexed oldest first: a newer write replaces.
                // (No `reserve`: most writes replace an entry, and reserving
                // for all of them would double the map for nothing.)
                for (position, value) in &writes.values {
                    values.insert(*position, (writes.version, value.clone()));
                }
            },
        );
    }

    /// Drops every version up to `version` (a checkpoint covering them is
    /// in the store).
    ///
    /// A checkpoint usually covers all versions but the newest one or two
    /// (the head may not be durable yet): then the maps are rebuilt from
    /// the versions left, which is cheaper than removing each entry of the
    /// versions dropped. Otherwise those entries are removed one by one.
    pub fn drop_through(&mut self, version: u64) {
        let entries = |layer: &Layer| layer.writes.nodes.len() + layer.writes.values.len();
        let mut dropped = Vec::new();
        while let Some(layer) = self.versions.front() {
            if layer.writes.version > version {
                break;
            }
            let Some(layer) = self.versions.pop_front() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(layer.bytes);
            dropped.push(layer);
        }
        if dropped.is_empty() {
            return;
        }
        let dropped_entries: usize = dropped.iter().map(entries).sum();
        let kept_entries: usize = self.versions.iter().map(entries).sum();
        if kept_entries <= dropped_entries {
            // Fresh maps (a large backlog's memory is given back), filled
            // with what is left.
            self.nodes = HashMap::default();
            self.values = HashMap::default();
            let kept: Vec<Arc<StateTreeWrites>> = self
                .versions
                .iter()
                .map(|layer| Arc::clone(&layer.writes))
                .collect();
            for writes in kept {
                self.index(&writes);
            }
            return;
        }
        for layer in dropped {
            for (key, _) in &layer.writes.nodes {
                self.nodes.remove(key);
            }
            for (position, _) in &layer.writes.values {
                // A newest write among the dropped versions: no version
                // kept wrote the position since, so reads go to the store.
                if self
                    .values
                    .get(position)
                    .is_some_and(|(written, _)| *written <= version)
                {
                    self.values.remove(position);
                }
            }
        }
    }

    /// The newest version held.
    pub fn newest(&self) -> Option<u64> {
        self.versions.back().map(|layer| layer.writes.version)
    }

    /// The version held that is `version`, if held.
    fn layer(&self, version: u64) -> Option<&Layer> {
        let oldest = self.versions.front()?.writes.version;
        let index = usize::try_from(version.checked_sub(oldest)?).ok()?;
        self.versions
            .get(index)
            .filter(|layer| layer.writes.version == version)
    }

    /// Number of versions held.
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    /// True if no version is held.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// Estimated bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The writes of every version up to `version`, oldest first (for a
    /// checkpoint).
    pub fn through(&self, version: u64) -> Vec<Arc<StateTreeWrites>> {
        self.versions
            .iter()
            .take_while(|layer| layer.writes.version <= version)
            .map(|layer| Arc::clone(&layer.writes))
            .collect()
    }

    /// A reader that consults these versions before `inner` (the store).
    pub fn reader<'a, R: ?Sized>(&'a self, inner: &'a R) -> LayeredReader<'a, R> {
        LayeredReader {
            layers: self,
            inner,
        }
    }
}

/// Reads the state tree through the in-memory versions, then the store.
#[derive(Clone, Copy)]
pub struct LayeredReader<'a, R: ?Sized> {
    layers: &'a StateLayers,
    inner: &'a R,
}

impl<R: StateTreeReader + ?Sized> StateTreeReader for LayeredReader<'_, R> {
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
        if let Some(node) = self.layers.nodes.get(key) {
            return Ok(Some(node.clone()));
        }
        self.inner.node(key)
    }

    fn value_at(&self, position: &Hash, version: u64) -> Result<Option<Bytes>, StateTreeError> {
        if let Some((written, value)) = self.layers.values.get(position) {
            if *written <= version {
                return Ok(value.as_ref().map(StateValue::to_bytes));
            }
            // Written again after `version`: the newest write at or before
            // it, if a version held wrote one, is in that version's list.
            let older = self
                .layers
                .versions
                .iter()
                .rev()
                .filter(|layer| layer.writes.version <= version)
                .find_map(|layer| layer.value_of(position));
            if let Some(value) = older {
                return Ok(value.as_ref().map(StateValue::to_bytes));
            }
        }
        self.inner.value_at(position, version)
    }

    /// A version held answers from its own list (`None` if it wrote no
    /// record of the position); an older one reads the store's record by
    /// key.
    fn value_record(&self, position: &Hash, version: u64) -> Result<Option<Bytes>, StateTreeError> {
        match self.layers.layer(version) {
            Some(layer) => Ok(layer
                .value_of(position)
                .and_then(|value| value.as_ref().map(StateValue::to_bytes))),
            None => self.inner.value_record(position, version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_tree::{apply_updates, MemoryStateTree, StateUpdate};
    use std::sync::Arc;

    fn position(n: u8) -> Hash {
        crate::hash::hash(crate::hash::Domain::StateKey, &[n])
    }

    /// Reads through layers over a store that holds only the checkpointed
    /// versions equal reads of a tree that holds every version.
    #[test]
    fn layered_reads_equal_a_tree_of_every_version() {
        let mut every = MemoryStateTree::new();
        let mut store = MemoryStateTree::new();
        let mut layers = StateLayers::default();
        let mut checkpoint = None;
        let mut checkpoints = Vec::new();
        for version in 0..40u64 {
            let updates: Vec<StateUpdate> = {
                let mut updates: Vec<StateUpdate> = (0..5u8)
                    .map(|i| {
                        let key = ((version as u8).wrapping_mul(7).wrapping_add(i * 3)) % 16;
                        StateUpdate {
                            position: position(key),
                            value: (!key.is_multiple_of(5) || version.is_multiple_of(3))
                                .then(|| StateValue::from_slice(&version.to_le_bytes())),
                        }
                    })
                    .collect();
                updates.sort_by_key(|update| update.position);
                updates.dedup_by(|a, b| a.position == b.position);
                updates
            };
            let writes = {
                let reader = layers.reader(&store);
                apply_updates(&reader, version.checked_sub(1), version, &updates).expect("memory")
            };
            every.apply(writes.clone());
            layers.push(Arc::new(writes));
            // Checkpoints of every version held, of all but the newest one
            // (the maps are rebuilt) and of the oldest one of many (its
            // entries are removed one by one).
            let through = match version % 12 {
                5 => Some(version),
                8 => Some(version - 1),
                11 => checkpoint.map(|c: u64| c + 1),
                _ => None,
            };
            if let Some(through) = through {
                let versions = layers.through(through);
                let refs: Vec<&StateTreeWrites> = versions.iter().map(|w| &**w).collect();
                store.apply_delta(crate::state_tree::merge_versions(checkpoint, &refs));
                checkpoint = Some(through);
                checkpoints.push(through);
                layers.drop_through(through);
                assert_eq!(layers.newest().map_or(through, |newest| newest), version);
            }
            let reader = layers.reader(&store);
            let readable = (0..=version)
                .filter(|v| checkpoint.is_none_or(|c| *v > c) || checkpoints.contains(v));
            for at in readable {
                for key in 0..16 {
                    assert_eq!(
                        reader.value_at(&position(key), at).expect("read"),
                        every.value_at(&position(key), at).expect("read"),
                        "version {version} at {at} key {key}"
                    );
                    assert_eq!(
                        crate::state_tree::prove(&reader, at, &position(key)).expect("prove"),
                        every.prove(at, &position(key)).expect("prove"),
                    );
                }
            }
        }
        assert!(layers.len() <= 12);
    }

    /// Reads at older versions held find each version's own write, whether
    /// its list is sorted (a binary search) or not (a scan), and fall
    /// through to the store where no version held wrote the position.
    #[test]
    fn older_versions_read_their_own_writes_sorted_or_not() {
        let value = |n: u8| Some(StateValue::from_slice(&[n]));
        let mut sorted = vec![(position(1), value(1)), (position(2), value(2))];
        sorted.sort_by_key(|(position, _)| *position);
        let mut unsorted = vec![(position(3), None), (position(1), value(11))];
        unsorted.sort_by_key(|(position, _)| std::cmp::Reverse(*position));
        let writes = |version: u64, values: Vec<(Hash, Option<StateValue>)>| {
            Arc::new(StateTreeWrites {
                version,
                values,
                ..StateTreeWrites::default()
            })
        };
        let mut store = MemoryStateTree::new();
        let mut base = vec![StateUpdate {
            position: position(3),
            value: value(30),
        }];
        base.sort_by_key(|update| update.position);
        store.update(0, &base).expect("memory");
        let mut layers = StateLayers::new();
        layers.push(writes(1, sorted));
        layers.push(writes(2, unsorted));
        layers.push(writes(3, vec![(position(2), value(22))]));
        let reader = layers.reader(&store);
        let read = |n: u8, at: u64| reader.value_at(&position(n), at).expect("read");
        let bytes = |n: u8| Some(Bytes::copy_from_slice(&[n]));
        assert_eq!(read(1, 1), bytes(1));
        assert_eq!(read(1, 2), bytes(11));
        assert_eq!(read(1, 3), bytes(11));
        assert_eq!(read(2, 1), bytes(2));
        assert_eq!(read(2, 2), bytes(2));
        assert_eq!(read(2, 3), bytes(22));
        assert_eq!(read(3, 1), bytes(30), "from the store");
        let record = |n: u8, at: u64| reader.value_record(&position(n), at).expect("read");
        assert_eq!(record(1, 2), bytes(11), "version 2's own record");
        assert_eq!(record(2, 2), None, "version 2 wrote none of position 2");
        assert_eq!(record(3, 0), bytes(30), "a stored version's record");
        assert_eq!(read(3, 2), None, "deleted at 2");
        assert_eq!(read(3, 3), None);
        layers.drop_through(2);
        let reader = layers.reader(&store);
        assert_eq!(reader.value_at(&position(2), 3).expect("read"), bytes(22));
        assert_eq!(
            reader.value_at(&position(1), 3).expect("read"),
            None,
            "dropped: the store (which this test did not checkpoint) has none"
        );
    }
}
