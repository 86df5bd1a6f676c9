//! The verification stage: ed25519 signatures under one acceptance rule
//! (ZIP-215), checked in parallel batches that agree exactly with single
//! verification, with bisection to name every invalid signature and a
//! bounded cache of decompressed public keys.
//!
//! ## The rule (see `docs/SECURITY.md`)
//! A signature `(R, s)` by key `A` on message `M` is valid if and only if
//! `s < ℓ` (canonical), `A` and `R` decode to curve points (non-canonical
//! encodings of the field element accepted, as curve25519-dalek decodes
//! them), and the **cofactored** equation `[8][s]B = [8]R + [8][k]A` holds
//! with `k = SHA-512(R ‖ A ‖ M) mod ℓ` over the bytes as given.
//!
//! Because the batch equation is cofactored too, a batch passes only if
//! every member passes alone (up to a 2^-128 chance per batch, from the
//! random coefficients), so no grouping, order, batch size or thread count
//! can change a verdict: there is no consensus split between nodes that
//! batch differently.
//!
//! ## Cost
//! A batch of n signatures is one multiscalar multiplication of about
//! 2n + 1 points (fewer when a key repeats: its coefficients are summed).
//! When a batch fails it is split into parts of 128, and a failing part in
//! halves, until each invalid signature is isolated; signatures are parsed
//! (points decompressed) once, so re-checks cost only multiscalar work. k
//! invalid signatures in a chunk of c cost at most `c/128 + 2·k·7` extra
//! batch checks of at most 128 signatures each.

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rayon::prelude::*;

mod key_cache;

use key_cache::decompress_key;
pub use key_cache::KeyCache;
use sha2::{Digest, Sha512};

use crate::hash::{Domain, Hash};
use crate::types::{PublicKey, Signature, Transaction};

/// Signatures per batch, tuned by `benches/sig_verify.rs` on dev-2c: the
/// per-signature cost falls steeply up to about 128 and slowly after, and
/// smaller chunks balance two cores better on small blocks.
pub const DEFAULT_CHUNK_SIGNATURES: usize = 1024;

/// Decompressed public keys the cache holds by default: 65,536 keys, about
/// 14 MiB (a key takes about 200 bytes with its map entry).
pub const DEFAULT_KEY_CACHE_ENTRIES: usize = 1 << 16;

/// Why one signature is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// `s` is not below the group order ℓ.
    #[error("signature scalar s is not canonical (s ≥ ℓ)")]
    NonCanonicalScalar,
    /// The public key does not decode to a curve point.
    #[error("public key is not a curve point")]
    InvalidPublicKey,
    /// `R` does not decode to a curve point.
    #[error("signature point R is not a curve point")]
    InvalidR,
    /// The cofactored verification equation does not hold.
    #[error("signature does not verify")]
    EquationFailed,
}

/// Why a set of signatures did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// These signatures (indices into the input, ascending) are invalid; all
    /// others are valid.
    #[error("{} invalid signature(s), first at index {}", indices.len(), indices.first().copied().unwrap_or_default())]
    InvalidSignatures {
        /// Every invalid index, ascending.
        indices: Vec<u32>,
    },
}

/// One signature to check.
#[derive(Clone, Copy, Debug)]
pub struct SignatureItem<'a> {
    /// The signer's key as it travels.
    pub public_key: &'a PublicKey,
    /// The signature as it travels.
    pub signature: &'a Signature,
    /// The 32-byte message (a transaction's signing message).
    pub message: Hash,
}

/// A signature parsed into the pieces the equations use.
struct Parsed {
    a: EdwardsPoint,
    a_bytes: [u8; 32],
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8; 32]) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(r);
    hasher.update(a);
    hasher.update(message);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(hasher.finalize().as_slice());
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn split(signature: &Signature) -> ([u8; 32], [u8; 32]) {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&signature.0[..32]);
    s.copy_from_slice(&signature.0[32..]);
    (r, s)
}

