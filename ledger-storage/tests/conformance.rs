//! The `Store` conformance suite against every backend: the in-memory
//! store, the fault-injecting store with no fault set (so that tests which
//! use it test a real store), and RocksDB (each check on a fresh store in
//! its own temporary directory, with both memtable settings).

use ledger_core::FaultyStore;
use ledger_storage::conformance::run_all;
use ledger_storage::{MemStore, RocksStore};

#[test]
fn mem_store_conforms() {
    run_all(MemStore::new);
}

#[test]
fn faulty_store_without_faults_conforms() {
    run_all(FaultyStore::default);
}

#[test]
fn rocks_store_conforms() {
    let mut dirs = Vec::new();
    run_all(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = RocksStore::open(dir.path().join("ledger")).expect("open");
        dirs.push(dir);
        store
    });
}

/// The same suite with the plain skiplist memtable on the transaction index
/// (the other setting of `RocksConfig::hashed_tx_index_memtable`).
#[test]
fn rocks_store_with_plain_memtables_conforms() {
    let mut dirs = Vec::new();
    run_all(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = ledger_storage::RocksConfig {
            hashed_tx_index_memtable: false,
            ..ledger_storage::RocksConfig::default()
        };
        let store = RocksStore::open_with(dir.path().join("ledger"), config).expect("open");
        dirs.push(dir);
        store
    });
}
