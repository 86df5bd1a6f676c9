//! Many independent one-block blake3 hashes at once.
//!
//! A Merkle tree hashes millions of 64-byte (or 32-byte) inputs, each a
//! single blake3 block. Hashed one call at a time, the per-call set-up costs
//! several times the compression itself. Here many inputs are compressed
//! together, state word `i` of all of them side by side in one vector.
//!
//! Three paths, chosen at run time by [`path`] (x86_64 feature detection):
//!
//! * AVX-512F and AVX-512VL: the portable lanes below, `LANES` = 16 inputs
//!   with each state word an array of 16 words, compiled for AVX-512, where
//!   the compiler vectorizes them well (vector rotates). Measured on dev-2c:
//!   about 35 ns per hash against about 120 ns per `blake3` call.
//! * AVX2 (without AVX-512): eight lanes in `__m256i` registers written
//!   with intrinsics (`x86`), because the compiler does not vectorize the
//!   portable lanes well without vector rotates (about 170 ns per hash).
//!   Measured on an AMD EPYC (AVX2, no AVX-512), 2026-12-02, thread CPU
//!   time: about 22 ns per 64-byte hash, transposes included, against about
//!   19 ns per 64-byte block for `blake3::hash` of one long input (which
//!   uses AVX2, eight chunks at a time) and 170 ns per `blake3` call. The
//!   root of 1M leaves ([`perfect_root`], leaves included) took 1.6× the
//!   time of `blake3::hash` over the interior nodes' bytes (criterion, one
//!   thread; 7.7× or more with one call per node; docs/PERFORMANCE.md).
//! * Elsewhere (other CPUs, other architectures): one `blake3` call per
//!   input.
//!
//! [`perfect_root`] hashes a whole perfect subtree, leaves included, in one
//! pass on the AVX2 path, keeping the hashes transposed between levels; the
//! roots of [`crate::merkle`] use it wherever the CPU has AVX2 (AVX-512
//! CPUs included).
//!
//! All of the crate's `unsafe` is in the `x86` submodule: calling functions
//! compiled for CPU features after checking that the CPU has them, and
//! unaligned vector loads and stores of 32-byte arrays.
//!
//! The result is exactly `blake3::derive_key(context, input)` for each input
//! of at most 64 bytes (tested against the blake3 crate): the BLAKE3
//! compression function with the context key as chaining value and the flags
//! `CHUNK_START | CHUNK_END | ROOT | DERIVE_KEY_MATERIAL`.

use blake3::hazmat::ContextKey;

use crate::hash::Hash;

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86;

/// Inputs compressed together (16 32-bit words fill a 512-bit register).
pub const LANES: usize = 16;

const IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];

const MSG_PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];

/// `MSG_SCHEDULE[r][i]`: the message word used as word `i` in round `r`
/// (the permutation applied `r` times).
const MSG_SCHEDULE: [[usize; 16]; 7] = {
    let mut schedule = [[0usize; 16]; 7];
    let mut i = 0;
    while i < 16 {
        schedule[0][i] = i;
        i += 1;
    }
    let mut r = 1;
    while r < 7 {
        let mut i = 0;
        while i < 16 {
            schedule[r][i] = schedule[r - 1][MSG_PERMUTATION[i]];
            i += 1;
        }
        r += 1;
    }
    schedule
};

const CHUNK_START: u32 = 1;
const CHUNK_END: u32 = 2;
const ROOT: u32 = 8;
const DERIVE_KEY_MATERIAL: u32 = 64;

/// Flags of a whole-input derive-key hash of one block.
const FLAGS: u32 = CHUNK_START | CHUNK_END | ROOT | DERIVE_KEY_MATERIAL;

type Lane = [u32; LANES];

#[inline(always)]
fn add(a: &mut Lane, b: &Lane) {
    for (x, y) in a.iter_mut().zip(b) {
        *x = x.wrapping_add(*y);
    }
}

#[inline(always)]
fn xor_rotate(d: &mut Lane, a: &Lane, bits: u32) {
    for (x, y) in d.iter_mut().zip(a) {
        *x = (*x ^ *y).rotate_right(bits);
    }
}

#[inline(always)]
fn g(state: &mut [Lane; 16], a: usize, b: usize, c: usize, d: usize, mx: &Lane, my: &Lane) {
    let [mut va, mut vb, mut vc, mut vd] = [state[a], state[b], state[c], state[d]];
    add(&mut va, &vb);
    add(&mut va, mx);
    xor_rotate(&mut vd, &va, 16);
    add(&mut vc, &vd);
    xor_rotate(&mut vb, &vc, 12);
    add(&mut va, &vb);
    add(&mut va, my);
    xor_rotate(&mut vd, &va, 8);
    add(&mut vc, &vd);
    xor_rotate(&mut vb, &vc, 7);
    state[a] = va;
    state[b] = vb;
    state[c] = vc;
    state[d] = vd;
}

