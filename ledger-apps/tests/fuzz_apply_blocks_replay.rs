//! Replays the `apply_blocks` fuzz corpus through the same scenario as the
//! fuzz target (`ledger_apps::scenario`), so plain `cargo test` guards every
//! chain the fuzzer found interesting; `LEDGER_BLESS=1` rewrites the seeds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::path::{Path, PathBuf};

use ledger_apps::scenario::run_transfer_scenario;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/apply_blocks")
}

fn write_seeds() {
    std::fs::create_dir_all(corpus_dir()).unwrap();
    // Plain transfers in three blocks.
    let plain: Vec<u8> = (0..30u8)
        .flat_map(|i| [i, i + 1, 10 + i, 0, if i % 10 == 9 { 4 } else { 0 }])
        .collect();
    // Bad signatures, replays, overdrafts and tampered blocks mixed in.
    let hostile: Vec<u8> = (0..40u8)
        .flat_map(|i| {
            [
                i * 7,
                i * 3,
                i,
                0xff,
                [0, 1, 2, 4, 12, 0, 5, 8][usize::from(i % 8)],
            ]
        })
        .collect();
    std::fs::write(corpus_dir().join("seed-plain"), plain).unwrap();
    std::fs::write(corpus_dir().join("seed-hostile"), hostile).unwrap();
    std::fs::write(corpus_dir().join("seed-empty"), b"").unwrap();
}

#[test]
fn apply_blocks_corpus_replays() {
    if std::env::var_os("LEDGER_BLESS").is_some() {
        write_seeds();
    }
    let mut replayed = 0;
    for dir in [
        corpus_dir(),
        corpus_dir().join("../../artifacts/apply_blocks"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            run_transfer_scenario(&std::fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    assert!(
        replayed >= 3,
        "apply_blocks corpus has {replayed} files; seeds are missing"
    );
}
