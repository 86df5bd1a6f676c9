#![allow(
    clippy::expect_used,
    reason = "benchmark inputs are built valid; a failure means a broken bench"
)]
//! State tree: a batch of 10,000 random updates into trees of 100k and 1M
//! keys, proof generation and verification; side by side in the same run with
//! the `jmt` crate (Jellyfish Merkle Tree, sha256, its in-memory mock store)
//! on the same workload. Both compute the new version's nodes against a fixed
//! base version, so every iteration does the same work.
//!
//! The second group does the same on RocksDB, committing every version
//! (synced write-ahead log) and advancing versions from one iteration to the
//! next: ours through `StoredStateTree` and a `NodeCache`, `jmt` through a
//! small adapter over the same `RocksStore`. `ledger_checkpoint_cycle_32x10k`
//! is ours as the engine runs it since issue 14: versions held in memory
//! (`StateLayers`) and written every `DEFAULT_CHECKPOINT_BLOCKS` (32)
//! versions as one merged, synced checkpoint; one iteration is such a
//! cycle, so its throughput is the rate amortised over checkpoints. As in
//! the engine, reads go to the layers first, then to the node cache, which
//! receives each checkpoint's nodes once it is committed.
//! `ledger_checkpoint_background_32x10k` is the same with the checkpoint on
//! a thread of its own while the next versions are computed, like the
//! engine's checkpointer: one in flight at a time, started at 32 versions
//! held (the engine also starts one after 2 s or at a quarter of its memory
//! budget), the versions held bounded by the engine's default budget. It
//! runs on the store the sequential cycle grew, and a sample's timer does
//! not wait for the checkpoint in flight (its cost falls in the next one).
//!
//! `ledger_prove_1k` proves 1,000 keys at the stored version through the
//! node cache, reading each leaf's value record by key;
//! `ledger_prove_1k_values_searched` does the same with the value found
//! by a seek among the position's records, as proofs read it before.
//!
//! Set `LEDGER_BENCH_STATE_KEYS=100000` to skip the 1M-key trees.
//!
//! Both trees allocate through mimalloc, tuned as the project's binaries
//! tune it (`ledger_alloc`; docs/PERFORMANCE.md, "Allocator"): with glibc's
//! malloc a fifth to a half of an update is spent allocating and freeing
//! nodes, and with mimalloc's default purge delay a quarter of a checkpoint
//! cycle went to the kernel zeroing pages mimalloc had returned.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use jmt::mock::MockTreeStore;
use jmt::{KeyHash, Sha256Jmt};
use ledger_core::state_tree::{
    add_delta_to_batch, add_writes_to_batch, application_position, apply_updates, merge_versions,
    prove, verify_state_proof, MemoryStateTree, Node, NodeCache, NodeKey, StateLayers,
    StateTreeError, StateTreeReader, StateTreeWrites, StateUpdate, StoredStateTree,
};
use ledger_core::store::{Column, Durability, Store, StoreRead, WriteBatch};
use ledger_core::Hash;
use ledger_storage::RocksStore;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: ledger_alloc::MiMalloc = ledger_alloc::MiMalloc;

/// Updates per batch: one block's writes at the end-to-end target.
const BATCH_UPDATES: usize = 10_000;
/// Value bytes (an account record of the `transfers` workload).
const VALUE_BYTES: usize = 40;
/// Seed of the update positions.
const SEED: u64 = 0x5eed;

fn tree_sizes() -> Vec<u32> {
    match std::env::var("LEDGER_BENCH_STATE_KEYS") {
        Ok(size) => vec![size.parse().expect("LEDGER_BENCH_STATE_KEYS is a number")],
        Err(_) => vec![100_000, 1_000_000],
    }
}

fn positions(count: u32) -> Vec<Hash> {
    (0..count)
        .map(|i| application_position(&i.to_le_bytes()))
        .collect()
}

/// `BATCH_UPDATES` distinct random existing keys, sorted, with new values.
fn batch(size: u32) -> Vec<StateUpdate> {
    batch_with_seed(size, SEED)
}

fn batch_with_seed(size: u32, seed: u64) -> Vec<StateUpdate> {
    let mut state = seed;
    let mut updates: Vec<StateUpdate> = (0..BATCH_UPDATES * 11 / 10)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let index = (state >> 33) as u32 % size;
            StateUpdate {
                position: application_position(&index.to_le_bytes()),
                value: Some(Bytes::from(vec![0xab; VALUE_BYTES]).into()),
            }
        })
        .collect();
    updates.sort_by_key(|update| update.position);
    updates.dedup_by_key(|update| update.position);
    updates.truncate(BATCH_UPDATES);
    updates
}

