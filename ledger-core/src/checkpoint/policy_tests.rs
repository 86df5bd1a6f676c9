//! Unit tests of `policy`: the specification's example, every rule, the
//! limits at their boundary, and quorum evaluation.

use super::*;
use crate::checkpoint::SignerKey;

fn witness_vkey(seed: u8) -> String {
    SignerKey::new(
        &format!("w{seed}.example"),
        SignatureType::CosignatureV1,
        &[seed; 32],
    )
    .unwrap()
    .verifier_key()
    .encode()
}

fn log_vkey(seed: u8) -> String {
    SignerKey::new(
        &format!("log{seed}.example"),
        SignatureType::Ed25519,
        &[seed; 32],
    )
    .unwrap()
    .verifier_key()
    .encode()
}

/// The specification's example policy, with keys.
fn spec_example() -> String {
    format!(
        "log {}\n\nwitness X1 {}\nwitness X2 {}\nwitness X3 {}\ngroup X-witnesses 2 X1 X2 X3\n\n\
         witness Y1 {}\nwitness Y2 {}\nwitness Y3 {}\ngroup Y-witnesses any Y1 Y2 Y3\n\n\
         group X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n",
        log_vkey(100),
        witness_vkey(1),
        witness_vkey(2),
        witness_vkey(3),
        witness_vkey(4),
        witness_vkey(5),
        witness_vkey(6)
    )
}

fn error(text: &str) -> PolicyError {
    Policy::parse(text.as_bytes()).unwrap_err()
}

#[test]
fn spec_example_parses_and_evaluates() {
    let policy = Policy::parse(spec_example().as_bytes()).unwrap();
    assert_eq!(policy.logs().len(), 1);
    assert_eq!(policy.witnesses().len(), 6);
    assert_eq!(policy.groups().len(), 3);
    assert_eq!(policy.groups()[0].threshold, 2);
    assert_eq!(policy.groups()[1].threshold, 1);
    assert_eq!(policy.groups()[2].threshold, 2);
    assert_eq!(
        policy.groups()[2].members,
        [PolicyRef::Group(0), PolicyRef::Group(1)]
    );
    assert_eq!(policy.quorum(), Some(PolicyRef::Group(2)));

    // Two X and one Y: met.
    assert_eq!(
        policy.evaluate(&[true, false, true, false, false, true]),
        Ok(())
    );
    // Three X, no Y: the top group has one of its two members.
    assert_eq!(
        policy.evaluate(&[true, true, true]),
        Err(QuorumFailure {
            name: "X-and-Y".into(),
            required: 2,
            satisfied: 1,
            missing: vec!["Y-witnesses".into()],
        })
    );
    // One X, all Y.
    let failure = policy
        .evaluate(&[true, false, false, true, true, true])
        .unwrap_err();
    assert_eq!(failure.missing, ["X-witnesses"]);
    // Nothing.
    assert_eq!(policy.evaluate(&[]).unwrap_err().satisfied, 0);
}

#[test]
fn quorum_none_and_single_witness() {
    let none = Policy::parse(b"quorum none\n").unwrap();
    assert_eq!(none.quorum(), None);
    assert_eq!(none.evaluate(&[]), Ok(()));
    let single = format!("witness W {}\nquorum W\n", witness_vkey(1));
    let single = Policy::parse(single.as_bytes()).unwrap();
    assert_eq!(single.evaluate(&[true]), Ok(()));
    assert_eq!(
        single.evaluate(&[false]),
        Err(QuorumFailure {
            name: "W".into(),
            required: 1,
            satisfied: 0,
            missing: vec!["W".into()],
        })
    );
}

#[test]
fn whitespace_comments_urls_and_opaque_names() {
    let text = format!(
        "# a comment \u{e9}\n  \t# indented comment\n\t \nlog\t{} https://log.example/\n \
         witness \u{212a} {}  https://w.example/ \t\nwitness K {}\ngroup g 2 K \u{212a}\nquorum g",
        log_vkey(9),
        witness_vkey(1),
        witness_vkey(2)
    );
    let policy = Policy::parse(text.as_bytes()).unwrap();
    assert_eq!(
        policy.logs()[0].url.as_deref(),
        Some(&b"https://log.example/"[..])
    );
    // The Kelvin sign and K are different names.
    assert_eq!(policy.witnesses()[0].name, "\u{212a}".as_bytes());
    assert_eq!(policy.witnesses()[1].name, b"K");
    assert_eq!(policy.witnesses()[1].url, None);
    assert_eq!(
        policy.groups()[0].members,
        [PolicyRef::Witness(1), PolicyRef::Witness(0)]
    );
    // Non-UTF-8 octets are opaque in names and comments.
    let latin1 = [
        b"# caf\xe9\nwitness \xe9 ".as_slice(),
        witness_vkey(1).as_bytes(),
        b"\nquorum \xe9\n",
    ]
    .concat();
    let policy = Policy::parse(&latin1).unwrap();
    assert_eq!(policy.witnesses()[0].name, b"\xe9");
    assert_eq!(policy.evaluate(&[true]), Ok(()));
}

