//! One acceptance rule everywhere: single verification, batch verification
//! under random groupings, orders, batch sizes and thread counts, and an
//! independent ZIP-215 implementation (`ed25519-consensus`) agree on every
//! input of an adversarial set: small-order and mixed-order keys and `R`
//! values, non-canonical point encodings, `s ≥ ℓ`, off-curve encodings,
//! signatures valid only under the cofactored equation, and honest ones.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use ed25519_dalek::{Signer, SigningKey};
use ledger_core::testing::proptest_config;
use ledger_core::verify::{
    verify_single, SignatureItem, SignatureVerifier, VerifierConfig, VerifyError,
};
use ledger_core::{hash, Domain, Hash, PublicKey, Signature};
use proptest::prelude::*;
use sha2::{Digest, Sha512};

/// ℓ, little-endian.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// A point of order 8 (published small-order encoding).
const ORDER_8: [u8; 32] = [
    0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
    0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
];

fn torsion() -> Vec<EdwardsPoint> {
    let t = CompressedEdwardsY(ORDER_8).decompress().unwrap();
    assert!(t.is_small_order());
    assert_ne!(t + t + t + t, EdwardsPoint::identity(), "not of order 8");
    let mut points = vec![EdwardsPoint::identity()];
    for i in 1..8 {
        points.push(points[i - 1] + t);
    }
    points
}

/// Encodings of points whose y coordinate is not reduced (y + p for y < 19).
fn non_canonical_encodings() -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for y in 0u8..19 {
        for sign in [0u8, 0x80] {
            let mut bytes = [0xffu8; 32];
            bytes[0] = 0xed + y;
            bytes[31] = 0x7f | sign;
            if CompressedEdwardsY(bytes).decompress().is_some() {
                out.push(bytes);
            }
        }
    }
    out
}

fn challenge(r: &[u8; 32], a: &[u8; 32], m: &[u8; 32]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(m);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(h.finalize().as_slice());
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn scalar(seed: u64) -> Scalar {
    let mut wide = [0u8; 64];
    wide.copy_from_slice(
        &blake3::Hasher::new()
            .update(&seed.to_le_bytes())
            .finalize_xof_reader_bytes(),
    );
    Scalar::from_bytes_mod_order_wide(&wide)
}

trait XofBytes {
    fn finalize_xof_reader_bytes(&self) -> [u8; 64];
}

impl XofBytes for blake3::Hasher {
    fn finalize_xof_reader_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        self.finalize_xof().fill(&mut out);
        out
    }
}

fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    out
}

/// (public key, signature, message) cases.
fn adversarial_cases() -> Vec<(PublicKey, Signature, Hash)> {
    let torsion = torsion();
    let small: Vec<[u8; 32]> = torsion.iter().map(|t| t.compress().to_bytes()).collect();
    let noncanonical = non_canonical_encodings();
    assert!(
        noncanonical.len() >= 2,
        "expected some non-canonical encodings"
    );
    let mut off_curve = Vec::new();
    for y in 2u8..40 {
        let mut bytes = [0u8; 32];
        bytes[0] = y;
        if CompressedEdwardsY(bytes).decompress().is_none() {
            off_curve.push(bytes);
        }
    }
    assert!(!off_curve.is_empty());
    let mut cases = Vec::new();
    let message = |n: u64| hash(Domain::TransactionSigning, &n.to_le_bytes());
    let mut n = 0u64;
    let mut next = || {
        n += 1;
        n
    };

    // Small-order and non-canonical A and R with s = 0 and other s.
    let weird: Vec<[u8; 32]> = small
        .iter()
        .chain(&noncanonical)
        .chain(&off_curve)
        .copied()
        .collect();
    let s_values: Vec<[u8; 32]> = vec![
        [0u8; 32],
        scalar(7).to_bytes(),
        GROUP_ORDER,
        add_le(&GROUP_ORDER, &{
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }),
        [0xff; 32],
    ];
    for a in &weird {
        for r in &weird {
            for s in &s_values[..2] {
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(r);
                sig[32..].copy_from_slice(s);
                cases.push((PublicKey(*a), Signature(sig), message(next())));
            }
        }
    }

    // Honest signatures, and the same with s + ℓ (non-canonical) and bit flips.
    for i in 0..24u8 {
        let key = SigningKey::from_bytes(&[i + 1; 32]);
        let m = message(next());
        let sig = key.sign(m.as_bytes()).to_bytes();
        cases.push((PublicKey::from_signing_key(&key), Signature(sig), m));
        let mut big_s = sig;
        let mut s = [0u8; 32];
        s.copy_from_slice(&sig[32..]);
        big_s[32..].copy_from_slice(&add_le(&s, &GROUP_ORDER));
        cases.push((PublicKey::from_signing_key(&key), Signature(big_s), m));
        let mut flipped = sig;
        flipped[usize::from(i) % 64] ^= 1;
        cases.push((PublicKey::from_signing_key(&key), Signature(flipped), m));
        for s in &s_values[2..] {
            let mut bad = sig;
            bad[32..].copy_from_slice(s);
            cases.push((PublicKey::from_signing_key(&key), Signature(bad), m));
        }
    }

    // Mixed-order keys and R: A = aB + T, R = rB + T', s = r + k·a. Valid
    // under the cofactored equation, invalid under the cofactorless one
    // whenever k·T + T' ≠ 0.
    for (i, t) in torsion.iter().enumerate() {
        for (j, t2) in torsion.iter().enumerate() {
            let a = scalar(100 + i as u64 * 8 + j as u64);
            let r = scalar(1000 + i as u64 * 8 + j as u64);
            let a_point = ED25519_BASEPOINT_POINT * a + t;
            let r_point = ED25519_BASEPOINT_POINT * r + t2;
            let a_bytes = a_point.compress().to_bytes();
            let r_bytes = r_point.compress().to_bytes();
            let m = message(next());
            let k = challenge(&r_bytes, &a_bytes, m.as_bytes());
            let s = r + k * a;
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&r_bytes);
            sig[32..].copy_from_slice(&s.to_bytes());
            cases.push((PublicKey(a_bytes), Signature(sig), m));
            // And with a wrong s.
            let mut wrong = sig;
            wrong[32..].copy_from_slice(&(s + Scalar::ONE).to_bytes());
            cases.push((PublicKey(a_bytes), Signature(wrong), m));
        }
    }
    cases
}

