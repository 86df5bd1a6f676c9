//! The `Store` conformance suite against both backends: the in-memory store
//! and RocksDB (each check on a fresh store in its own temporary directory).

use ledger_storage::conformance::run_all;
use ledger_storage::{MemStore, RocksStore};

#[test]
fn mem_store_conforms() {
    run_all(MemStore::new);
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