fn parse(item: &SignatureItem<'_>, keys: Option<&KeyCache>) -> Result<Parsed, SignatureError> {
    let (r_bytes, s_bytes) = split(item.signature);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or(SignatureError::NonCanonicalScalar)?;
    let a_bytes = item.public_key.0;
    let a = match keys {
        Some(cache) => cache.get_or_decompress(&a_bytes),
        None => decompress_key(&a_bytes),
    }
    .ok_or(SignatureError::InvalidPublicKey)?;
    let r = CompressedEdwardsY(r_bytes)
        .decompress()
        .ok_or(SignatureError::InvalidR)?;
    let k = challenge(&r_bytes, &a_bytes, item.message.as_bytes());
    Ok(Parsed {
        a,
        a_bytes,
        r,
        s,
        k,
    })
}

fn single_equation_holds(parsed: &Parsed) -> bool {
    // [8]([s]B − R − [k]A) = identity
    let sb_minus_ka =
        EdwardsPoint::vartime_double_scalar_mul_basepoint(&parsed.k, &-parsed.a, &parsed.s);
    (sb_minus_ka - parsed.r).mul_by_cofactor().is_identity()
}

/// Verifies one signature under the rule. Single and batch verification
/// agree on every input.
pub fn verify_single(
    public_key: &PublicKey,
    signature: &Signature,
    message: &Hash,
) -> Result<(), SignatureError> {
    let item = SignatureItem {
        public_key,
        signature,
        message: *message,
    };
    let parsed = parse(&item, None)?;
    if single_equation_holds(&parsed) {
        Ok(())
    } else {
        Err(SignatureError::EquationFailed)
    }
}

