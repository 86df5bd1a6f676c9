//! The verification stage: ed25519 signatures under one acceptance rule
//! (ZIP-215), checked in parallel batches that agree exactly with single
//! verification, naming every invalid signature, with a bounded cache of
//! decompressed public keys.
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
//! The signatures of a call are first ordered by key, so that every
//! signature of one key lands in the same chunk (or two adjacent ones), and
//! cut into chunks of equal size, as many as the threads or more. A chunk of
//! n signatures by m distinct keys is one multiscalar multiplication of
//! n + m + 1 points: `zᵢ·Rᵢ` with 128-bit `zᵢ`, one full-size term per key
//! (`Σ zᵢkᵢ` over its signatures) and one for the basepoint. When few keys
//! sign many messages the key terms vanish from the cost, which is then the
//! `Rᵢ` terms and the decompression of each `Rᵢ` (a field square root).
//! Sums of scalar products are reduced modulo ℓ once per sum
//! (`verify/scalars.rs`).
//!
//! A chunk that fails is searched (`verify/screen.rs`): candidates are
//! located with group sums under small random coefficients, checked alone,
//! and the rest certified with the chunk's own coefficients; points are
//! parsed once for all of it.

mod batch;
mod key_cache;
mod parse;
mod scalars;
mod screen;

use std::sync::Arc;

use curve25519_dalek::traits::IsIdentity;
use foldhash::{HashMap, HashMapExt};
use rayon::prelude::*;

use crate::hash::Hash;
use crate::types::{PublicKey, Signature, Transaction};

pub use key_cache::KeyCache;

/// Most signatures in one batch (one multiscalar multiplication and one
/// rayon task), tuned by `benches/sig_verify.rs`: the cost per signature
/// falls with the batch size (the fixed cost of the multiplication's
/// windows is shared by more points), most while few keys sign.
pub const DEFAULT_CHUNK_SIGNATURES: usize = 4096;

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
    let parsed = parse::parse_one(&item)?;
    // [8]([s]B − R − [k]A) = identity
    let sb_minus_ka = curve25519_dalek::EdwardsPoint::vartime_double_scalar_mul_basepoint(
        &parsed.k, &-parsed.a, &parsed.s,
    );
    if (sb_minus_ka - parsed.r).mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(SignatureError::EquationFailed)
    }
}

/// Settings of a [`SignatureVerifier`].
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// Most signatures per batch (and per rayon task); a call is cut into
    /// chunks of equal size, at least one per thread when it is large
    /// enough.
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
        let bad = self.run(|| verify_all(items, self.config.chunk_signatures, &self.keys));
        verdict(bad)
    }

    /// Verifies the signature of every transaction over its signing
    /// message (computed here, in parallel).
    pub fn verify_transactions(&self, transactions: &[Transaction]) -> Result<(), VerifyError> {
        let bad = self.run(|| {
            let items: Vec<SignatureItem<'_>> = transactions
                .par_iter()
                .with_min_len(256)
                .map(|tx| SignatureItem {
                    public_key: tx.sender(),
                    signature: tx.signature(),
                    message: tx.signing_message(),
                })
                .collect();
            verify_all(&items, self.config.chunk_signatures, &self.keys)
        });
        verdict(bad)
    }
}

fn verdict(mut bad: Vec<u32>) -> Result<(), VerifyError> {
    if bad.is_empty() {
        return Ok(());
    }
    bad.sort_unstable();
    Err(VerifyError::InvalidSignatures { indices: bad })
}

/// Signatures per chunk below which a call is not split further to give
/// every thread a chunk: smaller batches cost more per signature than a
/// thread saves.
const MIN_PARALLEL_CHUNK_SIGNATURES: usize = 256;

