//! Naming every invalid signature of a chunk whose batch equation failed.
//!
//! The chunk's check computed `Q = Σ zᵢ·Eᵢ` (random 128-bit `zᵢ`, see
//! [`super::batch`]). The search has two parts.
//!
//! 1. **Locate** candidates cheaply. Groups are tested with small random
//!    coefficients `cᵢ = ±yᵢ`, `1 ≤ yᵢ ≤ 15`, instead of 128-bit ones:
//!    `T₀(G) = Σ_G cᵢ·Eᵢ`. The `cᵢ·Rᵢ` then cost about one point addition
//!    each (one bucket per `yᵢ`), and the key and basepoint terms one
//!    multiplication per key in the group, so with few keys a group test
//!    costs about one single check whatever its size. A failing group
//!    expected to hold one invalid signature is decoded with
//!    `T₁(G) = Σ_t t·εₜ·Eₜ` (`t` the place in the group, `εₜ` the sign of
//!    `cₜ`): with one invalid signature at place `t`, `yₜ·[8]T₁ = t·[8]T₀`,
//!    and a scan over the places finds `t`. The decoded signature is then
//!    checked alone, and its term subtracted from `T₀`: if the rest still
//!    fails, the search goes on in it. Groups expected to hold more are
//!    split, the last part's `T₀` by subtraction. Group sizes follow the
//!    density of invalid signatures found so far (about
//!    [`GROUP_EXPECTED`] per group), and where it passes [`DENSE_SHARE`],
//!    the rest are all checked alone.
//! 2. **Decide** exactly. Every candidate is checked alone (its `Eⱼ` is
//!    computed: the single verification), and the rest of the chunk is
//!    certified by the batch equation with the chunk's own coefficients:
//!    `[8](Q − Σ_cand zⱼ·Eⱼ)` must be the identity.
//!
//! Step 2 alone decides every verdict, with the soundness of batch
//! verification (a `2⁻¹²⁸` chance per check); step 1 only chooses which
//! signatures step 2 looks at. Small coefficients can hide invalid
//! signatures whose errors cancel (about one chance in 30 for two errors
//! that are equal up to sign, such as `s` off by the same amount): then
//! certification fails, location runs again with fresh coefficients on
//! what remains, and after [`LOCATE_ROUNDS`] rounds the search falls back
//! to bisection with the 128-bit coefficients, which no input can defeat.
//! All coefficients come from the chunk's hash stream: deterministic, and
//! unknown to a signer before the chunk is fixed.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity, VartimeMultiscalarMul};

use super::batch::{combination, Coefficients, KeyTerms};
use super::parse::ParsedChunk;
use super::scalars::scalar;

/// Rounds of location before the bisection fallback.
pub(super) const LOCATE_ROUNDS: usize = 3;

/// Invalid signatures a group of the first pass is sized to hold, at the
/// density seen so far: few enough that most failing groups hold one.
const GROUP_EXPECTED: f64 = 0.6;

/// Bounds on the size of a first-pass group: at least a few signatures,
/// since a group test costs about one single check whatever its size, and
/// at most 512, or [`FIRST_GROUP_SIGNATURES`] before the density is known.
const MIN_GROUP_SIGNATURES: usize = 8;
const MAX_GROUP_SIGNATURES: usize = 512;
const FIRST_GROUP_SIGNATURES: usize = 128;

/// Estimated share of invalid signatures above which a failing group's
/// members are all checked alone: a single check costs about as much as a
/// group test of a few dozen signatures with one key.
const DENSE_SHARE: f64 = 0.2;

/// A failing group expected to hold at most this many invalid signatures
/// is decoded with `T₁` before it is split.
const DECODE_EXPECTED_AT_MOST: f64 = 1.6;

/// Parts a failing group is split into, per invalid signature expected.
const PARTS_PER_EXPECTED: f64 = 1.5;

/// Location coefficients are `±y` with `1 ≤ y ≤ MAX_MULTIPLIER`.
const MAX_MULTIPLIER: u8 = 15;