fn consensus_accepts(key: &PublicKey, signature: &Signature, message: &Hash) -> bool {
    let Ok(vk) = ed25519_consensus::VerificationKey::try_from(key.0) else {
        return false;
    };
    vk.verify(
        &ed25519_consensus::Signature::from(signature.0),
        message.as_bytes(),
    )
    .is_ok()
}

#[test]
fn single_verification_agrees_with_independent_zip215() {
    let cases = adversarial_cases();
    let mut valid = 0;
    for (i, (key, signature, message)) in cases.iter().enumerate() {
        let ours = verify_single(key, signature, message).is_ok();
        let theirs = consensus_accepts(key, signature, message);
        assert_eq!(
            ours, theirs,
            "case {i}: ours {ours}, ed25519-consensus {theirs}"
        );
        valid += usize::from(ours);
    }
    // The set must exercise both outcomes, including cofactored-only
    // validity (small-order and mixed-order cases).
    assert!(valid > 80, "only {valid} valid cases of {}", cases.len());
    assert!(valid < cases.len() - 80);
}

fn run_batches(
    cases: &[(PublicKey, Signature, Hash)],
    order: &[usize],
    chunk: usize,
    threads: usize,
) -> Vec<u32> {
    let items: Vec<SignatureItem<'_>> = order
        .iter()
        .map(|&i| SignatureItem {
            public_key: &cases[i].0,
            signature: &cases[i].1,
            message: cases[i].2,
        })
        .collect();
    let pool = std::sync::Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap(),
    );
    let verifier = SignatureVerifier::new(VerifierConfig {
        chunk_signatures: chunk,
        key_cache_entries: 1 << 10,
    })
    .with_pool(pool);
    match verifier.verify_items(&items) {
        Ok(()) => vec![],
        Err(VerifyError::InvalidSignatures { indices }) => indices,
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

proptest! {
    #![proptest_config(proptest_config(12, file!()))]

    #[test]
    fn batches_agree_with_single_under_any_grouping(seed in any::<u64>(), chunk in 1usize..300, threads in 1usize..3) {
        let cases = adversarial_cases();
        let mut order: Vec<usize> = (0..cases.len()).collect();
        // Fisher-Yates with a simple generator from the seed.
        let mut state = seed | 1;
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let invalid = run_batches(&cases, &order, chunk, threads);
        let expected: Vec<u32> = order
            .iter()
            .enumerate()
            .filter(|(_, &i)| verify_single(&cases[i].0, &cases[i].1, &cases[i].2).is_err())
            .map(|(position, _)| position as u32)
            .collect();
        prop_assert_eq!(invalid, expected);
    }
}

/// Signatures by one repeated key on many messages, for keys of every kind
/// the rule accepts: prime-order, mixed-order (`A = aB + T`) and
/// small-order (`A = T`), with `R` values that carry torsion components
/// too (`R = rB + T'`), and invalid variants of each (wrong `s`, `s + ℓ`,
/// a flipped bit in `R`, another message). Grouped by key, as a batch of
/// one repeated signer sees them.
fn repeated_signer_cases() -> Vec<Vec<(PublicKey, Signature, Hash)>> {
    let torsion = torsion();
    let message = |key: u64, n: u64| {
        hash(
            Domain::TransactionSigning,
            &[key, n, 77].map(u64::to_le_bytes).concat(),
        )
    };
    let mut keys: Vec<(Scalar, EdwardsPoint)> = Vec::new();
    // Prime order.
    let a = scalar(5000);
    keys.push((a, ED25519_BASEPOINT_POINT * a));
    // Mixed order: one key per torsion component of order 2, 4 and 8.
    for t in [1usize, 2, 4] {
        let a = scalar(5001 + t as u64);
        keys.push((a, ED25519_BASEPOINT_POINT * a + torsion[t]));
    }
    // Small order: no secret, "signs" with s = r whatever k is.
    keys.push((Scalar::ZERO, torsion[3]));
    let mut batches = Vec::new();
    for (key_number, (a, a_point)) in keys.iter().enumerate() {
        let a_bytes = a_point.compress().to_bytes();
        let mut cases = Vec::new();
        for n in 0..48u64 {
            let r = scalar(10_000 + key_number as u64 * 100 + n);
            let r_point = ED25519_BASEPOINT_POINT * r + torsion[(n as usize * 3) % 8];
            let r_bytes = r_point.compress().to_bytes();
            let m = message(key_number as u64, n);
            let k = challenge(&r_bytes, &a_bytes, m.as_bytes());
            let s = r + k * a;
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&r_bytes);
            sig[32..].copy_from_slice(&s.to_bytes());
            let variant = match n % 6 {
                // Valid (two of six).
                0 | 1 => sig,
                // s + 1.
                2 => {
                    let mut bad = sig;
                    bad[32..].copy_from_slice(&(s + Scalar::ONE).to_bytes());
                    bad
                }
                // s + ℓ: the same scalar, not canonical.
                3 => {
                    let mut bad = sig;
                    bad[32..].copy_from_slice(&add_le(&s.to_bytes(), &GROUP_ORDER));
                    bad
                }
                // A flipped bit in R.
                4 => {
                    let mut bad = sig;
                    bad[(n as usize) % 31] ^= 1 << (n % 8);
                    bad
                }
                // Valid for another message.
                _ => sig,
            };
            let signed = if n % 6 == 5 {
                message(key_number as u64, n + 1000)
            } else {
                m
            };
            cases.push((PublicKey(a_bytes), Signature(variant), signed));
        }
        batches.push(cases);
    }
    batches
}

