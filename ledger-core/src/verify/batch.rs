//! The batch equation of a chunk: its random coefficients and the
//! multiscalar multiplication over parsed signatures, with one term per
//! distinct key and one for the basepoint.
//!
//! Write `Eᵢ = Rᵢ + kᵢ·Aᵢ − sᵢ·B` for signature `i`: it is valid exactly when
//! `[8]Eᵢ` is the identity. For coefficients `cᵢ` the combination
//! `Σ cᵢ·Eᵢ = Σ cᵢ·Rᵢ + Σ_A (Σ_{i signed by A} cᵢ·kᵢ)·A − (Σ cᵢ·sᵢ)·B`
//! is one multiscalar multiplication with one point per signature, one per
//! distinct key and the basepoint.

use std::iter;
use std::sync::LazyLock;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{EdwardsPoint, VartimeEdwardsPrecomputation};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{VartimeMultiscalarMul, VartimePrecomputedMultiscalarMul};

use super::parse::ParsedChunk;
use super::scalars::WideSum;
use super::SignatureItem;
use crate::hash::Domain;

/// Below this many points curve25519-dalek multiplies with Straus' method,
/// above with Pippenger's (its own threshold, 190, less the basepoint).
const STRAUS_POINTS: usize = 189;

/// The basepoint's precomputed multiples for Straus' method (a table of
/// 64 odd multiples, made on first use).
static BASEPOINT_TABLE: LazyLock<VartimeEdwardsPrecomputation> =
    LazyLock::new(|| VartimeEdwardsPrecomputation::new([ED25519_BASEPOINT_POINT]));

/// The random coefficients of a chunk, and the rest of their stream for the
/// search for invalid signatures.
pub(super) struct Coefficients {
    /// The 128-bit coefficient `zᵢ` of each parsed signature.
    pub(super) z: Vec<u128>,
    /// The hash stream, positioned after the `zᵢ`.
    pub(super) stream: blake3::OutputReader,
}

impl Coefficients {
    /// Derives the coefficients by hashing the whole chunk (every parsed
    /// signature's key, signature and message, and their number): a signer
    /// cannot choose inputs whose errors cancel, because the coefficients
    /// depend on all of them. Deterministic, so a failure reproduces.
    pub(super) fn derive(items: &[SignatureItem<'_>], chunk: &ParsedChunk) -> Coefficients {
        // Fed to the hasher in pieces of many items: blake3 then hashes
        // several 1 KiB chunks at once with SIMD, instead of one 64-byte
        // block at a time as an update per field would.
        const ITEM_BYTES: usize = 32 + 64 + 32;
        const PIECE_ITEMS: usize = 64;
        let mut hasher = Domain::BatchVerification.hasher();
        hasher.update(&(chunk.len() as u64).to_le_bytes());
        let mut piece = [0u8; ITEM_BYTES * PIECE_ITEMS];
        let mut filled = 0;
        for item in chunk
            .position
            .iter()
            .filter_map(|&position| items.get(position as usize))
        {
            if let Some(slot) = piece.get_mut(filled..filled + ITEM_BYTES) {
                let (key, rest) = slot.split_at_mut(32);
                let (signature, message) = rest.split_at_mut(64);
                key.copy_from_slice(&item.public_key.0);
                signature.copy_from_slice(&item.signature.0);
                message.copy_from_slice(item.message.as_bytes());
                filled += ITEM_BYTES;
            }
            if filled == piece.len() {
                hasher.update(&piece);
                filled = 0;
            }
        }
        hasher.update(piece.get(..filled).unwrap_or_default());
        let mut stream = hasher.finalize_xof();
        let mut bytes = vec![0u8; 16 * chunk.len()];
        stream.fill(&mut bytes);
        let z = bytes
            .chunks_exact(16)
            .map(|word| {
                let mut le = [0u8; 16];
                le.copy_from_slice(word);
                u128::from_le_bytes(le)
            })
            .collect();
        Coefficients { z, stream }
    }
}

/// `Σ cᵢ·Eᵢ` over `members` (indices into the chunk, ascending), with
/// `cᵢ = coefficient(i)`: one multiscalar multiplication.
pub(super) fn combination(
    chunk: &ParsedChunk,
    members: &[u32],
    coefficient: impl Fn(usize) -> u128,
) -> EdwardsPoint {
    let mut r_scalars = Vec::with_capacity(members.len());
    let mut r_points = Vec::with_capacity(members.len());
    let mut terms = KeyTerms::new(chunk);
    for &member in members {
        let i = member as usize;
        let Some(r) = chunk.r.get(i) else {
            continue;
        };
        let c = coefficient(i);
        r_scalars.push(Scalar::from(c));
        r_points.push(r);
        terms.add(i, c, false);
    }
    let (key_scalars, key_points, b) = terms.finish();
    // Exact-size iterators of equal length, as the multiplication requires.
    let scalars = r_scalars
        .into_iter()
        .chain(key_scalars)
        .chain(iter::once(b));
    let points = r_points
        .into_iter()
        .chain(key_points)
        .chain(iter::once(&ED25519_BASEPOINT_POINT));
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
}

/// A sum of terms `±c·x`, kept as two non-negative integers.
#[derive(Clone, Copy, Default)]
struct SignedSum {
    positive: WideSum,
    negative: Option<WideSum>,
}

impl SignedSum {
    fn add(&mut self, x: &[u64; 4], c: u128, negative: bool) {
        if negative {
            self.negative
                .get_or_insert_with(WideSum::default)
                .add_product(x, c);
        } else {
            self.positive.add_product(x, c);
        }
    }

