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
//! * `sig_verify_parts`: where a batch's time goes. On 1,024 signatures by
//!   1,024 distinct keys and by 10 keys, one thread: decompressing every
//!   `R`, hashing every `k = SHA-512(R ‖ A ‖ M) mod ℓ`, deriving the random
//!   coefficients (blake3 over the batch, 16 bytes of output each), and the
//!   multiscalar multiplication alone over as many points and scalars as
//!   our verifier builds (2n + 1 for distinct keys, n + keys + 1 when
//!   merged), each made with the same dependency calls as our verifier,
//!   against the whole batch (ours, one chunk) and dalek's `verify_batch`.
//!   Measured in CPU time of the whole process (every thread's run time
//!   from `/proc/self/task/*/schedstat`, in nanoseconds), not wall time: on
//!   a shared machine the parts, measured one after another, would
//!   otherwise each see a different load.

use std::hint::black_box;
use std::sync::Arc;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::VartimeMultiscalarMul;
use ledger_benches::{signed_transactions, BLOCK_TXS, SENDERS};
use ledger_core::verify::{SignatureItem, SignatureVerifier, VerifierConfig};
use ledger_core::{Domain, Hash, Signature, Transaction};
use rand::{RngExt, SeedableRng};
use sha2::{Digest, Sha512};

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

/// Our verifier's items for `txs` with their signing `messages`.
fn signature_items<'a>(txs: &'a [Transaction], messages: &[Hash]) -> Vec<SignatureItem<'a>> {
    txs.iter()
        .zip(messages)
        .map(|(tx, message)| SignatureItem {
            public_key: tx.sender(),
            signature: tx.signature(),
            message: *message,
        })
        .collect()
}

