//! Storage faults while applying a block: a read that fails at any point
//! of a block's application (the n-th read, for every n the application
//! makes), or a failed commit, leaves the ledger at the previous height with
//! its store unchanged, is reported as the node's fault (not the block's),
//! and the next apply of the same block succeeds. Opening a store whose
//! reads fail gives a typed error at every n, never a panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use common::{app, apply_all, build_chain, config};
use ledger_core::store::{Fault, KeyRange};
use ledger_core::{Column, FaultyStore, Ledger, LedgerError, MemStore, StoreRead};

/// Every record of every column.
fn contents(store: &MemStore) -> Vec<(Column, bytes::Bytes, bytes::Bytes)> {
    Column::ALL
        .iter()
        .flat_map(|column| {
            store
                .scan(*column, KeyRange::all())
                .unwrap()
                .map(|entry| {
                    let (key, value) = entry.unwrap();
                    (*column, key, value)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn a_read_fault_at_every_point_of_an_apply_changes_nothing() {
    let (chain, proposer) = build_chain(MemStore::new(), 5, 17);
    let base = MemStore::new();
    let mut ledger = Ledger::open(base.clone(), app(), config()).unwrap();
    apply_all(&mut ledger, &chain[..4]);
    // The state in the store (not replayed into memory at open), so that
    // applying the next block reads it.
    ledger.checkpoint_state().unwrap();
    drop(ledger);
    let last = chain[4].clone();

    // How many reads a clean apply of the last block makes.
    let clean = FaultyStore::new(base.fork());
    let mut ledger = Ledger::open(clean, app(), config()).unwrap();
    ledger.store().fail_reads(Fault::Never);
    apply_all(&mut ledger, std::slice::from_ref(&last));
    let reads = ledger.store().reads();
    assert!(reads > 10, "a block should read the store ({reads} reads)");

    for n in 0..reads {
        let store = FaultyStore::new(base.fork());
        let before = contents(&store.contents());
        let mut ledger = Ledger::open(store, app(), config()).unwrap();
        let head = ledger.applied_head().copied();
        let verified = ledger.verify_block(last.clone()).unwrap();
        ledger.store().fail_reads(Fault::Once(n));
        let error = ledger.apply_block(verified).unwrap_err();
        assert!(!error.is_block_invalid(), "read {n}: {error:?}");
        assert_eq!(ledger.applied_head().copied(), head, "read {n}");
        assert_eq!(ledger.durable_head(), head, "read {n}");
        assert!(
            contents(&ledger.store().contents()) == before,
            "read {n} changed the store"
        );
        // The fault is gone: the same block applies, to the proposer's head.
        let verified = ledger.verify_block(last.clone()).unwrap();
        ledger.apply_block(verified).unwrap();
        assert_eq!(ledger.applied_head(), proposer.applied_head(), "read {n}");
    }
}

#[test]
fn a_failed_commit_changes_nothing_and_the_next_apply_succeeds() {
    let (chain, proposer) = build_chain(MemStore::new(), 3, 23);
    let mut ledger = Ledger::open(FaultyStore::default(), app(), config()).unwrap();
    apply_all(&mut ledger, &chain[..2]);
    let head = ledger.applied_head().copied();
    let before = contents(&ledger.store().contents());
    ledger.store().fail_commits(Fault::Once(0));
    let verified = ledger.verify_block(chain[2].clone()).unwrap();
    let error = ledger.apply_block(verified).unwrap_err();
    assert!(matches!(error, LedgerError::Store(_)), "{error:?}");
    assert!(!error.is_block_invalid());
    assert_eq!(ledger.applied_head().copied(), head);
    assert!(contents(&ledger.store().contents()) == before);
    let verified = ledger.verify_block(chain[2].clone()).unwrap();
    ledger.apply_block(verified).unwrap();
    assert_eq!(ledger.applied_head(), proposer.applied_head());
}

#[test]
fn opening_a_store_whose_reads_fail_gives_a_typed_error_at_every_read() {
    let (_, proposer) = build_chain(MemStore::new(), 4, 29);
    let reads = Ledger::open(FaultyStore::new(proposer.store().fork()), app(), config())
        .unwrap()
        .store()
        .reads();
    assert!(reads > 3, "{reads} reads");
    for n in 0..reads {
        let faulty = FaultyStore::new(proposer.store().fork());
        faulty.fail_reads(Fault::Once(n));
        let error = Ledger::open(faulty, app(), config()).unwrap_err();
        assert!(!error.is_block_invalid(), "read {n}: {error:?}");
    }
}