    fn reduce(&self) -> Scalar {
        match &self.negative {
            Some(negative) => self.positive.reduce() - negative.reduce(),
            None => self.positive.reduce(),
        }
    }
}

/// The key and basepoint terms of a combination `Σ ±cᵢ·Eᵢ`: for each run of
/// one key, `(Σ ±cᵢ·kᵢ)·A`, and `−(Σ ±cᵢ·sᵢ)·B`.
pub(super) struct KeyTerms<'a> {
    chunk: &'a ParsedChunk,
    scalars: Vec<Scalar>,
    points: Vec<&'a EdwardsPoint>,
    run: Option<(u32, SignedSum)>,
    b: SignedSum,
}

impl<'a> KeyTerms<'a> {
    pub(super) fn new(chunk: &'a ParsedChunk) -> Self {
        KeyTerms {
            chunk,
            scalars: Vec::new(),
            points: Vec::new(),
            run: None,
            b: SignedSum::default(),
        }
    }

    /// Adds signature `i` with coefficient `c` (negated if `negative`).
    /// Signatures must come in chunk order (the runs of one key adjacent).
    #[inline]
    pub(super) fn add(&mut self, i: usize, c: u128, negative: bool) {
        let (Some(s), Some(k), Some(&key)) = (
            self.chunk.s.get(i),
            self.chunk.k.get(i),
            self.chunk.key.get(i),
        ) else {
            return;
        };
        self.b.add(s, c, negative);
        match &mut self.run {
            Some((run_key, sum)) if *run_key == key => sum.add(k, c, negative),
            _ => {
                self.close_run();
                let mut sum = SignedSum::default();
                sum.add(k, c, negative);
                self.run = Some((key, sum));
            }
        }
    }

    fn close_run(&mut self) {
        if let Some((key, sum)) = self.run.take() {
            if let Some(point) = self.chunk.keys.get(key as usize) {
                self.scalars.push(sum.reduce());
                self.points.push(point);
            }
        }
    }

    /// The key scalars and points, and the basepoint's scalar `−Σ ±cᵢ·sᵢ`.
    pub(super) fn finish(mut self) -> (Vec<Scalar>, Vec<&'a EdwardsPoint>, Scalar) {
        self.close_run();
        (self.scalars, self.points, -self.b.reduce())
    }

    /// The sum of the key and basepoint terms, computed.
    pub(super) fn point(self) -> EdwardsPoint {
        let (scalars, points, b) = self.finish();
        match (scalars.as_slice(), points.as_slice()) {
            // One key: the double-base multiplication with the basepoint's
            // precomputed table.
            ([a], [key]) => EdwardsPoint::vartime_double_scalar_mul_basepoint(a, key, &b),
            // Few keys: Straus, with the basepoint's table made once.
            _ if points.len() < STRAUS_POINTS => BASEPOINT_TABLE.vartime_mixed_multiscalar_mul(
                iter::once(&b),
                scalars.iter(),
                points,
            ),
            _ => EdwardsPoint::vartime_multiscalar_mul(
                scalars.iter().chain(iter::once(&b)),
                points
                    .into_iter()
                    .chain(iter::once(&ED25519_BASEPOINT_POINT)),
            ),
        }
    }
}
