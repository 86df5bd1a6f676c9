//! Hostile Merkle proofs: decoding and verification of inclusion and
//! consistency proofs must never panic, and accepted proofs re-encode to
//! their input. Input: kind byte ‖ root (32) ‖ second root or leaf (32) ‖
//! proof bytes; kind % 4 is 0: inclusion in a blake3 tree (the second hash
//! is the leaf), 1: consistency of blake3 trees, 2: inclusion in the
//! history tree (SHA-256, RFC 6962; the second hash is the leaf hash),
//! 3: consistency of history trees. Replayed by
//! `ledger-core/tests/merkle_fuzz_replay.rs`.
#![no_main]

use bytes::Bytes;
use ledger_core::merkle::{
    verify_consistency, verify_history_consistency, verify_inclusion, verify_inclusion_with,
    ConsistencyProof, InclusionProof, Rfc6962Sha256,
};
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
    let (first, second) = (Hash(*first), Hash(*second));
    if kind % 2 == 0 {
        if let Ok(proof) = InclusionProof::decode(&input) {
            assert_eq!(proof.encode(), input);
            let _ = if kind % 4 == 0 {
                verify_inclusion(&first, proof.size(), &second, &proof)
            } else {
                verify_inclusion_with::<Rfc6962Sha256>(&first, proof.size(), &second, &proof)
            };
        }
    } else if let Ok(proof) = ConsistencyProof::decode(&input) {
        assert_eq!(proof.encode(), input);
        let verify = if kind % 4 == 1 {
            verify_consistency
        } else {
            verify_history_consistency
        };
        let _ = verify(proof.old_size(), &first, proof.new_size(), &second, &proof);
    }
});
