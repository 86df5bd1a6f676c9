//! The x86_64 paths of [`super`], and with them all of the crate's
//! `unsafe`: calling functions compiled for CPU features once the CPU is
//! known to have them, and unaligned 32-byte vector loads and stores.
//!
//! The AVX2 path holds eight inputs in eight lanes of 32-bit words: state
//! word `i` of all eight inputs is one `__m256i`. Rotations by 16 and 8 are
//! byte shuffles, by 12 and 7 two shifts and an or. Inputs are loaded as
//! rows (eight words of one input per register) and transposed 8×8 into
//! message words; outputs are transposed back.
//!
//! For Merkle roots ([`perfect_root`]) the outputs stay transposed: the
//! eight node hashes of one level and the next eight are split into even and
//! odd lanes (left and right children), which are the message words of
//! their eight parents. So a perfect subtree is hashed leaves first, depth
//! first, with a stack of one group of eight hashes per level and no buffer.

use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_castps_si256, _mm256_castsi256_ps,
    _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_or_si256, _mm256_permute2x128_si256,
    _mm256_permute4x64_epi64, _mm256_set1_epi32, _mm256_set1_epi8, _mm256_setr_epi8,
    _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_shuffle_ps, _mm256_slli_epi32,
    _mm256_srli_epi32, _mm256_storeu_si256, _mm256_unpackhi_epi32, _mm256_unpackhi_epi64,
    _mm256_unpacklo_epi32, _mm256_unpacklo_epi64, _mm256_xor_si256,
};

use super::{FLAGS, IV, MSG_SCHEDULE};
use crate::hash::Hash;

/// Eight 32-bit lanes.
type V = __m256i;

/// Inputs compressed together on the AVX2 path.
pub const AVX2_LANES: usize = 8;

/// Whether the CPU has AVX-512F and AVX-512VL (the portable lanes
/// vectorize well there).
pub fn has_avx512() -> bool {
    std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl")
}

/// Whether the CPU has AVX2.
pub fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

/// The portable lanes compiled for AVX-512, if the CPU has it; `false` if
/// not (nothing was written).
pub fn hash_blocks_avx512(
    key: &[u32; 8],
    block_len: u32,
    inputs: &[[u8; 64]],
    outputs: &mut [[u8; 32]],
) -> bool {
    if !has_avx512() {
        return false;
    }
    // SAFETY: `lanes_avx512` is safe Rust compiled with the AVX-512F and
    // AVX-512VL target features; the only requirement for calling it is
    // that this CPU has them, which was just checked.
    unsafe { lanes_avx512(key, block_len, inputs, outputs) };
    true
}

#[target_feature(enable = "avx512f,avx512vl")]
fn lanes_avx512(key: &[u32; 8], block_len: u32, inputs: &[[u8; 64]], outputs: &mut [[u8; 32]]) {
    super::hash_blocks_lanes(key, block_len, inputs, outputs);
}

/// [`super::hash_blocks`] on the AVX2 path, if the CPU has AVX2; `false` if
/// not (nothing was written).
pub fn hash_blocks_avx2(
    key: &[u32; 8],
    block_len: u32,
    inputs: &[[u8; 64]],
    outputs: &mut [[u8; 32]],
) -> bool {
    if !has_avx2() {
        return false;
    }
    // SAFETY: `blocks_avx2` is safe Rust compiled with the AVX2 target
    // feature; the only requirement for calling it is that this CPU has AVX2,
    // which was just checked.
    unsafe { blocks_avx2(key, block_len.min(64), inputs, outputs) };
    true
}

/// The root of the perfect subtree over `leaves` (their number a power of
/// two, at least [`AVX2_LANES`]) on the AVX2 path, with the leaf and node
/// context keys; `None` if the CPU has no AVX2 or `leaves` is not such a
/// number.
pub fn perfect_root(leaf_key: &[u32; 8], node_key: &[u32; 8], leaves: &[Hash]) -> Option<[u8; 32]> {
    if !has_avx2() || !leaves.len().is_power_of_two() || leaves.len() < AVX2_LANES {
        return None;
    }
    // SAFETY: `perfect_root_avx2` is safe Rust compiled with the AVX2
    // target feature; the only requirement for calling it is that this CPU
    // has AVX2, which was just checked.
    Some(unsafe { perfect_root_avx2(leaf_key, node_key, leaves) })
}

