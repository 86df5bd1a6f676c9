#![allow(
    clippy::expect_used,
    reason = "benchmark inputs are built valid; a failure means a broken bench"
)]
//! Merkle roots of 1k, 100k and 1M leaves, against in the same run: blake3
//! in bulk over the same number of bytes (the floor), a naive tree with one
//! blake3 call per node, and `rs_merkle` with a blake3 hasher. Then proofs
//! and history-tree appends (SHA-256 over a header, as RFC 6962 hashes).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ledger_core::merkle::{
    merkle_root, merkle_root_simple, verify_consistency, verify_inclusion, ConsistencyProof,
    HistoryTree, InclusionProof,
};
use ledger_core::Hash;

/// rs_merkle's hasher trait over plain blake3.
#[derive(Clone)]
struct Blake3Hasher;

impl rs_merkle::Hasher for Blake3Hasher {
    type Hash = [u8; 32];
    fn hash(data: &[u8]) -> [u8; 32] {
        *blake3::hash(data).as_bytes()
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n as u64)
        .map(|i| Hash(blake3::derive_key("bench leaves", &i.to_le_bytes())))
        .collect()
}

fn one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(f)
}

fn roots(c: &mut Criterion) {
    for n in [1_000usize, 100_000, 1_000_000] {
        let leaves = leaves(n);
        let mut group = c.benchmark_group(format!("merkle_root_{n}"));
        group.throughput(Throughput::Elements(n as u64));
        if n >= 100_000 {
            group.sample_size(10);
        }
        // The floor: blake3 over 64 bytes per interior node, in bulk.
        let bulk = vec![0x5au8; 64 * (n - 1)];
        group.bench_function("blake3_bulk_same_bytes_1_thread", |b| {
            b.iter(|| blake3::hash(&bulk))
        });
        group.bench_function("ledger_1_thread", |b| {
            b.iter(|| one_thread(|| merkle_root(&leaves)))
        });
        group.bench_function("ledger_2_threads", |b| b.iter(|| merkle_root(&leaves)));
        group.bench_function("naive_one_call_per_node", |b| {
            b.iter(|| merkle_root_simple(&leaves))
        });
        let raw: Vec<[u8; 32]> = leaves.iter().map(|l| l.0).collect();
        group.bench_function("rs_merkle_blake3", |b| {
            b.iter_batched(
                || raw.clone(),
                |raw| rs_merkle::MerkleTree::<Blake3Hasher>::from_leaves(&raw).root(),
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

fn proofs(c: &mut Criterion) {
    let leaves = leaves(10_000);
    let root = merkle_root(&leaves);
    let mut group = c.benchmark_group("merkle_proofs_10k");
    group.bench_function("inclusion_generate", |b| {
        b.iter(|| InclusionProof::from_leaves(&leaves, 4_321).expect("proof"))
    });
    let proof = InclusionProof::from_leaves(&leaves, 4_321).expect("proof");
    group.bench_function("inclusion_verify", |b| {
        b.iter(|| verify_inclusion(&root, 10_000, &leaves[4_321], &proof).expect("valid"))
    });
    let old_root = merkle_root(&leaves[..6_000]);
    let consistency = ConsistencyProof::from_leaves(&leaves, 6_000).expect("proof");
    group.bench_function("consistency_verify", |b| {
        b.iter(|| verify_consistency(6_000, &old_root, 10_000, &root, &consistency).expect("valid"))
    });
    group.bench_function("history_append", |b| {
        // One leaf per block: a 190-byte header, hashed with SHA-256.
        let mut tree = HistoryTree::new();
        let mut header = [0u8; ledger_core::HEADER_BYTES as usize];
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            header[10..18].copy_from_slice(&i.to_le_bytes());
            tree.append(&header)
        })
    });
    group.finish();
}

criterion_group!(benches, roots, proofs);
criterion_main!(benches);
