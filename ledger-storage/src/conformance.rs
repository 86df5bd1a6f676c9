//! The `Store` conformance suite: every backend must pass it. Downstream
//! projects enable the `testing` feature and call [`run_all`] with a function
//! that opens a fresh, empty store of theirs.
//!
//! Each check panics with a message naming what broke; [`run_all`] names the
//! check. The model-based check compares random batches against a
//! `BTreeMap` per column and prints its seed on failure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a conformance failure is a panic"
)]

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;
use ledger_core::store::{Column, Durability, KeyRange, Store, StoreRead, WriteBatch};

/// A named check of the suite.
pub type Check = (&'static str, fn(&dyn Store));

/// Every check, in order.
pub const CHECKS: &[Check] = &[
    ("point_reads_and_deletes", point_reads_and_deletes),
    ("columns_are_independent", columns_are_independent),
    ("batch_applies_in_order", batch_applies_in_order),
    ("multi_get_keeps_order", multi_get_keeps_order),
    (
        "scans_are_ordered_and_bounded",
        scans_are_ordered_and_bounded,
    ),
    (
        "last_at_or_before_respects_prefix",
        last_at_or_before_respects_prefix,
    ),
    (
        "snapshots_do_not_see_later_commits",
        snapshots_do_not_see_later_commits,
    ),
    ("empty_and_large_values", empty_and_large_values),
    (
        "concurrent_readers_see_whole_batches",
        concurrent_readers_see_whole_batches,
    ),
    (
        "matches_model_under_random_batches",
        matches_model_under_random_batches,
    ),
];

/// Runs every check, each against a fresh store from `open`.
pub fn run_all<S: Store>(mut open: impl FnMut() -> S) {
    for (name, check) in CHECKS {
        let store = open();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&store)));
        if let Err(panic) = result {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("store conformance check `{name}` failed: {message}");
        }
    }
}

fn commit(store: &dyn Store, batch: WriteBatch) {
    store.commit(batch, Durability::Synced).expect("commit");
}

fn b(bytes: impl AsRef<[u8]>) -> Bytes {
    Bytes::copy_from_slice(bytes.as_ref())
}

fn collect(store: &dyn StoreRead, column: Column, range: KeyRange) -> Vec<(Bytes, Bytes)> {
    store
        .scan(column, range)
        .expect("scan")
        .collect::<Result<Vec<_>, _>>()
        .expect("scan item")
}

/// Puts, overwrites and deletes are visible to `get`.
pub fn point_reads_and_deletes(store: &dyn Store) {
    assert_eq!(store.get(Column::Blocks, b"k").unwrap(), None);
    let mut batch = WriteBatch::new();
    batch.put(Column::Blocks, b("k"), b("v1"));
    commit(store, batch);
    assert_eq!(store.get(Column::Blocks, b"k").unwrap(), Some(b(b"v1")));
    let mut batch = WriteBatch::new();
    batch.put(Column::Blocks, b("k"), b("v2"));
    commit(store, batch);
    assert_eq!(store.get(Column::Blocks, b"k").unwrap(), Some(b(b"v2")));
    let mut batch = WriteBatch::new();
    batch.delete(Column::Blocks, b("k"));
    batch.delete(Column::Blocks, b("never-there"));
    commit(store, batch);
    assert_eq!(store.get(Column::Blocks, b"k").unwrap(), None);
}

/// The same key in two columns holds two values.
pub fn columns_are_independent(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    for (i, column) in Column::ALL.iter().enumerate() {
        batch.put(*column, b("shared"), Bytes::from(vec![i as u8]));
    }
    commit(store, batch);
    for (i, column) in Column::ALL.iter().enumerate() {
        assert_eq!(
            store.get(*column, b"shared").unwrap(),
            Some(Bytes::from(vec![i as u8])),
            "column {column}"
        );
    }
}

/// Within a batch, a later write to the same key wins.
pub fn batch_applies_in_order(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    batch.put(Column::TxIndex, b("a"), b("1"));
    batch.delete(Column::TxIndex, b("a"));
    batch.put(Column::TxIndex, b("b"), b("1"));
    batch.put(Column::TxIndex, b("b"), b("2"));
    batch.delete(Column::TxIndex, b("c"));
    batch.put(Column::TxIndex, b("c"), b("3"));
    commit(store, batch);
    assert_eq!(store.get(Column::TxIndex, b"a").unwrap(), None);
    assert_eq!(store.get(Column::TxIndex, b"b").unwrap(), Some(b(b"2")));
    assert_eq!(store.get(Column::TxIndex, b"c").unwrap(), Some(b(b"3")));
}

