//! Replays the `merkle_proofs` fuzz corpus through the fuzz target's checks
//! in plain `cargo test`, and checks that its seeds (real proofs, written by
//! `LEDGER_BLESS=1`) still verify, so the proof format cannot drift silently.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::path::{Path, PathBuf};

use bytes::Bytes;
use ledger_core::merkle::{
    merkle_root, verify_consistency, verify_history_consistency, verify_inclusion,
    verify_inclusion_with, ConsistencyProof, HistoryTree, InclusionProof, MemoryHistoryNodes,
    MerkleHasher, Rfc6962Sha256,
};
use ledger_core::Hash;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/merkle_proofs")
}

/// The fuzz target's checks; returns whether the proof verified.
fn check(data: &[u8]) -> bool {
    let Some((&kind, rest)) = data.split_first() else {
        return false;
    };
    let Some((first, rest)) = rest.split_first_chunk::<32>() else {
        return false;
    };
    let Some((second, proof)) = rest.split_first_chunk::<32>() else {
        return false;
    };
    let input = Bytes::copy_from_slice(proof);
    let (first, second) = (Hash(*first), Hash(*second));
    if kind % 2 == 0 {
        match InclusionProof::decode(&input) {
            Ok(proof) => {
                assert_eq!(proof.encode(), input);
                if kind % 4 == 0 {
                    verify_inclusion(&first, proof.size(), &second, &proof).is_ok()
                } else {
                    verify_inclusion_with::<Rfc6962Sha256>(&first, proof.size(), &second, &proof)
                        .is_ok()
                }
            }
            Err(_) => false,
        }
    } else {
        match ConsistencyProof::decode(&input) {
            Ok(proof) => {
                assert_eq!(proof.encode(), input);
                let verify = if kind % 4 == 1 {
                    verify_consistency
                } else {
                    verify_history_consistency
                };
                verify(proof.old_size(), &first, proof.new_size(), &second, &proof).is_ok()
            }
            Err(_) => false,
        }
    }
}

fn write_seeds() {
    let leaves: Vec<Hash> = (0..37u64)
        .map(|i| Hash(blake3::derive_key("seed leaves", &i.to_le_bytes())))
        .collect();
    std::fs::create_dir_all(corpus_dir()).unwrap();
    let root = merkle_root(&leaves);
    for (n, index) in [0u64, 17, 36].iter().enumerate() {
        let proof = InclusionProof::from_leaves(&leaves, *index).unwrap();
        let mut input = vec![0u8];
        input.extend_from_slice(root.as_bytes());
        input.extend_from_slice(leaves[*index as usize].as_bytes());
        input.extend_from_slice(&proof.encode());
        std::fs::write(
            corpus_dir().join(format!("seed-valid-inclusion-{n}")),
            input,
        )
        .unwrap();
    }
    for (n, old) in [1u64, 16, 20].iter().enumerate() {
        let proof = ConsistencyProof::from_leaves(&leaves, *old).unwrap();
        let mut input = vec![1u8];
        input.extend_from_slice(merkle_root(&leaves[..*old as usize]).as_bytes());
        input.extend_from_slice(root.as_bytes());
        input.extend_from_slice(&proof.encode());
        std::fs::write(
            corpus_dir().join(format!("seed-valid-consistency-{n}")),
            input,
        )
        .unwrap();
    }
    // The history tree (kinds 2 and 3) over the same leaves as entries.
    let mut tree = HistoryTree::new();
    let mut nodes = MemoryHistoryNodes::default();
    let mut roots = vec![tree.root()];
    for leaf in &leaves {
        nodes.insert_all(tree.append(leaf.as_bytes()));
        roots.push(tree.root());
    }
    for (n, index) in [0u64, 17, 36].iter().enumerate() {
        let proof = HistoryTree::inclusion_proof(&nodes, *index, 37).unwrap();
        let mut input = vec![2u8];
        input.extend_from_slice(roots[37].as_bytes());
        input.extend_from_slice(Rfc6962Sha256::leaf(leaves[*index as usize].as_bytes()).as_bytes());
        input.extend_from_slice(&proof.encode());
        std::fs::write(
            corpus_dir().join(format!("seed-valid-history-inclusion-{n}")),
            input,
        )
        .unwrap();
    }
    for (n, old) in [1u64, 16, 20].iter().enumerate() {
        let proof = HistoryTree::consistency_proof(&nodes, *old, 37).unwrap();
        let mut input = vec![3u8];
        input.extend_from_slice(roots[*old as usize].as_bytes());
        input.extend_from_slice(roots[37].as_bytes());
        input.extend_from_slice(&proof.encode());
        std::fs::write(
            corpus_dir().join(format!("seed-valid-history-consistency-{n}")),
            input,
        )
        .unwrap();
    }
}

#[test]
fn merkle_corpus_replays_and_seeds_verify() {
    if std::env::var_os("LEDGER_BLESS").is_some() {
        write_seeds();
    }
    let mut replayed = 0;
    for dir in [
        corpus_dir(),
        corpus_dir().join("../../artifacts/merkle_proofs"),
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
        replayed >= 12,
        "merkle_proofs corpus has {replayed} files; seeds are missing"
    );
}
