//! Batch updates of the state tree and proof generation.
//!
//! An update walks down only the paths that change, in parallel over the 16
//! children of a node whenever enough updates share it, and rebuilds the
//! nodes on the way back up. Everything it writes goes into
//! [`StateTreeWrites`], for the caller's one atomic store batch.

use std::sync::Arc;

use rayon::prelude::*;

use super::node::{Child, InternalNode, NibblePath, Node, NodeKey, Slots};
use super::{key_nibble, leaf_hashes, StateTreeError, StateTreeReader, EMPTY_SUBTREE, KEY_NIBBLES};
use crate::hash::Hash;
use crate::value::StateValue;

/// Below this many updates under one node, its children are updated on the
/// calling thread: splitting smaller batches costs more than it gains.
pub const PARALLEL_MIN_UPDATES: usize = 256;

/// One write to the state: a new value for a key position, or its deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateUpdate {
    /// The key's position ([`super::application_position`] of an
    /// application key, or [`super::nonce_position`]).
    pub position: Hash,
    /// The new value, or `None` to delete the key.
    pub value: Option<StateValue>,
}

/// A stored record that a version replaced: needed only by older versions,
/// and deleted when they are pruned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaleEntry {
    /// A node.
    Node(NodeKey),
    /// A value record.
    Value {
        /// Its position.
        position: Hash,
        /// The version that wrote it.
        version: u64,
    },
}

/// Everything one version adds to storage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateTreeWrites {
    /// The version written.
    pub version: u64,
    /// The tree's root hash at this version.
    pub root_hash: Hash,
    /// New nodes, including this version's root record.
    pub nodes: Vec<(NodeKey, Node)>,
    /// New value records at this version: `Some(value)`, or `None` for a
    /// deletion of a key that existed.
    pub values: Vec<(Hash, Option<StateValue>)>,
    /// Records this version replaced (stale since this version).
    pub stale: Vec<StaleEntry>,
}

impl StateTreeWrites {
    /// Absorbs `parts` in order, growing each list once.
    fn absorb_all(&mut self, parts: Vec<StateTreeWrites>) {
        self.nodes
            .reserve(parts.iter().map(|part| part.nodes.len()).sum());
        self.values
            .reserve(parts.iter().map(|part| part.values.len()).sum());
        self.stale
            .reserve(parts.iter().map(|part| part.stale.len()).sum());
        for part in parts {
            self.absorb(part);
        }
    }

    fn absorb(&mut self, other: StateTreeWrites) {
        self.nodes.extend(other.nodes);
        self.values.extend(other.values);
        self.stale.extend(other.stale);
    }
}

/// One child's new subtree and the writes that produced it, from a
/// parallel branch.
type SubtreeResult = (usize, Option<Child>, StateTreeWrites);

/// Updates whose leaf hashes are computed together, as one task.
const LEAF_HASH_CHUNK: usize = 1_024;

/// An update with its new leaf's hash computed (in parallel, up front).
struct PreparedUpdate<'a> {
    position: Hash,
    /// The new value and the hash of its leaf (`leaf_hash(position,
    /// value_hash(value))`).
    value: Option<(&'a StateValue, Hash)>,
}

/// The updates of `chunk` with their leaf hashes, computed in bulk
/// ([`leaf_hashes`]).
fn prepare(chunk: &[StateUpdate]) -> Vec<PreparedUpdate<'_>> {
    let leaves: Vec<(Hash, &[u8])> = chunk
        .iter()
        .filter_map(|update| Some((update.position, update.value.as_deref()?)))
        .collect();
    let hashes = leaf_hashes(&leaves);
    debug_assert_eq!(hashes.len(), leaves.len(), "one leaf hash per value");
    let mut hashes = hashes.into_iter();
    chunk
        .iter()
        .map(|update| PreparedUpdate {
            position: update.position,
            // One hash per present value, in order.
            value: update
                .value
                .as_ref()
                .map(|value| (value, hashes.next().unwrap_or(Hash::ZERO))),
        })
        .collect()
}

struct Context<'r, R: ?Sized> {
    reader: &'r R,
    version: u64,
}

