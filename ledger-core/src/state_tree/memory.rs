//! An in-memory state tree: the same nodes, values and stale lists that a
//! store would hold, in ordered maps. For tests, fuzzing, and embedders that
//! want no disk.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::merge::CheckpointDelta;
use super::node::{Node, NodeKey};
use super::proof::StateProof;
use super::prove::prove;
use super::update::{apply_updates, StaleEntry, StateTreeWrites, StateUpdate};
use super::{StateTreeError, StateTreeReader};
use crate::hash::Hash;

/// A versioned state tree held in memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryStateTree {
    nodes: BTreeMap<NodeKey, Node>,
    values: BTreeMap<(Hash, u64), Option<Bytes>>,
    stale: BTreeMap<u64, Vec<StaleEntry>>,
    latest: Option<u64>,
    oldest: u64,
}

impl MemoryStateTree {
    /// An empty tree with no versions.
    pub fn new() -> Self {
        Self::default()
    }

    /// The newest version, if any was written.
    pub fn latest_version(&self) -> Option<u64> {
        self.latest
    }

    /// The oldest version still readable.
    pub fn oldest_version(&self) -> u64 {
        self.oldest
    }

    /// Applies `updates` (sorted by position, each once) as `version` and
    /// returns the new root.
    pub fn update(
        &mut self,
        version: u64,
        updates: &[StateUpdate],
    ) -> Result<Hash, StateTreeError> {
        let writes = apply_updates(self, self.latest, version, updates)?;
        let root = writes.root_hash;
        self.apply(writes);
        Ok(root)
    }

    /// Stores the output of [`apply_updates`].
    pub fn apply(&mut self, writes: StateTreeWrites) {
        for (key, node) in writes.nodes {
            self.nodes.insert(key, node);
        }
        for (position, value) in writes.values {
            self.values
                .insert((position, writes.version), value.map(Bytes::from));
        }
        self.stale.insert(writes.version, writes.stale);
        self.latest = Some(writes.version);
    }

    /// Stores a checkpoint's merged writes ([`super::merge_versions`]).
    pub fn apply_delta(&mut self, delta: CheckpointDelta) {
        for (key, node) in delta.nodes {
            self.nodes.insert(key, node);
        }
        for (position, version, value) in delta.values {
            self.values
                .insert((position, version), value.map(Bytes::from));
        }
        self.stale.insert(delta.version, delta.stale);
        self.latest = Some(delta.version);
    }

    /// Deletes everything that only versions older than `oldest_kept` need.
    pub fn prune(&mut self, oldest_kept: u64) {
        let kept = self.stale.split_off(&(oldest_kept.saturating_add(1)));
        for (_, entries) in std::mem::replace(&mut self.stale, kept) {
            for entry in entries {
                match entry {
                    StaleEntry::Node(key) => {
                        self.nodes.remove(&key);
                    }
                    StaleEntry::Value { position, version } => {
                        self.values.remove(&(position, version));
                    }
                }
            }
        }
        self.oldest = self.oldest.max(oldest_kept);
    }

    /// The root hash at `version`.
    pub fn root_hash(&self, version: u64) -> Result<Hash, StateTreeError> {
        let key = NodeKey::root(version);
        self.node(&key)?
            .map(|node| node.hash())
            .ok_or(StateTreeError::MissingNode {
                key: key.to_string(),
            })
    }

    /// The value of `position` at `version` with its proof.
    pub fn prove(
        &self,
        version: u64,
        position: &Hash,
    ) -> Result<(Option<Bytes>, StateProof), StateTreeError> {
        prove(self, version, position)
    }

    /// Every node, by key.
    pub(crate) fn node_records(&self) -> impl Iterator<Item = (&NodeKey, &Node)> {
        self.nodes.iter()
    }

    /// Every value record: position, version, value (`None`: deleted).
    pub(crate) fn value_records(&self) -> impl Iterator<Item = (&Hash, u64, Option<&Bytes>)> {
        self.values
            .iter()
            .map(|((position, version), value)| (position, *version, value.as_ref()))
    }

    /// Every stale list, by the version that replaced its records.
    pub(crate) fn stale_records(&self) -> impl Iterator<Item = (u64, &[StaleEntry])> {
        self.stale
            .iter()
            .map(|(version, entries)| (*version, entries.as_slice()))
    }

    /// Number of stored nodes (tests check that pruning frees them).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of stored value records.
    pub fn value_record_count(&self) -> usize {
        self.values.len()
    }
}

impl StateTreeReader for MemoryStateTree {
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
        Ok(self.nodes.get(key).cloned())
    }

    fn value_at(&self, position: &Hash, version: u64) -> Result<Option<Bytes>, StateTreeError> {
        Ok(self
            .values
            .range((*position, 0)..=(*position, version))
            .next_back()
            .and_then(|(_, value)| value.clone()))
    }
}