/// Indices (into the chunk, ascending) of its invalid signatures, given that
/// `chunk_sum = Σ zᵢ·Eᵢ` over the whole chunk failed.
pub(super) fn find_invalid(
    chunk: &ParsedChunk,
    coefficients: &mut Coefficients,
    chunk_sum: EdwardsPoint,
) -> Vec<u32> {
    find_invalid_in_rounds(chunk, coefficients, chunk_sum, LOCATE_ROUNDS)
}

/// [`find_invalid`] with `rounds` rounds of location before bisection.
fn find_invalid_in_rounds(
    chunk: &ParsedChunk,
    coefficients: &mut Coefficients,
    chunk_sum: EdwardsPoint,
    rounds: usize,
) -> Vec<u32> {
    let mut invalid = Vec::new();
    let mut remaining: Vec<u32> = (0..chunk.len() as u32).collect();
    // Σ zᵢ·Eᵢ over `remaining`.
    let mut residual = chunk_sum;
    for _ in 0..rounds {
        let round = Round::new(chunk, &mut coefficients.stream);
        let mut candidates = Vec::new();
        round.locate(&remaining, &mut candidates);
        if candidates.is_empty() {
            continue;
        }
        // Disjoint groups: no signature is a candidate twice in a round.
        candidates.sort_unstable_by_key(|candidate: &Candidate| candidate.index);
        let indices: Vec<u32> = candidates.iter().map(|c| c.index).collect();
        invalid.extend(candidates.iter().filter(|c| c.invalid).map(|c| c.index));
        let errors: Vec<EdwardsPoint> = candidates.into_iter().map(|c| c.error).collect();
        let z = &coefficients.z;
        let candidate_z = indices
            .iter()
            .map(|&j| Scalar::from(z.get(j as usize).copied().unwrap_or(0)));
        #[cfg(test)]
        profile::record(profile::Op::Certify(indices.clone()));
        residual -= EdwardsPoint::vartime_multiscalar_mul(candidate_z, &errors);
        remaining = without(&remaining, &indices);
        if residual.mul_by_cofactor().is_identity() {
            invalid.sort_unstable();
            return invalid;
        }
    }
    bisect(chunk, &remaining, residual, &coefficients.z, &mut invalid);
    invalid.sort_unstable();
    invalid
}

/// `sorted` without the members of `removed` (both ascending).
fn without(sorted: &[u32], removed: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(sorted.len().saturating_sub(removed.len()));
    let mut removed = removed.iter().peekable();
    for &x in sorted {
        while removed.next_if(|&&r| r < x).is_some() {}
        if removed.peek() != Some(&&x) {
            out.push(x);
        }
    }
    out
}

/// `Eⱼ = Rⱼ + kⱼ·Aⱼ − sⱼ·B`: signature `j` is valid iff `[8]Eⱼ` is the
/// identity (the single verification).
fn error_point(chunk: &ParsedChunk, j: usize) -> EdwardsPoint {
    let (Some(r), Some(s), Some(k), Some(&key)) = (
        chunk.r.get(j),
        chunk.s.get(j),
        chunk.k.get(j),
        chunk.key.get(j),
    ) else {
        return EdwardsPoint::identity();
    };
    let Some(a) = chunk.keys.get(key as usize) else {
        return EdwardsPoint::identity();
    };
    EdwardsPoint::vartime_double_scalar_mul_basepoint(&scalar(k), a, &-scalar(s)) + r
}

/// Exact search: `residual = Σ zᵢ·Eᵢ` over `members` fails; halve, test one
/// half with the 128-bit coefficients, get the other by subtraction.
fn bisect(
    chunk: &ParsedChunk,
    members: &[u32],
    residual: EdwardsPoint,
    z: &[u128],
    invalid: &mut Vec<u32>,
) {
    if !fails(&residual) || members.is_empty() {
        return;
    }
    if let [only] = members {
        invalid.push(*only);
        return;
    }
    let (left, right) = members.split_at(members.len() / 2);
    #[cfg(test)]
    profile::record(profile::Op::Bisect(left.to_vec()));
    let left_sum = combination(chunk, left, |i| z.get(i).copied().unwrap_or(0));
    bisect(chunk, left, left_sum, z, invalid);
    bisect(chunk, right, residual - left_sum, z, invalid);
}

