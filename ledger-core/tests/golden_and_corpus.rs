//! Golden fixtures and fuzz-corpus replay.
//!
//! `fixtures/` holds encoded values from this format version with their
//! expected ids: if the format drifts, these tests fail instead of old data
//! silently changing meaning. Every file of the cargo-fuzz corpora under
//! `fuzz/corpus/` is replayed through the same checks as the fuzz targets, so
//! plain `cargo test` guards what the fuzzer found without running it.
//!
//! Regenerate the fixtures and seeds (after a deliberate format change only)
//! with `LEDGER_BLESS=1 cargo test --release -p ledger-core --test golden_and_corpus`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::path::{Path, PathBuf};

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use ledger_core::{Block, BlockHeader, Hash, Transaction, BLOCK_FORMAT_VERSION};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bless() -> bool {
    std::env::var_os("LEDGER_BLESS").is_some()
}

/// A deterministic block: ed25519 signing is deterministic, so the same keys
/// and contents give the same bytes on every machine.
fn golden_block(tx_count: u64) -> Block {
    let donors: Vec<_> = (1..=3u8)
        .map(|seed| SigningKey::from_bytes(&[seed; 32]))
        .collect();
    let txs: Vec<_> = (0..tx_count)
        .map(|n| {
            let key = &donors[(n % 3) as usize];
            let payload = format!("pledge {n}: {} boxes of masks to clinic {}", 10 * n, n % 4);
            Transaction::sign(key, 42, n / 3, payload.into_bytes()).unwrap()
        })
        .collect();
    let header = BlockHeader {
        version: BLOCK_FORMAT_VERSION,
        chain_id: 42,
        height: 5,
        parent: ledger_core::hash(ledger_core::Domain::BlockHeader, b"golden parent"),
        timestamp_ms: 1_767_225_600_000,
        tx_count: tx_count as u32,
        tx_root: Hash([0x11; 32]),
        receipts_root: Hash([0x44; 32]),
        state_root: Hash([0x22; 32]),
        history_root: Hash([0x33; 32]),
    };
    Block::new(header, txs).unwrap()
}

fn check_or_bless(path: &Path, bytes: &[u8]) {
    if bless() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let stored = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with LEDGER_BLESS=1 to create it",
            path.display()
        )
    });
    assert_eq!(
        stored,
        bytes,
        "{} no longer matches the encoder",
        path.display()
    );
}

#[test]
fn golden_block_fixture_is_stable() {
    let block = golden_block(7);
    let path = repo_root().join("ledger-core/tests/fixtures/block_v3_7tx.bin");
    check_or_bless(&path, &block.encode());
    let decoded = Block::decode(&Bytes::from(std::fs::read(&path).unwrap())).unwrap();
    assert_eq!(decoded, block);
    // The ids are part of the format: they must never change for version 3.
    let ids_path = repo_root().join("ledger-core/tests/fixtures/block_v3_7tx.ids");
    let mut ids = format!("block {}\n", decoded.id());
    for tx in decoded.transactions() {
        ids.push_str(&format!("tx {}\n", tx.id()));
    }
    check_or_bless(&ids_path, ids.as_bytes());
}

fn write_seeds() {
    let block_dir = repo_root().join("fuzz/corpus/decode_block");
    let tx_dir = repo_root().join("fuzz/corpus/decode_tx");
    std::fs::create_dir_all(&block_dir).unwrap();
    std::fs::create_dir_all(&tx_dir).unwrap();
    for count in [0u64, 1, 3, 7] {
        std::fs::write(
            block_dir.join(format!("seed-valid-{count}tx")),
            golden_block(count).encode(),
        )
        .unwrap();
    }
    let block = golden_block(3);
    for (i, tx) in block.transactions().iter().enumerate() {
        std::fs::write(tx_dir.join(format!("seed-valid-{i}")), tx.encode()).unwrap();
    }
    let bytes = block.encode();
    std::fs::write(block_dir.join("seed-truncated"), &bytes[..bytes.len() - 1]).unwrap();
    std::fs::write(
        block_dir.join("seed-header-only-claims-txs"),
        &bytes[..ledger_core::HEADER_BYTES as usize],
    )
    .unwrap();
}

