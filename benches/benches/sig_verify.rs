#![allow(
    clippy::expect_used,
    reason = "benchmark inputs are built valid; a failure means a broken bench"
)]
//! Signature verification, side by side with ed25519-dalek in the same run.
//!
//! * `sig_verify_signers`: blocks of 10,000 signatures by 10,000 distinct
//!   signers (one signature each), by the benchmark workload's 1,000
//!   senders (ten each) and by 10 keys (a thousand each), checked by our
//!   verifier (from transactions, which hashes the signing messages too, and
//!   from items with the messages given, the same inputs dalek gets) on one
//!   and two threads, and by ed25519-dalek's `verify_batch` on one thread
//!   (the whole block in one call, keys decompressed beforehand as our cache
//!   holds them).
//! * `sig_verify_screening`: the same blocks with 1% of the signatures
//!   invalid (random positions, one random bit of the signature flipped),
//!   every one of them named, against the same block all valid.
//! * `sig_verify_batch_size_1_thread`: cost per signature against the
//!   largest batch, with dalek's `verify_strict` and `verify_batch`.
//! * `sig_verify_block_10k`: the benchmark block on one and two threads,
//!   with and without the key cache, and with one and 1% invalid signatures
//!   (every 100th, one bit of `R` flipped).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ledger_benches::{signed_transactions, BLOCK_TXS, SENDERS};
use ledger_core::verify::{SignatureItem, SignatureVerifier, VerifierConfig};
use ledger_core::{Hash, Signature, Transaction};
use rand::{RngExt, SeedableRng};

/// Seed of the random invalid positions and bit flips.
const SEED: u64 = 0x5eed_51c5;

/// Share of invalid signatures in the screening benches.
const INVALID_SHARE: f64 = 0.01;

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

fn default_verifier(threads: usize) -> SignatureVerifier {
    verifier(
        threads,
        ledger_core::verify::DEFAULT_CHUNK_SIGNATURES,
        ledger_core::verify::DEFAULT_KEY_CACHE_ENTRIES,
    )
}

/// Every `every`-th transaction (from `every / 2`) with one bit of `R`
/// flipped.
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

/// Each transaction, with probability `share`, with one random bit of its
/// signature flipped (in `R` or in `s`); also returns how many.
fn corrupt_randomly(txs: &[Transaction], share: f64) -> (Vec<Transaction>, usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    let mut count = 0;
    let corrupted = txs
        .iter()
        .map(|tx| {
            if rng.random_bool(share) {
                count += 1;
                let mut signature = tx.signature().0;
                let bit: usize = rng.random_range(0..512);
                signature[bit / 8] ^= 1 << (bit % 8);
                tx.clone().with_signature(Signature(signature))
            } else {
                tx.clone()
            }
        })
        .collect();
    (corrupted, count)
}

/// The same signatures as ed25519-dalek takes them.
struct DalekInputs {
    keys: Vec<ed25519_dalek::VerifyingKey>,
    messages: Vec<[u8; 32]>,
    signatures: Vec<ed25519_dalek::Signature>,
}

impl DalekInputs {
    fn new(txs: &[Transaction]) -> Self {
        DalekInputs {
            keys: txs
                .iter()
                .map(|tx| ed25519_dalek::VerifyingKey::from_bytes(&tx.sender().0).expect("key"))
                .collect(),
            messages: txs.iter().map(|tx| tx.signing_message().0).collect(),
            signatures: txs
                .iter()
                .map(|tx| ed25519_dalek::Signature::from_bytes(&tx.signature().0))
                .collect(),
        }
    }

    /// `verify_batch` over batches of `chunk` signatures.
    fn verify_batch(&self, chunk: usize) {
        for ((keys, messages), signatures) in self
            .keys
            .chunks(chunk)
            .zip(self.messages.chunks(chunk))
            .zip(self.signatures.chunks(chunk))
        {
            let messages: Vec<&[u8]> = messages.iter().map(|m| &m[..]).collect();
            ed25519_dalek::verify_batch(&messages, signatures, keys).expect("valid");
        }
    }
}

