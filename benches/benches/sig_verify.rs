#![allow(
    clippy::expect_used,
    reason = "benchmark inputs are built valid; a failure means a broken bench"
)]
//! Signature verification: per-signature cost against batch size, one and
//! two threads, with and without the key cache, with 0, 1 and 1% invalid
//! signatures in a 10,000-signature block; side by side with
//! ed25519-dalek's own `verify_strict` and `verify_batch` in the same run.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ledger_benches::{signed_transactions, BLOCK_TXS, SENDERS};
use ledger_core::verify::{SignatureVerifier, VerifierConfig};
use ledger_core::{Signature, Transaction};

fn pool(threads: usize) -> Arc<rayon::ThreadPool> {
    Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool"),
    )
}

fn verifier(threads: usize, chunk: usize, cache: usize) -> SignatureVerifier {
    SignatureVerifier::new(VerifierConfig {
        chunk_signatures: chunk,
        key_cache_entries: cache,
    })
    .with_pool(pool(threads))
}

fn corrupt(txs: &[Transaction], every: usize) -> Vec<Transaction> {
    txs.iter()
        .enumerate()
        .map(|(i, tx)| {
            if every > 0 && i % every == every / 2 {
                let mut signature = tx.signature().0;
                signature[3] ^= 1;
                tx.clone().with_signature(Signature(signature))
            } else {
                tx.clone()
            }
        })
        .collect()
}

fn batch_sizes(c: &mut Criterion) {
    let txs = signed_transactions(4_096, SENDERS);
    let mut group = c.benchmark_group("sig_verify_batch_size_1_thread");
    group.throughput(Throughput::Elements(txs.len() as u64));
    group.sample_size(10);
    for chunk in [16usize, 64, 128, 256, 1024] {
        let v = verifier(1, chunk, 1 << 16);
        v.verify_transactions(&txs).expect("warm the key cache");
        group.bench_function(format!("ledger_chunk_{chunk}"), |b| {
            b.iter(|| v.verify_transactions(&txs).expect("valid"))
        });
    }
    // ed25519-dalek on the same signatures (it verifies the message bytes).
    let keys: Vec<ed25519_dalek::VerifyingKey> = txs
        .iter()
        .map(|tx| ed25519_dalek::VerifyingKey::from_bytes(&tx.sender().0).expect("key"))
        .collect();
    let messages: Vec<[u8; 32]> = txs.iter().map(|tx| tx.signing_message().0).collect();
    let signatures: Vec<ed25519_dalek::Signature> = txs
        .iter()
        .map(|tx| ed25519_dalek::Signature::from_bytes(&tx.signature().0))
        .collect();
    group.bench_function("dalek_verify_strict_each", |b| {
        b.iter(|| {
            for ((key, message), signature) in keys.iter().zip(&messages).zip(&signatures) {
                key.verify_strict(message, signature).expect("valid");
            }
        })
    });
    for chunk in [64usize, 256, 1024] {
        group.bench_function(format!("dalek_verify_batch_{chunk}"), |b| {
            b.iter(|| {
                for ((k, m), s) in keys
                    .chunks(chunk)
                    .zip(messages.chunks(chunk))
                    .zip(signatures.chunks(chunk))
                {
                    let m: Vec<&[u8]> = m.iter().map(|m| &m[..]).collect();
                    ed25519_dalek::verify_batch(&m, s, k).expect("valid");
                }
            })
        });
    }
    group.finish();
}

fn block(c: &mut Criterion) {
    let txs = signed_transactions(BLOCK_TXS, SENDERS);
    let mut group = c.benchmark_group("sig_verify_block_10k");
    group.throughput(Throughput::Elements(txs.len() as u64));
    group.sample_size(10);
    for threads in [1usize, 2] {
        let cached = verifier(
            threads,
            ledger_core::verify::DEFAULT_CHUNK_SIGNATURES,
            1 << 16,
        );
        cached
            .verify_transactions(&txs)
            .expect("warm the key cache");
        group.bench_function(format!("ledger_{threads}_threads_keys_cached"), |b| {
            b.iter(|| cached.verify_transactions(&txs).expect("valid"))
        });
        group.bench_function(format!("ledger_{threads}_threads_no_key_cache"), |b| {
            let uncached = verifier(threads, ledger_core::verify::DEFAULT_CHUNK_SIGNATURES, 0);
            b.iter(|| uncached.verify_transactions(&txs).expect("valid"))
        });
    }
    let v = verifier(2, ledger_core::verify::DEFAULT_CHUNK_SIGNATURES, 1 << 16);
    v.verify_transactions(&txs).expect("warm");
    for (label, every) in [("one_invalid", BLOCK_TXS), ("one_percent_invalid", 100)] {
        let bad = corrupt(&txs, every);
        group.bench_function(format!("ledger_2_threads_{label}"), |b| {
            b.iter_batched(
                || (),
                |()| v.verify_transactions(&bad).expect_err("invalid"),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, batch_sizes, block);
criterion_main!(benches);
