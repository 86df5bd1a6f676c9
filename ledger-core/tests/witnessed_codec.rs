//! The binary encoding of `WitnessedProof` (`docs/FORMAT.md`, "Witnessed
//! proofs"): proofs a ledger builds round-trip and still verify; the bytes
//! are pinned by golden fixtures (`fixtures/witnessed_*_v1.bin`); every
//! limit and tag is refused with its typed error; random and mutated
//! inputs never panic and, when accepted, re-encode to themselves; the
//! fuzz corpus `fuzz/corpus/witnessed_proof/` is replayed.
//!
//! Regenerate fixtures and seeds (after a deliberate format change only)
//! with `LEDGER_BLESS=1 cargo test --release -p ledger-core --test witnessed_codec`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::path::{Path, PathBuf};

use bytes::Bytes;
use ledger_core::limits::{MAX_STATE_KEY_BYTES, MAX_WITNESSED_PROOF_BYTES};
use ledger_core::testing::{key, proptest_config, sign, Op, ScriptedApp};
use ledger_core::{
    DecodeError, Ledger, LedgerConfig, Limit, MemStore, PublicKey, WitnessedProof,
    WitnessedProofDecodeError, WitnessedRecord,
};
use proptest::prelude::*;

const CHAIN: u64 = 9;
const BLOCKS: u64 = 3;

/// A deterministic ledger: block `h` puts `key-h` = `value-h`; one
/// transaction of block 1 fails (so a failed receipt is encoded too).
fn ledger() -> (Ledger<MemStore, ScriptedApp>, Vec<ledger_core::Hash>) {
    let app = ScriptedApp {
        minter: PublicKey::from_signing_key(&key(1)),
    };
    let mut ledger = Ledger::open(MemStore::new(), app, LedgerConfig::new(CHAIN)).unwrap();
    let mut ids = Vec::new();
    for height in 0..BLOCKS {
        let mut txs = vec![sign(
            &key(2),
            CHAIN,
            height,
            &[
                Op::Put {
                    key: format!("key-{height}").into_bytes(),
                    value: format!("value-{height}").into_bytes(),
                },
                Op::Emit {
                    topic: b"put".to_vec(),
                    data: vec![height as u8],
                },
            ],
        )];
        if height == 1 {
            txs.push(sign(&key(3), CHAIN, 0, &[Op::Fail { code: 7 }]));
        }
        ids.extend(txs.iter().map(|tx| tx.id()));
        let block = ledger.build_block(txs, 1_000 + height).unwrap();
        ledger
            .apply_block(ledger.verify_block(block).unwrap())
            .unwrap();
    }
    (ledger, ids)
}