fn fails(sum: &EdwardsPoint) -> bool {
    !sum.mul_by_cofactor().is_identity()
}

/// `multiplier·point` for a small multiplier, by doubling and adding.
fn small_multiple(point: &EdwardsPoint, multiplier: u8) -> EdwardsPoint {
    let mut out = EdwardsPoint::identity();
    for bit in (0..8).rev() {
        out = out + out;
        if (multiplier >> bit) & 1 == 1 {
            out += point;
        }
    }
    out
}

/// A signature the search suspects, checked alone: its `Eⱼ`, and whether
/// `[8]Eⱼ` is not the identity (it is invalid).
struct Candidate {
    index: u32,
    error: EdwardsPoint,
    invalid: bool,
}

impl Candidate {
    fn check(chunk: &ParsedChunk, index: u32) -> Candidate {
        #[cfg(test)]
        profile::record(profile::Op::Check(index));
        let error = error_point(chunk, index as usize);
        Candidate {
            index,
            invalid: fails(&error),
            error,
        }
    }
}

/// One round of location: a coefficient `cᵢ = ±yᵢ` per signature of the
/// chunk (`1 ≤ yᵢ ≤ 15`), read from the coefficient stream.
struct Round<'a> {
    chunk: &'a ParsedChunk,
    /// `yᵢ`, and whether `cᵢ` is negative.
    coefficient: Vec<(u8, bool)>,
}

impl<'a> Round<'a> {
    fn new(chunk: &'a ParsedChunk, stream: &mut blake3::OutputReader) -> Self {
        let mut bytes = vec![0u8; chunk.len()];
        stream.fill(&mut bytes);
        let coefficient = bytes
            .into_iter()
            // Low four bits: y in 0..=15, with 0 read as 15 (15 is then
            // twice as likely, which costs nothing but a sliver of the
            // chance that two errors cancel); high bit: the sign.
            .map(|byte| match byte & 0x0f {
                0 => (MAX_MULTIPLIER, byte & 0x80 != 0),
                y => (y, byte & 0x80 != 0),
            })
            .collect();
        Round { chunk, coefficient }
    }

    fn coefficient(&self, i: usize) -> (u8, bool) {
        self.coefficient.get(i).copied().unwrap_or((1, false))
    }

    /// A length close to `size` (within a half of it either way) for the
    /// group at the start of `members` that ends where a key's run ends, so
    /// that a group test multiplies by as few keys as possible; `size`
    /// itself if no run ends near it.
    fn at_key_boundary(&self, members: &[u32], size: usize) -> usize {
        let size = size.clamp(1, members.len().max(1));
        if size >= members.len() {
            return members.len();
        }
        let key = |place: usize| {
            members
                .get(place)
                .and_then(|&member| self.chunk.key.get(member as usize))
        };
        let ends_run = |len: usize| key(len - 1) != key(len);
        for distance in 0..=size / 2 {
            for len in [size + distance, size - distance] {
                if (1..members.len()).contains(&len) && ends_run(len) {
                    return len;
                }
            }
        }
        size
    }

    /// `T₀(G) = Σ_G cᵢ·Eᵢ`. The `cᵢ·Rᵢ` are summed in one bucket per
    /// multiplier, and the buckets weighted by running sums, so the `Rᵢ`
    /// cost about one point addition each.
    fn t0(&self, group: &[u32]) -> EdwardsPoint {
        #[cfg(test)]
        profile::record(profile::Op::T0(group.to_vec()));
        let mut buckets = [EdwardsPoint::identity(); MAX_MULTIPLIER as usize + 1];
        let mut terms = KeyTerms::new(self.chunk);
        for &member in group {
            let i = member as usize;
            let (y, negative) = self.coefficient(i);
            if let (Some(r), Some(bucket)) = (self.chunk.r.get(i), buckets.get_mut(usize::from(y)))
            {
                if negative {
                    *bucket -= r;
                } else {
                    *bucket += r;
                }
            }
            terms.add(i, u128::from(y), negative);
        }
        // Σ y·bucket[y] = Σ over y of (bucket[y] + … + bucket[15]).
        let mut running = EdwardsPoint::identity();
        let mut r_part = EdwardsPoint::identity();
        for bucket in buckets.iter().skip(1).rev() {
            running += bucket;
            r_part += running;
        }
        r_part + terms.point()
    }