/// `multi_get` answers in the order asked, with `None` for absent keys.
pub fn multi_get_keeps_order(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    for i in 0u8..20 {
        batch.put(Column::StateNodes, vec![i], vec![i, i]);
    }
    commit(store, batch);
    let keys: Vec<Vec<u8>> = vec![vec![7], vec![200], vec![0], vec![19], vec![7]];
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let got = store.multi_get(Column::StateNodes, &refs).unwrap();
    assert_eq!(
        got,
        vec![
            Some(b([7, 7])),
            None,
            Some(b([0, 0])),
            Some(b([19, 19])),
            Some(b([7, 7]))
        ]
    );
    assert_eq!(store.multi_get(Column::StateNodes, &[]).unwrap(), vec![]);
}

/// Scans return keys in byte order, honour inclusive and exclusive bounds
/// and prefixes (also prefixes ending in 0xff), and stop at their end.
pub fn scans_are_ordered_and_bounded(store: &dyn Store) {
    let keys: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![1],
        vec![1, 0],
        vec![1, 0xff],
        vec![1, 0xff, 0],
        vec![2],
        vec![0xff],
        vec![0xff, 0xff],
    ];
    let mut batch = WriteBatch::new();
    // Written in reverse to show that order comes from the store.
    for key in keys.iter().rev() {
        batch.put(Column::History, key.clone(), key.clone());
    }
    commit(store, batch);
    let all: Vec<Vec<u8>> = collect(store, Column::History, KeyRange::all())
        .into_iter()
        .map(|(k, _)| k.to_vec())
        .collect();
    assert_eq!(all, keys);
    let prefix = |p: &[u8]| -> Vec<Vec<u8>> {
        collect(store, Column::History, KeyRange::prefix(p))
            .into_iter()
            .map(|(k, _)| k.to_vec())
            .collect()
    };
    assert_eq!(
        prefix(&[1]),
        vec![vec![1], vec![1, 0], vec![1, 0xff], vec![1, 0xff, 0]]
    );
    assert_eq!(prefix(&[1, 0xff]), vec![vec![1, 0xff], vec![1, 0xff, 0]]);
    assert_eq!(prefix(&[0xff]), vec![vec![0xff], vec![0xff, 0xff]]);
    assert_eq!(prefix(&[3]), Vec::<Vec<u8>>::new());
    let between: Vec<Vec<u8>> = collect(
        store,
        Column::History,
        KeyRange::between(vec![1, 0], vec![2]),
    )
    .into_iter()
    .map(|(k, _)| k.to_vec())
    .collect();
    assert_eq!(between, vec![vec![1, 0], vec![1, 0xff], vec![1, 0xff, 0]]);
    let odd = KeyRange {
        start: Bound::Excluded(b([1])),
        end: Bound::Included(b([2])),
    };
    let odd: Vec<Vec<u8>> = collect(store, Column::History, odd)
        .into_iter()
        .map(|(k, _)| k.to_vec())
        .collect();
    assert_eq!(
        odd,
        vec![vec![1, 0], vec![1, 0xff], vec![1, 0xff, 0], vec![2]]
    );
    let empty = KeyRange::between(vec![2], vec![1]);
    assert!(collect(store, Column::History, empty).is_empty());
}

/// `last_at_or_before` finds the newest version at or before a key, and
/// never answers with a key of another prefix.
pub fn last_at_or_before_respects_prefix(store: &dyn Store) {
    let record = |id: u8, version: u64| -> Vec<u8> {
        let mut key = vec![id; 32];
        key.extend_from_slice(&version.to_be_bytes());
        key
    };
    let mut batch = WriteBatch::new();
    for (id, version) in [(1u8, 5u64), (1, 9), (2, 3), (3, 0)] {
        batch.put(
            Column::StateValues,
            record(id, version),
            vec![id, version as u8],
        );
    }
    commit(store, batch);
    let lookup = |id: u8, version: u64| {
        store
            .last_at_or_before(Column::StateValues, &[id; 32], &record(id, version))
            .unwrap()
            .map(|(_, v)| v.to_vec())
    };
    assert_eq!(lookup(1, 4), None, "nothing of id 1 at or before version 4");
    assert_eq!(lookup(1, 5), Some(vec![1, 5]));
    assert_eq!(lookup(1, 8), Some(vec![1, 5]));
    assert_eq!(lookup(1, u64::MAX), Some(vec![1, 9]));
    assert_eq!(
        lookup(2, 2),
        None,
        "id 1's records must not answer for id 2"
    );
    assert_eq!(lookup(2, 100), Some(vec![2, 3]));
    assert_eq!(lookup(3, 0), Some(vec![3, 0]));
    assert_eq!(lookup(4, u64::MAX), None);
}

