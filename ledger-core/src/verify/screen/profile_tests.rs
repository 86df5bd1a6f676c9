use super::profile::{recorded, Op};
use super::*;
use crate::hash::{hash, Domain, Hash};
use crate::types::{PublicKey, Signature};
use crate::verify::key_cache::KeyCache;
use crate::verify::SignatureItem;
use ed25519_dalek::{Signer, SigningKey};
use std::hint::black_box;

/// This thread's CPU time in nanoseconds (`/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    stat.split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .expect("run time")
}

/// CPU nanoseconds per call of `f`: the median of 5 runs of at least
/// 150 ms each.
fn cpu_per_call(mut f: impl FnMut()) -> f64 {
    f();
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let start = thread_cpu_ns();
            let mut calls = 0u64;
            while thread_cpu_ns() - start < 150_000_000 {
                f();
                calls += 1;
            }
            (thread_cpu_ns() - start) as f64 / calls as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[2]
}

fn cases(n: usize, signers: usize, every: usize) -> Vec<(PublicKey, Signature, Hash)> {
    let keys: Vec<SigningKey> = (0..signers as u64)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..8].copy_from_slice(&i.to_le_bytes());
            SigningKey::from_bytes(&seed)
        })
        .collect();
    (0..n as u32)
        .map(|i| {
            // Signatures of one key adjacent, as the verifier orders them.
            let key = &keys[i as usize * signers / n];
            let message = hash(Domain::TransactionSigning, &i.to_le_bytes());
            let mut signature = Signature(key.sign(message.as_bytes()).to_bytes());
            if every > 0 && i as usize % every == every / 2 {
                signature.0[40] ^= 1;
            }
            (PublicKey::from_signing_key(key), signature, message)
        })
        .collect()
}

fn items(cases: &[(PublicKey, Signature, Hash)]) -> Vec<SignatureItem<'_>> {
    cases
        .iter()
        .map(|(public_key, signature, message)| SignatureItem {
            public_key,
            signature,
            message: *message,
        })
        .collect()
}