#[test]
fn every_rule_names_its_line() {
    use PolicyErrorKind as K;
    let w1 = witness_vkey(1);
    let w2 = witness_vkey(2);
    let log = log_vkey(3);
    let cases: Vec<(String, usize, PolicyErrorKind)> = vec![
        (String::new(), 0, K::MissingQuorum),
        ("# only a comment\n".into(), 0, K::MissingQuorum),
        ("quorum none\nquorum none\n".into(), 2, K::DuplicateQuorum),
        ("quorum\n".into(), 1, K::WrongItemCount),
        ("quorum a b\n".into(), 1, K::WrongItemCount),
        ("quorum W\n".into(), 1, K::UnknownName("W".into())),
        ("Quorum none\n".into(), 1, K::UnknownKeyword),
        ("quorum none # trailing\n".into(), 1, K::WrongItemCount),
        (
            "quorum none\r\n".into(),
            1,
            K::ForbiddenByte { byte: b'\r' },
        ),
        (
            "quorum none\n\u{7f}\n".into(),
            2,
            K::ForbiddenByte { byte: 0x7f },
        ),
        ("log\nquorum none\n".into(), 1, K::WrongItemCount),
        (format!("log {log} url extra\n"), 1, K::WrongItemCount),
        (
            format!("log {w1}\n"),
            1,
            K::WrongKeyType {
                expected: SignatureType::Ed25519,
                found: SignatureType::CosignatureV1,
            },
        ),
        (
            format!("witness W {log}\n"),
            1,
            K::WrongKeyType {
                expected: SignatureType::CosignatureV1,
                found: SignatureType::Ed25519,
            },
        ),
        (
            "log not-a-key\n".into(),
            1,
            K::BadKey(NoteKeyError::Malformed),
        ),
        (format!("log {log}\nlog {log}\n"), 2, K::DuplicateKey),
        ("witness W\n".into(), 1, K::WrongItemCount),
        (format!("witness W {w1} url extra\n"), 1, K::WrongItemCount),
        (
            format!("witness W {w1}\nwitness V {w1}\n"),
            2,
            K::DuplicateKey,
        ),
        (
            format!("witness W {w1}\nwitness W {w2}\n"),
            2,
            K::DuplicateName("W".into()),
        ),
        (
            format!("witness none {w1}\n"),
            1,
            K::DuplicateName("none".into()),
        ),
        (
            format!("witness W {w1}\ngroup W any W\n"),
            2,
            K::DuplicateName("W".into()),
        ),
        (
            format!("witness W {w1}\ngroup g any\n"),
            2,
            K::WrongItemCount,
        ),
        (
            format!("witness W {w1}\ngroup g any none\n"),
            2,
            K::NoneAsMember,
        ),
        (
            format!("witness W {w1}\ngroup g any V\n"),
            2,
            K::UnknownName("V".into()),
        ),
        (
            format!("witness W {w1}\ngroup g any W W\n"),
            2,
            K::DuplicateMember("W".into()),
        ),
        (format!("witness W {w1}\ngroup g 0 W\n"), 2, K::BadThreshold),
        (format!("witness W {w1}\ngroup g 2 W\n"), 2, K::BadThreshold),
        (
            format!("witness W {w1}\ngroup g -1 W\n"),
            2,
            K::BadThreshold,
        ),
        (
            format!("witness W {w1}\ngroup g some W\n"),
            2,
            K::BadThreshold,
        ),
        (
            format!("witness W {w1}\ngroup g 99999999999999999999999 W\n"),
            2,
            K::BadThreshold,
        ),
        // A group may not name itself or a later group.
        (
            format!("witness W {w1}\ngroup g any g\n"),
            2,
            K::UnknownName("g".into()),
        ),
        (
            format!("witness W {w1}\ngroup g any h\ngroup h any W\n"),
            2,
            K::UnknownName("h".into()),
        ),
    ];
    for (text, line, kind) in cases {
        assert_eq!(error(&text), PolicyError { line, kind }, "{text:?}");
    }
    // Leading zeros are plain decimal.
    let ok = format!("witness W {w1}\nwitness V {w2}\ngroup g 02 W V\nquorum g\n");
    assert_eq!(
        Policy::parse(ok.as_bytes()).unwrap().groups()[0].threshold,
        2
    );
}

