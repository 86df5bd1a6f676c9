//! Golden fixtures under `tests/fixtures/`: compare a text with the one
//! checked in, or write it with `LEDGER_BLESS=1` (after a deliberate
//! format change only).

use std::path::{Path, PathBuf};

/// The path of fixture `name`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Fails unless `text` equals fixture `name` line for line (the first
/// changed line is named), in its line count and as a whole; with
/// `LEDGER_BLESS` set, writes `text` there first.
pub fn check_or_bless(name: &str, text: &str) {
    let path = fixture(name);
    if std::env::var_os("LEDGER_BLESS").is_some() {
        std::fs::write(&path, text).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with LEDGER_BLESS=1 to create it",
            path.display()
        )
    });
    for (line, (stored, now)) in stored.lines().zip(text.lines()).enumerate() {
        assert_eq!(stored, now, "{name} line {} changed", line + 1);
    }
    assert_eq!(
        stored.lines().count(),
        text.lines().count(),
        "{name}: line count changed"
    );
    assert_eq!(stored, text, "{name} changed");
}
