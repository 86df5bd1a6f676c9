//! Every path against `blake3::derive_key`: the portable lanes and one call
//! per input on any CPU, the AVX2 path where the CPU has AVX2.

use proptest::prelude::*;

use super::*;
use crate::hash::{Domain, Hash};
use crate::testing::proptest_config;

/// The AVX2 path, if this CPU has it (`None`: skipped).
fn avx2(key: &[u32; 8], block_len: u32, inputs: &[[u8; 64]]) -> Option<Vec<[u8; 32]>> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut outputs = vec![[0u8; 32]; inputs.len()];
        x86::hash_blocks_avx2(key, block_len, inputs, &mut outputs).then_some(outputs)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (key, block_len, inputs);
        None
    }
}

/// Checks every path on `inputs`; returns whether AVX2 ran.
fn check_all_paths(domain: Domain, block_len: u32, inputs: &[[u8; 64]]) -> bool {
    let key = key_words(domain.context_key());
    let len = block_len as usize;
    let expected: Vec<[u8; 32]> = inputs
        .iter()
        .map(|input| blake3::derive_key(domain.context(), &input[..len]))
        .collect();
    let mut outputs = vec![[0u8; 32]; inputs.len()];
    hash_blocks(&key, block_len, inputs, &mut outputs);
    assert_eq!(outputs, expected, "hash_blocks ({:?})", path());
    hash_blocks_lanes(&key, block_len, inputs, &mut outputs);
    assert_eq!(outputs, expected, "portable lanes");
    hash_blocks_one_by_one(&key, block_len, inputs, &mut outputs);
    assert_eq!(outputs, expected, "one by one");
    match avx2(&key, block_len, inputs) {
        Some(outputs) => {
            assert_eq!(outputs, expected, "AVX2");
            true
        }
        None => false,
    }
}

fn blocks(count: usize, seed: usize) -> Vec<[u8; 64]> {
    (0..count)
        .map(|i| core::array::from_fn(|j| (seed + i * 31 + j * 7) as u8))
        .collect()
}

#[test]
fn equals_blake3_derive_key_for_64_and_32_byte_inputs() {
    let mut ran_avx2 = false;
    for domain in [Domain::MerkleNode, Domain::MerkleLeaf] {
        for count in [0usize, 1, 7, 8, 9, 15, 16, 17, 33] {
            for block_len in [64, 32, 0, 1, 31, 33, 63] {
                ran_avx2 |= check_all_paths(domain, block_len, &blocks(count, block_len as usize));
            }
        }
    }
    // Say which paths ran: the AVX2 one is skipped on CPUs without AVX2.
    eprintln!(
        "hash_blocks path: {:?}; AVX2 path tested: {ran_avx2}",
        path()
    );
    #[cfg(target_arch = "x86_64")]
    assert_eq!(ran_avx2, std::is_x86_feature_detected!("avx2"));
}

#[test]
fn bytes_past_the_block_length_are_ignored() {
    let key = key_words(Domain::MerkleLeaf.context_key());
    let inputs = blocks(20, 5);
    let halves: Vec<[u8; 64]> = inputs
        .iter()
        .map(|block| {
            let mut half = [0u8; 64];
            half[..32].copy_from_slice(&block[..32]);
            half
        })
        .collect();
    let mut a = vec![[0u8; 32]; inputs.len()];
    let mut b = vec![[0u8; 32]; inputs.len()];
    hash_blocks(&key, 32, &inputs, &mut a);
    hash_blocks(&key, 32, &halves, &mut b);
    assert_eq!(a, b);
    hash_blocks_lanes(&key, 32, &inputs, &mut a);
    assert_eq!(a, b);
}

#[test]
fn perfect_roots_in_one_pass_equal_the_reference() {
    let leaf = key_words(Domain::MerkleLeaf.context_key());
    let node = key_words(Domain::MerkleNode.context_key());
    for count in [8usize, 16, 32, 64, 128, 1 << 10, 1 << 14] {
        let leaves: Vec<Hash> = (0..count as u64)
            .map(|i| crate::hash::hash(Domain::TransactionId, &i.to_le_bytes()))
            .collect();
        let reference = crate::merkle::merkle_root_simple(&leaves).0;
        match perfect_root(&leaf, &node, &leaves) {
            Some(root) => assert_eq!(root, reference, "count = {count}"),
            None => eprintln!("perfect_root: skipped, no AVX2 ({count} leaves)"),
        }
    }
    // Not a power of two (or fewer than eight): not taken.
    for count in [0usize, 1, 2, 3, 4, 12, 24, 1000] {
        let leaves = vec![Hash::ZERO; count];
        assert_eq!(perfect_root(&leaf, &node, &leaves), None, "count = {count}");
    }
}

proptest! {
    #![proptest_config(proptest_config(128, file!()))]

    /// Random inputs, counts that are and are not multiples of the lane
    /// counts, 32- and 64-byte blocks (and any other length), both contexts.
    #[test]
    fn every_path_gives_derive_key(
        inputs in prop::collection::vec(prop::array::uniform32(any::<u8>()), 0..80),
        tails in prop::collection::vec(prop::array::uniform32(any::<u8>()), 80),
        block_len in prop_oneof![Just(32u32), Just(64u32), 0u32..=64],
        node in any::<bool>(),
    ) {
        let domain = if node { Domain::MerkleNode } else { Domain::MerkleLeaf };
        let blocks: Vec<[u8; 64]> = inputs
            .iter()
            .zip(&tails)
            .map(|(head, tail)| {
                let mut block = [0u8; 64];
                block[..32].copy_from_slice(head);
                block[32..].copy_from_slice(tail);
                block
            })
            .collect();
        check_all_paths(domain, block_len, &blocks);
    }

    /// The one-pass root of random perfect trees equals the reference.
    #[test]
    fn one_pass_roots_of_random_leaves(
        leaves in prop::collection::vec(prop::array::uniform32(any::<u8>()), 64),
        log in 3u32..=6,
    ) {
        let leaves: Vec<Hash> = leaves.into_iter().take(1 << log).map(Hash).collect();
        let leaf = key_words(Domain::MerkleLeaf.context_key());
        let node = key_words(Domain::MerkleNode.context_key());
        if let Some(root) = perfect_root(&leaf, &node, &leaves) {
            prop_assert_eq!(root, crate::merkle::merkle_root_simple(&leaves).0);
        }
    }
}

/// `hash_each` against `derive_key` of prefix ‖ input: every length from
/// empty to past one block, interleaved, with and without a prefix, each
/// length more than a vector's worth (20 inputs), and a length alone.
#[test]
fn hash_each_is_derive_key_of_prefix_and_input() {
    let mut inputs: Vec<Vec<u8>> = (0..2_000usize)
        .map(|i| (0..(i * 13) % 100).map(|j| (i + 7 * j) as u8).collect())
        .collect();
    inputs.push(vec![7; 100]);
    inputs.push(vec![9; 33]);
    let inputs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    let domain = Domain::StateKey;
    let key = key_words(domain.context_key());
    for prefix in [&b""[..], b"\x01", b"a longer prefix"] {
        let expected: Vec<Hash> = inputs
            .iter()
            .map(|input| {
                Hash(blake3::derive_key(
                    domain.context(),
                    &[prefix, input].concat(),
                ))
            })
            .collect();
        assert_eq!(
            hash_each(&key, prefix, &inputs),
            expected,
            "prefix {prefix:?}"
        );
    }
    assert!(hash_each(&key, b"\x01", &[]).is_empty());
}