/// Applies `updates` (sorted by `position`, each position once) to the tree
/// at `base` (`None`: the empty tree) and returns what `version` writes.
///
/// The root depends only on the resulting key/value set; the work is split
/// over the rayon pool the caller runs in.
pub fn apply_updates<R: StateTreeReader + ?Sized>(
    reader: &R,
    base: Option<u64>,
    version: u64,
    updates: &[StateUpdate],
) -> Result<StateTreeWrites, StateTreeError> {
    if base.is_some_and(|base| version <= base) {
        return Err(StateTreeError::VersionOrder { base, new: version });
    }
    if let Some(index) = updates
        .windows(2)
        .position(|pair| pair.first().map(|u| u.position) >= pair.get(1).map(|u| u.position))
    {
        return Err(StateTreeError::UnsortedUpdates { index: index + 1 });
    }
    let prepared: Vec<PreparedUpdate<'_>> = updates
        .par_chunks(LEAF_HASH_CHUNK)
        .flat_map_iter(prepare)
        .collect();

    let context = Context { reader, version };
    let mut out = StateTreeWrites {
        version,
        ..StateTreeWrites::default()
    };
    let root = NibblePath::ROOT;
    let new_root = match base {
        None => update_subtree(&context, None, root, &prepared, &mut out)?,
        Some(base) => {
            let key = NodeKey::root(base);
            let node = read_node(reader, &key)?;
            out.stale.push(StaleEntry::Node(key));
            match node {
                Node::Empty => update_subtree(&context, None, root, &prepared, &mut out)?,
                Node::LeafRoot(leaf) => {
                    update_subtree(&context, Some(leaf), root, &prepared, &mut out)?
                }
                Node::Internal(node) if prepared.is_empty() => {
                    // Nothing changed, but every version has its own root
                    // record: a copy of the old one.
                    let hash = node.hash();
                    out.nodes
                        .push((NodeKey::root(version), Node::Internal(node)));
                    Some(Child::Internal { version, hash })
                }
                Node::Internal(node) => update_internal(&context, node, root, &prepared, &mut out)?,
            }
        }
    };
    let (root_node, root_hash) = match new_root {
        None => (Some(Node::Empty), EMPTY_SUBTREE),
        Some(leaf @ Child::Leaf { .. }) => (Some(Node::LeafRoot(leaf)), leaf.hash()),
        // An internal root was written at this version by `finish_internal`
        // (or copied above).
        Some(Child::Internal { hash, .. }) => (None, hash),
    };
    if let Some(node) = root_node {
        out.nodes.push((NodeKey::root(version), node));
    }
    out.root_hash = root_hash;
    Ok(out)
}

pub(super) fn read_node<R: StateTreeReader + ?Sized>(
    reader: &R,
    key: &NodeKey,
) -> Result<Node, StateTreeError> {
    reader
        .node(key)?
        .ok_or_else(|| StateTreeError::MissingNode {
            key: key.to_string(),
        })
}

pub(super) fn read_internal<R: StateTreeReader + ?Sized>(
    reader: &R,
    key: &NodeKey,
) -> Result<Arc<InternalNode>, StateTreeError> {
    match read_node(reader, key)? {
        Node::Internal(node) => Ok(node),
        other => Err(StateTreeError::Corrupt {
            detail: format!("expected an internal node at {key}, found {other:?}"),
        }),
    }
}