#[target_feature(enable = "avx2")]
#[inline]
fn load(bytes: &[u8; 32]) -> V {
    // SAFETY: `bytes` is 32 readable bytes, exactly what the load reads;
    // `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) }
}

#[target_feature(enable = "avx2")]
#[inline]
fn store(bytes: &mut [u8; 32], v: V) {
    // SAFETY: `bytes` is 32 writable bytes, exactly what the store writes;
    // `storeu` has no alignment requirement.
    unsafe { _mm256_storeu_si256(bytes.as_mut_ptr().cast(), v) }
}

/// Rows to columns: word `w` of the result holds word `w` of every row.
/// Its own inverse.
#[target_feature(enable = "avx2")]
#[inline]
fn transpose(r: &[V; 8]) -> [V; 8] {
    let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
    let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    // Within each 128-bit half: words 0 (4), 1 (5), 2 (6), 3 (7) of rows
    // 0..4 and of rows 4..8.
    let u0 = _mm256_unpacklo_epi64(t0, t2);
    let u1 = _mm256_unpackhi_epi64(t0, t2);
    let u2 = _mm256_unpacklo_epi64(t1, t3);
    let u3 = _mm256_unpackhi_epi64(t1, t3);
    let u4 = _mm256_unpacklo_epi64(t4, t6);
    let u5 = _mm256_unpackhi_epi64(t4, t6);
    let u6 = _mm256_unpacklo_epi64(t5, t7);
    let u7 = _mm256_unpackhi_epi64(t5, t7);
    [
        _mm256_permute2x128_si256::<0x20>(u0, u4),
        _mm256_permute2x128_si256::<0x20>(u1, u5),
        _mm256_permute2x128_si256::<0x20>(u2, u6),
        _mm256_permute2x128_si256::<0x20>(u3, u7),
        _mm256_permute2x128_si256::<0x31>(u0, u4),
        _mm256_permute2x128_si256::<0x31>(u1, u5),
        _mm256_permute2x128_si256::<0x31>(u2, u6),
        _mm256_permute2x128_si256::<0x31>(u3, u7),
    ]
}

#[target_feature(enable = "avx2")]
#[inline]
fn add(a: V, b: V) -> V {
    _mm256_add_epi32(a, b)
}

#[target_feature(enable = "avx2")]
#[inline]
fn xor(a: V, b: V) -> V {
    _mm256_xor_si256(a, b)
}

#[target_feature(enable = "avx2")]
#[inline]
fn rot16(x: V) -> V {
    let bytes = _mm256_setr_epi8(
        2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, //
        2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
    );
    _mm256_shuffle_epi8(x, bytes)
}

#[target_feature(enable = "avx2")]
#[inline]
fn rot8(x: V) -> V {
    let bytes = _mm256_setr_epi8(
        1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, //
        1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12,
    );
    _mm256_shuffle_epi8(x, bytes)
}

#[target_feature(enable = "avx2")]
#[inline]
fn rot12(x: V) -> V {
    _mm256_or_si256(_mm256_srli_epi32::<12>(x), _mm256_slli_epi32::<20>(x))
}

#[target_feature(enable = "avx2")]
#[inline]
fn rot7(x: V) -> V {
    _mm256_or_si256(_mm256_srli_epi32::<7>(x), _mm256_slli_epi32::<25>(x))
}