/// The signers of each block shape: distinct (10,000), the benchmark
/// workload's senders (1,000), and 10 keys.
const SIGNER_COUNTS: [usize; 3] = [BLOCK_TXS, SENDERS, 10];

fn signers(c: &mut Criterion) {
    let mut group = c.benchmark_group("sig_verify_signers");
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.sample_size(10);
    for signers in SIGNER_COUNTS {
        let txs = signed_transactions(BLOCK_TXS, signers);
        let dalek = DalekInputs::new(&txs);
        let messages: Vec<Hash> = txs.iter().map(Transaction::signing_message).collect();
        let items: Vec<SignatureItem<'_>> = txs
            .iter()
            .zip(&messages)
            .map(|(tx, message)| SignatureItem {
                public_key: tx.sender(),
                signature: tx.signature(),
                message: *message,
            })
            .collect();
        for threads in [1usize, 2] {
            let v = default_verifier(threads);
            v.verify_transactions(&txs).expect("warm the key cache");
            group.bench_function(
                format!("{signers}_signers/ledger_transactions_{threads}_threads"),
                |b| b.iter(|| v.verify_transactions(&txs).expect("valid")),
            );
            if threads == 1 {
                group.bench_function(format!("{signers}_signers/ledger_items_1_thread"), |b| {
                    b.iter(|| v.verify_items(&items).expect("valid"))
                });
            }
        }
        group.bench_function(
            format!("{signers}_signers/dalek_verify_batch_1_thread"),
            |b| b.iter(|| dalek.verify_batch(BLOCK_TXS)),
        );
    }
    group.finish();
}

fn screening(c: &mut Criterion) {
    let mut group = c.benchmark_group("sig_verify_screening");
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.sample_size(10);
    for signers in SIGNER_COUNTS {
        let txs = signed_transactions(BLOCK_TXS, signers);
        let (bad, corrupted) = corrupt_randomly(&txs, INVALID_SHARE);
        for threads in [1usize, 2] {
            let v = default_verifier(threads);
            let named = match v.verify_transactions(&bad) {
                Err(ledger_core::VerifyError::InvalidSignatures { indices }) => indices.len(),
                other => panic!("expected invalid signatures, got {other:?}"),
            };
            assert_eq!(named, corrupted, "every corrupted signature is named");
            group.bench_function(
                format!("{signers}_signers/{threads}_threads/all_valid"),
                |b| b.iter(|| v.verify_transactions(&txs).expect("valid")),
            );
            group.bench_function(
                format!("{signers}_signers/{threads}_threads/one_percent_invalid"),
                |b| b.iter(|| v.verify_transactions(&bad).expect_err("invalid")),
            );
        }
    }
    group.finish();
}

fn batch_sizes(c: &mut Criterion) {
    let txs = signed_transactions(4_096, SENDERS);
    let mut group = c.benchmark_group("sig_verify_batch_size_1_thread");
    group.throughput(Throughput::Elements(txs.len() as u64));
    group.sample_size(10);
    for chunk in [16usize, 64, 128, 256, 1024, 4096] {
        let v = verifier(1, chunk, 1 << 16);
        v.verify_transactions(&txs).expect("warm the key cache");
        group.bench_function(format!("ledger_chunk_{chunk}"), |b| {
            b.iter(|| v.verify_transactions(&txs).expect("valid"))
        });
    }
    // ed25519-dalek on the same signatures (it verifies the message bytes).
    let dalek = DalekInputs::new(&txs);
    group.bench_function("dalek_verify_strict_each", |b| {
        b.iter(|| {
            for ((key, message), signature) in dalek
                .keys
                .iter()
                .zip(&dalek.messages)
                .zip(&dalek.signatures)
            {
                key.verify_strict(message, signature).expect("valid");
            }
        })
    });
    for chunk in [64usize, 256, 1024, 4096] {
        group.bench_function(format!("dalek_verify_batch_{chunk}"), |b| {
            b.iter(|| dalek.verify_batch(chunk))
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

criterion_group!(benches, signers, screening, batch_sizes, block);
criterion_main!(benches);
