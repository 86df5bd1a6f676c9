//! Unit tests of `note`: the specification's and the Go reference
//! implementation's known answers, every line rule, and the limits at their
//! boundary.

use super::*;

/// c2sp.org/signed-note, "Verifier keys", Example.
const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

/// The Go reference implementation's test keys and note
/// (golang.org/x/mod/sumdb/note).
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_LINE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_LINE: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn vkey(text: &str) -> VerifierKey {
    VerifierKey::parse(text).unwrap()
}

#[test]
fn spec_example_note_verifies() {
    let note = Note::parse(SPEC_NOTE.as_bytes()).unwrap();
    assert_eq!(note.text(), "This is an example message.\n");
    assert_eq!(note.signatures().len(), 1);
    assert_eq!(note.signatures()[0].key_id(), 0x530d_903a);
    let verified = note.verify(&[vkey(SPEC_VKEY)]).unwrap();
    assert_eq!(
        verified,
        [VerifiedSignature {
            key_index: 0,
            timestamp: None
        }]
    );
    assert_eq!(note.encode(), SPEC_NOTE);
}

#[test]
fn spec_poem_note_keeps_its_blank_line_in_the_text() {
    // c2sp.org/signed-note's first example: the text holds an empty line,
    // and the last one separates the signatures.
    let poem = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u{e8} subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    let note = Note::parse(poem.as_bytes()).unwrap();
    assert!(note.text().ends_with(":\n\ned \u{e8} subito sera.\n"));
    assert_eq!(note.signatures()[0].name(), "quasimodo.example/salvatore");
    assert_eq!(note.encode(), poem);
    // Its key is not published: nothing known signed it.
    assert_eq!(
        note.verify(&[vkey(SPEC_VKEY)]),
        Err(NoteError::NoVerifiedSignature)
    );
}

#[test]
fn go_reference_signature_is_reproduced_and_verifies() {
    let signer = SignerKey::parse(PETER_SKEY).unwrap();
    let note = Note::sign(GO_TEXT, &signer).unwrap();
    assert_eq!(note.encode(), format!("{GO_TEXT}\n{PETER_LINE}"));
    let both = format!("{GO_TEXT}\n{PETER_LINE}{ENOCH_LINE}");
    let note = Note::parse(both.as_bytes()).unwrap();
    let keys = [vkey(ENOCH_VKEY), vkey(PETER_VKEY)];
    let verified = note.verify(&keys).unwrap();
    let indices: Vec<usize> = verified.iter().map(|v| v.key_index).collect();
    assert_eq!(indices, [1, 0], "in the order of the lines");
    // Either key alone suffices; the other line is then unknown.
    assert_eq!(note.verify(&keys[..1]).unwrap().len(), 1);
}

#[test]
fn unknown_keys_are_ignored_and_known_bad_signatures_reject() {
    let peter = vkey(PETER_VKEY);
    let base = format!("{GO_TEXT}\n{PETER_LINE}");
    // The same name with another ID, and another name with the same ID,
    // are other keys: ignored, even with garbage signatures.
    let same_name = "\u{2014} PeterNeumann AAAAAAEC\n";
    let same_id = "\u{2014} PaulNeumann x08go/ZJ\n";
    let note = Note::parse(format!("{base}{same_name}{same_id}").as_bytes()).unwrap();
    assert_eq!(note.verify(std::slice::from_ref(&peter)).unwrap().len(), 1);
    // A known name and ID with a bad signature rejects the whole note.
    let tampered = PETER_LINE.replace("x08go/ZJ", "x08go/ZK");
    let note = Note::parse(format!("{GO_TEXT}\n{tampered}").as_bytes()).unwrap();
    assert_eq!(
        note.verify(std::slice::from_ref(&peter)),
        Err(NoteError::InvalidSignature {
            name: "PeterNeumann".into(),
            key_id: 0xc74f_20a3
        })
    );
    // ... even beside a valid one, and whatever the length.
    let short = "\u{2014} PeterNeumann x08go/ZJ\n";
    let note = Note::parse(format!("{base}{short}").as_bytes()).unwrap();
    assert!(matches!(
        note.verify(std::slice::from_ref(&peter)),
        Err(NoteError::InvalidSignature { .. })
    ));
    // Another text: the signature no longer verifies.
    let note = Note::parse(format!("{GO_TEXT}x\n\n{PETER_LINE}").as_bytes()).unwrap();
    assert!(note.verify(std::slice::from_ref(&peter)).is_err());
    // No key at all: nothing verified.
    let note = Note::parse(base.as_bytes()).unwrap();
    assert_eq!(note.verify(&[]), Err(NoteError::NoVerifiedSignature));
    assert_eq!(note.verify_known(&[]), Ok(vec![]));
}