fn signers(c: &mut Criterion) {
    let mut group = c.benchmark_group("sig_verify_signers");
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.sample_size(10);
    for signers in SIGNER_COUNTS {
        let txs = signed_transactions(BLOCK_TXS, signers);
        let dalek = DalekInputs::new(&txs);
        let messages: Vec<Hash> = txs.iter().map(Transaction::signing_message).collect();
        let items = signature_items(&txs, &messages);
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

/// CPU time of the whole process in nanoseconds: the sum of every thread's
/// run time (`/proc/self/task/*/schedstat`, first field). The running
/// thread's figure lags by at most its current time slice.
fn process_cpu_ns() -> u64 {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    tasks
        .filter_map(|task| {
            let path = task.ok()?.path().join("schedstat");
            let stat = std::fs::read_to_string(path).ok()?;
            stat.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

/// Criterion measurement: process CPU time (see [`process_cpu_ns`]).
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        process_cpu_ns()
    }

    fn end(&self, start: u64) -> u64 {
        process_cpu_ns().saturating_sub(start)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuTimeFormatter
    }
}

/// Formats CPU nanoseconds as µs or ms, throughput as elements per CPU
/// second.
struct CpuTimeFormatter;

impl ValueFormatter for CpuTimeFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical < 1e6 {
            (1e-3, "µs cpu")
        } else {
            (1e-6, "ms cpu")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let elements = match throughput {
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => *n as f64,
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => *n as f64,
            Throughput::Bits(n) => *n as f64,
        };
        values
            .iter_mut()
            .for_each(|v| *v = elements * 1e9 / *v / 1e3);
        "K/cpu-s"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns cpu"
    }
}

/// Signatures of the parts benches: one chunk, one thread.
const PARTS_SIGNATURES: usize = 1_024;

/// `k = SHA-512(R ‖ A ‖ M) mod ℓ`, as the verifier computes it.
fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8; 32]) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(r);
    hasher.update(a);
    hasher.update(message);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(hasher.finalize().as_slice());
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// The 128-bit coefficients as the verifier derives them: the batch's keys,
/// signatures and messages hashed in pieces of 64 items, then 16 bytes of
/// the output stream per signature.
fn coefficients(items: &[SignatureItem<'_>]) -> Vec<u128> {
    const ITEM_BYTES: usize = 32 + 64 + 32;
    let mut hasher = Domain::BatchVerification.hasher();
    hasher.update(&(items.len() as u64).to_le_bytes());
    let mut piece = [0u8; ITEM_BYTES * 64];
    let mut filled = 0;
    for item in items {
        let slot = &mut piece[filled..filled + ITEM_BYTES];
        slot[..32].copy_from_slice(&item.public_key.0);
        slot[32..96].copy_from_slice(&item.signature.0);
        slot[96..].copy_from_slice(item.message.as_bytes());
        filled += ITEM_BYTES;
        if filled == piece.len() {
            hasher.update(&piece);
            filled = 0;
        }
    }
    hasher.update(&piece[..filled]);
    let mut bytes = vec![0u8; 16 * items.len()];
    hasher.finalize_xof().fill(&mut bytes);
    bytes
        .chunks_exact(16)
        .map(|word| u128::from_le_bytes(word.try_into().expect("16 bytes")))
        .collect()
}

fn parts(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("sig_verify_parts");
    group.throughput(Throughput::Elements(PARTS_SIGNATURES as u64));
    group.sample_size(20);
    for signers in [PARTS_SIGNATURES, 10] {
        let txs = signed_transactions(PARTS_SIGNATURES, signers);
        let dalek = DalekInputs::new(&txs);
        let messages: Vec<Hash> = txs.iter().map(Transaction::signing_message).collect();
        let items = signature_items(&txs, &messages);
        let r_bytes: Vec<[u8; 32]> = items
            .iter()
            .map(|item| item.signature.0[..32].try_into().expect("32 bytes"))
            .collect();
        let prefix = format!("{signers}_keys");

        group.bench_function(format!("{prefix}/r_decompression"), |b| {
            b.iter(|| {
                for r in &r_bytes {
                    black_box(CompressedEdwardsY(*r).decompress().expect("R"));
                }
            })
        });
        group.bench_function(format!("{prefix}/k_sha512"), |b| {
            b.iter(|| {
                for (item, r) in items.iter().zip(&r_bytes) {
                    black_box(challenge(r, &item.public_key.0, item.message.as_bytes()));
                }
            })
        });
        group.bench_function(format!("{prefix}/coefficients"), |b| {
            b.iter(|| black_box(coefficients(&items)))
        });

        // The multiplication alone: the points and scalars our verifier
        // passes for this batch (the `Rᵢ` with 128-bit `zᵢ`, one full-size
        // scalar per distinct key, the basepoint).
        let z = coefficients(&items);
        let mut scalars: Vec<Scalar> = z.iter().map(|&z| Scalar::from(z)).collect();
        let mut points: Vec<EdwardsPoint> = r_bytes
            .iter()
            .map(|r| CompressedEdwardsY(*r).decompress().expect("R"))
            .collect();
        let mut seen = std::collections::HashSet::new();
        for (item, r) in items.iter().zip(&r_bytes) {
            if seen.insert(item.public_key.0) {
                points.push(
                    CompressedEdwardsY(item.public_key.0)
                        .decompress()
                        .expect("A"),
                );
                scalars.push(challenge(r, &item.public_key.0, item.message.as_bytes()));
            }
        }
        // A full-size basepoint scalar, as `−Σ zᵢ·sᵢ` is.
        let b_scalar: Scalar = scalars.iter().skip(PARTS_SIGNATURES).sum();
        scalars.push(-b_scalar);
        points.push(ED25519_BASEPOINT_POINT);
        assert_eq!(points.len(), PARTS_SIGNATURES + signers + 1);
        group.bench_function(format!("{prefix}/msm_alone_{}_points", points.len()), |b| {
            b.iter(|| EdwardsPoint::vartime_multiscalar_mul(&scalars, &points))
        });

        let v = verifier(1, PARTS_SIGNATURES, 1 << 16);
        v.verify_items(&items).expect("warm the key cache");
        group.bench_function(format!("{prefix}/ledger_batch"), |b| {
            b.iter(|| v.verify_items(&items).expect("valid"))
        });
        group.bench_function(format!("{prefix}/dalek_verify_batch"), |b| {
            b.iter(|| dalek.verify_batch(PARTS_SIGNATURES))
        });
    }
    group.finish();
}

criterion_group!(benches, signers, screening, batch_sizes, block);
criterion_group! {
    name = cpu_benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = parts
}
criterion_main!(benches, cpu_benches);
