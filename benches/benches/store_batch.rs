#![allow(
    clippy::expect_used,
    reason = "benchmark inputs are built valid; a failure means a broken bench"
)]
//! Store hot paths on both backends, with plain RocksDB in the same run as
//! the peer: atomic batch commits (1k and 10k puts of 132 bytes across four
//! columns, synced write-ahead log), point reads with the block cache warm
//! and cold, `multi_get`, and prefix scans.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ledger_core::store::{Column, Durability, KeyRange, Store, StoreRead, WriteBatch};
use ledger_storage::{MemStore, RocksConfig, RocksStore};
use rand::{RngExt, SeedableRng};

/// Columns a benchmark batch spreads over.
const COLUMNS: [Column; 4] = [
    Column::StateNodes,
    Column::StateValues,
    Column::TxIndex,
    Column::Blocks,
];
/// Key bytes (a hash) and value bytes: 132 bytes per put, as in the issue.
const KEY_BYTES: usize = 32;
const VALUE_BYTES: usize = 100;
/// Entries preloaded for the read benchmarks.
const PRELOADED: usize = 200_000;
const SEED: u64 = 0x5707e;

fn random_entries(count: usize, rng: &mut rand::rngs::StdRng) -> Vec<(Column, Vec<u8>, Vec<u8>)> {
    (0..count)
        .map(|i| {
            let mut key = vec![0u8; KEY_BYTES];
            rng.fill(&mut key[..]);
            let mut value = vec![0u8; VALUE_BYTES];
            rng.fill(&mut value[..]);
            (COLUMNS[i % COLUMNS.len()], key, value)
        })
        .collect()
}

fn ledger_batch(entries: &[(Column, Vec<u8>, Vec<u8>)]) -> WriteBatch {
    let mut batch = WriteBatch::with_capacity(entries.len());
    for (column, key, value) in entries {
        batch.put(*column, key.clone(), value.clone());
    }
    batch
}

/// Plain RocksDB with default options and the same four column families.
fn raw_rocksdb(path: &std::path::Path) -> rocksdb::DB {
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.name()).collect();
    rocksdb::DB::open_cf(&options, path, names).expect("raw rocksdb")
}

fn raw_commit(db: &rocksdb::DB, entries: &[(Column, Vec<u8>, Vec<u8>)]) {
    let mut batch = rocksdb::WriteBatch::default();
    for (column, key, value) in entries {
        let cf = db.cf_handle(column.name()).expect("column family");
        batch.put_cf(cf, key, value);
    }
    let mut options = rocksdb::WriteOptions::default();
    options.set_sync(true);
    db.write_opt(batch, &options).expect("raw write");
}

