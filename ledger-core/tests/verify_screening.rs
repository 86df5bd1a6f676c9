//! Screening names every invalid signature exactly: random sets of invalid
//! positions at densities 0, 0.1%, 1%, 10%, 50% and 100%, in batches of
//! several sizes, signed by many keys, a few or one, on one and two
//! threads, with invalid signatures of every kind (a bit of `s` flipped,
//! a bit of `R` flipped, another message, `s + ℓ`, and pairs made to cancel
//! each other under simple coefficients). The verifier must return exactly
//! the chosen positions, ascending, whatever the path that found them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::sync::Arc;

use ed25519_dalek::{Signer, SigningKey};
use ledger_core::verify::{
    verify_single, SignatureItem, SignatureVerifier, VerifierConfig, VerifyError,
};
use ledger_core::{hash, Domain, Hash, PublicKey, Signature};

/// ℓ, little-endian.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// xorshift64*, seeded.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, probability: f64) -> bool {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        unit < probability
    }
}

fn add_le(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    out
}

fn sub_le(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in 0..32 {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

/// `n` valid signatures by `signers` keys (round-robin).
fn signed(n: usize, signers: usize) -> Vec<(PublicKey, Signature, Hash)> {
    let keys: Vec<SigningKey> = (0..signers)
        .map(|i| {
            SigningKey::from_bytes(hash(Domain::StateKey, &(i as u64).to_le_bytes()).as_bytes())
        })
        .collect();
    (0..n)
        .map(|i| {
            let key = &keys[i % signers];
            let message = hash(Domain::TransactionSigning, &(i as u64).to_le_bytes());
            (
                PublicKey::from_signing_key(key),
                Signature(key.sign(message.as_bytes()).to_bytes()),
                message,
            )
        })
        .collect()
}

/// Makes the signatures at `bad` (ascending) invalid, each in a way drawn
/// from `rng`; some adjacent pairs get `s + δ` and `s − δ`, whose errors
/// `∓δ·B` cancel under equal coefficients.
fn corrupt(cases: &mut [(PublicKey, Signature, Hash)], bad: &[usize], rng: &mut Rng) {
    let mut i = 0;
    while i < bad.len() {
        let position = bad[i];
        let signature = &mut cases[position].1 .0;
        match rng.below(6) {
            // A bit of s (low bytes: s stays canonical; errors ±2^b·B).
            0 => signature[32 + rng.below(16) as usize] ^= 1 << rng.below(8),
            // A bit of R.
            1 => signature[rng.below(32) as usize] ^= 1 << rng.below(8),
            // Another message.
            2 => cases[position].2 = hash(Domain::TransactionSigning, &rng.next().to_le_bytes()),
            // s + ℓ.
            3 => {
                let s = add_le(&signature[32..], &GROUP_ORDER);
                signature[32..].copy_from_slice(&s);
            }
            // A cancelling pair with the next invalid signature: s + δ, s − δ.
            _ => {
                let mut delta = [0u8; 32];
                delta[rng.below(16) as usize] = 1 + rng.below(255) as u8;
                let s = add_le(&signature[32..], &delta);
                signature[32..].copy_from_slice(&s);
                if let Some(&next) = bad.get(i + 1) {
                    let other = &mut cases[next].1 .0;
                    let s = sub_le(&other[32..], &delta);
                    other[32..].copy_from_slice(&s);
                    i += 1;
                }
            }
        }
        i += 1;
    }
}

fn named(verifier: &SignatureVerifier, cases: &[(PublicKey, Signature, Hash)]) -> Vec<u32> {
    let items: Vec<SignatureItem<'_>> = cases
        .iter()
        .map(|(public_key, signature, message)| SignatureItem {
            public_key,
            signature,
            message: *message,
        })
        .collect();
    match verifier.verify_items(&items) {
        Ok(()) => Vec::new(),
        Err(VerifyError::InvalidSignatures { indices }) => indices,
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn screening_names_exactly_the_invalid_positions() {
    let seed = std::env::var("SCREENING_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("seed {seed} (rerun with SCREENING_SEED={seed})");
    let mut rng = Rng(seed | 1);
    let pools: Vec<Arc<rayon::ThreadPool>> = [1, 2]
        .map(|threads| {
            Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap(),
            )
        })
        .into();
    let mut runs = 0;
    for size in [1usize, 2, 37, 300, 2500] {
        for signers in [size, 3, 1] {
            let valid = signed(size, signers.max(1));
            for density in [0.0, 0.001, 0.01, 0.1, 0.5, 1.0] {
                for pool in &pools {
                    let bad: Vec<usize> = (0..size).filter(|_| rng.chance(density)).collect();
                    let mut cases = valid.clone();
                    corrupt(&mut cases, &bad, &mut rng);
                    // The corruptions make each chosen signature invalid.
                    for &position in &bad {
                        let (key, signature, message) = &cases[position];
                        assert!(
                            verify_single(key, signature, message).is_err(),
                            "seed {seed}: corruption at {position} left a valid signature"
                        );
                    }
                    let chunk = [ledger_core::verify::DEFAULT_CHUNK_SIGNATURES, 97, 1000]
                        [rng.below(3) as usize];
                    let verifier = SignatureVerifier::new(VerifierConfig {
                        chunk_signatures: chunk,
                        key_cache_entries: 1 << 12,
                    })
                    .with_pool(pool.clone());
                    let expected: Vec<u32> = bad.iter().map(|&p| p as u32).collect();
                    assert_eq!(
                        named(&verifier, &cases),
                        expected,
                        "seed {seed}: size {size}, signers {signers}, density {density}, \
                         threads {}, chunk {chunk}",
                        pool.current_num_threads()
                    );
                    runs += 1;
                }
            }
        }
    }
    println!("{runs} batches screened");
}