/// A snapshot keeps answering as of when it was taken.
pub fn snapshots_do_not_see_later_commits(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    batch.put(Column::Meta, b("a"), b("old"));
    batch.put(Column::Meta, b("b"), b("old"));
    commit(store, batch);
    let snapshot = store.snapshot();
    let mut batch = WriteBatch::new();
    batch.put(Column::Meta, b("a"), b("new"));
    batch.delete(Column::Meta, b("b"));
    batch.put(Column::Meta, b("c"), b("new"));
    commit(store, batch);
    assert_eq!(snapshot.get(Column::Meta, b"a").unwrap(), Some(b(b"old")));
    assert_eq!(snapshot.get(Column::Meta, b"b").unwrap(), Some(b(b"old")));
    assert_eq!(snapshot.get(Column::Meta, b"c").unwrap(), None);
    assert_eq!(
        snapshot.multi_get(Column::Meta, &[b"a", b"c"]).unwrap(),
        vec![Some(b(b"old")), None]
    );
    let keys: Vec<Bytes> = collect(&*snapshot, Column::Meta, KeyRange::prefix(b""))
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| [&b"a"[..], b"b", b"c"].contains(&&k[..]))
        .collect();
    assert_eq!(keys, vec![b(b"a"), b(b"b")]);
    assert_eq!(store.get(Column::Meta, b"a").unwrap(), Some(b(b"new")));
    assert_eq!(store.get(Column::Meta, b"b").unwrap(), None);
}

/// Empty values are values (not deletions); large values survive intact.
pub fn empty_and_large_values(store: &dyn Store) {
    let large: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut batch = WriteBatch::new();
    batch.put(Column::Receipts, b("empty"), Bytes::new());
    batch.put(Column::Blocks, b("large"), large.clone());
    commit(store, batch);
    assert_eq!(
        store.get(Column::Receipts, b"empty").unwrap(),
        Some(Bytes::new())
    );
    assert_eq!(
        store
            .get(Column::Blocks, b"large")
            .unwrap()
            .unwrap()
            .to_vec(),
        large
    );
}

/// Readers running while batches commit never see half of a batch.
pub fn concurrent_readers_see_whole_batches(store: &dyn Store) {
    let rounds = 200u32;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for round in 1..=rounds {
                let mut batch = WriteBatch::new();
                batch.put(Column::Meta, b("left"), round.to_le_bytes().to_vec());
                batch.put(Column::BlockIds, b("right"), round.to_le_bytes().to_vec());
                store.commit(batch, Durability::Buffered).expect("commit");
            }
        });
        scope.spawn(|| loop {
            let snapshot = store.snapshot();
            let left = snapshot.get(Column::Meta, b"left").unwrap();
            let right = snapshot.get(Column::BlockIds, b"right").unwrap();
            assert_eq!(left, right, "a snapshot saw half of a batch");
            if left.as_deref() == Some(&rounds.to_le_bytes()[..]) {
                break;
            }
        });
    });
}

/// Random batches of puts and deletes over three columns, compared after
/// every batch with a `BTreeMap` per column through every read method.
pub fn matches_model_under_random_batches(store: &dyn Store) {
    let seed = std::env::var("LEDGER_STORE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_u64);
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let columns = [Column::StateNodes, Column::StateValues, Column::TxIndex];
    let mut model: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = vec![BTreeMap::new(); columns.len()];
    for round in 0..60 {
        let mut batch = WriteBatch::new();
        for _ in 0..(next() % 40) {
            let c = (next() % 3) as usize;
            let key_len = 1 + (next() % 3) as usize;
            let key: Vec<u8> = (0..key_len).map(|_| (next() % 6) as u8).collect();
            if next() % 4 == 0 {
                batch.delete(columns[c], key.clone());
                model[c].remove(&key);
            } else {
                let value: Vec<u8> = (0..(next() % 5)).map(|_| next() as u8).collect();
                batch.put(columns[c], key.clone(), value.clone());
                model[c].insert(key, value);
            }
        }
        commit(store, batch);
        for (c, column) in columns.iter().enumerate() {
            let stored: Vec<(Vec<u8>, Vec<u8>)> = collect(store, *column, KeyRange::all())
                .into_iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
            let expected: Vec<(Vec<u8>, Vec<u8>)> = model[c]
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(
                stored, expected,
                "seed {seed}, round {round}, column {column}"
            );
            for probe in 0..6u8 {
                let prefix = [probe];
                let key = [probe, (next() % 6) as u8];
                let expected = model[c]
                    .range(..=key.to_vec())
                    .next_back()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| v.clone());
                let got = store
                    .last_at_or_before(*column, &prefix, &key)
                    .unwrap()
                    .map(|(_, v)| v.to_vec());
                assert_eq!(
                    got, expected,
                    "seed {seed}, round {round}, last_at_or_before {key:?}"
                );
                assert_eq!(
                    store.get(*column, &key).unwrap().map(|v| v.to_vec()),
                    model[c].get(&key[..]).cloned(),
                    "seed {seed}, round {round}, get {key:?}"
                );
            }
        }
    }
}
