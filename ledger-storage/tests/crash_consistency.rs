//! Crash safety of `RocksStore`, with real processes: a child process
//! commits numbered batches (each spanning several columns) in a loop and
//! reports each commit that returned; the parent kills it with SIGKILL at a
//! random moment, reopens the store, and checks that every acknowledged
//! batch is present in full and that no batch is partly present. Repeated
//! for many rounds on the same store, so recovery also survives recovery.
//!
//! The seed is printed; rerun a failure with `LEDGER_CRASH_SEED=<seed>`.
//! The process harness is `ledger_storage::crash`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::path::Path;
use std::time::Duration;

use ledger_core::store::{Column, Durability, Store, StoreRead, WriteBatch};
use ledger_storage::crash::{crash_seed, report_committed, run_child_and_kill};
use ledger_storage::RocksStore;
use rand::{RngExt, SeedableRng};

const CHILD_ENV: &str = "LEDGER_CRASH_CHILD_PATH";
const ROUNDS: usize = 24;
/// Columns each batch writes to.
const COLUMNS: [Column; 5] = [
    Column::Blocks,
    Column::TxIndex,
    Column::StateNodes,
    Column::StateValues,
    Column::History,
];

fn batch_key(n: u64, part: usize) -> Vec<u8> {
    format!("batch-{n:010}-part-{part}").into_bytes()
}

fn batch_value(n: u64, part: usize) -> Vec<u8> {
    // Sizes vary so that batches straddle write-buffer and log boundaries.
    let len = 64 + ((n as usize * 7919 + part * 104_729) % 4096);
    let mut value = vec![(n % 251) as u8; len];
    value[..8].copy_from_slice(&n.to_le_bytes());
    value
}

fn last_committed(store: &RocksStore) -> u64 {
    store
        .get(Column::Meta, b"crash-test-last")
        .unwrap()
        .map(|bytes| u64::from_le_bytes(bytes[..].try_into().unwrap()))
        .unwrap_or(0)
}

/// Child mode: commit batches forever, printing each acknowledged number.
fn run_child(path: &Path) -> ! {
    let store = RocksStore::open(path).expect("child opens the store");
    let mut n = last_committed(&store);
    loop {
        n += 1;
        let mut batch = WriteBatch::new();
        for (part, column) in COLUMNS.iter().enumerate() {
            batch.put(*column, batch_key(n, part), batch_value(n, part));
        }
        batch.put(
            Column::Meta,
            &b"crash-test-last"[..],
            n.to_le_bytes().to_vec(),
        );
        store
            .commit(batch, Durability::Synced)
            .expect("child commit");
        report_committed(n);
    }
}

/// Entry point of the child process (a no-op in a normal test run).
#[test]
fn child_process_entry() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        run_child(Path::new(&path));
    }
}

fn check_store(path: &Path, acknowledged: u64) -> u64 {
    let store = RocksStore::open(path).expect("reopen after kill");
    let last = last_committed(&store);
    assert!(
        last >= acknowledged,
        "batch {acknowledged} was acknowledged but the store ends at {last}"
    );
    // Every batch up to `last` is whole; the one after it is wholly absent.
    for n in 1..=last + 1 {
        let present: Vec<bool> = COLUMNS
            .iter()
            .enumerate()
            .map(
                |(part, column)| match store.get(*column, &batch_key(n, part)).unwrap() {
                    Some(value) => {
                        assert_eq!(
                            value.to_vec(),
                            batch_value(n, part),
                            "batch {n} part {part} damaged"
                        );
                        true
                    }
                    None => false,
                },
            )
            .collect();
        if n <= last {
            assert!(
                present.iter().all(|p| *p),
                "batch {n} is partly missing: {present:?}"
            );
        } else {
            assert!(
                present.iter().all(|p| !*p),
                "batch {n} is partly present: {present:?}"
            );
        }
    }
    last
}

#[test]
fn killed_writer_never_loses_or_tears_a_batch() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(crash_seed());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    drop(RocksStore::open(&path).unwrap());
    let mut total = 0;
    for round in 0..ROUNDS {
        let delay = Duration::from_millis(rng.random_range(30..400));
        let acknowledged =
            run_child_and_kill("child_process_entry", CHILD_ENV, &path, false, delay).unwrap_or(0);
        let last = check_store(&path, acknowledged);
        println!("round {round}: acknowledged {acknowledged}, store holds {last}");
        total = last;
    }
    assert!(
        total > 0,
        "the child never committed: the test tested nothing"
    );
}