#[test]
fn repeated_lines_count_once_and_ambiguous_keys_are_refused() {
    let peter = vkey(PETER_VKEY);
    let note = Note::parse(format!("{GO_TEXT}\n{PETER_LINE}{PETER_LINE}").as_bytes()).unwrap();
    assert_eq!(note.verify(std::slice::from_ref(&peter)).unwrap().len(), 1);
    assert_eq!(
        note.verify(&[peter.clone(), peter]),
        Err(NoteError::AmbiguousKey {
            name: "PeterNeumann".into(),
            key_id: 0xc74f_20a3
        })
    );
}

#[test]
fn add_signature_appends_and_replaces_the_same_key() {
    let peter = SignerKey::parse(PETER_SKEY).unwrap();
    let other = SignerKey::new("other.example", SignatureType::Ed25519, &[5; 32]).unwrap();
    let mut note = Note::sign(GO_TEXT, &peter).unwrap();
    note.add_signature(other.sign_note(GO_TEXT).unwrap())
        .unwrap();
    note.add_signature(peter.sign_note(GO_TEXT).unwrap())
        .unwrap();
    let names: Vec<&str> = note.signatures().iter().map(NoteSignature::name).collect();
    assert_eq!(names, ["other.example", "PeterNeumann"]);
    let parsed = Note::parse(note.encode().as_bytes()).unwrap();
    assert_eq!(parsed, note);
    assert_eq!(
        parsed
            .verify(&[peter.verifier_key(), other.verifier_key()])
            .unwrap()
            .len(),
        2
    );
}

fn fault(note: &str) -> NoteError {
    Note::parse(note.as_bytes()).unwrap_err()
}

fn line_fault(note: &str) -> SignatureLineFault {
    match fault(note) {
        NoteError::MalformedSignatureLine { fault, .. } => fault,
        other => panic!("{other:?}"),
    }
}

#[test]
fn structure_rules() {
    assert_eq!(fault("text\n"), NoteError::NoSignatureBlock);
    assert_eq!(fault("text\n\n"), NoteError::NoSignatures);
    assert_eq!(fault("text\n\n\n"), NoteError::NoSignatures);
    assert_eq!(
        fault(&format!("{GO_TEXT}\n{}", PETER_LINE.trim_end())),
        NoteError::UnterminatedSignatureLine
    );
    assert_eq!(
        fault(&format!("{GO_TEXT}\n{PETER_LINE}\n")),
        NoteError::NoSignatures,
        "a blank line after the signatures makes them text"
    );
    assert_eq!(
        fault(&format!("a\tb\n\n{PETER_LINE}")),
        NoteError::ControlCharacter { offset: 1 }
    );
    assert_eq!(
        fault(&format!("a\rb\n\n{PETER_LINE}")),
        NoteError::ControlCharacter { offset: 1 }
    );
    assert_eq!(
        Note::parse(b"a\xc3\n\nx\n").unwrap_err(),
        NoteError::NotUtf8
    );
    // DEL and non-ASCII are not control characters below U+0020.
    let note = Note::parse(format!("a\u{7f}\u{85}b\n\n{PETER_LINE}").as_bytes()).unwrap();
    assert_eq!(note.text(), "a\u{7f}\u{85}b\n");
    // The text may be a lone newline.
    assert_eq!(
        Note::parse(format!("\n\n{PETER_LINE}").as_bytes())
            .unwrap()
            .text(),
        "\n"
    );
}

