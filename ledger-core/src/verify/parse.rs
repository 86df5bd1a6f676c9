//! Parsing a chunk of signatures into the pieces the equations use, once:
//! points decompressed, `s` checked, the challenge `k` hashed. The chunk
//! arrives ordered by key, so the signatures of one key are adjacent and
//! its point is looked up once per run.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};

use super::key_cache::{decompress_key, KeyCache};
use super::scalars::{is_canonical, limbs};
use super::{SignatureError, SignatureItem};

/// `k = SHA-512(R ‖ A ‖ M) mod ℓ` over the bytes as given.
pub(super) fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8; 32]) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(r);
    hasher.update(a);
    hasher.update(message);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(hasher.finalize().as_slice());
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// The halves `R` and `s` of a signature.
pub(super) fn split(signature: &[u8; 64]) -> ([u8; 32], [u8; 32]) {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&signature[..32]);
    s.copy_from_slice(&signature[32..]);
    (r, s)
}

/// One signature parsed, for single verification.
pub(super) struct ParsedOne {
    pub(super) a: EdwardsPoint,
    pub(super) r: EdwardsPoint,
    pub(super) s: Scalar,
    pub(super) k: Scalar,
}

/// Parses one signature (no cache).
pub(super) fn parse_one(item: &SignatureItem<'_>) -> Result<ParsedOne, SignatureError> {
    let (r_bytes, s_bytes) = split(&item.signature.0);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or(SignatureError::NonCanonicalScalar)?;
    let a_bytes = &item.public_key.0;
    let a = decompress_key(a_bytes).ok_or(SignatureError::InvalidPublicKey)?;
    let r = CompressedEdwardsY(r_bytes)
        .decompress()
        .ok_or(SignatureError::InvalidR)?;
    let k = challenge(&r_bytes, a_bytes, item.message.as_bytes());
    Ok(ParsedOne { a, r, s, k })
}

/// The parsed signatures of a chunk, as parallel arrays indexed by the
/// signature's place in the chunk (signatures that failed to parse are left
/// out and reported separately). `key[i]` indexes `keys`; the signatures of
/// one key are adjacent.
#[derive(Default)]
pub(super) struct ParsedChunk {
    /// `R` of each signature.
    pub(super) r: Vec<EdwardsPoint>,
    /// `s` of each signature, as limbs (below ℓ).
    pub(super) s: Vec<[u64; 4]>,
    /// `k` of each signature, as limbs (reduced modulo ℓ).
    pub(super) k: Vec<[u64; 4]>,
    /// Index of each signature's key in `keys`.
    pub(super) key: Vec<u32>,
    /// The chunk's distinct keys, in order of first use.
    pub(super) keys: Vec<EdwardsPoint>,
    /// Each signature's index in the caller's slice.
    pub(super) position: Vec<u32>,
}

impl ParsedChunk {
    /// Parsed signatures.
    pub(super) fn len(&self) -> usize {
        self.r.len()
    }

    /// Parses the items at `positions` (ordered so that equal keys are
    /// adjacent), appending the positions of those that fail to `rejected`.
    pub(super) fn parse(
        items: &[SignatureItem<'_>],
        positions: &[u32],
        cache: &KeyCache,
        rejected: &mut Vec<u32>,
    ) -> ParsedChunk {
        let n = positions.len();
        let mut chunk = ParsedChunk {
            r: Vec::with_capacity(n),
            s: Vec::with_capacity(n),
            k: Vec::with_capacity(n),
            key: Vec::with_capacity(n),
            keys: Vec::new(),
            position: Vec::with_capacity(n),
        };
        // The current run of one key: its bytes, its point (None if it is
        // not a curve point), and its index in `keys` once a signature of
        // the run has parsed.
        let mut run: Option<(&[u8; 32], Option<EdwardsPoint>, Option<u32>)> = None;
        for &position in positions {
            let Some(item) = items.get(position as usize) else {
                continue;
            };
            let a_bytes = &item.public_key.0;
            let (r_bytes, s_bytes) = split(&item.signature.0);
            let s = limbs(&s_bytes);
            let same_run = matches!(run, Some((bytes, _, _)) if bytes == a_bytes);
            if !same_run {
                run = Some((a_bytes, cache.get_or_decompress(a_bytes), None));
            }
            let Some((_, Some(a), slot)) = run.as_mut() else {
                rejected.push(position);
                continue;
            };
            if !is_canonical(&s) {
                rejected.push(position);
                continue;
            }
            let Some(r) = CompressedEdwardsY(r_bytes).decompress() else {
                rejected.push(position);
                continue;
            };
            let key = match slot {
                Some(index) => *index,
                None => {
                    let index = chunk.keys.len() as u32;
                    chunk.keys.push(*a);
                    *slot = Some(index);
                    index
                }
            };
            let k = challenge(&r_bytes, a_bytes, item.message.as_bytes());
            chunk.r.push(r);
            chunk.s.push(s);
            chunk.k.push(limbs(&k.to_bytes()));
            chunk.key.push(key);
            chunk.position.push(position);
        }
        chunk
    }
}
