//! The state tree kept in a [`Store`](crate::store::Store): a reader over the `state_nodes` and
//! `state_values` columns, the mapping of a version's writes into the
//! caller's atomic batch, and pruning.
//!
//! Layouts (also in `docs/STORAGE.md`): nodes under
//! [`NodeKey::encode`]; values under position ‖ version (big-endian) with a
//! tag byte (0 deleted, 1 present) before the value; stale lists under the
//! version (big-endian) that replaced the records.

use bytes::Bytes;
use rayon::prelude::*;

use super::memory::MemoryStateTree;
use super::merge::CheckpointDelta;
use super::node::{leaf_key, Node, NodeKey};
use super::update::{StaleEntry, StateTreeWrites};
use super::{StateTreeError, StateTreeReader};
use crate::hash::{Hash, HASH_BYTES};
use crate::store::{Column, KeyRange, StoreRead, WriteBatch};

const VALUE_DELETED: u8 = 0;
const VALUE_PRESENT: u8 = 1;
const STALE_NODE: u8 = 0;
const STALE_VALUE: u8 = 1;

/// Reads the tree from a store (or a snapshot of one).
#[derive(Debug)]
pub struct StoredStateTree<'a, S: ?Sized> {
    store: &'a S,
}

impl<'a, S: StoreRead + ?Sized> StoredStateTree<'a, S> {
    /// A reader over `store`.
    pub fn new(store: &'a S) -> Self {
        StoredStateTree { store }
    }
}

impl<S: StoreRead + ?Sized> StateTreeReader for StoredStateTree<'_, S> {
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
        match self.store.get(Column::StateNodes, &key.encode())? {
            None => Ok(None),
            Some(bytes) => Node::decode(&bytes).map(Some),
        }
    }

    fn value_at(&self, position: &Hash, version: u64) -> Result<Option<Bytes>, StateTreeError> {
        let found = self.store.last_at_or_before(
            Column::StateValues,
            position.as_bytes(),
            &leaf_key(position, version),
        )?;
        let Some((_, record)) = found else {
            return Ok(None);
        };
        decode_value_record(position, record)
    }

    fn value_record(&self, position: &Hash, version: u64) -> Result<Option<Bytes>, StateTreeError> {
        match self
            .store
            .get(Column::StateValues, &leaf_key(position, version))?
        {
            None => Ok(None),
            Some(record) => decode_value_record(position, record),
        }
    }
}

/// A value record's value (`None`: a deletion); see [`encode_value_record`].
fn decode_value_record(position: &Hash, record: Bytes) -> Result<Option<Bytes>, StateTreeError> {
    match record.first() {
        Some(&VALUE_PRESENT) => Ok(Some(record.slice(1..))),
        Some(&VALUE_DELETED) if record.len() == 1 => Ok(None),
        _ => Err(StateTreeError::Corrupt {
            detail: format!("state value record of {position:?} is malformed"),
        }),
    }
}

/// Adds a version's writes to `batch`: its nodes, its value records and its
/// stale list, so that they commit atomically with the rest of the block.
pub fn add_writes_to_batch(writes: &StateTreeWrites, batch: &mut WriteBatch) {
    // Encoding tens of thousands of nodes is worth both cores.
    let encoded: Vec<(Vec<u8>, Vec<u8>)> = writes
        .nodes
        .par_iter()
        .with_min_len(1024)
        .map(|(key, node)| (key.encode(), node.encode()))
        .collect();
    for (key, node) in encoded {
        batch.put(Column::StateNodes, key, node);
    }
    for (position, value) in &writes.values {
        let record = encode_value_record(value.as_deref());
        batch.put(
            Column::StateValues,
            leaf_key(position, writes.version).to_vec(),
            record,
        );
    }
    batch.put(
        Column::StateStale,
        writes.version.to_be_bytes().to_vec(),
        encode_stale(&writes.stale),
    );
}

/// Adds a checkpoint's merged writes to `batch`: its nodes, each value
/// record at the version that wrote it, and its stale list under the
/// checkpoint's version.
pub fn add_delta_to_batch(delta: &CheckpointDelta, batch: &mut WriteBatch) {
    let encoded: Vec<(Vec<u8>, Vec<u8>)> = delta
        .nodes
        .par_iter()
        .with_min_len(1024)
        .map(|(key, node)| (key.encode(), node.encode()))
        .collect();
    for (key, node) in encoded {
        batch.put(Column::StateNodes, key, node);
    }
    for (position, version, value) in &delta.values {
        batch.put(
            Column::StateValues,
            leaf_key(position, *version).to_vec(),
            encode_value_record(value.as_deref()),
        );
    }
    batch.put(
        Column::StateStale,
        delta.version.to_be_bytes().to_vec(),
        encode_stale(&delta.stale),
    );
}