/// The random 128-bit coefficients of a batch, derived by hashing every
/// signature, key and message in it (and the batch's size): a signer cannot
/// choose inputs that cancel out, because the coefficients depend on all of
/// them. Deterministic, so a failure reproduces.
fn coefficients(parsed: &[Parsed], items: &[SignatureItem<'_>]) -> Vec<Scalar> {
    let mut transcript = Domain::BatchVerification.hasher();
    transcript.update(&(items.len() as u64).to_le_bytes());
    for item in items {
        transcript.update(&item.public_key.0);
        transcript.update(&item.signature.0);
        transcript.update(item.message.as_bytes());
    }
    let mut stream = transcript.finalize_xof();
    parsed
        .iter()
        .map(|_| {
            let mut bytes = [0u8; 32];
            stream.fill(&mut bytes[..16]);
            Scalar::from_bytes_mod_order(bytes)
        })
        .collect()
}

/// The cofactored batch equation over already-parsed signatures:
/// `[8](−(Σ zᵢsᵢ)B + Σ zᵢRᵢ + Σ (zᵢkᵢ)Aᵢ) = identity`, with the `Aᵢ` terms
/// of a repeated key merged.
fn batch_equation_holds(parsed: &[Parsed], items: &[SignatureItem<'_>]) -> bool {
    if parsed.is_empty() {
        return true;
    }
    let z = coefficients(parsed, items);
    let mut b_coefficient = Scalar::ZERO;
    let mut scalars = Vec::with_capacity(2 * parsed.len() + 1);
    let mut points = Vec::with_capacity(2 * parsed.len() + 1);
    let mut key_slots: HashMap<[u8; 32], usize> = HashMap::with_capacity(parsed.len());
    let mut key_scalars: Vec<Scalar> = Vec::with_capacity(parsed.len());
    let mut key_points: Vec<EdwardsPoint> = Vec::with_capacity(parsed.len());
    for (p, z) in parsed.iter().zip(&z) {
        b_coefficient -= z * p.s;
        scalars.push(*z);
        points.push(p.r);
        let term = z * p.k;
        match key_slots.get(&p.a_bytes) {
            Some(&slot) => {
                if let Some(scalar) = key_scalars.get_mut(slot) {
                    *scalar += term;
                }
            }
            None => {
                key_slots.insert(p.a_bytes, key_scalars.len());
                key_scalars.push(term);
                key_points.push(p.a);
            }
        }
    }
    scalars.push(b_coefficient);
    points.push(ED25519_BASEPOINT_POINT);
    scalars.extend(key_scalars);
    points.extend(key_points);
    EdwardsPoint::vartime_multiscalar_mul(scalars.iter(), points.iter())
        .mul_by_cofactor()
        .is_identity()
}

/// Appends to `bad` the indices (offset by `base`) of the invalid
/// signatures in `parsed`, by bisection: a passing half is cleared whole.
fn find_invalid(parsed: &[Parsed], items: &[SignatureItem<'_>], base: u32, bad: &mut Vec<u32>) {
    if batch_equation_holds(parsed, items) {
        return;
    }
    if parsed.len() == 1 {
        bad.push(base);
        return;
    }
    // A large failing batch is split into parts of about
    // `BISECTION_PART_SIGNATURES` first (a bad signature is usually alone,
    // and re-checking small parts of already parsed signatures is cheap),
    // then halved.
    let part = if parsed.len() > BISECTION_PART_SIGNATURES {
        BISECTION_PART_SIGNATURES
    } else {
        parsed.len().div_ceil(2)
    };
    for (n, (parsed_part, items_part)) in parsed.chunks(part).zip(items.chunks(part)).enumerate() {
        find_invalid(parsed_part, items_part, base + (n * part) as u32, bad);
    }
}

/// Size of the parts a failing batch is first split into.
const BISECTION_PART_SIGNATURES: usize = 128;

/// Verifies one chunk; returns the invalid indices (offset by `base`).
fn verify_chunk(items: &[SignatureItem<'_>], base: u32, keys: &KeyCache) -> Vec<u32> {
    let mut bad = Vec::new();
    let mut parsed = Vec::with_capacity(items.len());
    let mut parsed_items = Vec::with_capacity(items.len());
    let mut positions = Vec::with_capacity(items.len());
    for (offset, item) in items.iter().enumerate() {
        match parse(item, Some(keys)) {
            Ok(p) => {
                parsed.push(p);
                parsed_items.push(*item);
                positions.push(base + offset as u32);
            }
            Err(_) => bad.push(base + offset as u32),
        }
    }
    let mut failed = Vec::new();
    find_invalid(&parsed, &parsed_items, 0, &mut failed);
    bad.extend(
        failed
            .into_iter()
            .filter_map(|local| positions.get(local as usize).copied()),
    );
    bad
}

/// Settings of a [`SignatureVerifier`].
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// Signatures per batch (and per rayon task).
    pub chunk_signatures: usize,
    /// Public keys the cache may hold (0: no cache).
    pub key_cache_entries: usize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            chunk_signatures: DEFAULT_CHUNK_SIGNATURES,
            key_cache_entries: DEFAULT_KEY_CACHE_ENTRIES,
        }
    }
}

/// The verification stage: parallel batch verification with a key cache.
/// Shareable between threads.
#[derive(Debug)]
pub struct SignatureVerifier {
    config: VerifierConfig,
    keys: KeyCache,
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl Default for SignatureVerifier {
    fn default() -> Self {
        SignatureVerifier::new(VerifierConfig::default())
    }
}

impl SignatureVerifier {
    /// A verifier running on the global rayon pool.
    pub fn new(config: VerifierConfig) -> Self {
        SignatureVerifier {
            keys: KeyCache::new(config.key_cache_entries),
            config,
            pool: None,
        }
    }

    /// Runs verification on `pool` instead of the global pool.
    pub fn with_pool(mut self, pool: Arc<rayon::ThreadPool>) -> Self {
        self.pool = Some(pool);
        self
    }

    /// The key cache.
    pub fn key_cache(&self) -> &KeyCache {
        &self.keys
    }

    fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }

    /// Verifies every item; on failure names every invalid one.
    pub fn verify_items(&self, items: &[SignatureItem<'_>]) -> Result<(), VerifyError> {
        let chunk = self.config.chunk_signatures.max(1);
        let mut bad: Vec<u32> = self.run(|| {
            items
                .par_chunks(chunk)
                .enumerate()
                .flat_map_iter(|(n, chunk_items)| {
                    verify_chunk(chunk_items, (n * chunk) as u32, &self.keys)
                })
                .collect()
        });
        if bad.is_empty() {
            return Ok(());
        }
        bad.sort_unstable();
        Err(VerifyError::InvalidSignatures { indices: bad })
    }

    /// Verifies the signature of every transaction over its signing
    /// message (computed here, in parallel).
    pub fn verify_transactions(&self, transactions: &[Transaction]) -> Result<(), VerifyError> {
        let chunk = self.config.chunk_signatures.max(1);
        let mut bad: Vec<u32> = self.run(|| {
            transactions
                .par_chunks(chunk)
                .enumerate()
                .flat_map_iter(|(n, txs)| {
                    let items: Vec<SignatureItem<'_>> = txs
                        .iter()
                        .map(|tx| SignatureItem {
                            public_key: tx.sender(),
                            signature: tx.signature(),
                            message: tx.signing_message(),
                        })
                        .collect();
                    verify_chunk(&items, (n * chunk) as u32, &self.keys)
                })
                .collect()
        });
        if bad.is_empty() {
            return Ok(());
        }
        bad.sort_unstable();
        Err(VerifyError::InvalidSignatures { indices: bad })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signed(seed: u8, message: &Hash) -> (PublicKey, Signature) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        (
            PublicKey::from_signing_key(&key),
            Signature(key.sign(message.as_bytes()).to_bytes()),
        )
    }

    /// ℓ, little-endian.
    const GROUP_ORDER: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    #[test]
    fn valid_signature_verifies_single_and_batch() {
        let message = crate::hash::hash(Domain::TransactionSigning, b"m");
        let (key, signature) = signed(1, &message);
        verify_single(&key, &signature, &message).unwrap();
        let verifier = SignatureVerifier::default();
        let items = [SignatureItem {
            public_key: &key,
            signature: &signature,
            message,
        }];
        verifier.verify_items(&items).unwrap();
    }

    #[test]
    fn non_canonical_s_is_rejected() {
        let message = crate::hash::hash(Domain::TransactionSigning, b"m");
        let (key, mut signature) = signed(1, &message);
        // s + ℓ is the same scalar mod ℓ but not canonical.
        let (_, s) = split(&signature);
        let mut carry = 0u16;
        let mut ell_bytes = [0u8; 32];
        for i in 0..32 {
            let sum = u16::from(s[i]) + u16::from(GROUP_ORDER[i]) + carry;
            ell_bytes[i] = sum as u8;
            carry = sum >> 8;
        }
        signature.0[32..].copy_from_slice(&ell_bytes);
        assert_eq!(
            verify_single(&key, &signature, &message),
            Err(SignatureError::NonCanonicalScalar)
        );
    }

    #[test]
    fn bisection_names_every_invalid_index() {
        let verifier = SignatureVerifier::new(VerifierConfig {
            chunk_signatures: 16,
            key_cache_entries: 1000,
        });
        let messages: Vec<Hash> = (0..100u32)
            .map(|i| crate::hash::hash(Domain::TransactionSigning, &i.to_le_bytes()))
            .collect();
        let mut signed_items: Vec<(PublicKey, Signature)> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| signed((i % 7) as u8 + 1, m))
            .collect();
        for bad in [3usize, 40, 41, 99] {
            signed_items[bad].1 .0[5] ^= 1;
        }
        let items: Vec<SignatureItem<'_>> = signed_items
            .iter()
            .zip(&messages)
            .map(|((key, signature), message)| SignatureItem {
                public_key: key,
                signature,
                message: *message,
            })
            .collect();
        assert_eq!(
            verifier.verify_items(&items),
            Err(VerifyError::InvalidSignatures {
                indices: vec![3, 40, 41, 99]
            })
        );
        assert!(verifier.key_cache().len() <= 7);
    }
}
