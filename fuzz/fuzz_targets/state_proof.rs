//! Hostile state proofs: decoding and verification must never panic, and an
//! accepted proof must re-encode to its input. Layout of the fuzz input:
//! root (32) ‖ key position (32) ‖ claim byte (even: absent, odd: present)
//! ‖ value length (1) ‖ value ‖ proof bytes. Replayed by
//! `ledger-core/tests/state_tree_fuzz_replay.rs`.
#![no_main]

use bytes::Bytes;
use ledger_core::state_tree::{verify_state_proof, StateProof};
use ledger_core::Hash;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((root, rest)) = data.split_first_chunk::<32>() else {
        return;
    };
    let Some((key, rest)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let Some((&claim, rest)) = rest.split_first() else {
        return;
    };
    let Some((&value_len, rest)) = rest.split_first() else {
        return;
    };
    let value_len = usize::from(value_len).min(rest.len());
    let (value, proof_bytes) = rest.split_at(value_len);
    let input = Bytes::copy_from_slice(proof_bytes);
    if let Ok(proof) = StateProof::decode(&input) {
        assert_eq!(proof.encode(), input);
        let value = (claim % 2 == 1).then_some(value);
        let _ = verify_state_proof(&Hash(*root), &Hash(*key), value, &proof);
    }
});