/// The same checks as `fuzz/fuzz_targets/decode_block.rs`.
fn check_block_bytes(bytes: &[u8]) {
    let input = Bytes::copy_from_slice(bytes);
    if let Ok(block) = Block::decode(&input) {
        assert_eq!(
            block.encode(),
            input,
            "accepted bytes must re-encode to themselves"
        );
        assert_eq!(block.header().tx_count as usize, block.transactions().len());
    }
}

/// The same checks as `fuzz/fuzz_targets/unpack_stored_block.rs`.
fn check_stored_block_bytes(bytes: &[u8]) {
    let input = Bytes::copy_from_slice(bytes);
    if let Ok(block) = ledger_core::decode_stored_block(&input) {
        let repacked = Bytes::from(ledger_core::encode_stored_block(&block));
        assert_eq!(
            ledger_core::decode_stored_block(&repacked).ok(),
            Some(block)
        );
    }
}

/// Seeds of the stored-block corpus: the golden block packed (compressed)
/// and a small block (plain), each whole, truncated and with a flipped
/// byte in its body.
fn write_stored_block_seeds() {
    let dir = repo_root().join("fuzz/corpus/unpack_stored_block");
    std::fs::create_dir_all(&dir).unwrap();
    for count in [1u64, 7] {
        let stored = ledger_core::encode_stored_block(&golden_block(count));
        std::fs::write(dir.join(format!("seed-{count}tx")), &stored).unwrap();
        std::fs::write(
            dir.join(format!("seed-{count}tx-truncated")),
            &stored[..stored.len() - 1],
        )
        .unwrap();
        let mut flipped = stored.clone();
        let last = flipped.len() - 8;
        flipped[last] ^= 0x10;
        std::fs::write(dir.join(format!("seed-{count}tx-flipped")), &flipped).unwrap();
    }
}

/// The same checks as `fuzz/fuzz_targets/decode_tx.rs`.
fn check_tx_bytes(bytes: &[u8]) {
    let input = Bytes::copy_from_slice(bytes);
    if let Ok(tx) = Transaction::decode(&input) {
        assert_eq!(
            tx.encode(),
            input,
            "accepted bytes must re-encode to themselves"
        );
    }
}

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let mut replayed = 0;
    for dir in ["corpus", "artifacts"] {
        let path = repo_root().join("fuzz").join(dir).join(target);
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() {
                check(&std::fs::read(&path).unwrap());
                replayed += 1;
            }
        }
    }
    replayed
}

#[test]
fn fuzz_corpora_replay_without_panic() {
    if bless() {
        write_seeds();
        write_stored_block_seeds();
    }
    let blocks = replay("decode_block", check_block_bytes);
    let txs = replay("decode_tx", check_tx_bytes);
    let stored = replay("unpack_stored_block", check_stored_block_bytes);
    assert!(
        stored >= 6,
        "unpack_stored_block corpus has {stored} files; seeds are missing"
    );
    assert!(
        blocks >= 6,
        "decode_block corpus has {blocks} files; seeds are missing"
    );
    assert!(
        txs >= 3,
        "decode_tx corpus has {txs} files; seeds are missing"
    );
}

#[test]
fn valid_seeds_decode() {
    let dir = repo_root().join("fuzz/corpus/decode_block");
    for count in [0u64, 1, 3, 7] {
        let bytes = std::fs::read(dir.join(format!("seed-valid-{count}tx"))).unwrap();
        assert_eq!(
            Block::decode(&Bytes::from(bytes)).unwrap(),
            golden_block(count)
        );
    }
}
