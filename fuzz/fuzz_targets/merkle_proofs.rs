//! Hostile Merkle proofs: decoding and verification of inclusion and
//! consistency proofs must never panic, and accepted proofs re-encode to
//! their input. Input: kind byte (even: inclusion, odd: consistency) ‖
//! root (32) ‖ second root or leaf (32) ‖ proof bytes. Replayed by
//! `ledger-core/tests/merkle_fuzz_replay.rs`.
#![no_main]

use bytes::Bytes;
use ledger_core::merkle::{verify_consistency, verify_inclusion, ConsistencyProof, InclusionProof};
use ledger_core::Hash;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Some((first, rest)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let Some((second, proof)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let input = Bytes::copy_from_slice(proof);
    if kind % 2 == 0 {
        if let Ok(proof) = InclusionProof::decode(&input) {
            assert_eq!(proof.encode(), input);
            let _ = verify_inclusion(&Hash(*first), proof.size(), &Hash(*second), &proof);
        }
    } else if let Ok(proof) = ConsistencyProof::decode(&input) {
        assert_eq!(proof.encode(), input);
        let _ = verify_consistency(
            proof.old_size(),
            &Hash(*first),
            proof.new_size(),
            &Hash(*second),
            &proof,
        );
    }
});
