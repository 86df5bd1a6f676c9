//! `ledger log keygen` and `ledger log evidence`, run as the built binary:
//! two checkpoints of one size with two roots signed by the key keygen
//! made are evidence (exit 0, text or JSON); one checkpoint twice, two
//! sizes, or another key's signature are not (exit 1, the reason); an
//! unreadable file or a malformed key cannot be checked (exit 2).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ledger_core::checkpoint::{Checkpoint, Note, SignatureType, SignerKey};

const ORIGIN: &str = "ledger.test/cli-log";

fn ledger(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledger"))
        .args(args)
        .output()
        .unwrap()
}

fn write_note(dir: &Path, name: &str, key: &SignerKey, size: u64, root: u8) -> PathBuf {
    let text = Checkpoint::new(key.name(), size, [root; 32])
        .unwrap()
        .to_text();
    let path = dir.join(name);
    std::fs::write(&path, Note::sign(&text, key).unwrap().encode()).unwrap();
    path
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn keygen_then_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("log.key");
    let made = ledger(&[
        "log",
        "keygen",
        "--origin",
        ORIGIN,
        "--out",
        key_file.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{made:?}");
    let vkey = stdout(&made).trim().to_owned();
    assert!(vkey.starts_with(&format!("{ORIGIN}+")), "{vkey}");
    let skey = std::fs::read_to_string(&key_file).unwrap();
    let key = SignerKey::parse(skey.trim()).unwrap();
    assert_eq!(key.verifier_key().encode(), vkey);
    // keygen never overwrites a key.
    let again = ledger(&[
        "log",
        "keygen",
        "--origin",
        ORIGIN,
        "--out",
        key_file.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));

    let a = write_note(dir.path(), "a", &key, 11, 1);
    let b = write_note(dir.path(), "b", &key, 11, 2);
    let c = write_note(dir.path(), "c", &key, 12, 2);
    let other = SignerKey::new(ORIGIN, SignatureType::Ed25519, &[3; 32]).unwrap();
    let d = write_note(dir.path(), "d", &other, 11, 3);
    let path = |p: &PathBuf| p.to_str().unwrap().to_owned();
    let evidence = |x: &PathBuf, y: &PathBuf, json: bool| {
        let mut args = vec![
            "log".to_owned(),
            "evidence".into(),
            "--log-key".into(),
            vkey.clone(),
        ];
        args.extend([path(x), path(y)]);
        if json {
            args.push("--json".into());
        }
        ledger(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    let found = evidence(&a, &b, false);
    assert_eq!(found.status.code(), Some(0), "{found:?}");
    let text = stdout(&found);
    assert!(text.starts_with(&format!(
        "SPLIT VIEW: log {ORIGIN} signed two different trees of size 11\n"
    )));
    assert!(text.contains(&std::fs::read_to_string(&a).unwrap()));
    assert!(text.contains(&std::fs::read_to_string(&b).unwrap()));
    let found = evidence(&a, &b, true);
    assert_eq!(found.status.code(), Some(0));
    let json = stdout(&found);
    assert!(
        json.starts_with("{\"kind\":\"split-view\",") && json.ends_with("}\n"),
        "{json}"
    );
    assert!(json.contains("\"size\":11,"));

    for (x, y, reason) in [
        (&a, &a, "same root at size 11"),
        (&a, &c, "tree sizes differ (11 and 12)"),
        (&a, &d, "checkpoint B is not signed by the log key"),
    ] {
        let not = evidence(x, y, false);
        assert_eq!(not.status.code(), Some(1), "{not:?}");
        assert!(stdout(&not).starts_with("not evidence: ") && stdout(&not).contains(reason));
        let not = evidence(x, y, true);
        assert_eq!(not.status.code(), Some(1));
        assert!(stdout(&not).starts_with("{\"kind\":\"not-evidence\",\"reason\":"));
    }
    let missing = evidence(&a, &dir.path().join("missing"), false);
    assert_eq!(missing.status.code(), Some(2));
    let bad_key = ledger(&[
        "log",
        "evidence",
        "--log-key",
        "nonsense",
        &path(&a),
        &path(&b),
    ]);
    assert_eq!(bad_key.status.code(), Some(2));
}