/// Positions of `items` ordered so that the signatures of one key are
/// adjacent (keys in order of first appearance, signatures of a key in
/// input order).
fn order_by_key(items: &[SignatureItem<'_>]) -> Vec<u32> {
    let mut slot_of: HashMap<&[u8; 32], u32> = HashMap::with_capacity(items.len());
    let mut slots = Vec::with_capacity(items.len());
    let mut counts: Vec<u32> = Vec::new();
    for item in items {
        let next = counts.len() as u32;
        let slot = *slot_of.entry(&item.public_key.0).or_insert(next);
        if slot == next {
            counts.push(0);
        }
        if let Some(count) = counts.get_mut(slot as usize) {
            *count += 1;
        }
        slots.push(slot);
    }
    if counts.len() == items.len() {
        // Every key signs once: the input order is already grouped.
        return (0..items.len() as u32).collect();
    }
    // Counting sort: `start[slot]` is where the slot's next position goes.
    let mut start = Vec::with_capacity(counts.len());
    let mut total = 0u32;
    for count in &counts {
        start.push(total);
        total += count;
    }
    let mut order = vec![0u32; items.len()];
    for (position, slot) in slots.into_iter().enumerate() {
        if let Some(next) = start.get_mut(slot as usize) {
            if let Some(place) = order.get_mut(*next as usize) {
                *place = position as u32;
            }
            *next += 1;
        }
    }
    order
}

/// Signatures per chunk for `n` signatures on `threads` threads: chunks of
/// equal size, at most `max_chunk`, a multiple of `threads` of them when
/// that leaves each at least [`MIN_PARALLEL_CHUNK_SIGNATURES`].
fn chunk_len(n: usize, max_chunk: usize, threads: usize) -> usize {
    let max_chunk = max_chunk.max(1);
    let mut chunks = n.div_ceil(max_chunk).max(1);
    let threads = threads.max(1);
    let balanced = chunks.div_ceil(threads) * threads;
    if balanced > chunks && n / balanced >= MIN_PARALLEL_CHUNK_SIGNATURES {
        chunks = balanced;
    }
    n.div_ceil(chunks).clamp(1, max_chunk)
}

/// Verifies `items` in parallel chunks; returns the invalid indices.
fn verify_all(items: &[SignatureItem<'_>], max_chunk: usize, keys: &KeyCache) -> Vec<u32> {
    if items.is_empty() {
        return Vec::new();
    }
    let order = order_by_key(items);
    let len = chunk_len(items.len(), max_chunk, rayon::current_num_threads());
    order
        .par_chunks(len)
        .flat_map_iter(|positions| verify_chunk(items, positions, keys))
        .collect()
}

/// Verifies the items at `positions` as one batch; returns the invalid
/// ones' positions.
fn verify_chunk(items: &[SignatureItem<'_>], positions: &[u32], keys: &KeyCache) -> Vec<u32> {
    let mut bad = Vec::new();
    let chunk = parse::ParsedChunk::parse(items, positions, keys, &mut bad);
    if chunk.len() == 0 {
        return bad;
    }
    let mut coefficients = batch::Coefficients::derive(items, &chunk);
    let all: Vec<u32> = (0..chunk.len() as u32).collect();
    let z = &coefficients.z;
    let sum = batch::combination(&chunk, &all, |i| z.get(i).copied().unwrap_or(0));
    if sum.mul_by_cofactor().is_identity() {
        return bad;
    }
    let invalid = screen::find_invalid(&chunk, &mut coefficients, sum);
    bad.extend(
        invalid
            .into_iter()
            .filter_map(|local| chunk.position.get(local as usize).copied()),
    );
    bad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Domain;
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
        let (_, s) = parse::split(&signature.0);
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

    #[test]
    fn order_by_key_puts_each_keys_signatures_together_in_input_order() {
        let keys: Vec<PublicKey> = [3u8, 1, 3, 2, 1, 3, 4]
            .iter()
            .map(|&b| PublicKey([b; 32]))
            .collect();
        let signature = Signature([0; 64]);
        let items: Vec<SignatureItem<'_>> = keys
            .iter()
            .map(|public_key| SignatureItem {
                public_key,
                signature: &signature,
                message: Hash::ZERO,
            })
            .collect();
        // Keys in order of first appearance (3, 1, 2, 4), each key's
        // signatures in input order.
        assert_eq!(order_by_key(&items), vec![0, 2, 5, 1, 4, 3, 6]);
        // All distinct: the input order.
        assert_eq!(order_by_key(&items[3..5]), vec![0, 1]);
        assert!(order_by_key(&[]).is_empty());
    }

    #[test]
    fn chunks_are_equal_bounded_and_shared_between_threads() {
        assert_eq!(chunk_len(10_000, 4096, 1), 3334);
        assert_eq!(chunk_len(10_000, 4096, 2), 2500);
        assert_eq!(chunk_len(10_000, 10_000, 2), 5000);
        assert_eq!(chunk_len(10_000, 10_000, 1), 10_000);
        // Too small to be worth splitting for a second thread.
        assert_eq!(chunk_len(300, 4096, 2), 300);
        assert_eq!(chunk_len(600, 4096, 2), 300);
        assert_eq!(chunk_len(5, 0, 2), 1);
        assert_eq!(chunk_len(0, 16, 2), 1);
        for n in 1..300 {
            for max in [1, 7, 64, 256] {
                let len = chunk_len(n, max, 2);
                assert!((1..=max).contains(&len), "n {n} max {max}: {len}");
            }
        }
    }
}