fn update_subtree<R: StateTreeReader + ?Sized>(
    context: &Context<'_, R>,
    existing: Option<Child>,
    path: NibblePath,
    updates: &[PreparedUpdate<'_>],
    out: &mut StateTreeWrites,
) -> Result<Option<Child>, StateTreeError> {
    if updates.is_empty() {
        return Ok(existing);
    }
    match existing {
        Some(Child::Internal { version, .. }) => {
            let key = NodeKey { version, path };
            let node = read_internal(context.reader, &key)?;
            out.stale.push(StaleEntry::Node(key));
            update_internal(context, node, path, updates, out)
        }
        other => {
            let leaves = merge_leaves(context, other, updates, out);
            build(context, path, &leaves, out)
        }
    }
}

/// Applies updates below an internal node (already read and marked stale)
/// and returns the node's replacement.
fn update_internal<R: StateTreeReader + ?Sized>(
    context: &Context<'_, R>,
    node: Arc<InternalNode>,
    path: NibblePath,
    updates: &[PreparedUpdate<'_>],
    out: &mut StateTreeWrites,
) -> Result<Option<Child>, StateTreeError> {
    let depth = path.len();
    if depth >= KEY_NIBBLES {
        return Err(StateTreeError::Corrupt {
            detail: "internal node below the deepest level".into(),
        });
    }
    let groups = split_by_nibble(updates, |update| key_nibble(&update.position, depth));
    let changed = groups
        .iter()
        .fold(0u16, |mask, (nibble, _)| mask | 1 << (nibble & 0xf));
    let mut children = node.slots();
    if updates.len() >= PARALLEL_MIN_UPDATES {
        let results: Vec<Result<SubtreeResult, StateTreeError>> = groups
            .into_par_iter()
            .map(|(nibble, group)| {
                let mut local = StateTreeWrites::default();
                let existing = children.get(nibble).copied().flatten();
                let child = update_subtree(
                    context,
                    existing,
                    path.child(nibble as u8),
                    group,
                    &mut local,
                )?;
                Ok((nibble, child, local))
            })
            .collect();
        let mut parts = Vec::with_capacity(results.len());
        for result in results {
            let (nibble, child, local) = result?;
            if let Some(slot) = children.get_mut(nibble) {
                *slot = child;
            }
            parts.push(local);
        }
        out.absorb_all(parts);
    } else {
        for (nibble, group) in groups {
            let existing = children.get(nibble).copied().flatten();
            let child = update_subtree(context, existing, path.child(nibble as u8), group, out)?;
            if let Some(slot) = children.get_mut(nibble) {
                *slot = child;
            }
        }
    }
    Ok(finish_internal(
        context,
        path,
        &children,
        Some((&node, changed)),
        out,
    ))
}

/// Turns updated children into the node's replacement: nothing if all are
/// gone, the lone leaf if only one leaf is left (compression), else a new
/// internal node written at this version. `previous` is the node it
/// replaces, with a bitmap of the slots that changed.
fn finish_internal<R: StateTreeReader + ?Sized>(
    context: &Context<'_, R>,
    path: NibblePath,
    children: &Slots,
    previous: Option<(&InternalNode, u16)>,
    out: &mut StateTreeWrites,
) -> Option<Child> {
    let mut present = children.iter().flatten();
    let first = present.next().copied();
    let second = present.next();
    match (first, second) {
        (None, _) => None,
        (Some(only @ Child::Leaf { .. }), None) => Some(only),
        _ => {
            let (node, hash) = InternalNode::with_changes(children, previous);
            out.nodes.push((
                NodeKey {
                    version: context.version,
                    path,
                },
                Node::Internal(Arc::new(node)),
            ));
            Some(Child::Internal {
                version: context.version,
                hash,
            })
        }
    }
}

/// The leaves of a subtree that held at most one leaf (`existing`), after
/// the updates under it: sorted by position.
fn merge_leaves<R: StateTreeReader + ?Sized>(
    context: &Context<'_, R>,
    existing: Option<Child>,
    updates: &[PreparedUpdate<'_>],
    out: &mut StateTreeWrites,
) -> Vec<Child> {
    let mut leaves = Vec::with_capacity(updates.len() + 1);
    let mut existing_leaf = match existing {
        Some(Child::Leaf {
            position, version, ..
        }) => Some((position, version, existing)),
        _ => None,
    };
    for update in updates {
        if let Some((position, version, Some(child))) = existing_leaf {
            if position < update.position {
                leaves.push(child);
                existing_leaf = None;
            } else if position == update.position {
                out.stale.push(StaleEntry::Value { position, version });
                existing_leaf = None;
                if update.value.is_none() {
                    // A deletion marker keeps reads at this version correct
                    // while older value records are retained; it is itself
                    // stale from this version, since it is needed only as long
                    // as those older records exist.
                    out.values.push((position, None));
                    out.stale.push(StaleEntry::Value {
                        position,
                        version: context.version,
                    });
                }
            }
        }
        if let Some((value, hash)) = update.value {
            out.values.push((update.position, Some(value.clone())));
            leaves.push(Child::Leaf {
                position: update.position,
                version: context.version,
                hash,
            });
        }
    }
    if let Some((_, _, Some(child))) = existing_leaf {
        leaves.push(child);
    }
    leaves
}

fn leaf_key_hash(child: &Child) -> Hash {
    match child {
        Child::Leaf { position, .. } => *position,
        Child::Internal { .. } => Hash::ZERO,
    }
}

/// Builds a fresh subtree over sorted leaves.
fn build<R: StateTreeReader + ?Sized>(
    context: &Context<'_, R>,
    path: NibblePath,
    leaves: &[Child],
    out: &mut StateTreeWrites,
) -> Result<Option<Child>, StateTreeError> {
    match leaves {
        [] => return Ok(None),
        [only] => return Ok(Some(*only)),
        _ => {}
    }
    let depth = path.len();
    if depth >= KEY_NIBBLES {
        return Err(StateTreeError::UnsortedUpdates { index: 0 });
    }
    let groups = split_by_nibble(leaves, |leaf| key_nibble(&leaf_key_hash(leaf), depth));
    let mut children = Slots::default();
    if leaves.len() >= PARALLEL_MIN_UPDATES {
        let results: Vec<Result<SubtreeResult, StateTreeError>> = groups
            .into_par_iter()
            .map(|(nibble, group)| {
                let mut local = StateTreeWrites::default();
                let child = build(context, path.child(nibble as u8), group, &mut local)?;
                Ok((nibble, child, local))
            })
            .collect();
        let mut parts = Vec::with_capacity(results.len());
        for result in results {
            let (nibble, child, local) = result?;
            if let Some(slot) = children.get_mut(nibble) {
                *slot = child;
            }
            parts.push(local);
        }
        out.absorb_all(parts);
    } else {
        for (nibble, group) in groups {
            let child = build(context, path.child(nibble as u8), group, out)?;
            if let Some(slot) = children.get_mut(nibble) {
                *slot = child;
            }
        }
    }
    Ok(finish_internal(context, path, &children, None, out))
}

/// Splits a slice sorted by position into its runs of equal nibble.
fn split_by_nibble<T>(items: &[T], nibble_of: impl Fn(&T) -> u8) -> Vec<(usize, &[T])> {
    let mut groups = Vec::with_capacity(16);
    let mut rest = items;
    while let Some(first) = rest.first() {
        let nibble = nibble_of(first);
        let len = rest.partition_point(|item| nibble_of(item) <= nibble);
        let (group, after) = rest.split_at(len.max(1));
        groups.push((usize::from(nibble), group));
        rest = after;
    }
    groups
}