fn state_tree(c: &mut Criterion) {
    ledger_alloc::tune();
    for size in tree_sizes() {
        let keys = {
            let mut keys = positions(size);
            keys.sort();
            keys
        };
        let updates = batch(size);
        let mut group = c.benchmark_group(format!("state_tree_{size}_keys"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(updates.len() as u64));

        // Ours.
        let mut tree = MemoryStateTree::new();
        let genesis: Vec<StateUpdate> = keys
            .iter()
            .map(|key| StateUpdate {
                position: *key,
                value: Some(Bytes::from(vec![0u8; VALUE_BYTES]).into()),
            })
            .collect();
        tree.update(0, &genesis).expect("genesis");
        group.bench_function("ledger_update_10k", |b| {
            b.iter(|| apply_updates(&tree, Some(0), 1, &updates).expect("update"))
        });

        // jmt on the same keys and values.
        let store = MockTreeStore::default();
        let jmt_tree = Sha256Jmt::new(&store);
        let jmt_genesis: Vec<(KeyHash, Option<Vec<u8>>)> = keys
            .iter()
            .map(|key| (KeyHash(key.0), Some(vec![0u8; VALUE_BYTES])))
            .collect();
        let (_, genesis_batch) = jmt_tree.put_value_set(jmt_genesis, 0).expect("jmt genesis");
        store
            .write_tree_update_batch(genesis_batch)
            .expect("jmt write");
        let jmt_updates: Vec<(KeyHash, Option<Vec<u8>>)> = updates
            .iter()
            .map(|update| {
                (
                    KeyHash(update.position.0),
                    update.value.as_ref().map(|v| v.to_vec()),
                )
            })
            .collect();
        group.bench_function("jmt_update_10k", |b| {
            b.iter_batched(
                || jmt_updates.clone(),
                |set| jmt_tree.put_value_set(set, 1).expect("jmt update"),
                BatchSize::LargeInput,
            )
        });

        // Proofs, one key at a time.
        group.throughput(Throughput::Elements(1));
        let probe = keys[keys.len() / 3];
        let root = tree.root_hash(0).expect("root");
        group.bench_function("ledger_prove", |b| {
            b.iter(|| tree.prove(0, &probe).expect("prove"))
        });
        let (value, proof) = tree.prove(0, &probe).expect("prove");
        let value = value.expect("present");
        group.bench_function("ledger_verify", |b| {
            b.iter(|| verify_state_proof(&root, &probe, Some(&value), &proof).expect("valid"))
        });
        println!(
            "ledger proof for a {size}-key tree: {} siblings, {} bytes",
            proof.depth(),
            proof.encode().len()
        );
        group.bench_function("jmt_prove", |b| {
            b.iter(|| {
                jmt_tree
                    .get_with_proof(KeyHash(probe.0), 0)
                    .expect("jmt prove")
            })
        });
        group.finish();
    }
}

/// `jmt` over a `RocksStore`: nodes and values in the same columns ours use,
/// encoded with borsh as `jmt` defines them.
struct JmtOnRocks<'a> {
    store: &'a RocksStore,
}