#[inline(always)]
fn round(state: &mut [Lane; 16], m: &[Lane; 16]) {
    g(state, 0, 4, 8, 12, &m[0], &m[1]);
    g(state, 1, 5, 9, 13, &m[2], &m[3]);
    g(state, 2, 6, 10, 14, &m[4], &m[5]);
    g(state, 3, 7, 11, 15, &m[6], &m[7]);
    g(state, 0, 5, 10, 15, &m[8], &m[9]);
    g(state, 1, 6, 11, 12, &m[10], &m[11]);
    g(state, 2, 7, 8, 13, &m[12], &m[13]);
    g(state, 3, 4, 9, 14, &m[14], &m[15]);
}

/// The context key as eight little-endian words.
pub fn key_words(key: &ContextKey) -> [u32; 8] {
    let mut words = [0u32; 8];
    for (word, chunk) in words.iter_mut().zip(key.chunks_exact(4)) {
        *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    words
}

/// Compresses `LANES` blocks of `block_len` bytes (zero-padded to 64) under
/// `key` and writes each 32-byte output.
#[inline(always)]
fn compress_lanes(
    key: &[u32; 8],
    blocks: &[[u8; 64]; LANES],
    block_len: u32,
    out: &mut [[u8; 32]; LANES],
) {
    // Bytes past `block_len` are ignored: masked to zero.
    let keep: [u32; 16] = core::array::from_fn(|word| {
        let bytes = (block_len as usize).saturating_sub(4 * word).min(4);
        ((1u64 << (8 * bytes)) - 1) as u32
    });
    let mut m = [[0u32; LANES]; 16];
    for (lane, block) in blocks.iter().enumerate() {
        for (word, chunk) in block.chunks_exact(4).enumerate() {
            m[word][lane] =
                u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) & keep[word];
        }
    }
    let mut state = [[0u32; LANES]; 16];
    for i in 0..8 {
        state[i] = [key[i]; LANES];
    }
    for i in 0..4 {
        state[8 + i] = [IV[i]; LANES];
    }
    state[12] = [0; LANES];
    state[13] = [0; LANES];
    state[14] = [block_len; LANES];
    state[15] = [FLAGS; LANES];
    for r in 0..7 {
        round(&mut state, &m);
        if r < 6 {
            let previous = m;
            for (i, source) in MSG_PERMUTATION.iter().enumerate() {
                m[i] = previous[*source];
            }
        }
    }
    for (lane, output) in out.iter_mut().enumerate() {
        for i in 0..8 {
            let word = state[i][lane] ^ state[i + 8][lane];
            output[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
        }
    }
}

/// The way [`hash_blocks`] hashes on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// The portable lanes, compiled for AVX-512F and AVX-512VL.
    Avx512Lanes,
    /// Eight lanes in AVX2 registers.
    Avx2,
    /// One `blake3` call per input.
    OneByOne,
}

/// The path [`hash_blocks`] takes on this CPU (detected at run time).
pub fn path() -> Path {
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_avx512() {
            return Path::Avx512Lanes;
        }
        if x86::has_avx2() {
            return Path::Avx2;
        }
    }
    Path::OneByOne
}

/// Hashes each input (its first `block_len` bytes, at most 64; the rest is
/// ignored) with `key` (a derive-key context key) in derive-key mode, into
/// `outputs` (as many as `inputs`).
pub fn hash_blocks(key: &[u32; 8], block_len: u32, inputs: &[[u8; 64]], outputs: &mut [[u8; 32]]) {
    let block_len = block_len.min(64);
    #[cfg(target_arch = "x86_64")]
    if x86::hash_blocks_avx512(key, block_len, inputs, outputs)
        || x86::hash_blocks_avx2(key, block_len, inputs, outputs)
    {
        return;
    }
    hash_blocks_one_by_one(key, block_len, inputs, outputs);
}

/// Bytes of one blake3 block: the longest input [`hash_blocks`] takes.
pub const BLOCK_BYTES: usize = 64;

/// Inputs of one length fewer than this are hashed one call each by
/// [`hash_each`]: a vector of lanes costs as much as several calls.
const FEWEST_FOR_LANES: usize = 4;

