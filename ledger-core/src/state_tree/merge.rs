//! Merging the writes of consecutive versions into one checkpoint.
//!
//! The engine keeps recent versions in memory and writes them to the store
//! in *checkpoints*: a checkpoint at version `h` over the versions after
//! the previous checkpoint `p` stores exactly what a reader of version `h`
//! (and of any older retained checkpoint) needs, and nothing that the
//! versions in between wrote and replaced again:
//!
//! - a node written in `(p, h]` is stored only if no version up to `h`
//!   replaced it (a path written in every block is stored once);
//! - for each position, only its newest value record of `(p, h]` is stored
//!   (a deletion marker included: it hides older stored records);
//! - the stale list of `h` names the stored records that `(p, h]`
//!   replaced — those written at or before `p` (needed only by checkpoints
//!   older than `h`), and deletion markers stored by this checkpoint.
//!
//! So the state of every checkpoint version is complete in the store, the
//! versions between two checkpoints are not (they are readable only while
//! the engine holds them in memory), and pruning works as with one version
//! per block: a stale list keyed `h` is deleted with its records once `h` is
//! no newer than the oldest version kept. A merge of one version is that
//! version's writes.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::node::{Node, NodeKey};
use super::update::{StaleEntry, StateTreeWrites};
use crate::hash::Hash;
use crate::value::StateValue;

/// What one checkpoint adds to the store: the merged writes of the versions
/// after `base` up to `version`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointDelta {
    /// The checkpoint's version (the newest merged).
    pub version: u64,
    /// The version of the previous checkpoint (`None`: there was none; the
    /// store held no state).
    pub base: Option<u64>,
    /// The tree's root hash at `version`.
    pub root_hash: Hash,
    /// Nodes written after `base` and still live at `version`.
    pub nodes: Vec<(NodeKey, Node)>,
    /// Each position's newest value record after `base`: (position, the
    /// version that wrote it, value or deletion).
    pub values: Vec<(Hash, u64, Option<StateValue>)>,
    /// Stored records that the merged versions replaced.
    pub stale: Vec<StaleEntry>,
}

impl CheckpointDelta {
    /// The delta of one version on top of the version before it.
    pub fn single(writes: &StateTreeWrites) -> Self {
        merge_versions(writes.version.checked_sub(1), &[writes])
    }
}