/// The proofs the fixtures pin: a successful and a failed transaction, a
/// present and an absent state key.
fn proofs() -> Vec<(&'static str, WitnessedProof)> {
    let (ledger, ids) = ledger();
    let tx = |i: usize| {
        ledger
            .witnessed_transaction_proof(&ids[i], BLOCKS)
            .unwrap()
            .unwrap()
    };
    vec![
        ("witnessed_tx_v1.bin", tx(0)),
        ("witnessed_tx_failed_v1.bin", tx(2)),
        (
            "witnessed_state_v1.bin",
            ledger.witnessed_state_proof(b"key-1", 2, BLOCKS).unwrap(),
        ),
        (
            "witnessed_state_absent_v1.bin",
            ledger.witnessed_state_proof(b"nobody", 1, BLOCKS).unwrap(),
        ),
    ]
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bless() -> bool {
    std::env::var_os("LEDGER_BLESS").is_some()
}

fn check_or_bless(path: &Path, bytes: &[u8]) {
    if bless() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let stored = std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with LEDGER_BLESS=1", path.display()));
    assert_eq!(
        stored,
        bytes,
        "{} no longer matches the encoder",
        path.display()
    );
}

/// The fuzz target's oracle: never panic; accepted bytes re-encode to
/// themselves.
fn check_bytes(bytes: &[u8]) {
    let input = Bytes::copy_from_slice(bytes);
    if let Ok(proof) = WitnessedProof::decode(&input) {
        assert_eq!(
            proof.encode().unwrap(),
            input,
            "accepted bytes must re-encode"
        );
    }
}

#[test]
fn ledger_proofs_round_trip_and_match_golden_fixtures() {
    for (name, proof) in proofs() {
        let bytes = proof.encode().unwrap();
        let decoded = WitnessedProof::decode(&bytes).unwrap();
        assert_eq!(decoded, proof, "{name}");
        assert_eq!(decoded.encode().unwrap(), bytes, "{name}");
        check_or_bless(
            &repo_root().join("ledger-core/tests/fixtures").join(name),
            &bytes,
        );
        if bless() {
            let seed = repo_root().join("fuzz/corpus/witnessed_proof").join(name);
            std::fs::create_dir_all(seed.parent().unwrap()).unwrap();
            std::fs::write(seed, &bytes).unwrap();
        }
    }
}

#[test]
fn golden_fixtures_decode_to_what_the_ledger_builds() {
    for (name, proof) in proofs() {
        let path = repo_root().join("ledger-core/tests/fixtures").join(name);
        let stored = Bytes::from(std::fs::read(&path).unwrap());
        assert_eq!(WitnessedProof::decode(&stored).unwrap(), proof, "{name}");
    }
}

#[test]
fn refuses_each_limit_and_tag_with_its_error() {
    let (_, proof) = proofs().remove(0);
    let good = proof.encode().unwrap().to_vec();

    let oversized = Bytes::from(vec![0u8; MAX_WITNESSED_PROOF_BYTES as usize + 1]);
    assert!(matches!(
        WitnessedProof::decode(&oversized),
        Err(WitnessedProofDecodeError::Framing(
            DecodeError::LimitExceeded {
                offset: 0,
                what: Limit::WitnessedProofBytes,
                ..
            }
        ))
    ));

    let mut version = good.clone();
    version[0] = 2;
    assert!(matches!(
        WitnessedProof::decode(&Bytes::from(version)),
        Err(WitnessedProofDecodeError::UnsupportedVersion {
            version: 2,
            supported: 1
        })
    ));

    let mut kind = good.clone();
    kind[2] = 9;
    assert!(matches!(
        WitnessedProof::decode(&Bytes::from(kind)),
        Err(WitnessedProofDecodeError::UnknownKind { kind: 9 })
    ));

    // The history proof's length field, just after the header: over its
    // limit before anything is read.
    let at = 3 + ledger_core::HEADER_BYTES as usize;
    let mut long = good.clone();
    long[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        WitnessedProof::decode(&Bytes::from(long)),
        Err(WitnessedProofDecodeError::Framing(
            DecodeError::LimitExceeded {
                what: Limit::ProofBytes,
                ..
            }
        ))
    ));

    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        WitnessedProof::decode(&Bytes::from(trailing)),
        Err(WitnessedProofDecodeError::Framing(
            DecodeError::TrailingBytes { .. }
        ))
    ));

    for cut in [0, 1, 2, 3, at, at + 4, good.len() - 1] {
        assert!(
            WitnessedProof::decode(&Bytes::copy_from_slice(&good[..cut])).is_err(),
            "cut at {cut}"
        );
    }

    // A state key over its limit: refused by the encoder and the decoder.
    let (_, mut state) = proofs().remove(2);
    if let WitnessedRecord::State { key, .. } = &mut state.record {
        *key = Bytes::from(vec![b'k'; MAX_STATE_KEY_BYTES + 1]);
    }
    assert!(state.encode().is_err());
    let (_, state) = proofs().remove(2);
    let mut bytes = state.encode().unwrap().to_vec();
    let key_at = at + 4 + state.history.encode().len();
    bytes[key_at..key_at + 4].copy_from_slice(&(MAX_STATE_KEY_BYTES as u32 + 1).to_le_bytes());
    assert!(matches!(
        WitnessedProof::decode(&Bytes::from(bytes.clone())),
        Err(WitnessedProofDecodeError::Framing(
            DecodeError::LimitExceeded {
                what: Limit::StateKeyBytes,
                ..
            }
        ))
    ));
    // The value presence byte after the key (`key-1`, 5 bytes).
    bytes[key_at..key_at + 4].copy_from_slice(&5u32.to_le_bytes());
    bytes[key_at + 4 + 5] = 2;
    assert!(matches!(
        WitnessedProof::decode(&Bytes::from(bytes)),
        Err(WitnessedProofDecodeError::ValueTag { tag: 2 })
    ));
}

#[test]
fn fuzz_corpus_replays_without_panic() {
    let dir = repo_root().join("fuzz/corpus/witnessed_proof");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            check_bytes(&std::fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    assert!(
        replayed >= 4,
        "{} has {replayed} files; seeds are missing",
        dir.display()
    );
}

proptest! {
    #![proptest_config(proptest_config(256, file!()))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_bytes(&bytes);
        // Behind a valid prefix (version 1, either kind) too.
        for kind in [0u8, 1] {
            let mut prefixed = vec![1, 0, kind];
            prefixed.extend_from_slice(&bytes);
            check_bytes(&prefixed);
        }
    }

    #[test]
    fn mutated_proofs_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let (_, proof) = proofs().swap_remove(which);
        let mut bytes = proof.encode().unwrap().to_vec();
        for (at, byte, how) in edits {
            let at = at % (bytes.len() + 1);
            match how {
                0 if at < bytes.len() => bytes[at] ^= byte | 1,
                1 => bytes.insert(at, byte),
                _ => bytes.truncate(at),
            }
        }
        check_bytes(&bytes);
    }
}
