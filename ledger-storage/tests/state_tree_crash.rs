//! The state tree across crashes: a child process applies deterministic
//! versions of updates to a RocksDB store, committing each version's tree
//! writes and the version number in one batch; the parent SIGKILLs it at
//! random moments, reopens, and checks that the tree is exactly at the last
//! committed version (root equal to an in-memory reference, proofs valid,
//! nothing of the next version visible), then lets the next child continue.
//!
//! The seed is printed; rerun with `LEDGER_CRASH_SEED=<seed>`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use ledger_core::state_tree::{
    add_writes_to_batch, application_position, apply_updates, prove, verify_state_proof,
    MemoryStateTree, NodeKey, StateTreeReader, StateUpdate, StoredStateTree,
};
use ledger_core::store::{Column, Durability, Store, StoreRead, WriteBatch};
use ledger_storage::crash::{crash_seed, report_committed, run_child_and_kill};
use ledger_storage::RocksStore;
use rand::{RngExt, SeedableRng};

const CHILD_ENV: &str = "LEDGER_STATE_CRASH_CHILD_PATH";
const ROUNDS: usize = 20;
const VERSION_KEY: &[u8] = b"state-crash-version";

/// The updates of `version`: the same on every run.
fn updates_of(version: u64) -> Vec<StateUpdate> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(version);
    let mut updates: Vec<StateUpdate> = (0..300)
        .map(|_| {
            let key = rng.random_range(0..5_000u32);
            StateUpdate {
                position: application_position(&key.to_le_bytes()),
                value: (rng.random_range(0..5) != 0)
                    .then(|| Bytes::from(format!("v{version}-{key}")).into()),
            }
        })
        .collect();
    updates.sort_by_key(|u| u.position);
    updates.dedup_by_key(|u| u.position);
    updates
}

fn committed_version(store: &RocksStore) -> Option<u64> {
    store
        .get(Column::Meta, VERSION_KEY)
        .unwrap()
        .map(|bytes| u64::from_le_bytes(bytes[..].try_into().unwrap()))
}

fn run_child(path: &Path) -> ! {
    let store = RocksStore::open(path).expect("child opens the store");
    let mut base = committed_version(&store);
    loop {
        let version = base.map_or(0, |v| v + 1);
        let writes = apply_updates(
            &StoredStateTree::new(&store),
            base,
            version,
            &updates_of(version),
        )
        .expect("update");
        let mut batch = WriteBatch::new();
        add_writes_to_batch(&writes, &mut batch);
        batch.put(Column::Meta, VERSION_KEY, version.to_le_bytes().to_vec());
        store.commit(batch, Durability::Synced).expect("commit");
        report_committed(version);
        base = Some(version);
    }
}

/// Entry point of the child process (a no-op in a normal test run).
#[test]
fn state_child_process_entry() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        run_child(Path::new(&path));
    }
}

#[test]
fn killed_state_writer_reopens_at_last_committed_version() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(crash_seed());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    drop(RocksStore::open(&path).unwrap());
    let mut reference = MemoryStateTree::new();
    for round in 0..ROUNDS {
        let delay = Duration::from_millis(rng.random_range(30..300));
        let acknowledged =
            run_child_and_kill("state_child_process_entry", CHILD_ENV, &path, false, delay);

        let store = RocksStore::open(&path).unwrap();
        let Some(version) = committed_version(&store) else {
            assert!(acknowledged.is_none());
            continue;
        };
        assert!(
            acknowledged.is_none_or(|a| a <= version),
            "acknowledged version lost"
        );
        while reference.latest_version().is_none_or(|v| v < version) {
            let next = reference.latest_version().map_or(0, |v| v + 1);
            reference.update(next, &updates_of(next)).unwrap();
        }
        let tree = StoredStateTree::new(&store);
        let root = tree.node(&NodeKey::root(version)).unwrap().unwrap().hash();
        assert_eq!(
            root,
            reference.root_hash(version).unwrap(),
            "round {round} version {version}"
        );
        assert!(
            tree.node(&NodeKey::root(version + 1)).unwrap().is_none(),
            "a root of the uncommitted next version is visible"
        );
        for key in (0..50u32).map(|k| application_position(&k.to_le_bytes())) {
            let (value, proof) = prove(&tree, version, &key).unwrap();
            verify_state_proof(&root, &key, value.as_deref(), &proof).unwrap();
        }
        println!("round {round}: acknowledged {acknowledged:?}, store at version {version}");
    }
    assert!(
        reference.latest_version().is_some(),
        "the child never committed"
    );
}