/// One round: the four column G functions, then the four diagonal ones,
/// each step done for four G functions at once.
#[target_feature(enable = "avx2")]
#[inline]
fn round<const R: usize>(v: &mut [V; 16], m: &[V; 16]) {
    let s = &MSG_SCHEDULE[R];
    // Columns: (0, 4, 8, 12) … (3, 7, 11, 15).
    for i in 0..4 {
        v[i] = add(add(v[i], v[i + 4]), m[s[2 * i]]);
    }
    for i in 0..4 {
        v[i + 12] = rot16(xor(v[i + 12], v[i]));
    }
    for i in 0..4 {
        v[i + 8] = add(v[i + 8], v[i + 12]);
    }
    for i in 0..4 {
        v[i + 4] = rot12(xor(v[i + 4], v[i + 8]));
    }
    for i in 0..4 {
        v[i] = add(add(v[i], v[i + 4]), m[s[2 * i + 1]]);
    }
    for i in 0..4 {
        v[i + 12] = rot8(xor(v[i + 12], v[i]));
    }
    for i in 0..4 {
        v[i + 8] = add(v[i + 8], v[i + 12]);
    }
    for i in 0..4 {
        v[i + 4] = rot7(xor(v[i + 4], v[i + 8]));
    }
    // Diagonals: (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14).
    let b = |i: usize| 4 + (i + 1) % 4;
    let c = |i: usize| 8 + (i + 2) % 4;
    let d = |i: usize| 12 + (i + 3) % 4;
    for i in 0..4 {
        v[i] = add(add(v[i], v[b(i)]), m[s[8 + 2 * i]]);
    }
    for i in 0..4 {
        v[d(i)] = rot16(xor(v[d(i)], v[i]));
    }
    for i in 0..4 {
        v[c(i)] = add(v[c(i)], v[d(i)]);
    }
    for i in 0..4 {
        v[b(i)] = rot12(xor(v[b(i)], v[c(i)]));
    }
    for i in 0..4 {
        v[i] = add(add(v[i], v[b(i)]), m[s[8 + 2 * i + 1]]);
    }
    for i in 0..4 {
        v[d(i)] = rot8(xor(v[d(i)], v[i]));
    }
    for i in 0..4 {
        v[c(i)] = add(v[c(i)], v[d(i)]);
    }
    for i in 0..4 {
        v[b(i)] = rot7(xor(v[b(i)], v[c(i)]));
    }
}

/// Eight one-block derive-key compressions: `m` holds the message words
/// (word `w` of all eight blocks in `m[w]`), the result the output words.
#[target_feature(enable = "avx2")]
#[inline]
fn compress(key: &[u32; 8], m: &[V; 16], block_len: u32) -> [V; 8] {
    let splat = |word: u32| _mm256_set1_epi32(word as i32);
    let mut v = [
        splat(key[0]),
        splat(key[1]),
        splat(key[2]),
        splat(key[3]),
        splat(key[4]),
        splat(key[5]),
        splat(key[6]),
        splat(key[7]),
        splat(IV[0]),
        splat(IV[1]),
        splat(IV[2]),
        splat(IV[3]),
        splat(0),
        splat(0),
        splat(block_len),
        splat(FLAGS),
    ];
    round::<0>(&mut v, m);
    round::<1>(&mut v, m);
    round::<2>(&mut v, m);
    round::<3>(&mut v, m);
    round::<4>(&mut v, m);
    round::<5>(&mut v, m);
    round::<6>(&mut v, m);
    core::array::from_fn(|i| xor(v[i], v[i + 8]))
}

/// Compresses up to eight blocks (`inputs` and `outputs` of equal length,
/// at most eight; missing blocks are zero and their outputs dropped).
/// `masks` zero the bytes past the block length.
#[target_feature(enable = "avx2")]
#[inline]
fn blocks8(
    key: &[u32; 8],
    block_len: u32,
    masks: [V; 2],
    inputs: &[[u8; 64]],
    outputs: &mut [[u8; 32]],
) {
    let mut low = [_mm256_setzero_si256(); 8];
    let mut high = [_mm256_setzero_si256(); 8];
    for ((low, high), block) in low.iter_mut().zip(&mut high).zip(inputs) {
        let (first, second) = halves(block);
        *low = _mm256_and_si256(load(first), masks[0]);
        *high = _mm256_and_si256(load(second), masks[1]);
    }
    let [w0, w1, w2, w3, w4, w5, w6, w7] = transpose(&low);
    let [w8, w9, w10, w11, w12, w13, w14, w15] = transpose(&high);
    let m = [
        w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15,
    ];
    let rows = transpose(&compress(key, &m, block_len));
    for (output, row) in outputs.iter_mut().zip(rows) {
        store(output, row);
    }
}

/// The two 32-byte halves of a block.
fn halves(block: &[u8; 64]) -> (&[u8; 32], &[u8; 32]) {
    let (first, second) = block.split_at(32);
    match (first.try_into(), second.try_into()) {
        (Ok(first), Ok(second)) => (first, second),
        // Unreachable: `split_at(32)` of 64 bytes gives two halves of 32.
        _ => (&[0; 32], &[0; 32]),
    }
}

