//! Unit tests of `verify_checkpoint`: a yes, and each way of saying no.

use super::*;

const ORIGIN: &str = "log.example/one";

struct World {
    log: SignerKey,
    witnesses: Vec<SignerKey>,
    policy: Policy,
    checkpoint: Checkpoint,
}

/// A log, three witnesses A, B, C, and a policy of 2 of the 3.
fn world() -> World {
    let log = SignerKey::new(ORIGIN, SignatureType::Ed25519, &[1; 32]).unwrap();
    let witnesses: Vec<SignerKey> = (0..3u8)
        .map(|i| {
            let name = format!("witness{i}.example");
            SignerKey::new(&name, SignatureType::CosignatureV1, &[10 + i; 32]).unwrap()
        })
        .collect();
    let policy = format!(
        "log {}\nwitness A {}\nwitness B {}\nwitness C {}\ngroup two 2 A B C\nquorum two\n",
        log.verifier_key(),
        witnesses[0].verifier_key(),
        witnesses[1].verifier_key(),
        witnesses[2].verifier_key()
    );
    World {
        policy: Policy::parse(policy.as_bytes()).unwrap(),
        checkpoint: Checkpoint::new(ORIGIN, 42, [7; 32]).unwrap(),
        log,
        witnesses,
    }
}

impl World {
    /// The checkpoint signed by the log and cosigned by the witnesses at
    /// these indices (at time 1000 + index).
    fn note(&self, cosigners: &[usize]) -> Note {
        let text = self.checkpoint.to_text();
        let mut note = Note::sign(&text, &self.log).unwrap();
        for &i in cosigners {
            let line = self.witnesses[i].cosign(&text, 1000 + i as u64).unwrap();
            note.add_signature(line).unwrap();
        }
        note
    }

    fn verify(&self, note: &str) -> Result<VerifiedCheckpoint, CheckpointError> {
        verify_checkpoint(note.as_bytes(), &self.log.verifier_key(), &self.policy)
    }
}

#[test]
fn a_quorum_verifies() {
    let w = world();
    let mut note = w.note(&[2, 0]);
    // A stranger's cosignature is ignored.
    let stranger = SignerKey::new("stranger", SignatureType::CosignatureV1, &[99; 32]).unwrap();
    note.add_signature(stranger.cosign(note.text(), 5).unwrap())
        .unwrap();
    let verified = w.verify(&note.encode()).unwrap();
    assert_eq!(verified.checkpoint, w.checkpoint);
    assert_eq!(verified.note, note);
    assert_eq!(verified.ignored_signatures, 1);
    let got: Vec<(usize, &str, u64)> = verified
        .cosignatures
        .iter()
        .map(|c| (c.witness, c.name.as_str(), c.timestamp))
        .collect();
    assert_eq!(got, [(2, "C", 1002), (0, "A", 1000)]);
}

#[test]
fn too_few_cosignatures_say_how_many_of_which_group() {
    let w = world();
    assert_eq!(
        w.verify(&w.note(&[1]).encode()).unwrap_err(),
        CheckpointError::QuorumNotMet(QuorumFailure {
            name: "two".into(),
            required: 2,
            satisfied: 1,
            missing: vec!["A".into(), "C".into()],
        })
    );
    // A repeated cosignature counts once.
    let mut note = w.note(&[1]);
    let again = note.signatures()[1].clone();
    let text = format!("{}{}", note.encode(), again.line());
    assert!(matches!(
        w.verify(&text),
        Err(CheckpointError::QuorumNotMet(QuorumFailure {
            satisfied: 1,
            ..
        }))
    ));
    // And the log's own signature is no cosignature.
    note.add_signature(w.log.sign_note(note.text()).unwrap())
        .unwrap();
    assert!(matches!(
        w.verify(&note.encode()),
        Err(CheckpointError::QuorumNotMet(_))
    ));
}