impl jmt::storage::TreeReader for JmtOnRocks<'_> {
    fn get_node_option(
        &self,
        node_key: &jmt::storage::NodeKey,
    ) -> anyhow::Result<Option<jmt::storage::Node>> {
        let key = borsh::to_vec(node_key)?;
        match self.store.get(Column::StateNodes, &key)? {
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn get_value_option(
        &self,
        max_version: u64,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        let mut key = key_hash.0.to_vec();
        key.extend_from_slice(&max_version.to_be_bytes());
        match self
            .store
            .last_at_or_before(Column::StateValues, &key_hash.0, &key)?
        {
            Some((_, bytes)) => Ok(borsh::from_slice::<Option<Vec<u8>>>(&bytes)?),
            None => Ok(None),
        }
    }

    fn get_rightmost_leaf(
        &self,
    ) -> anyhow::Result<Option<(jmt::storage::NodeKey, jmt::storage::LeafNode)>> {
        Ok(None)
    }
}

fn jmt_commit(store: &RocksStore, update: &jmt::storage::TreeUpdateBatch) {
    let mut batch = WriteBatch::new();
    for (key, node) in update.node_batch.nodes() {
        batch.put(
            Column::StateNodes,
            borsh::to_vec(key).expect("borsh"),
            borsh::to_vec(node).expect("borsh"),
        );
    }
    for ((version, key_hash), value) in update.node_batch.values() {
        let mut key = key_hash.0.to_vec();
        key.extend_from_slice(&version.to_be_bytes());
        batch.put(
            Column::StateValues,
            key,
            borsh::to_vec(value).expect("borsh"),
        );
    }
    store.commit(batch, Durability::Synced).expect("jmt commit");
}

/// Distinct update batches cycled through by the RocksDB benchmarks, so that
/// successive versions do not repeat one batch.
const ROCKS_BATCHES: u64 = 16;

fn state_tree_on_rocks(c: &mut Criterion) {
    ledger_alloc::tune();
    for size in tree_sizes() {
        let keys = {
            let mut keys = positions(size);
            keys.sort();
            keys
        };
        let batches: Vec<Vec<StateUpdate>> = (0..ROCKS_BATCHES)
            .map(|i| batch_with_seed(size, SEED + 1 + i))
            .collect();
        let mut group = c.benchmark_group(format!("state_tree_rocks_{size}_keys"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(BATCH_UPDATES as u64));

        // Ours, committing each version.
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = RocksStore::open(dir.path().join("ours")).expect("open");
        let genesis: Vec<StateUpdate> = keys
            .iter()
            .map(|key| StateUpdate {
                position: *key,
                value: Some(Bytes::from(vec![0u8; VALUE_BYTES]).into()),
            })
            .collect();
        let cache = NodeCache::default();
        let writes =
            apply_updates(&StoredStateTree::new(&store), None, 0, &genesis).expect("genesis");
        let mut batch = WriteBatch::new();
        add_writes_to_batch(&writes, &mut batch);
        store
            .commit(batch, Durability::Synced)
            .expect("genesis commit");
        cache.insert_writes(&writes);
        drop(writes);
        let mut version = 0u64;
        group.bench_function("ledger_update_and_commit_10k", |b| {
            b.iter_custom(|iterations| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iterations {
                    let updates = &batches[(version % ROCKS_BATCHES) as usize];
                    let start = Instant::now();
                    let stored = StoredStateTree::new(&store);
                    let writes =
                        apply_updates(&cache.reader(&stored), Some(version), version + 1, updates)
                            .expect("update");
                    let mut batch = WriteBatch::new();
                    add_writes_to_batch(&writes, &mut batch);
                    store.commit(batch, Durability::Synced).expect("commit");
                    cache.insert_writes(&writes);
                    elapsed += start.elapsed();
                    version += 1;
                }
                elapsed
            })
        });
        // Ours, as the engine runs: versions in memory, merged checkpoints.
        let checkpointed = RocksStore::open(dir.path().join("ours_checkpointed")).expect("open");
        let checkpoint_cache = NodeCache::default();
        let writes = apply_updates(&StoredStateTree::new(&checkpointed), None, 0, &genesis)
            .expect("genesis");
        let mut batch = WriteBatch::new();
        add_writes_to_batch(&writes, &mut batch);
        checkpointed
            .commit(batch, Durability::Synced)
            .expect("genesis commit");
        checkpoint_cache.insert_writes(&writes);
        drop(writes);
        let mut layers = StateLayers::new();
        let mut checkpoint = Some(0u64);
        let mut layered_version = 0u64;
        // One iteration is a whole cycle: `DEFAULT_CHECKPOINT_BLOCKS`
        // versions and the checkpoint that ends it, so that every sample
        // holds the same share of checkpoint work (a sample of single
        // versions holds a checkpoint or not, and the spread hides the
        // figure). Flat sampling: one cycle per sample.
        let cycle = ledger_core::DEFAULT_CHECKPOINT_BLOCKS;
        group.throughput(Throughput::Elements(BATCH_UPDATES as u64 * cycle));
        group.sampling_mode(SamplingMode::Flat);
        // Ten cycles of about 32 × 0.2 s at 1M keys, 32 × 0.05 s at 100k.
        let seconds = if size >= 1_000_000 { 80 } else { 20 };
        group.measurement_time(Duration::from_secs(seconds));
        group.bench_function(format!("ledger_checkpoint_cycle_{cycle}x10k"), |b| {
            b.iter_custom(|iterations| {
                let start = Instant::now();
                for _ in 0..iterations * cycle {
                    let updates = &batches[(layered_version % ROCKS_BATCHES) as usize];
                    let next = layered_version + 1;
                    hold_next_version(
                        &mut layers,
                        &checkpointed,
                        &checkpoint_cache,
                        layered_version,
                        updates,
                    );
                    if layers.len() as u64 >= cycle {
                        let versions = layers.through(next);
                        write_checkpoint(&checkpointed, &checkpoint_cache, checkpoint, &versions);
                        layers.drop_through(next);
                        checkpoint = Some(next);
                    }
                    layered_version = next;
                }
                start.elapsed()
            })
        });
        // The same, with the checkpoint on a thread of its own, like the
        // engine's checkpointer: one checkpoint in flight at a
        // time, started once `cycle` versions are held and none is in
        // flight (so a slow one covers more versions), the versions it
        // covers dropped once it is committed; applying waits only while
        // the versions held reach the engine's default memory budget.
        std::thread::scope(|scope| {
            let (jobs, queue) = mpsc::channel::<(Option<u64>, Vec<Arc<StateTreeWrites>>)>();
            let (done, finished) = mpsc::channel::<u64>();
            let (store, cache) = (&checkpointed, &checkpoint_cache);
            std::thread::Builder::new()
                .name("bench-checkpoint".into())
                .spawn_scoped(scope, move || {
                    for (base, versions) in queue {
                        let version = write_checkpoint(store, cache, base, &versions);
                        drop(versions);
                        if done.send(version).is_err() {
                            break;
                        }
                    }
                })
                .expect("checkpoint thread");
            let mut in_flight = false;
            let collect = |layers: &mut StateLayers, checkpoint: &mut Option<u64>, wait| {
                // A checkpoint thread that stopped (it panicked) ends the
                // bench here, instead of letting the versions held grow.
                let version = if wait {
                    Some(finished.recv().expect("checkpoint thread"))
                } else {
                    match finished.try_recv() {
                        Ok(version) => Some(version),
                        Err(mpsc::TryRecvError::Empty) => None,
                        Err(mpsc::TryRecvError::Disconnected) => {
                            panic!("checkpoint thread stopped")
                        }
                    }
                };
                if let Some(version) = version {
                    layers.drop_through(version);
                    *checkpoint = Some(version);
                    true
                } else {
                    false
                }
            };
            group.bench_function(format!("ledger_checkpoint_background_{cycle}x10k"), |b| {
                b.iter_custom(|iterations| {
                    let start = Instant::now();
                    for _ in 0..iterations * cycle {
                        if in_flight {
                            let full = layers.bytes() >= ledger_core::DEFAULT_STATE_MEMORY_BYTES;
                            if collect(&mut layers, &mut checkpoint, full) {
                                in_flight = false;
                            }
                        }
                        let updates = &batches[(layered_version % ROCKS_BATCHES) as usize];
                        let next = layered_version + 1;
                        hold_next_version(
                            &mut layers,
                            &checkpointed,
                            &checkpoint_cache,
                            layered_version,
                            updates,
                        );
                        if !in_flight && layers.len() as u64 >= cycle {
                            jobs.send((checkpoint, layers.through(next)))
                                .expect("checkpoint thread");
                            in_flight = true;
                        }
                        layered_version = next;
                    }
                    start.elapsed()
                })
            });
            if in_flight {
                collect(&mut layers, &mut checkpoint, true);
            }
            drop(jobs);
        });
        group.throughput(Throughput::Elements(BATCH_UPDATES as u64));
        group.sampling_mode(SamplingMode::Auto);
        group.measurement_time(Duration::from_secs(5));
        drop(layers);

        let updates = &batches[0];
        group.bench_function("ledger_update_only_10k", |b| {
            b.iter(|| {
                let stored = StoredStateTree::new(&store);
                apply_updates(&cache.reader(&stored), Some(version), version + 1, updates)
                    .expect("update")
            })
        });

        // Proofs at the stored version, through the node cache: each leaf's
        // value record read by its key (as `prove` reads it) or found by the
        // search among the position's records that `value_at` does (the
        // default `value_record`), in the same run.
        let probes: Vec<Hash> = keys
            .iter()
            .step_by(keys.len() / PROOF_PROBES)
            .copied()
            .collect();
        group.throughput(Throughput::Elements(probes.len() as u64));
        let stored = StoredStateTree::new(&store);
        let cached = cache.reader(&stored);
        group.bench_function("ledger_prove_1k", |b| {
            b.iter(|| {
                for probe in &probes {
                    prove(&cached, version, probe).expect("prove");
                }
            })
        });
        let searched = SearchedValues(&cached);
        group.bench_function("ledger_prove_1k_values_searched", |b| {
            b.iter(|| {
                for probe in &probes {
                    prove(&searched, version, probe).expect("prove");
                }
            })
        });
        group.throughput(Throughput::Elements(BATCH_UPDATES as u64));

        // jmt on the same store engine.
        let jmt_store = RocksStore::open(dir.path().join("jmt")).expect("open");
        let reader = JmtOnRocks { store: &jmt_store };
        let jmt_tree = Sha256Jmt::new(&reader);
        let jmt_genesis: Vec<(KeyHash, Option<Vec<u8>>)> = keys
            .iter()
            .map(|key| (KeyHash(key.0), Some(vec![0u8; VALUE_BYTES])))
            .collect();
        let (_, genesis_batch) = jmt_tree.put_value_set(jmt_genesis, 0).expect("jmt genesis");
        jmt_commit(&jmt_store, &genesis_batch);
        drop(genesis_batch);
        let jmt_batches: Vec<Vec<(KeyHash, Option<Vec<u8>>)>> = batches
            .iter()
            .map(|updates| {
                updates
                    .iter()
                    .map(|u| (KeyHash(u.position.0), u.value.as_ref().map(|v| v.to_vec())))
                    .collect()
            })
            .collect();
        let mut jmt_version = 0u64;
        group.bench_function("jmt_update_and_commit_10k", |b| {
            b.iter_custom(|iterations| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iterations {
                    let set = jmt_batches[(jmt_version % ROCKS_BATCHES) as usize].clone();
                    let start = Instant::now();
                    let (_, update) = jmt_tree
                        .put_value_set(set, jmt_version + 1)
                        .expect("jmt update");
                    jmt_commit(&jmt_store, &update);
                    elapsed += start.elapsed();
                    jmt_version += 1;
                }
                elapsed
            })
        });
        group.finish();
    }
}

