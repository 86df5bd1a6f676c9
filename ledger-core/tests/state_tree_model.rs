//! The state tree against a reference model: a `BTreeMap` of the live
//! key/value set and a from-scratch root (`root_from_pairs`). Random
//! sequences of inserts, updates and deletes over many versions must give
//! the model's root at every version, proofs that verify for present and
//! absent keys at every retained version, tampered proofs that fail, and a
//! clear error for pruned versions.

use std::collections::BTreeMap;

use bytes::Bytes;
use ledger_core::state_tree::{
    add_writes_to_batch, application_position, apply_updates, leaf_key, prove, root_from_pairs,
    value_hash, verify_state_proof, MemoryStateTree, StateProof, StateTreeError, StateTreeReader,
    StateUpdate, StoredStateTree,
};
use ledger_core::store::{Column, Durability, MemStore, Store, WriteBatch};
use ledger_core::testing::proptest_config;
use ledger_core::Hash;
use proptest::prelude::*;

type Model = BTreeMap<Hash, Bytes>;

fn model_root(model: &Model) -> Hash {
    let pairs: Vec<(Hash, Hash)> = model.iter().map(|(k, v)| (*k, value_hash(v))).collect();
    root_from_pairs(&pairs)
}

/// One batch: (key index, Some(value) or None for delete), over a small key
/// space so that updates and deletes hit existing keys.
fn arb_batch() -> impl Strategy<Value = Vec<(u16, Option<Vec<u8>>)>> {
    prop::collection::vec(
        (
            0u16..300,
            prop::option::weighted(0.75, prop::collection::vec(any::<u8>(), 0..12)),
        ),
        0..80,
    )
}

fn to_updates(batch: &[(u16, Option<Vec<u8>>)]) -> Vec<StateUpdate> {
    let mut map = BTreeMap::new();
    for (key, value) in batch {
        map.insert(
            application_position(&key.to_le_bytes()),
            value.clone().map(Bytes::from),
        );
    }
    map.into_iter()
        .map(|(position, value)| StateUpdate {
            position,
            value: value.map(Into::into),
        })
        .collect()
}

fn apply_model(model: &mut Model, updates: &[StateUpdate]) {
    for update in updates {
        match &update.value {
            Some(value) => model.insert(update.position, value.to_bytes()),
            None => model.remove(&update.position),
        };
    }
}

fn check_version(tree: &MemoryStateTree, version: u64, model: &Model) -> Result<(), TestCaseError> {
    let root = tree.root_hash(version)?;
    prop_assert_eq!(root, model_root(model));
    for (key, value) in model.iter().take(40) {
        let (got, proof) = tree.prove(version, key)?;
        prop_assert_eq!(got.as_ref(), Some(value));
        verify_state_proof(&root, key, Some(value), &proof)?;
        prop_assert!(verify_state_proof(&root, key, Some(b"forged"), &proof).is_err());
        prop_assert!(verify_state_proof(&root, key, None, &proof).is_err());
        let reencoded = StateProof::decode(&proof.encode())?;
        prop_assert_eq!(&reencoded, &proof);
    }
    for absent in 1000u16..1010 {
        let key = application_position(&absent.to_le_bytes());
        let (got, proof) = tree.prove(version, &key)?;
        prop_assert!(got.is_none());
        verify_state_proof(&root, &key, None, &proof)?;
        prop_assert!(verify_state_proof(&root, &key, Some(b"x"), &proof).is_err());
    }
    Ok(())
}

proptest! {
    #![proptest_config(proptest_config(64, file!()))]

    #[test]
    fn tree_matches_model_across_versions(batches in prop::collection::vec(arb_batch(), 1..12)) {
        let mut tree = MemoryStateTree::new();
        let mut models = Vec::new();
        let mut model = Model::new();
        for (version, batch) in batches.iter().enumerate() {
            let updates = to_updates(batch);
            let root = tree.update(version as u64, &updates)?;
            apply_model(&mut model, &updates);
            prop_assert_eq!(root, model_root(&model));
            models.push(model.clone());
        }
        // Every version is still readable and provable.
        for (version, model) in models.iter().enumerate() {
            check_version(&tree, version as u64, model)?;
        }
        // Prune all but the last two versions: those stay correct, older ones
        // report a missing node instead of a wrong answer.
        let latest = models.len() as u64 - 1;
        let keep_from = latest.saturating_sub(1);
        tree.prune(keep_from);
        for version in keep_from..=latest {
            check_version(&tree, version, &models[version as usize])?;
        }
        for version in 0..keep_from {
            let pruned = tree.root_hash(version);
            prop_assert!(matches!(pruned, Err(StateTreeError::MissingNode { .. })), "version {} readable after pruning", version);
        }
    }

    #[test]
    fn root_is_independent_of_batch_split(batch in arb_batch(), split in 0usize..80) {
        let updates = to_updates(&batch);
        let mut whole = MemoryStateTree::new();
        let root_whole = whole.update(0, &updates)?;
        let split = split.min(updates.len());
        // Applying the same final set as two batches of disjoint keys, in
        // either order, gives the same root.
        let (first, second) = updates.split_at(split);
        let inserts = |u: &[StateUpdate]| u.iter().filter(|u| u.value.is_some()).cloned().collect::<Vec<_>>();
        let mut halves = MemoryStateTree::new();
        halves.update(0, &inserts(second))?;
        let root_halves = halves.update(1, &inserts(first))?;
        let mut whole_inserts = MemoryStateTree::new();
        let root_inserts = whole_inserts.update(0, &inserts(&updates))?;
        prop_assert_eq!(root_halves, root_inserts);
        prop_assert_eq!(root_whole, root_inserts);
    }
}

