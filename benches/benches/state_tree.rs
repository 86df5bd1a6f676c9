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
//! Set `LEDGER_BENCH_STATE_KEYS=100000` to skip the 1M-key trees.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use jmt::mock::MockTreeStore;
use jmt::{KeyHash, Sha256Jmt};
use ledger_core::state_tree::{
    apply_updates, key_hash, verify_state_proof, MemoryStateTree, StateUpdate,
};
use ledger_core::Hash;

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
    (0..count).map(|i| key_hash(&i.to_le_bytes())).collect()
}

/// `BATCH_UPDATES` distinct random existing keys, sorted, with new values.
fn batch(size: u32) -> Vec<StateUpdate> {
    let mut state = SEED;
    let mut updates: Vec<StateUpdate> = (0..BATCH_UPDATES * 11 / 10)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let index = (state >> 33) as u32 % size;
            StateUpdate {
                key_hash: key_hash(&index.to_le_bytes()),
                value: Some(Bytes::from(vec![0xab; VALUE_BYTES])),
            }
        })
        .collect();
    updates.sort_by_key(|update| update.key_hash);
    updates.dedup_by_key(|update| update.key_hash);
    updates.truncate(BATCH_UPDATES);
    updates
}

fn state_tree(c: &mut Criterion) {
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
                key_hash: *key,
                value: Some(Bytes::from(vec![0u8; VALUE_BYTES])),
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
                    KeyHash(update.key_hash.0),
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
            proof.siblings().len(),
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

criterion_group!(benches, state_tree);
criterion_main!(benches);