#[test]
fn signature_line_rules() {
    use SignatureLineFault as F;
    let with_line = |line: &str| format!("t\n\n{line}\n");
    assert_eq!(
        line_fault(&with_line("- PeterNeumann AAAAAAE=")),
        F::MissingPrefix
    );
    assert_eq!(
        line_fault(&with_line("\u{2014}PeterNeumann AAAAAAE=")),
        F::MissingPrefix
    );
    assert_eq!(
        line_fault(&with_line("\u{2014} PeterNeumann")),
        F::MissingSignature
    );
    assert_eq!(
        line_fault(&with_line("\u{2014}  AAAAAAE=")),
        F::InvalidKeyName
    );
    assert_eq!(
        line_fault(&with_line("\u{2014} a+b AAAAAAE=")),
        F::InvalidKeyName
    );
    assert_eq!(
        line_fault(&with_line("\u{2014} a\u{a0}b AAAAAAE=")),
        F::InvalidKeyName
    );
    assert_eq!(line_fault(&with_line("\u{2014} n AAAAAAE")), F::BadBase64);
    assert_eq!(line_fault(&with_line("\u{2014} n AAAAAAF=")), F::BadBase64);
    assert_eq!(line_fault(&with_line("\u{2014} n AAAAAAE= ")), F::BadBase64);
    assert_eq!(line_fault(&with_line("\u{2014} n AAAA AAE=")), F::BadBase64);
    assert_eq!(line_fault(&with_line("\u{2014} n AAAAAA==")), F::TooShort);
    assert_eq!(line_fault(&with_line("\u{2014} n ")), F::TooShort);
    let ok = Note::parse(with_line("\u{2014} n AAAAAAE=").as_bytes()).unwrap();
    assert_eq!(ok.signatures()[0].signature(), [1]);
    // The index of the faulty line is reported.
    let note = format!("t\n\n{PETER_LINE}{PETER_LINE}\u{2014} n\n");
    assert_eq!(
        fault(&note),
        NoteError::MalformedSignatureLine {
            index: 2,
            fault: F::MissingSignature
        }
    );
}

#[test]
fn building_rules() {
    let sig = NoteSignature::new("n", 1, vec![1]).unwrap();
    assert_eq!(
        Note::new("no newline", vec![sig.clone()]).unwrap_err(),
        NoteError::TextNotTerminated
    );
    assert_eq!(
        Note::new("", vec![sig.clone()]).unwrap_err(),
        NoteError::TextNotTerminated
    );
    assert_eq!(
        Note::new("t\n", vec![]).unwrap_err(),
        NoteError::NoSignatures
    );
    assert!(matches!(
        Note::new("t\u{1}\n", vec![sig]),
        Err(NoteError::ControlCharacter { offset: 1 })
    ));
    assert!(NoteSignature::new("a b", 1, vec![1]).is_err());
    assert!(NoteSignature::new("n", 1, vec![]).is_err());
    let peter = SignerKey::parse(PETER_SKEY).unwrap();
    assert_eq!(
        peter.sign_note("x").unwrap_err(),
        NoteError::TextNotTerminated
    );
}

#[test]
fn signature_count_boundary() {
    let line = "\u{2014} n AAAAAAE=\n";
    let at_limit = format!("t\n\n{}", line.repeat(MAX_NOTE_SIGNATURES));
    assert_eq!(
        Note::parse(at_limit.as_bytes()).unwrap().signatures().len(),
        MAX_NOTE_SIGNATURES
    );
    let over = format!("{at_limit}{line}");
    assert_eq!(fault(&over), NoteError::TooManySignatures);

    let sig = |i: u32| NoteSignature::new("n", i, vec![1]).unwrap();
    let mut note = Note::new("t\n", (0..MAX_NOTE_SIGNATURES as u32).map(sig).collect()).unwrap();
    assert_eq!(
        note.add_signature(sig(u32::MAX)),
        Err(NoteError::TooManySignatures)
    );
    assert_eq!(note.signatures().len(), MAX_NOTE_SIGNATURES, "unchanged");
    note.add_signature(sig(0)).unwrap(); // a replacement adds nothing
    assert_eq!(
        Note::new("t\n", (0..=MAX_NOTE_SIGNATURES as u32).map(sig).collect()).unwrap_err(),
        NoteError::TooManySignatures
    );
}

#[test]
fn size_boundary() {
    let line = "\u{2014} n AAAAAAE=\n";
    let fixed = 1 + 1 + line.len(); // text's newline, blank line, signature
    let text = "x".repeat(MAX_NOTE_BYTES - fixed);
    let at_limit = format!("{text}\n\n{line}");
    assert_eq!(at_limit.len(), MAX_NOTE_BYTES);
    let note = Note::parse(at_limit.as_bytes()).unwrap();
    assert_eq!(note.encode(), at_limit);
    let over = format!("x{at_limit}");
    assert_eq!(
        fault(&over),
        NoteError::TooLarge {
            len: MAX_NOTE_BYTES + 1
        }
    );
    // Building checks the encoded size too.
    let sig = NoteSignature::new("n", 0, vec![1]).unwrap();
    assert!(Note::new(&format!("{text}\n"), vec![sig.clone()]).is_ok());
    assert_eq!(
        Note::new(&format!("x{text}\n"), vec![sig]).unwrap_err(),
        NoteError::TooLarge {
            len: MAX_NOTE_BYTES + 1
        }
    );
}