/// The derive-key hash of `prefix ‖ input` for each input, with `key` (a
/// context key's words): `blake3::derive_key(context, prefix ‖ input)`.
///
/// Inputs of one block (1 to 64 bytes with the prefix) are hashed many at
/// a time, grouped by length ([`hash_blocks`] takes one length per call);
/// the empty input, longer ones and lengths with fewer than
/// `FEWEST_FOR_LANES` inputs take one `blake3` call each.
pub fn hash_each(key: &[u32; 8], prefix: &[u8], inputs: &[&[u8]]) -> Vec<Hash> {
    let mut out = vec![Hash::ZERO; inputs.len()];
    // Indices of the inputs of each length (prefix included), 0 to 64.
    let mut by_length: Vec<Vec<usize>> = vec![Vec::new(); BLOCK_BYTES + 1];
    for (index, (input, hash)) in inputs.iter().zip(out.iter_mut()).enumerate() {
        let length = prefix.len().saturating_add(input.len());
        match by_length.get_mut(length) {
            Some(group) => group.push(index),
            None => *hash = hash_one(key, prefix, input),
        }
    }
    let mut blocks: Vec<[u8; BLOCK_BYTES]> = Vec::new();
    let mut hashes: Vec<[u8; 32]> = Vec::new();
    for (length, group) in by_length.iter().enumerate() {
        if length == 0 || group.len() < FEWEST_FOR_LANES {
            for &index in group {
                if let (Some(out), Some(input)) = (out.get_mut(index), inputs.get(index)) {
                    *out = hash_one(key, prefix, input);
                }
            }
            continue;
        }
        blocks.clear();
        blocks.extend(group.iter().map(|&index| {
            let mut block = [0u8; BLOCK_BYTES];
            let input = inputs.get(index).copied().unwrap_or_default();
            // Prefix and input fill `length` bytes, at most the block.
            if let Some((head, tail)) = block
                .get_mut(..length)
                .map(|b| b.split_at_mut(prefix.len().min(length)))
            {
                head.copy_from_slice(prefix);
                tail.copy_from_slice(input);
            }
            block
        }));
        hashes.clear();
        hashes.resize(group.len(), [0; 32]);
        // `length` is at most `BLOCK_BYTES`.
        hash_blocks(key, length as u32, &blocks, &mut hashes);
        for (&index, hash) in group.iter().zip(&hashes) {
            if let Some(out) = out.get_mut(index) {
                *out = Hash(*hash);
            }
        }
    }
    out
}

/// `blake3::derive_key` of `prefix ‖ input` under `key`, one call.
fn hash_one(key: &[u32; 8], prefix: &[u8], input: &[u8]) -> Hash {
    let mut hasher =
        <blake3::Hasher as blake3::hazmat::HasherExt>::new_from_context_key(&key_bytes(key));
    hasher.update(prefix);
    hasher.update(input);
    Hash(*hasher.finalize().as_bytes())
}

fn key_bytes(key: &[u32; 8]) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip(key) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

/// The root of the perfect tree over `leaves` (32-byte leaf data, their
/// number a power of two of at least eight) hashed in one pass, leaves
/// included, where the CPU has AVX2; `None` elsewhere or for other numbers.
pub fn perfect_root(leaf_key: &[u32; 8], node_key: &[u32; 8], leaves: &[Hash]) -> Option<[u8; 32]> {
    #[cfg(target_arch = "x86_64")]
    {
        x86::perfect_root(leaf_key, node_key, leaves)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (leaf_key, node_key, leaves);
        None
    }
}

/// One `blake3` call per input: the fallback without vector rotates.
fn hash_blocks_one_by_one(
    key: &[u32; 8],
    block_len: u32,
    inputs: &[[u8; 64]],
    outputs: &mut [[u8; 32]],
) {
    let key_bytes = key_bytes(key);
    let len = (block_len as usize).min(64);
    for (input, output) in inputs.iter().zip(outputs.iter_mut()) {
        let mut hasher =
            <blake3::Hasher as blake3::hazmat::HasherExt>::new_from_context_key(&key_bytes);
        hasher.update(&input[..len]);
        *output = *hasher.finalize().as_bytes();
    }
}

/// The lanes themselves (used where they vectorize; tested everywhere).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn hash_blocks_lanes(
    key: &[u32; 8],
    block_len: u32,
    inputs: &[[u8; 64]],
    outputs: &mut [[u8; 32]],
) {
    let mut input_chunks = inputs.chunks_exact(LANES);
    let mut output_chunks = outputs.chunks_exact_mut(LANES);
    for (input, output) in (&mut input_chunks).zip(&mut output_chunks) {
        let input: &[[u8; 64]; LANES] = input.try_into().unwrap_or(&[[0; 64]; LANES]);
        let output: &mut [[u8; 32]; LANES] = match output.try_into() {
            Ok(output) => output,
            Err(_) => continue,
        };
        compress_lanes(key, input, block_len, output);
    }
    let rest_in = input_chunks.remainder();
    let rest_out = output_chunks.into_remainder();
    if !rest_in.is_empty() {
        let mut blocks = [[0u8; 64]; LANES];
        blocks[..rest_in.len()].copy_from_slice(rest_in);
        let mut out = [[0u8; 32]; LANES];
        compress_lanes(key, &blocks, block_len, &mut out);
        let n = rest_out.len().min(rest_in.len());
        rest_out[..n].copy_from_slice(&out[..n]);
    }
}

#[cfg(test)]
mod tests;
