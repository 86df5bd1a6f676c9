//! Replays the `state_proof` fuzz corpus through the fuzz target's checks in
//! plain `cargo test`, and checks that its seeds (real proofs from a small
//! tree, written by `LEDGER_BLESS=1`) still verify: proofs are part of the
//! format, so a seed that stops verifying means the format drifted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::path::{Path, PathBuf};

use bytes::Bytes;
use ledger_core::state_tree::{
    application_position, verify_state_proof, MemoryStateTree, StateProof, StateUpdate,
};
use ledger_core::Hash;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/state_proof")
}

/// The fuzz target's input layout: root ‖ key ‖ claim ‖ value length ‖ value ‖ proof.
fn fuzz_input(root: &Hash, key: &Hash, value: Option<&[u8]>, proof: &StateProof) -> Vec<u8> {
    let mut input = Vec::new();
    input.extend_from_slice(root.as_bytes());
    input.extend_from_slice(key.as_bytes());
    input.push(u8::from(value.is_some()));
    let value = value.unwrap_or(&[]);
    input.push(value.len() as u8);
    input.extend_from_slice(value);
    input.extend_from_slice(&proof.encode());
    input
}

/// The same checks as `fuzz/fuzz_targets/state_proof.rs`; returns whether the
/// proof verified.
fn check(data: &[u8]) -> bool {
    let Some((root, rest)) = data.split_first_chunk::<32>() else {
        return false;
    };
    let Some((key, rest)) = rest.split_first_chunk::<32>() else {
        return false;
    };
    let Some((&claim, rest)) = rest.split_first() else {
        return false;
    };
    let Some((&value_len, rest)) = rest.split_first() else {
        return false;
    };
    let value_len = usize::from(value_len).min(rest.len());
    let (value, proof_bytes) = rest.split_at(value_len);
    let input = Bytes::copy_from_slice(proof_bytes);
    match StateProof::decode(&input) {
        Ok(proof) => {
            assert_eq!(proof.encode(), input);
            let value = (claim % 2 == 1).then_some(value);
            verify_state_proof(&Hash(*root), &Hash(*key), value, &proof).is_ok()
        }
        Err(_) => false,
    }
}

fn write_seeds() {
    let mut tree = MemoryStateTree::new();
    let mut updates: Vec<StateUpdate> = (0u32..50)
        .map(|i| StateUpdate {
            position: application_position(format!("shipment-{i}").as_bytes()),
            value: Some(Bytes::from(format!("custody: warehouse {}", i % 7)).into()),
        })
        .collect();
    updates.sort_by_key(|u| u.position);
    let root = tree.update(0, &updates).unwrap();
    std::fs::create_dir_all(corpus_dir()).unwrap();
    for (n, name) in ["shipment-3", "shipment-41", "absent-record"]
        .iter()
        .enumerate()
    {
        let key = application_position(name.as_bytes());
        let (value, proof) = tree.prove(0, &key).unwrap();
        let input = fuzz_input(&root, &key, value.as_deref(), &proof);
        std::fs::write(corpus_dir().join(format!("seed-valid-{n}")), input).unwrap();
    }
}

#[test]
fn state_proof_corpus_replays_and_seeds_verify() {
    if std::env::var_os("LEDGER_BLESS").is_some() {
        write_seeds();
    }
    let mut replayed = 0;
    for dir in [
        corpus_dir(),
        corpus_dir().join("../../artifacts/state_proof"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let verified = check(&std::fs::read(&path).unwrap());
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("seed-valid") {
                assert!(verified, "seed {name} no longer verifies");
            }
            replayed += 1;
        }
    }
    assert!(
        replayed >= 3,
        "state_proof corpus has {replayed} files; seeds are missing"
    );
}