#[test]
fn bad_signatures_are_named() {
    let w = world();
    let good = w.note(&[0, 1]).encode();
    assert!(w.verify(&good).is_ok());
    let lines: Vec<&str> = good.lines().collect();
    // Flip one base64 character in the log's signature, then in B's.
    let flip = |line: &str| {
        let mut chars: Vec<char> = line.chars().collect();
        let at = chars.len() - 10;
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    let mut bad_log = lines.clone();
    let flipped = flip(lines[4]);
    bad_log[4] = &flipped;
    assert_eq!(
        w.verify(&(bad_log.join("\n") + "\n")).unwrap_err(),
        CheckpointError::BadLogSignature
    );
    let mut bad_b = lines.clone();
    let flipped = flip(lines[6]);
    bad_b[6] = &flipped;
    assert_eq!(
        w.verify(&(bad_b.join("\n") + "\n")).unwrap_err(),
        CheckpointError::BadWitnessSignature {
            witness: "B".into()
        }
    );
}

#[test]
fn a_missing_log_signature_counts_other_keys_of_its_name() {
    let w = world();
    let rotated = SignerKey::new(ORIGIN, SignatureType::Ed25519, &[2; 32]).unwrap();
    let text = w.checkpoint.to_text();
    let mut note = Note::sign(&text, &rotated).unwrap();
    for witness in &w.witnesses {
        note.add_signature(witness.cosign(&text, 1).unwrap())
            .unwrap();
    }
    assert_eq!(
        w.verify(&note.encode()).unwrap_err(),
        CheckpointError::MissingLogSignature { other_key_ids: 1 }
    );
}

#[test]
fn wrong_log_origin_or_policy() {
    let w = world();
    let note = w.note(&[0, 1]).encode();
    let other = SignerKey::new("log.example/two", SignatureType::Ed25519, &[1; 32]).unwrap();
    assert_eq!(
        verify_checkpoint(note.as_bytes(), &other.verifier_key(), &w.policy).unwrap_err(),
        CheckpointError::LogNotInPolicy(other.verifier_key().encode())
    );
    // With no logs in the policy, the log key comes from context, and the
    // origin must be its name.
    let open = Policy::parse(b"quorum none\n").unwrap();
    assert_eq!(
        verify_checkpoint(note.as_bytes(), &other.verifier_key(), &open).unwrap_err(),
        CheckpointError::OriginMismatch {
            origin: ORIGIN.into(),
            log: "log.example/two".into()
        }
    );
    assert!(verify_checkpoint(note.as_bytes(), &w.log.verifier_key(), &open).is_ok());
    let witness_key = w.witnesses[0].verifier_key();
    assert_eq!(
        verify_checkpoint(note.as_bytes(), &witness_key, &open).unwrap_err(),
        CheckpointError::LogKeyType(SignatureType::CosignatureV1)
    );
}

#[test]
fn malformed_inputs() {
    let w = world();
    assert!(matches!(
        w.verify("not a note"),
        Err(CheckpointError::MalformedNote(NoteError::NoSignatureBlock))
    ));
    let not_a_checkpoint = Note::sign("hello\n", &w.log).unwrap().encode();
    assert!(matches!(
        w.verify(&not_a_checkpoint),
        Err(CheckpointError::MalformedCheckpoint(
            CheckpointBodyError::TooFewLines { lines: 1 }
        ))
    ));
    let leading_zero = w.checkpoint.to_text().replace("\n42\n", "\n042\n");
    let note = Note::sign(&leading_zero, &w.log).unwrap().encode();
    assert!(matches!(
        w.verify(&note),
        Err(CheckpointError::MalformedCheckpoint(
            CheckpointBodyError::BadTreeSize
        ))
    ));
}

#[test]
fn errors_display_their_reason() {
    let failure = CheckpointError::QuorumNotMet(QuorumFailure {
        name: "two".into(),
        required: 2,
        satisfied: 1,
        missing: vec!["A".into(), "C".into()],
    });
    assert_eq!(
        failure.to_string(),
        "quorum not met: two has 1 of the 2 needed (missing: A, C)"
    );
}