#[test]
fn count_limits_at_their_boundary() {
    let logs = |n: usize| -> String {
        (0..n)
            .map(|i| {
                let key = SignerKey::new("l", SignatureType::Ed25519, &[i as u8; 32]).unwrap();
                format!("log {}\n", key.verifier_key())
            })
            .collect()
    };
    assert!(Policy::parse(format!("{}quorum none\n", logs(MAX_POLICY_LOGS)).as_bytes()).is_ok());
    assert_eq!(
        error(&format!("{}quorum none\n", logs(MAX_POLICY_LOGS + 1))),
        PolicyError {
            line: MAX_POLICY_LOGS + 1,
            kind: PolicyErrorKind::TooManyLogs
        }
    );
    let witnesses = |n: usize| -> String {
        (0..n)
            .map(|i| {
                let seed = [
                    (i % 256) as u8,
                    (i / 256) as u8,
                    1,
                    2,
                    3,
                    4,
                    5,
                    6,
                    7,
                    8,
                    9,
                    10,
                    11,
                    12,
                    13,
                    14,
                    15,
                    16,
                    17,
                    18,
                    19,
                    20,
                    21,
                    22,
                    23,
                    24,
                    25,
                    26,
                    27,
                    28,
                    29,
                    30,
                ];
                let key = SignerKey::new("w", SignatureType::CosignatureV1, &seed).unwrap();
                format!("witness w{i} {}\n", key.verifier_key())
            })
            .collect()
    };
    let at_limit = witnesses(MAX_POLICY_WITNESSES);
    assert!(Policy::parse(format!("{at_limit}quorum w0\n").as_bytes()).is_ok());
    assert_eq!(
        error(&witnesses(MAX_POLICY_WITNESSES + 1)).kind,
        PolicyErrorKind::TooManyWitnesses
    );
    let groups = |n: usize| -> String {
        let mut text = format!("witness W {}\n", witness_vkey(1));
        for i in 0..n {
            text.push_str(&format!("group g{i} any W\n"));
        }
        text
    };
    let policy =
        Policy::parse(format!("{}quorum g0\n", groups(MAX_POLICY_GROUPS)).as_bytes()).unwrap();
    assert_eq!(policy.groups().len(), MAX_POLICY_GROUPS);
    assert_eq!(
        error(&groups(MAX_POLICY_GROUPS + 1)).kind,
        PolicyErrorKind::TooManyGroups
    );
}

#[test]
fn size_limit_at_its_boundary() {
    let head = "quorum none\n";
    let comment = |len: usize| format!("#{}\n", "c".repeat(len - 2));
    let at_limit = format!("{head}{}", comment(MAX_POLICY_BYTES - head.len()));
    assert_eq!(at_limit.len(), MAX_POLICY_BYTES);
    assert!(Policy::parse(at_limit.as_bytes()).is_ok());
    let over = format!("{at_limit}#");
    assert_eq!(
        error(&over),
        PolicyError {
            line: 0,
            kind: PolicyErrorKind::TooLarge {
                len: MAX_POLICY_BYTES + 1
            }
        }
    );
}

#[test]
fn deep_nesting_evaluates_in_one_pass() {
    // A chain of groups, each the only member of the next.
    let mut text = format!("witness W {}\ngroup g0 any W\n", witness_vkey(1));
    for i in 1..MAX_POLICY_GROUPS {
        text.push_str(&format!("group g{i} all g{}\n", i - 1));
    }
    text.push_str(&format!("quorum g{}\n", MAX_POLICY_GROUPS - 1));
    let policy = Policy::parse(text.as_bytes()).unwrap();
    assert_eq!(policy.evaluate(&[true]), Ok(()));
    let failure = policy.evaluate(&[false]).unwrap_err();
    assert_eq!(failure.missing, [format!("g{}", MAX_POLICY_GROUPS - 2)]);
}