fn profile(n: usize, signers: usize, every: usize) {
    let valid = cases(n, signers, 0);
    let invalid = cases(n, signers, every);
    let (valid_items, invalid_items) = (items(&valid), items(&invalid));
    let positions: Vec<u32> = (0..n as u32).collect();
    let cache = KeyCache::new(1 << 16);
    let bad = crate::verify::verify_chunk(&invalid_items, &positions, &cache);
    let batch = cpu_per_call(|| {
        black_box(crate::verify::verify_chunk(
            &valid_items,
            &positions,
            &cache,
        ));
    });
    let screened = cpu_per_call(|| {
        black_box(crate::verify::verify_chunk(
            &invalid_items,
            &positions,
            &cache,
        ));
    });

    let mut rejected = Vec::new();
    let chunk = ParsedChunk::parse(&invalid_items, &positions, &cache, &mut rejected);
    let coefficients = || Coefficients::derive(&invalid_items, &chunk);
    let z = coefficients().z;
    let all: Vec<u32> = (0..n as u32).collect();
    let q = combination(&chunk, &all, |i| z[i]);
    let ops = recorded(|| {
        find_invalid(&chunk, &mut coefficients(), q);
    });
    let mut stream = coefficients().stream;
    let round = Round::new(&chunk, &mut stream);

    let count = |pick: &dyn Fn(&Op) -> bool| ops.iter().filter(|op| pick(op)).count();
    let sizes =
        |pick: &dyn Fn(&Op) -> Option<usize>| -> usize { ops.iter().filter_map(pick).sum() };
    let t0 = cpu_per_call(|| {
        for op in &ops {
            if let Op::T0(g) = op {
                black_box(round.t0(g));
            }
        }
    });
    let t1 = cpu_per_call(|| {
        for op in &ops {
            if let Op::T1(g) = op {
                black_box(round.t1(g));
            }
        }
    });
    let decode = cpu_per_call(|| {
        for op in &ops {
            if let Op::Decode(g, points) = op {
                black_box(round.decode(g, &points.0, &points.1));
            }
        }
    });
    let check = cpu_per_call(|| {
        for op in &ops {
            if let Op::Check(j) = op {
                black_box(Candidate::check(&chunk, *j));
            }
        }
    });
    let certify_inputs: Vec<(Vec<Scalar>, Vec<EdwardsPoint>)> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Certify(indices) => Some((
                indices
                    .iter()
                    .map(|&j| Scalar::from(z[j as usize]))
                    .collect(),
                indices
                    .iter()
                    .map(|&j| error_point(&chunk, j as usize))
                    .collect(),
            )),
            _ => None,
        })
        .collect();
    let certify = cpu_per_call(|| {
        for (scalars, points) in &certify_inputs {
            black_box(EdwardsPoint::vartime_multiscalar_mul(scalars, points));
        }
    });
    let bisect = cpu_per_call(|| {
        for op in &ops {
            if let Op::Bisect(left) = op {
                black_box(combination(&chunk, left, |i| z[i]));
            }
        }
    });
    let derive = cpu_per_call(|| {
        black_box(coefficients());
    });

    // Floors. Any location pass with distinct keys multiplies every
    // key by a full-size scalar at least once: Pippenger over the
    // chunk's keys and the basepoint, full-size scalars.
    let mut seed = stream;
    let mut wide = [0u8; 64];
    let key_scalars: Vec<Scalar> = (0..=chunk.keys.len())
        .map(|_| {
            seed.fill(&mut wide);
            Scalar::from_bytes_mod_order_wide(&wide)
        })
        .collect();
    let key_points: Vec<EdwardsPoint> = chunk
        .keys
        .iter()
        .copied()
        .chain(std::iter::once(
            curve25519_dalek::constants::ED25519_BASEPOINT_POINT,
        ))
        .collect();
    let keys_msm = cpu_per_call(|| {
        black_box(EdwardsPoint::vartime_multiscalar_mul(
            &key_scalars,
            &key_points,
        ));
    });
    // The `Rᵢ` with small coefficients: about one addition each.
    let r_adds = cpu_per_call(|| {
        let mut sum = EdwardsPoint::identity();
        for r in &chunk.r {
            sum += r;
        }
        black_box(sum);
    });
    let single = check / count(&|op| matches!(op, Op::Check(_))).max(1) as f64;

    let us = |ns: f64| ns / 1e3;
    let of = |ns: f64| ns / batch;
    println!(
        "n {n}, {signers} keys, {} invalid (named {}); per call, µs, and share of the all-valid chunk",
        n / every.max(1),
        bad.len()
    );
    println!("all-valid chunk (verify_chunk)   {:9.0}  1.000", us(batch));
    println!(
        "chunk with invalid, screened     {:9.0}  {:.3}",
        us(screened),
        of(screened)
    );
    println!(
        "  coefficients derived (once)    {:9.0}  {:.3}",
        us(derive),
        of(derive)
    );
    println!(
        "  T0: {} tests over {} signatures {:9.0}  {:.3}",
        count(&|op| matches!(op, Op::T0(_))),
        sizes(&|op| if let Op::T0(g) = op {
            Some(g.len())
        } else {
            None
        }),
        us(t0),
        of(t0)
    );
    println!(
        "  T1: {} over {} signatures      {:9.0}  {:.3}",
        count(&|op| matches!(op, Op::T1(_))),
        sizes(&|op| if let Op::T1(g) = op {
            Some(g.len())
        } else {
            None
        }),
        us(t1),
        of(t1)
    );
    println!(
        "  decode scans: {}                {:9.0}  {:.3}",
        count(&|op| matches!(op, Op::Decode(..))),
        us(decode),
        of(decode)
    );
    println!(
        "  single checks: {}               {:9.0}  {:.3}",
        count(&|op| matches!(op, Op::Check(_))),
        us(check),
        of(check)
    );
    println!(
        "  certification: {} rounds        {:9.0}  {:.3}",
        certify_inputs.len(),
        us(certify),
        of(certify)
    );
    println!(
        "  bisection: {} halves            {:9.0}  {:.3}",
        count(&|op| matches!(op, Op::Bisect(_))),
        us(bisect),
        of(bisect)
    );
    let parts = t0 + t1 + decode + check + certify + bisect;
    println!(
        "  unaccounted (screened − batch − parts) {:6.0}  {:.3}",
        us(screened - batch - parts),
        of(screened - batch - parts)
    );
    println!(
        "floor parts: Pippenger over {} keys + B, full scalars {:6.0}  {:.3}",
        chunk.keys.len(),
        us(keys_msm),
        of(keys_msm)
    );
    println!(
        "             R additions          {:9.0}  {:.3}",
        us(r_adds),
        of(r_adds)
    );
    println!(
        "             one single check     {:9.1}  {:.4}",
        us(single),
        of(single)
    );
    let floor = batch + keys_msm + r_adds + single * bad.len() as f64 + certify;
    println!(
        "floor (batch + keys msm + R adds + checks + certification) {:.3}",
        of(floor)
    );
}

#[test]
#[ignore = "a profile, run by hand"]
fn screening_profile() {
    for (n, signers) in [(1024, 1024), (2500, 2500), (1024, 10)] {
        profile(n, signers, 100);
    }
}
