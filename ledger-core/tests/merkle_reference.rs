//! The blake3 Merkle trees (transactions, receipts) against a naive
//! recursive reference written from RFC 9162's definitions with plain
//! `blake3::derive_key` calls: roots and inclusion and consistency proofs
//! match the reference for random leaves and sizes 0..2,000, and the result
//! does not depend on the rayon thread count. (The history tree, SHA-256 as
//! RFC 6962 hashes, is checked against an independent implementation and
//! known answers in `history_interop.rs`.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use ledger_core::merkle::{
    merkle_root, verify_consistency, verify_inclusion, ConsistencyProof, InclusionProof,
};
use ledger_core::testing::proptest_config;
use ledger_core::Hash;
use proptest::prelude::*;

const LEAF: &str = "ledger-core v1 merkle leaf";
const NODE: &str = "ledger-core v1 merkle node";

fn k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Hash(blake3::derive_key(NODE, b"")),
        1 => Hash(blake3::derive_key(LEAF, leaves[0].as_bytes())),
        n => {
            let (left, right) = leaves.split_at(k(n));
            let mut input = mth(left).0.to_vec();
            input.extend_from_slice(&mth(right).0);
            Hash(blake3::derive_key(NODE, &input))
        }
    }
}

fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return vec![];
    }
    let split = k(n);
    if m < split {
        let mut p = path(m, &leaves[..split]);
        p.push(mth(&leaves[split..]));
        p
    } else {
        let mut p = path(m - split, &leaves[split..]);
        p.push(mth(&leaves[..split]));
        p
    }
}

fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole { vec![] } else { vec![mth(leaves)] };
    }
    let split = k(n);
    if m <= split {
        let mut p = subproof(m, &leaves[..split], whole);
        p.push(mth(&leaves[split..]));
        p
    } else {
        let mut p = subproof(m - split, &leaves[split..], false);
        p.push(mth(&leaves[..split]));
        p
    }
}

fn arb_leaves() -> impl Strategy<Value = Vec<Hash>> {
    (0usize..2000, any::<u64>()).prop_map(|(n, seed)| {
        (0..n as u64)
            .map(|i| {
                Hash(blake3::derive_key(
                    "test leaves",
                    &(seed ^ i.wrapping_mul(0x9e37)).to_le_bytes(),
                ))
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(proptest_config(48, file!()))]

    #[test]
    fn roots_and_proofs_match_reference(leaves in arb_leaves(), pick in any::<u64>()) {
        let n = leaves.len();
        let root = merkle_root(&leaves);
        prop_assert_eq!(root, mth(&leaves));
        if n == 0 {
            return Ok(());
        }
        let index = (pick % n as u64) as usize;
        let proof = InclusionProof::from_leaves(&leaves, index as u64)?;
        prop_assert_eq!(&proof.path(), &path(index, &leaves));
        verify_inclusion(&root, n as u64, &leaves[index], &proof)?;
        let old = ((pick >> 20) % (n as u64 + 1)) as usize;
        let proof = ConsistencyProof::from_leaves(&leaves, old as u64)?;
        let expected = if old == 0 || old == n { vec![] } else { subproof(old, &leaves, true) };
        prop_assert_eq!(&proof.path(), &expected);
        verify_consistency(old as u64, &mth(&leaves[..old]), n as u64, &root, &proof)?;
    }
}

#[test]
fn root_is_independent_of_thread_count() {
    let leaves: Vec<Hash> = (0..100_000u64)
        .map(|i| Hash(blake3::derive_key("threads", &i.to_le_bytes())))
        .collect();
    let root = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| merkle_root(&leaves))
    };
    assert_eq!(root(1), root(2));
    assert_eq!(root(1), root(3));
    assert_eq!(root(1), mth(&leaves));
}