/// Writes each batch as a version of a tree in a store, as the engine's
/// checkpoints do; returns the store.
fn stored_versions(batches: &[Vec<StateUpdate>]) -> Result<MemStore, TestCaseError> {
    let store = MemStore::new();
    for (version, updates) in batches.iter().enumerate() {
        let writes = {
            let stored = StoredStateTree::new(&store);
            apply_updates(
                &stored,
                version.checked_sub(1).map(|v| v as u64),
                version as u64,
                updates,
            )?
        };
        let mut batch = WriteBatch::new();
        add_writes_to_batch(&writes, &mut batch);
        store
            .commit(batch, Durability::Synced)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    Ok(store)
}

proptest! {
    #![proptest_config(proptest_config(48, file!()))]

    /// Proofs from a tree in a store, whose leaves' values are read by key,
    /// give the model's values (present, updated, deleted or never
    /// written) and the search among a position's records gives the same,
    /// at every version.
    #[test]
    fn stored_proofs_read_what_the_model_holds(batches in prop::collection::vec(arb_batch(), 1..10)) {
        let updates: Vec<Vec<StateUpdate>> = batches.iter().map(|batch| to_updates(batch)).collect();
        let store = stored_versions(&updates)?;
        let stored = StoredStateTree::new(&store);
        let mut model = Model::new();
        for (version, updates) in updates.iter().enumerate() {
            apply_model(&mut model, updates);
            let root = model_root(&model);
            for key in (0u16..300).chain(1000..1010) {
                let position = application_position(&key.to_le_bytes());
                let (proved, proof) = prove(&stored, version as u64, &position)?;
                prop_assert_eq!(proved.as_ref(), model.get(&position), "version {} key {}", version, key);
                verify_state_proof(&root, &position, proved.as_deref(), &proof)?;
                let searched = stored.value_at(&position, version as u64)?;
                prop_assert_eq!(&searched, &proved, "version {} key {}", version, key);
            }
        }
    }
}

/// A stored value record that does not match its leaf, or that is missing,
/// is an error of the proof, never a value served as right.
#[test]
fn proofs_over_a_damaged_or_missing_record_are_errors() {
    let position = |key: u16| application_position(&key.to_le_bytes());
    let mut updates: Vec<StateUpdate> = (0u16..50)
        .map(|key| StateUpdate {
            position: position(key),
            value: Some(Bytes::from(vec![key as u8; 3]).into()),
        })
        .collect();
    updates.sort_by_key(|update| update.position);
    let store = stored_versions(&[updates]).expect("store");
    let stored = StoredStateTree::new(&store);
    let read = |key: u16| prove(&stored, 0, &position(key)).map(|(value, _)| value);
    assert_eq!(read(7).expect("read"), Some(Bytes::from(vec![7u8; 3])));
    // Rewritten: present, but not the value its leaf hashes.
    let mut batch = WriteBatch::new();
    batch.put(
        Column::StateValues,
        leaf_key(&position(7), 0).to_vec(),
        vec![1u8, 9, 9, 9],
    );
    store.commit(batch, Durability::Synced).expect("commit");
    let damaged = read(7);
    assert!(
        matches!(damaged, Err(StateTreeError::Corrupt { .. })),
        "{damaged:?}"
    );
    // Deleted: the leaf names a record the store does not hold.
    let mut batch = WriteBatch::new();
    batch.delete(Column::StateValues, leaf_key(&position(8), 0).to_vec());
    store.commit(batch, Durability::Synced).expect("commit");
    let missing = read(8);
    assert!(
        matches!(missing, Err(StateTreeError::MissingNode { .. })),
        "{missing:?}"
    );
    // The others still read.
    assert_eq!(read(9).expect("read"), Some(Bytes::from(vec![9u8; 3])));
}

#[test]
fn pruning_frees_stale_records() {
    let mut tree = MemoryStateTree::new();
    let keys: Vec<Hash> = (0u32..2_000)
        .map(|i| application_position(&i.to_le_bytes()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    for version in 0..10u64 {
        let updates: Vec<StateUpdate> = sorted
            .iter()
            .map(|key| StateUpdate {
                position: *key,
                value: Some(Bytes::from(version.to_le_bytes().to_vec()).into()),
            })
            .collect();
        tree.update(version, &updates).unwrap();
    }
    let before = (tree.node_count(), tree.value_record_count());
    tree.prune(9);
    let after = (tree.node_count(), tree.value_record_count());
    assert!(after.0 * 5 < before.0, "nodes {before:?} -> {after:?}");
    assert_eq!(after.1, 2_000, "one value record per live key remains");
}

#[test]
fn same_writes_on_one_and_two_threads() {
    let updates: Vec<StateUpdate> = {
        let mut keys: Vec<Hash> = (0u32..5_000)
            .map(|i| application_position(&i.to_le_bytes()))
            .collect();
        keys.sort();
        keys.into_iter()
            .map(|position| StateUpdate {
                position,
                value: Some(Bytes::from_static(b"v").into()),
            })
            .collect()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let tree = MemoryStateTree::new();
            let mut writes =
                ledger_core::state_tree::apply_updates(&tree, None, 0, &updates).unwrap();
            // The layers read a version's values by binary search.
            assert!(writes.values.is_sorted_by(|a, b| a.0 < b.0));
            writes.nodes.sort_by_key(|(key, _)| *key);
            writes
        })
    };
    assert_eq!(run(1), run(2));
}