#[target_feature(enable = "avx2")]
fn blocks_avx2(key: &[u32; 8], block_len: u32, inputs: &[[u8; 64]], outputs: &mut [[u8; 32]]) {
    // Byte `i` of a block is kept if `i < block_len` (at most 64, so all
    // the numbers compared fit in an `i8`).
    let len = _mm256_set1_epi8(block_len as i8);
    let first = _mm256_setr_epi8(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    );
    let second = add(first, _mm256_set1_epi8(32));
    let masks = [
        _mm256_cmpgt_epi8(len, first),
        _mm256_cmpgt_epi8(len, second),
    ];
    let n = inputs.len().min(outputs.len());
    for (inputs, outputs) in inputs[..n]
        .chunks(AVX2_LANES)
        .zip(outputs[..n].chunks_mut(AVX2_LANES))
    {
        blocks8(key, block_len, masks, inputs, outputs);
    }
}

/// Words `0, 2, 4, 6` of `a` then of `b` (`EVEN`) or words `1, 3, 5, 7`.
#[target_feature(enable = "avx2")]
#[inline]
fn alternate<const ODD: bool>(a: V, b: V) -> V {
    let (a, b) = (_mm256_castsi256_ps(a), _mm256_castsi256_ps(b));
    // Within each 128-bit half: two words of `a`, two of `b`.
    let mixed = if ODD {
        _mm256_shuffle_ps::<0b11_01_11_01>(a, b)
    } else {
        _mm256_shuffle_ps::<0b10_00_10_00>(a, b)
    };
    // 64-bit quarters (a low, b low, a high, b high) to (a low, a high,
    // b low, b high).
    _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_castps_si256(mixed))
}

/// The eight parents of sixteen transposed nodes (`left` the first eight,
/// `right` the next eight), transposed.
#[target_feature(enable = "avx2")]
#[inline]
fn parents(node_key: &[u32; 8], left: &[V; 8], right: &[V; 8]) -> [V; 8] {
    let m: [V; 16] = core::array::from_fn(|w| {
        if w < 8 {
            alternate::<false>(left[w], right[w])
        } else {
            alternate::<true>(left[w - 8], right[w - 8])
        }
    });
    compress(node_key, &m, 64)
}

/// The leaf hashes of eight 32-byte leaves, transposed.
#[target_feature(enable = "avx2")]
#[inline]
fn leaves8(leaf_key: &[u32; 8], leaves: &[Hash]) -> [V; 8] {
    let mut rows = [_mm256_setzero_si256(); 8];
    for (row, leaf) in rows.iter_mut().zip(leaves) {
        *row = load(leaf.as_bytes());
    }
    let [w0, w1, w2, w3, w4, w5, w6, w7] = transpose(&rows);
    let zero = _mm256_setzero_si256();
    let m = [
        w0, w1, w2, w3, w4, w5, w6, w7, zero, zero, zero, zero, zero, zero, zero, zero,
    ];
    compress(leaf_key, &m, 32)
}

#[target_feature(enable = "avx2")]
fn perfect_root_avx2(leaf_key: &[u32; 8], node_key: &[u32; 8], leaves: &[Hash]) -> [u8; 32] {
    // `pending[level]` holds the eight nodes at `level` above the leaves
    // whose parents wait for the next eight; bit `level` of `groups` (the
    // groups hashed before this one, counted in binary) says whether it is
    // occupied.
    let mut pending = [[_mm256_setzero_si256(); 8]; usize::BITS as usize];
    let mut top = 0;
    for (groups, leaves) in leaves.chunks_exact(AVX2_LANES).enumerate() {
        let mut carry = leaves8(leaf_key, leaves);
        let mut level = 0;
        while groups >> level & 1 == 1 {
            carry = parents(node_key, &pending[level], &carry);
            level += 1;
        }
        pending[level] = carry;
        top = level;
    }
    // The number of groups is a power of two: one group of eight nodes is
    // left, the roots of eight equal subtrees. Three more levels in lanes
    // (the upper lanes hash copies, unused) leave the root in lane 0.
    let mut nodes = pending[top];
    for _ in 0..3 {
        nodes = parents(node_key, &nodes, &nodes);
    }
    let mut root = [0u8; 32];
    store(&mut root, transpose(&nodes)[0]);
    root
}