/// A value record: tag (0 deleted, 1 present) ‖ value.
pub(crate) fn encode_value_record(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        Some(value) => {
            let mut record = Vec::with_capacity(1 + value.len());
            record.push(VALUE_PRESENT);
            record.extend_from_slice(value);
            record
        }
        None => vec![VALUE_DELETED],
    }
}

/// The records a [`MemoryStateTree`] holds in one of the state columns
/// (nodes, values, stale lists), encoded as a store holds them: (key,
/// value), in no particular order; nothing for any other column. The audit
/// compares a store's state columns against a tree replayed from the blocks.
pub(crate) fn stored_column(tree: &MemoryStateTree, column: Column) -> Vec<(Vec<u8>, Vec<u8>)> {
    match column {
        Column::StateNodes => tree
            .node_records()
            .map(|(key, node)| (key.encode(), node.encode()))
            .collect(),
        Column::StateValues => tree
            .value_records()
            .map(|(position, version, value)| {
                (
                    leaf_key(position, version).to_vec(),
                    encode_value_record(value.map(|value| &value[..])),
                )
            })
            .collect(),
        Column::StateStale => tree
            .stale_records()
            .map(|(version, entries)| (version.to_be_bytes().to_vec(), encode_stale(entries)))
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn encode_stale(entries: &[StaleEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 48);
    for entry in entries {
        match entry {
            StaleEntry::Node(key) => {
                let key = key.encode();
                out.push(STALE_NODE);
                out.push(key.len() as u8);
                out.extend_from_slice(&key);
            }
            StaleEntry::Value { position, version } => {
                out.push(STALE_VALUE);
                out.extend_from_slice(&leaf_key(position, *version));
            }
        }
    }
    out
}

/// The store keys of stale entries: (column, key).
pub(crate) fn stale_keys(entries: &[StaleEntry]) -> Vec<(Column, Vec<u8>)> {
    entries
        .iter()
        .map(|entry| match entry {
            StaleEntry::Node(key) => (Column::StateNodes, key.encode()),
            StaleEntry::Value { position, version } => {
                (Column::StateValues, leaf_key(position, *version).to_vec())
            }
        })
        .collect()
}

/// The store keys a stale list names: (column, key). Stale lists come back
/// from a store that may be damaged: strict, no unchecked indexing.
#[deny(clippy::indexing_slicing)]
pub(crate) fn decode_stale(bytes: &[u8]) -> Result<Vec<(Column, Vec<u8>)>, StateTreeError> {
    let corrupt = || StateTreeError::Corrupt {
        detail: "stale list is malformed".into(),
    };
    let mut keys = Vec::new();
    let mut rest = bytes;
    while let Some((&tag, after)) = rest.split_first() {
        match tag {
            STALE_NODE => {
                let (&len, after) = after.split_first().ok_or_else(corrupt)?;
                let len = usize::from(len);
                // A node key is a version, a nibble count and up to 32
                // packed bytes.
                if !(9..=41).contains(&len) || after.len() < len {
                    return Err(corrupt());
                }
                let (key, after) = after.split_at(len);
                keys.push((Column::StateNodes, key.to_vec()));
                rest = after;
            }
            STALE_VALUE => {
                const LEN: usize = HASH_BYTES + 8;
                if after.len() < LEN {
                    return Err(corrupt());
                }
                let (key, after) = after.split_at(LEN);
                keys.push((Column::StateValues, key.to_vec()));
                rest = after;
            }
            _ => return Err(corrupt()),
        }
    }
    Ok(keys)
}

/// Adds to `batch` the deletes that prune every record only versions older
/// than `oldest_kept` need (those stale at or before it), and their stale
/// lists. Returns how many records it deletes.
pub fn add_pruning_to_batch<S: StoreRead + ?Sized>(
    store: &S,
    oldest_kept: u64,
    batch: &mut WriteBatch,
) -> Result<usize, StateTreeError> {
    let end = oldest_kept.saturating_add(1).to_be_bytes().to_vec();
    let range = if oldest_kept == u64::MAX {
        KeyRange::all()
    } else {
        KeyRange::between(Vec::new(), end)
    };
    let mut deleted = 0;
    for entry in store.scan(Column::StateStale, range)? {
        let (version, list) = entry?;
        for (column, key) in decode_stale(&list)? {
            batch.delete(column, key);
            deleted += 1;
        }
        batch.delete(Column::StateStale, version);
    }
    Ok(deleted)
}
