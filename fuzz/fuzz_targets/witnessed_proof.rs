//! Hostile witnessed proofs (the binary encoding an offline verifier reads
//! from a QR proof bundle): decoding must never panic, and accepted bytes
//! must re-encode to themselves. Replayed by
//! `ledger-core/tests/witnessed_codec.rs`.
#![no_main]

use bytes::Bytes;
use ledger_core::WitnessedProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(proof) = WitnessedProof::decode(&input) {
        assert_eq!(proof.encode().ok(), Some(input));
    }
});
