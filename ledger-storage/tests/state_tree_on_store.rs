//! The state tree kept in real stores (in memory and RocksDB) gives the same
//! roots as the in-memory tree over many versions of random updates, proves
//! values and absences at every retained version, and after pruning keeps
//! the retained versions whole while older ones report a missing node.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::collections::BTreeMap;

use bytes::Bytes;
use ledger_core::state_tree::{
    add_pruning_to_batch, add_writes_to_batch, application_position, apply_updates, prove,
    verify_state_proof, MemoryStateTree, StateTreeError, StateUpdate, StoredStateTree,
};
use ledger_core::store::{Durability, Store, WriteBatch};
use ledger_core::Hash;
use ledger_storage::{MemStore, RocksStore};
use rand::{RngExt, SeedableRng};

fn random_updates(rng: &mut rand::rngs::StdRng, keys: u32) -> Vec<StateUpdate> {
    let mut map = BTreeMap::new();
    for _ in 0..rng.random_range(1..200) {
        let key = application_position(&rng.random_range(0..keys).to_le_bytes());
        let value = if rng.random_range(0..4) == 0 {
            None
        } else {
            Some(Bytes::from(rng.random::<u64>().to_le_bytes().to_vec()))
        };
        map.insert(key, value);
    }
    map.into_iter()
        .map(|(position, value)| StateUpdate {
            position,
            value: value.map(Into::into),
        })
        .collect()
}

fn exercise(store: &dyn Store, seed: u64) {
    println!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut reference = MemoryStateTree::new();
    let mut roots = Vec::new();
    let versions = 30u64;
    for version in 0..versions {
        let updates = random_updates(&mut rng, 500);
        let base = version.checked_sub(1);
        let writes = apply_updates(&StoredStateTree::new(store), base, version, &updates).unwrap();
        let mut batch = WriteBatch::new();
        add_writes_to_batch(&writes, &mut batch);
        store.commit(batch, Durability::Synced).unwrap();
        let expected = reference.update(version, &updates).unwrap();
        assert_eq!(writes.root_hash, expected, "seed {seed} version {version}");
        roots.push(expected);
    }
    let reader = StoredStateTree::new(store);
    let probes: Vec<Hash> = (0..600u32)
        .map(|i| application_position(&i.to_le_bytes()))
        .collect();
    let check = |version: u64| {
        for key in &probes {
            let (value, proof) = prove(&reader, version, key).unwrap();
            let (expected, _) = reference.prove(version, key).unwrap();
            assert_eq!(value, expected, "seed {seed} version {version}");
            verify_state_proof(&roots[version as usize], key, value.as_deref(), &proof).unwrap();
        }
    };
    for version in [0, 7, versions - 1] {
        check(version);
    }
    let keep_from = versions - 5;
    let mut batch = WriteBatch::new();
    let deleted = add_pruning_to_batch(store, keep_from, &mut batch).unwrap();
    store.commit(batch, Durability::Synced).unwrap();
    assert!(deleted > 0);
    for version in keep_from..versions {
        check(version);
    }
    assert!(matches!(
        prove(&reader, 3, &probes[0]),
        Err(StateTreeError::MissingNode { .. })
    ));
}

#[test]
fn state_tree_on_mem_store_matches_reference() {
    exercise(&MemStore::new(), 11);
}

#[test]
fn state_tree_on_rocks_store_matches_reference() {
    let dir = tempfile::tempdir().unwrap();
    let store = RocksStore::open(dir.path().join("ledger")).unwrap();
    exercise(&store, 12);
}