/// Merges `versions` (consecutive, oldest first, all newer than `base`)
/// into one checkpoint delta at the newest one's version. Deterministic:
/// the result depends only on the writes, never on thread count or timing.
///
/// # Panics
/// Never; an empty `versions` gives an empty delta at `base` (or 0).
pub fn merge_versions(base: Option<u64>, versions: &[&StateTreeWrites]) -> CheckpointDelta {
    let Some(newest) = versions.last() else {
        return CheckpointDelta {
            version: base.unwrap_or(0),
            base,
            ..CheckpointDelta::default()
        };
    };
    let in_range = |version: u64| base.is_none_or(|base| version > base);
    // Nodes written in range and replaced in range: never stored.
    let mut replaced: HashSet<NodeKey> = HashSet::new();
    for writes in versions {
        for entry in &writes.stale {
            if let StaleEntry::Node(key) = entry {
                if in_range(key.version) {
                    replaced.insert(*key);
                }
            }
        }
    }
    let nodes: Vec<(NodeKey, Node)> = versions
        .iter()
        .flat_map(|writes| writes.nodes.iter())
        .filter(|(key, _)| !replaced.contains(key))
        .cloned()
        .collect();
    // Each position's newest write (later versions overwrite).
    let mut newest_value: HashMap<Hash, (u64, Option<StateValue>)> =
        HashMap::with_capacity(newest.values.len() * 2);
    for writes in versions {
        for (position, value) in &writes.values {
            newest_value.insert(*position, (writes.version, value.clone()));
        }
    }
    let mut values: Vec<(Hash, u64, Option<StateValue>)> = newest_value
        .into_iter()
        .map(|(position, (version, value))| (position, version, value))
        .collect();
    // Deterministic order (the store does not care; tests and the audit
    // compare deltas).
    values.sort_unstable_by_key(|value| value.0);
    let stored = |position: &Hash, version: u64| {
        values
            .binary_search_by(|probe| probe.0.cmp(position))
            .ok()
            .and_then(|index| values.get(index))
            .is_some_and(|found| found.1 == version)
    };
    let stale: Vec<StaleEntry> = versions
        .iter()
        .flat_map(|writes| writes.stale.iter())
        .filter(|entry| match entry {
            StaleEntry::Node(key) => !in_range(key.version),
            StaleEntry::Value { position, version } => {
                !in_range(*version) || stored(position, *version)
            }
        })
        .copied()
        .collect();
    CheckpointDelta {
        version: newest.version,
        base,
        root_hash: newest.root_hash,
        nodes,
        values,
        stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_tree::{MemoryStateTree, StateTreeReader, StateUpdate};

    fn position(n: u8) -> Hash {
        crate::hash::hash(crate::hash::Domain::StateKey, &[n])
    }

    /// Writes `rounds` versions of updates drawn from a small key space
    /// (overwrites, deletions, re-creations) and returns every version's
    /// writes.
    fn versions(rounds: u64, seed: u64) -> Vec<StateTreeWrites> {
        let mut tree = MemoryStateTree::new();
        let mut out = Vec::new();
        let mut state = seed;
        for version in 0..rounds {
            let mut updates: Vec<StateUpdate> = Vec::new();
            for _ in 0..6 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let key = (state >> 33) as u8 % 12;
                let value = if (state >> 20).is_multiple_of(4) {
                    None
                } else {
                    Some(StateValue::from_slice(&state.to_le_bytes()))
                };
                if updates
                    .iter()
                    .all(|update| update.position != position(key))
                {
                    updates.push(StateUpdate {
                        position: position(key),
                        value,
                    });
                }
            }
            updates.sort_by_key(|update| update.position);
            let writes =
                crate::state_tree::apply_updates(&tree, version.checked_sub(1), version, &updates)
                    .expect("in-memory tree");
            tree.apply(writes.clone());
            out.push(writes);
        }
        out
    }

    /// Checkpointing at any schedule gives, at every checkpoint version,
    /// the same root and the same values as writing every version; and
    /// after pruning to the same oldest version, the same records.
    #[test]
    fn checkpoints_at_any_schedule_read_like_every_version() {
        for seed in 0..40u64 {
            let writes = versions(30, seed);
            let mut every = MemoryStateTree::new();
            for w in &writes {
                every.apply(w.clone());
            }
            for interval in [1usize, 2, 3, 7, 30] {
                let mut merged = MemoryStateTree::new();
                let mut base = None;
                for chunk in writes.chunks(interval) {
                    let refs: Vec<&StateTreeWrites> = chunk.iter().collect();
                    let delta = merge_versions(base, &refs);
                    merged.apply_delta(delta.clone());
                    base = Some(delta.version);
                    let version = delta.version;
                    assert_eq!(
                        merged.root_hash(version).expect("root"),
                        every.root_hash(version).expect("root"),
                        "seed {seed} interval {interval} version {version}"
                    );
                    for key in 0..12 {
                        assert_eq!(
                            merged.value_at(&position(key), version).expect("read"),
                            every.value_at(&position(key), version).expect("read"),
                            "seed {seed} interval {interval} version {version} key {key}"
                        );
                        let (a, proof_a) = merged.prove(version, &position(key)).expect("prove");
                        let (b, proof_b) = every.prove(version, &position(key)).expect("prove");
                        assert_eq!((a, proof_a), (b, proof_b));
                    }
                }
                // Pruning everything older than the last checkpoint leaves
                // the same records either way.
                let last = writes.len() as u64 - 1;
                merged.prune(last);
                let mut pruned_every = MemoryStateTree::new();
                for w in &writes {
                    pruned_every.apply(w.clone());
                }
                pruned_every.prune(last);
                assert_eq!(
                    merged.node_count(),
                    pruned_every.node_count(),
                    "seed {seed} interval {interval}"
                );
                assert_eq!(
                    merged.value_record_count(),
                    pruned_every.value_record_count(),
                    "seed {seed} interval {interval}"
                );
            }
        }
    }

    #[test]
    fn merging_skips_what_the_range_replaced() {
        let writes = versions(20, 7);
        let refs: Vec<&StateTreeWrites> = writes.iter().collect();
        let merged = merge_versions(None, &refs);
        let all_nodes: usize = writes.iter().map(|w| w.nodes.len()).sum();
        assert!(
            merged.nodes.len() < all_nodes / 2,
            "{} of {all_nodes}",
            merged.nodes.len()
        );
        assert!(merged.values.len() <= 12);
        // Nothing stored before the range: no stale entry but the deletion
        // markers it stores.
        assert!(merged
            .stale
            .iter()
            .all(|entry| matches!(entry, StaleEntry::Value { .. })));
        assert_eq!(
            merged.root_hash,
            writes.last().expect("20 versions").root_hash
        );
    }

    #[test]
    fn merging_nothing_is_empty() {
        let delta = merge_versions(Some(4), &[]);
        assert_eq!(delta.version, 4);
        assert!(delta.nodes.is_empty() && delta.values.is_empty() && delta.stale.is_empty());
    }
}