/// Proofs per sample of the proof benches on RocksDB.
const PROOF_PROBES: usize = 1_000;

/// A reader that finds a leaf's value record by searching the position's
/// records (`value_at`, a RocksDB seek) instead of reading it by key: what
/// proofs did before `value_record`.
struct SearchedValues<'a, R>(&'a R);

impl<R: StateTreeReader> StateTreeReader for SearchedValues<'_, R> {
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
        self.0.node(key)
    }

    fn value_at(&self, position: &Hash, version: u64) -> Result<Option<Bytes>, StateTreeError> {
        self.0.value_at(position, version)
    }
}

/// Computes the version after `version` from `updates`, reading through
/// `layers`, then `cache`, then `store` (as the engine reads), and holds it
/// in `layers`.
fn hold_next_version(
    layers: &mut StateLayers,
    store: &RocksStore,
    cache: &NodeCache,
    version: u64,
    updates: &[StateUpdate],
) {
    let stored = StoredStateTree::new(store);
    let cached = cache.reader(&stored);
    let writes = apply_updates(&layers.reader(&cached), Some(version), version + 1, updates)
        .expect("update");
    layers.push(Arc::new(writes));
}

/// Merges `versions` (oldest first) over the checkpoint at `base`, commits
/// them as one synced batch and puts the merged nodes in `cache`, as the
/// engine's checkpointer does; returns the checkpoint's version.
fn write_checkpoint(
    store: &RocksStore,
    cache: &NodeCache,
    base: Option<u64>,
    versions: &[Arc<StateTreeWrites>],
) -> u64 {
    let refs: Vec<&StateTreeWrites> = versions.iter().map(|w| &**w).collect();
    let delta = merge_versions(base, &refs);
    let mut batch = WriteBatch::new();
    add_delta_to_batch(&delta, &mut batch);
    store.commit(batch, Durability::Synced).expect("checkpoint");
    for (key, node) in delta.nodes {
        cache.insert(key, node);
    }
    delta.version
}

criterion_group!(benches, state_tree, state_tree_on_rocks);
criterion_main!(benches);