#[test]
fn repeated_signer_cases_agree_with_independent_zip215() {
    let mut valid = 0;
    let mut total = 0;
    for (key_number, cases) in repeated_signer_cases().iter().enumerate() {
        for (i, (key, signature, message)) in cases.iter().enumerate() {
            let ours = verify_single(key, signature, message).is_ok();
            let theirs = consensus_accepts(key, signature, message);
            assert_eq!(
                ours, theirs,
                "key {key_number} case {i}: ours {ours}, ed25519-consensus {theirs}"
            );
            valid += usize::from(ours);
            total += 1;
        }
    }
    // Valid and invalid signatures of every kind of key: the small-order
    // key's "signatures" with a wrong s or message are valid too.
    assert!(valid >= total / 3, "{valid} valid of {total}");
    assert!(valid < total - total / 4, "{valid} valid of {total}");
}

proptest! {
    #![proptest_config(proptest_config(12, file!()))]

    #[test]
    fn batches_of_one_repeated_signer_agree_with_single(seed in any::<u64>(), chunk in 1usize..200, threads in 1usize..3, keys in 1usize..6) {
        println!("seed {seed} chunk {chunk} threads {threads} keys {keys}");
        let batches = repeated_signer_cases();
        // The first `keys` repeated signers, their signatures shuffled
        // together (a batch of one key when keys = 1).
        let cases: Vec<(PublicKey, Signature, Hash)> =
            batches.into_iter().take(keys).flatten().collect();
        let mut order: Vec<usize> = (0..cases.len()).collect();
        let mut state = seed | 1;
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let invalid = run_batches(&cases, &order, chunk, threads);
        let expected: Vec<u32> = order
            .iter()
            .enumerate()
            .filter(|(_, &i)| verify_single(&cases[i].0, &cases[i].1, &cases[i].2).is_err())
            .map(|(position, _)| position as u32)
            .collect();
        prop_assert!(!expected.is_empty());
        prop_assert_eq!(invalid, expected);
    }
}