    /// `T₁(G) = Σ_t t·εₜ·Eₜ`, `t` the member's place in the group counted
    /// from 1 and `εₜ` the sign of its coefficient.
    fn t1(&self, group: &[u32]) -> EdwardsPoint {
        #[cfg(test)]
        profile::record(profile::Op::T1(group.to_vec()));
        let mut terms = KeyTerms::new(self.chunk);
        // Σ t·εₜ·Rₜ as a sum of suffix sums: Rₜ is in the suffix sums of
        // places 1..=t, so it is counted t times.
        let mut suffix = EdwardsPoint::identity();
        let mut r_part = EdwardsPoint::identity();
        for &member in group.iter().rev() {
            let i = member as usize;
            if let Some(r) = self.chunk.r.get(i) {
                if self.coefficient(i).1 {
                    suffix -= r;
                } else {
                    suffix += r;
                }
            }
            r_part += suffix;
        }
        for (place, &member) in group.iter().enumerate() {
            let i = member as usize;
            terms.add(i, place as u128 + 1, self.coefficient(i).1);
        }
        r_part + terms.point()
    }

    /// With one invalid signature `j` in the group, at place `t`:
    /// `[8]T₀ = cⱼ·X` and `[8]T₁ = t·εⱼ·X`, so `yⱼ·[8]T₁ = t·[8]T₀`. The
    /// place where that holds, if any (a candidate, to be checked: with more
    /// invalid signatures it can hold by coincidence).
    fn decode(&self, group: &[u32], t0: &EdwardsPoint, t1: &EdwardsPoint) -> Option<usize> {
        #[cfg(test)]
        profile::record(profile::Op::Decode(group.to_vec(), Box::new((*t0, *t1))));
        let base = t0.mul_by_cofactor();
        let weighted = t1.mul_by_cofactor();
        let mut multiples_of_weighted = Vec::with_capacity(usize::from(MAX_MULTIPLIER) + 1);
        let mut multiple = EdwardsPoint::identity();
        for _ in 0..=MAX_MULTIPLIER {
            multiples_of_weighted.push(multiple);
            multiple += weighted;
        }
        let mut place_multiple = EdwardsPoint::identity();
        for (place, &member) in group.iter().enumerate() {
            place_multiple += base;
            let (y, _) = self.coefficient(member as usize);
            if multiples_of_weighted.get(usize::from(y)) == Some(&place_multiple) {
                return Some(place);
            }
        }
        None
    }

    /// Tests the members in consecutive groups sized to the density of
    /// invalid signatures seen so far (about [`GROUP_EXPECTED`] invalid
    /// ones per group), refining each group that fails. Once the density
    /// is such that single checks are cheaper, the rest are all candidates.
    fn locate(&self, members: &[u32], candidates: &mut Vec<Candidate>) {
        // At least one invalid signature is among the members.
        let floor = 1.0 / members.len().max(1) as f64;
        let mut seen = 0usize;
        let mut found = 0usize;
        let mut rest = members;
        while !rest.is_empty() {
            let density = if seen == 0 {
                floor
            } else {
                (found as f64 / seen as f64).max(floor)
            };
            if density >= DENSE_SHARE {
                candidates.extend(
                    rest.iter()
                        .map(|&index| Candidate::check(self.chunk, index)),
                );
                return;
            }
            let largest = if seen == 0 {
                FIRST_GROUP_SIGNATURES
            } else {
                MAX_GROUP_SIGNATURES
            };
            let size = ((GROUP_EXPECTED / density) as usize)
                .clamp(MIN_GROUP_SIGNATURES, largest)
                .min(rest.len());
            let size = self.at_key_boundary(rest, size);
            let (group, tail) = rest.split_at(size);
            let t0 = self.t0(group);
            if fails(&t0) {
                let before = candidates.len();
                self.refine(group, t0, density, candidates);
                found += candidates
                    .get(before..)
                    .map_or(0, |new| new.iter().filter(|c| c.invalid).count());
            }
            seen += size;
            rest = tail;
        }
    }

