//! Opening a RocksDB store reports what a user can act on: a path that is
//! not a ledger, a store locked by another open, a schema version from
//! another build; and a reopened store still holds what was committed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use ledger_core::store::{Column, Durability, Store, StoreError, StoreRead, WriteBatch};
use ledger_storage::RocksStore;

#[test]
fn reopen_keeps_committed_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    {
        let store = RocksStore::open(&path).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(Column::Blocks, &b"height-1"[..], &b"block"[..]);
        store.commit(batch, Durability::Synced).unwrap();
    }
    let store = RocksStore::open(&path).unwrap();
    assert_eq!(
        store.get(Column::Blocks, b"height-1").unwrap().as_deref(),
        Some(&b"block"[..])
    );
}

#[test]
fn a_directory_of_other_files_is_not_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    assert!(matches!(
        RocksStore::open(dir.path()),
        Err(StoreError::NotALedger { .. })
    ));
}

#[test]
fn a_file_is_not_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"hello").unwrap();
    assert!(matches!(
        RocksStore::open(&file),
        Err(StoreError::NotALedger { .. })
    ));
}

#[test]
fn another_rocksdb_database_is_not_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        let db = rocksdb::DB::open(&options, dir.path()).unwrap();
        db.put(b"k", b"v").unwrap();
    }
    assert!(matches!(
        RocksStore::open(dir.path()),
        Err(StoreError::NotALedger { .. })
    ));
}

#[test]
fn a_second_open_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let _first = RocksStore::open(&path).unwrap();
    assert!(matches!(
        RocksStore::open(&path),
        Err(StoreError::Locked { .. })
    ));
}

#[test]
fn another_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    {
        let store = RocksStore::open(&path).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(
            Column::Meta,
            &b"schema-version"[..],
            99u32.to_le_bytes().to_vec(),
        );
        store.commit(batch, Durability::Synced).unwrap();
    }
    assert_eq!(
        RocksStore::open(&path).unwrap_err(),
        StoreError::SchemaMismatch {
            found: 99,
            expected: ledger_core::store::SCHEMA_VERSION
        }
    );
}

/// An I/O error is an I/O error, whatever words its message holds: the old
/// classification read "lock" in the text (so a store under a directory
/// named `blocks` that failed to open was reported as locked).
#[test]
fn an_io_error_whose_message_says_lock_is_not_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocklock");
    std::fs::create_dir(&path).unwrap();
    // A database whose manifest is gone: RocksDB fails with an I/O error
    // that names the path.
    std::fs::write(path.join("CURRENT"), b"MANIFEST-000001\n").unwrap();
    let error = RocksStore::open(&path).unwrap_err();
    assert!(
        matches!(&error, StoreError::Io { detail, .. } if detail.contains("lock")),
        "{error:?}"
    );
}

/// A creation interrupted before its rename leaves a temporary directory
/// that the next open removes, and the store appears complete.
#[test]
fn an_abandoned_creation_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let abandoned = dir.path().join(".ledger.creating-1-2");
    std::fs::create_dir(&abandoned).unwrap();
    std::fs::write(abandoned.join("CURRENT"), b"half").unwrap();
    let store = RocksStore::open(dir.path().join("ledger")).unwrap();
    assert!(!abandoned.exists());
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("ledger")]);
    drop(store);
    RocksStore::open(dir.path().join("ledger")).unwrap();
}

/// Blocks go to blob files (`RocksConfig::blob_files_for_blocks`): after a
/// flush a large block is in a `.blob` file, small ones stay inline, both
/// read back, also after a reopen; with the option off there is no blob
/// file.
#[test]
fn large_blocks_live_in_blob_files() {
    use ledger_storage::RocksConfig;
    let blob_files = |path: &std::path::Path| {
        std::fs::read_dir(path)
            .unwrap()
            .filter(|entry| {
                let name = entry.as_ref().unwrap().file_name();
                name.to_string_lossy().ends_with(".blob")
            })
            .count()
    };
    let large: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for on in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let config = RocksConfig {
            blob_files_for_blocks: on,
            ..RocksConfig::default()
        };
        {
            let store = RocksStore::open_with(&path, config.clone()).unwrap();
            let mut batch = WriteBatch::new();
            batch.put(Column::Blocks, &b"large"[..], large.clone());
            batch.put(Column::Blocks, &b"small"[..], &b"block"[..]);
            store.commit(batch, Durability::Synced).unwrap();
            store.flush().unwrap();
            assert_eq!(blob_files(&path) > 0, on, "blob files with the option {on}");
        }
        let store = RocksStore::open_with(&path, config).unwrap();
        assert_eq!(
            store.get(Column::Blocks, b"large").unwrap().as_deref(),
            Some(&large[..])
        );
        assert_eq!(
            store.get(Column::Blocks, b"small").unwrap().as_deref(),
            Some(&b"block"[..])
        );
    }
}
