//! Golden fixture of the signed, witnessed checkpoint we emit: a fixed
//! checkpoint (origin, size, root hash), signed by a fixed log key and
//! cosigned (`cosignature/v1`) by two fixed witness keys at fixed times,
//! must encode to exactly the bytes checked in under
//! `tests/fixtures/checkpoint_note_v1.txt`, and those bytes, with the keys
//! and policy also checked in there (`checkpoint_keys_v1.txt`), must verify.
//! Ed25519 is deterministic, so any change of the note, checkpoint or
//! cosignature encoding, or of a key ID, fails here.
//!
//! Regenerate after a deliberate change only:
//! `LEDGER_BLESS=1 cargo test --release -p ledger-core --test golden_checkpoint`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use common::golden::{check_or_bless, fixture};

use ledger_core::checkpoint::{Checkpoint, Note, Policy, SignatureType, SignerKey, VerifierKey};
use ledger_core::verify_checkpoint;

fn log() -> SignerKey {
    SignerKey::new("ledger.example/log/7", SignatureType::Ed25519, &[0x4c; 32]).unwrap()
}

fn witnesses() -> [SignerKey; 2] {
    [
        SignerKey::new(
            "witness.example/a",
            SignatureType::CosignatureV1,
            &[0x57; 32],
        )
        .unwrap(),
        SignerKey::new(
            "witness.example/b",
            SignatureType::CosignatureV1,
            &[0x58; 32],
        )
        .unwrap(),
    ]
}

fn golden_note() -> String {
    let root: [u8; 32] = core::array::from_fn(|i| i as u8);
    let text = Checkpoint::new("ledger.example/log/7", 1_000_003, root)
        .unwrap()
        .to_text();
    let mut note = Note::sign(&text, &log()).unwrap();
    for (witness, time) in witnesses().iter().zip([1_767_225_600, 1_767_225_601]) {
        note.add_signature(witness.cosign(&text, time).unwrap())
            .unwrap();
    }
    note.encode()
}

fn golden_keys() -> String {
    let [a, b] = witnesses();
    format!(
        "log {}\nwitness a {}\nwitness b {}\ngroup both all a b\nquorum both\n",
        log().verifier_key(),
        a.verifier_key(),
        b.verifier_key()
    )
}

#[test]
fn emitted_checkpoint_note_is_byte_stable() {
    check_or_bless("checkpoint_note_v1.txt", &golden_note());
    check_or_bless("checkpoint_keys_v1.txt", &golden_keys());
}

#[test]
fn stored_checkpoint_note_verifies_with_stored_keys() {
    let note = std::fs::read(fixture("checkpoint_note_v1.txt")).unwrap();
    let policy = Policy::parse(&std::fs::read(fixture("checkpoint_keys_v1.txt")).unwrap()).unwrap();
    let log_key: &VerifierKey = &policy.logs()[0].key;
    let verified = verify_checkpoint(&note, log_key, &policy).unwrap();
    assert_eq!(verified.checkpoint.size(), 1_000_003);
    let times: Vec<u64> = verified.cosignatures.iter().map(|c| c.timestamp).collect();
    assert_eq!(times, [1_767_225_600, 1_767_225_601]);
}
