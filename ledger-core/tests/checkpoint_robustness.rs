//! Fuzz-corpus-style robustness of the C2SP parsers and verifier
//! (`ledger_core::checkpoint`): random bytes, and random edits of a valid
//! witnessed checkpoint, never make them panic; what they accept
//! re-encodes to exactly the bytes given (the encodings are canonical); and
//! no single edit of a fully cosigned checkpoint still verifies.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use ledger_core::checkpoint::{Checkpoint, Note, Policy, SignatureType, SignerKey, VerifierKey};
use ledger_core::testing::proptest_config;
use ledger_core::verify_checkpoint;
use proptest::prelude::*;

const ORIGIN: &str = "fuzz.example/log";

fn log() -> SignerKey {
    SignerKey::new(ORIGIN, SignatureType::Ed25519, &[1; 32]).unwrap()
}

fn witness(i: u8) -> SignerKey {
    SignerKey::new(&format!("w{i}"), SignatureType::CosignatureV1, &[2 + i; 32]).unwrap()
}

fn policy() -> Policy {
    let text = format!(
        "log {}\nwitness a {}\nwitness b {}\ngroup g all a b\nquorum g\n",
        log().verifier_key(),
        witness(0).verifier_key(),
        witness(1).verifier_key()
    );
    Policy::parse(text.as_bytes()).unwrap()
}

fn valid_note() -> String {
    let text = Checkpoint::with_extensions(ORIGIN, 5, [9; 32], vec!["ext".into()])
        .unwrap()
        .to_text();
    let mut note = Note::sign(&text, &log()).unwrap();
    for i in 0..2 {
        note.add_signature(witness(i).cosign(&text, 77).unwrap())
            .unwrap();
    }
    note.encode()
}

/// Runs every parser on `bytes`, checking canonical re-encoding of what is
/// accepted.
fn exercise(bytes: &[u8], policy: &Policy) {
    if let Ok(note) = Note::parse(bytes) {
        assert_eq!(note.encode().as_bytes(), bytes);
        let _ = note.verify(&[log().verifier_key()]);
    }
    if let Ok(checkpoint) = Checkpoint::parse(bytes) {
        assert_eq!(checkpoint.to_text().as_bytes(), bytes);
    }
    if let Ok(parsed) = Policy::parse(bytes) {
        let _ = parsed.evaluate(&[true, false, true]);
    }
    let text = String::from_utf8_lossy(bytes);
    if let Ok(key) = VerifierKey::parse(&text) {
        assert_eq!(key.encode(), text);
    }
    if let Ok(key) = SignerKey::parse(&text) {
        assert_eq!(key.encode(), text);
    }
    let _ = verify_checkpoint(bytes, &log().verifier_key(), policy);
}

#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, x)| Edit::Flip(at, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    match *edit {
        Edit::Flip(at, x) => {
            let at = at % bytes.len();
            bytes[at] ^= x;
        }
        Edit::Insert(at, b) => bytes.insert(at % (bytes.len() + 1), b),
        Edit::Delete(at) => {
            let at = at % bytes.len();
            bytes.remove(at);
        }
    }
}

/// Tokens that reach past the first checks of each parser.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        Just(" ".to_owned()),
        Just("\t".to_owned()),
        Just("\u{2014} ".to_owned()),
        Just("+".to_owned()),
        Just("#".to_owned()),
        Just("log ".to_owned()),
        Just("witness ".to_owned()),
        Just("group ".to_owned()),
        Just("quorum ".to_owned()),
        Just("all ".to_owned()),
        Just("any ".to_owned()),
        Just("none".to_owned()),
        Just(ORIGIN.to_owned()),
        Just("42".to_owned()),
        Just("CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=".to_owned()),
        Just(log().verifier_key().encode()),
        Just(witness(0).verifier_key().encode()),
        Just(witness(1).verifier_key().encode()),
        Just(log().encode()),
        "[a-zA-Z0-9/=+]{1,12}",
    ]
}

proptest! {
    #![proptest_config(proptest_config(3_000, file!()))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes, &policy());
    }

    #[test]
    fn random_token_strings_never_panic(tokens in prop::collection::vec(token(), 0..24)) {
        exercise(tokens.concat().as_bytes(), &policy());
    }

    #[test]
    fn edited_checkpoints_never_verify(edits in prop::collection::vec(edit(), 1..4)) {
        let policy = policy();
        let original = valid_note().into_bytes();
        prop_assert!(verify_checkpoint(&original, &log().verifier_key(), &policy).is_ok());
        let mut bytes = original.clone();
        for e in &edits {
            apply(&mut bytes, e);
        }
        exercise(&bytes, &policy);
        if bytes != original {
            prop_assert!(verify_checkpoint(&bytes, &log().verifier_key(), &policy).is_err());
        }
    }
}