fn commits(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    for size in [1_000usize, 10_000] {
        let mut group = c.benchmark_group(format!("store_commit_{size}"));
        group.throughput(Throughput::Elements(size as u64));
        group.sample_size(20);
        let dir = tempfile::tempdir().expect("temporary directory");
        let rocks = RocksStore::open(dir.path().join("ledger")).expect("open");
        let raw = raw_rocksdb(&dir.path().join("raw"));
        let mem = MemStore::new();
        group.bench_function("rocks_store", |b| {
            b.iter_batched(
                || ledger_batch(&random_entries(size, &mut rng)),
                |batch| rocks.commit(batch, Durability::Synced).expect("commit"),
                BatchSize::LargeInput,
            )
        });
        group.bench_function("raw_rocksdb", |b| {
            b.iter_batched(
                || random_entries(size, &mut rng),
                |entries| raw_commit(&raw, &entries),
                BatchSize::LargeInput,
            )
        });
        group.bench_function("mem_store", |b| {
            b.iter_batched(
                || ledger_batch(&random_entries(size, &mut rng)),
                |batch| mem.commit(batch, Durability::Synced).expect("commit"),
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

fn preload(store: &dyn Store, rng: &mut rand::rngs::StdRng) -> Vec<Vec<u8>> {
    let entries: Vec<_> = random_entries(PRELOADED, rng)
        .into_iter()
        .map(|(_, key, value)| (Column::StateNodes, key, value))
        .collect();
    for chunk in entries.chunks(10_000) {
        store
            .commit(ledger_batch(chunk), Durability::Buffered)
            .expect("preload");
    }
    entries.into_iter().map(|(_, key, _)| key).collect()
}

fn reads(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED + 1);
    let dir = tempfile::tempdir().expect("temporary directory");
    let warm = RocksStore::open(dir.path().join("warm")).expect("open");
    let keys = preload(&warm, &mut rng);
    warm.flush().expect("flush");
    // The cold store has a block cache too small to hold anything, so every
    // read goes to the table files (the OS page cache still helps).
    let cold_config = RocksConfig {
        block_cache_bytes: 1,
        ..RocksConfig::default()
    };
    let cold = RocksStore::open_with(dir.path().join("cold"), cold_config).expect("open");
    let mut rng_cold = rand::rngs::StdRng::seed_from_u64(SEED + 1);
    let cold_keys = preload(&cold, &mut rng_cold);
    cold.flush().expect("flush");
    let mem = MemStore::new();
    let mut rng_mem = rand::rngs::StdRng::seed_from_u64(SEED + 1);
    let mem_keys = preload(&mem, &mut rng_mem);

    let mut group = c.benchmark_group("store_reads");
    let mut pick = rand::rngs::StdRng::seed_from_u64(SEED + 2);
    for _ in 0..PRELOADED {
        let key = &keys[pick.random_range(0..keys.len())];
        warm.get(Column::StateNodes, key).expect("warm-up read");
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("get_rocks_warm", |b| {
        b.iter(|| warm.get(Column::StateNodes, &keys[pick.random_range(0..keys.len())]))
    });
    // The same reads through a trait object: the cost of `dyn Store`.
    let dynamic: &dyn Store = &warm;
    group.bench_function("get_rocks_warm_dyn", |b| {
        b.iter(|| dynamic.get(Column::StateNodes, &keys[pick.random_range(0..keys.len())]))
    });
    let mem_dynamic: &dyn Store = &mem;
    group.bench_function("get_mem_dyn", |b| {
        b.iter(|| {
            mem_dynamic.get(
                Column::StateNodes,
                &mem_keys[pick.random_range(0..mem_keys.len())],
            )
        })
    });
    group.bench_function("get_rocks_cold", |b| {
        b.iter(|| {
            cold.get(
                Column::StateNodes,
                &cold_keys[pick.random_range(0..cold_keys.len())],
            )
        })
    });
    group.bench_function("get_mem", |b| {
        b.iter(|| {
            mem.get(
                Column::StateNodes,
                &mem_keys[pick.random_range(0..mem_keys.len())],
            )
        })
    });
    group.throughput(Throughput::Elements(100));
    let sample: Vec<Vec<u8>> = (0..100).map(|i| keys[i * 997].clone()).collect();
    let refs: Vec<&[u8]> = sample.iter().map(Vec::as_slice).collect();
    group.bench_function("multi_get_100_rocks_warm", |b| {
        b.iter(|| {
            warm.multi_get(Column::StateNodes, &refs)
                .expect("multi_get")
        })
    });
    group.bench_function("get_100_one_by_one_rocks_warm", |b| {
        b.iter(|| {
            refs.iter()
                .map(|key| warm.get(Column::StateNodes, key).expect("get"))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("prefix_scan_rocks_warm", |b| {
        b.iter(|| {
            let prefix = [pick.random_range(0..=255u8), pick.random_range(0..=255u8)];
            warm.scan(Column::StateNodes, KeyRange::prefix(&prefix))
                .expect("scan")
                .count()
        })
    });
    group.bench_function("prefix_scan_mem", |b| {
        b.iter(|| {
            let prefix = [pick.random_range(0..=255u8), pick.random_range(0..=255u8)];
            mem.scan(Column::StateNodes, KeyRange::prefix(&prefix))
                .expect("scan")
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, commits, reads);
criterion_main!(benches);