    /// `t0 = T₀(group)` failed; `density` is the estimated share of invalid
    /// signatures around it.
    fn refine(
        &self,
        group: &[u32],
        t0: EdwardsPoint,
        density: f64,
        candidates: &mut Vec<Candidate>,
    ) {
        let mut group = group.to_vec();
        let mut t0 = t0;
        loop {
            if group.len() <= 1 || density >= DENSE_SHARE {
                candidates.extend(
                    group
                        .iter()
                        .map(|&index| Candidate::check(self.chunk, index)),
                );
                return;
            }
            // Expected invalid signatures in the group, given that it failed.
            let mean = density * group.len() as f64;
            let mut expected = (mean / (1.0 - (-mean).exp())).max(1.0);
            if expected <= DECODE_EXPECTED_AT_MOST {
                let t1 = self.t1(&group);
                let decoded = self
                    .decode(&group, &t0, &t1)
                    .and_then(|place| group.get(place).copied());
                if let Some(index) = decoded {
                    // Check the decoded signature alone, and whether it
                    // explains the whole failure of the group; if not, go
                    // on with the rest of the group.
                    let candidate = Candidate::check(self.chunk, index);
                    let (y, negative) = self.coefficient(index as usize);
                    let term = small_multiple(&candidate.error, y);
                    t0 = if negative { t0 + term } else { t0 - term };
                    candidates.push(candidate);
                    if !fails(&t0) {
                        return;
                    }
                    group.retain(|&member| member != index);
                    continue;
                }
                // Not one invalid signature: at least two.
                expected = expected.max(2.0);
            }
            self.split(&group, t0, expected, density, candidates);
            return;
        }
    }

    /// Splits a failing group expected to hold `expected` invalid signatures
    /// into parts (the last part's `T₀` by subtraction: `T₀` is additive
    /// over a partition) and refines each part that fails.
    fn split(
        &self,
        group: &[u32],
        t0: EdwardsPoint,
        expected: f64,
        density: f64,
        candidates: &mut Vec<Candidate>,
    ) {
        let parts = ((expected * PARTS_PER_EXPECTED).ceil() as usize).clamp(2, group.len());
        let part_len = group.len().div_ceil(parts);
        let mut pieces: Vec<&[u32]> = Vec::with_capacity(parts);
        let mut rest = group;
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(self.at_key_boundary(rest, part_len));
            pieces.push(piece);
            rest = tail;
        }
        let count = pieces.len();
        let mut rest = t0;
        let mut tested = Vec::with_capacity(count);
        for (n, piece) in pieces.into_iter().enumerate() {
            let sum = if n + 1 == count {
                rest
            } else {
                let sum = self.t0(piece);
                rest -= sum;
                sum
            };
            tested.push((piece, sum));
        }
        let density = estimate_density(&tested, part_len, density);
        for (piece, sum) in tested {
            if fails(&sum) {
                self.refine(piece, sum, density, candidates);
            }
        }
    }
}

/// Invalid signatures per signature, estimated from the share of `tested`
/// groups (of `size` signatures) that fail: the Poisson estimate, or, when
/// all fail, the larger of four times `prior` and the bound that all
/// failing implies.
fn estimate_density(tested: &[(&[u32], EdwardsPoint)], size: usize, prior: f64) -> f64 {
    let total = tested.len().max(1) as f64;
    let failing = tested.iter().filter(|(_, sum)| fails(sum)).count() as f64;
    let size = size.max(1) as f64;
    if failing < total {
        -(1.0 - failing / total).ln() / size
    } else {
        ((2.0 * total).ln() / size).max(4.0 * prior)
    }
}

/// The operations of a search, recorded (in tests only) so that a profile
/// can replay each kind alone and time it.
#[cfg(test)]
mod profile;

#[cfg(test)]
mod tests;

/// Where screening's time goes: `cargo test --release -p ledger-core --lib
/// screening_profile -- --ignored --nocapture`. Replays each kind of
/// operation of one search alone and times it in thread CPU time.
#[cfg(test)]
mod profile_tests;
