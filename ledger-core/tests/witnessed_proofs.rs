//! Witnessed record proofs end to end: a small ledger, a checkpoint of its
//! whole history signed by the log and cosigned by 2 of 3 witnesses, a
//! 2-of-3 policy; a transaction proof and a state proof verify, and each
//! tampering is refused with the error of the step that caught it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use bytes::Bytes;
use ledger_core::checkpoint::{Checkpoint, Note, Policy, SignatureType, SignerKey, VerifierKey};
use ledger_core::testing::{key, sign, Op, ScriptedApp};
use ledger_core::{
    error_chain, verify_witnessed, CheckpointError, Hash, InclusionProof, Ledger, LedgerConfig,
    LedgerError, MemStore, MerkleProofError, PublicKey, StateProofError, WitnessedProof,
    WitnessedProofError, WitnessedRecord,
};

const CHAIN: u64 = 5;
const ORIGIN: &str = "ledger.example/log/5";
const BLOCKS: u64 = 4;

struct World {
    ledger: Ledger<MemStore, ScriptedApp>,
    tx_ids: Vec<Hash>,
    log: SignerKey,
    witnesses: Vec<SignerKey>,
    policy: Policy,
}

/// A ledger of `BLOCKS` blocks (block `h` puts `key-h` = `value-h` and
/// `shared` = `h`), a log key, witnesses A, B, C and a policy of 2 of 3.
fn world() -> World {
    let app = ScriptedApp {
        minter: PublicKey::from_signing_key(&key(1)),
    };
    let mut ledger = Ledger::open(MemStore::new(), app, LedgerConfig::new(CHAIN)).unwrap();
    let mut tx_ids = Vec::new();
    for height in 0..BLOCKS {
        let tx = sign(
            &key(2),
            CHAIN,
            height,
            &[
                Op::Put {
                    key: format!("key-{height}").into_bytes(),
                    value: format!("value-{height}").into_bytes(),
                },
                Op::Put {
                    key: b"shared".to_vec(),
                    value: vec![height as u8],
                },
            ],
        );
        tx_ids.push(tx.id());
        let block = ledger.build_block(vec![tx], 1_000 + height).unwrap();
        ledger
            .apply_block(ledger.verify_block(block).unwrap())
            .unwrap();
    }
    let log = SignerKey::new(ORIGIN, SignatureType::Ed25519, &[0x4c; 32]).unwrap();
    let witnesses: Vec<SignerKey> = (0..3u8)
        .map(|i| {
            let name = format!("witness{i}.example");
            SignerKey::new(&name, SignatureType::CosignatureV1, &[0x57 + i; 32]).unwrap()
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
        ledger,
        tx_ids,
        log,
        witnesses,
        policy: Policy::parse(policy.as_bytes()).unwrap(),
    }
}

impl World {
    /// The ledger's history root at tree size `size`, through the proof
    /// API: header `size`'s history root if stored, else the head's tree.
    fn root_at(&self, size: u64) -> [u8; 32] {
        match self.ledger.header_at(size).unwrap() {
            Some(header) => header.history_root.0,
            None => {
                assert_eq!(size, BLOCKS);
                // The head's tree (size BLOCKS): extend header BLOCKS-1's
                // root by the head itself, checked through a proof.
                let head = self.ledger.header_at(BLOCKS - 1).unwrap().unwrap();
                let proof = self.ledger.history_proof_at(BLOCKS - 1, BLOCKS).unwrap();
                root_from_proof(&head.encode(), &proof)
            }
        }
    }

    /// A checkpoint note of `size` and `root`, signed by the log and
    /// cosigned by the witnesses at `cosigners`.
    fn note_with(&self, size: u64, root: [u8; 32], cosigners: &[usize]) -> Vec<u8> {
        let text = Checkpoint::new(ORIGIN, size, root).unwrap().to_text();
        let mut note = Note::sign(&text, &self.log).unwrap();
        for &i in cosigners {
            note.add_signature(self.witnesses[i].cosign(&text, 1_700_000_000).unwrap())
                .unwrap();
        }
        note.encode().into_bytes()
    }

    /// The checkpoint of the whole history, cosigned by A and C.
    fn note(&self) -> Vec<u8> {
        self.note_with(BLOCKS, self.root_at(BLOCKS), &[0, 2])
    }

    fn verify(&self, proof: &WitnessedProof, note: &[u8]) -> Result<(), WitnessedProofError> {
        verify_witnessed(proof, note, &self.log.verifier_key(), &self.policy).map(|_| ())
    }
}

/// The RFC 6962 root a history inclusion proof leads to (the test's own
/// arithmetic, so that the checkpoint root is not taken from the code under
/// test alone).
fn root_from_proof(entry: &[u8], proof: &InclusionProof) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let leaf: [u8; 32] = Sha256::new()
        .chain_update([0u8])
        .chain_update(entry)
        .finalize()
        .into();
    let node = |l: &[u8; 32], r: &[u8; 32]| -> [u8; 32] {
        Sha256::new()
            .chain_update([1u8])
            .chain_update(l)
            .chain_update(r)
            .finalize()
            .into()
    };
    let (mut fn_, mut sn) = (proof.index(), proof.size() - 1);
    let mut r = leaf;
    for p in proof.path() {
        if fn_ & 1 == 1 || fn_ == sn {
            r = node(&p.0, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node(&r, &p.0);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    r
}

fn tx_proof(w: &World, block: usize) -> WitnessedProof {
    w.ledger
        .witnessed_transaction_proof(&w.tx_ids[block], BLOCKS)
        .unwrap()
        .unwrap()
}

#[test]
fn transaction_and_state_proofs_verify() {
    let w = world();
    let note = w.note();
    for block in 0..BLOCKS as usize {
        let proof = tx_proof(&w, block);
        let verified = verify_witnessed(&proof, &note, &w.log.verifier_key(), &w.policy).unwrap();
        assert_eq!(verified.header.height, block as u64);
        assert_eq!(verified.checkpoint.checkpoint.size(), BLOCKS);
        assert_eq!(verified.checkpoint.cosignatures.len(), 2);
        let WitnessedRecord::Transaction(record) = &verified.record else {
            panic!("a transaction proof")
        };
        assert_eq!(record.transaction.id(), w.tx_ids[block]);
    }
    for height in 0..BLOCKS {
        let proof = w
            .ledger
            .witnessed_state_proof(b"shared", height, BLOCKS)
            .unwrap();
        let verified = verify_witnessed(&proof, &note, &w.log.verifier_key(), &w.policy).unwrap();
        let WitnessedRecord::State { key, record } = &verified.record else {
            panic!("a state proof")
        };
        assert_eq!(&key[..], b"shared");
        assert_eq!(record.value.as_deref(), Some(&[height as u8][..]));
        // An absence verifies too.
        let absent = w
            .ledger
            .witnessed_state_proof(b"never", height, BLOCKS)
            .unwrap();
        w.verify(&absent, &note).unwrap();
    }
    // A smaller checkpoint (a past tree size, the one header 2 commits to)
    // proves the blocks before it.
    let past = w.note_with(2, w.root_at(2), &[1, 2]);
    let proof = w
        .ledger
        .witnessed_transaction_proof(&w.tx_ids[1], 2)
        .unwrap()
        .unwrap();
    w.verify(&proof, &past).unwrap();
}

#[test]
fn a_wrong_log_key_is_refused() {
    let w = world();
    let other = SignerKey::new(ORIGIN, SignatureType::Ed25519, &[0x4d; 32]).unwrap();
    let policy = Policy::parse(
        format!(
            "log {}\nwitness A {}\nwitness B {}\nwitness C {}\ngroup two 2 A B C\nquorum two\n",
            other.verifier_key(),
            w.witnesses[0].verifier_key(),
            w.witnesses[1].verifier_key(),
            w.witnesses[2].verifier_key()
        )
        .as_bytes(),
    )
    .unwrap();
    let error =
        verify_witnessed(&tx_proof(&w, 1), &w.note(), &other.verifier_key(), &policy).unwrap_err();
    assert!(
        matches!(
            error,
            WitnessedProofError::Checkpoint(CheckpointError::MissingLogSignature { .. })
        ),
        "{error:?}"
    );
    // The policy's log key is not the one given.
    let stranger: VerifierKey = other.verifier_key();
    let error = verify_witnessed(&tx_proof(&w, 1), &w.note(), &stranger, &w.policy).unwrap_err();
    assert!(
        matches!(
            error,
            WitnessedProofError::Checkpoint(CheckpointError::LogNotInPolicy(_))
        ),
        "{error:?}"
    );
}

#[test]
fn one_cosignature_does_not_meet_the_quorum() {
    let w = world();
    let note = w.note_with(BLOCKS, w.root_at(BLOCKS), &[1]);
    let error = w.verify(&tx_proof(&w, 1), &note).unwrap_err();
    assert!(
        matches!(
            &error,
            WitnessedProofError::Checkpoint(CheckpointError::QuorumNotMet(failure))
                if failure.satisfied == 1 && failure.required == 2
        ),
        "{error:?}"
    );
    assert!(
        error_chain(&error).starts_with("the checkpoint does not verify: quorum not met"),
        "{}",
        error_chain(&error)
    );
}

#[test]
fn a_checkpoint_of_another_size_or_root_is_refused() {
    let w = world();
    let proof = tx_proof(&w, 1);
    // Another root at the right size.
    let note = w.note_with(BLOCKS, [9; 32], &[0, 1]);
    assert!(matches!(
        w.verify(&proof, &note).unwrap_err(),
        WitnessedProofError::HeaderNotInHistory {
            height: 1,
            source: MerkleProofError::RootMismatch { .. }
        }
    ));
    // The right root of another size (the proof is for BLOCKS).
    let note = w.note_with(3, w.root_at(3), &[0, 1]);
    assert!(matches!(
        w.verify(&proof, &note).unwrap_err(),
        WitnessedProofError::HeaderNotInHistory {
            height: 1,
            source: MerkleProofError::SizeMismatch {
                proof: BLOCKS,
                trusted: 3
            }
        }
    ));
    // The root of size 3 claimed for size BLOCKS.
    let note = w.note_with(BLOCKS, w.root_at(3), &[0, 1]);
    assert!(matches!(
        w.verify(&proof, &note).unwrap_err(),
        WitnessedProofError::HeaderNotInHistory { .. }
    ));
}

#[test]
fn a_wrong_inclusion_proof_is_refused() {
    let w = world();
    let note = w.note();
    let proof = tx_proof(&w, 1);
    // Another block's history proof.
    let other = w.ledger.history_proof_at(2, BLOCKS).unwrap();
    let swapped = WitnessedProof::new(proof.record.clone(), other);
    assert_eq!(
        w.verify(&swapped, &note).unwrap_err(),
        WitnessedProofError::HistoryIndex {
            index: 2,
            height: 1
        }
    );
    // A damaged path.
    let mut path = proof.history.path().to_vec();
    path[0].0[0] ^= 1;
    let damaged = InclusionProof::new(1, BLOCKS, path).unwrap();
    let damaged = WitnessedProof::new(proof.record.clone(), damaged);
    assert!(matches!(
        w.verify(&damaged, &note).unwrap_err(),
        WitnessedProofError::HeaderNotInHistory {
            height: 1,
            source: MerkleProofError::RootMismatch { .. }
        }
    ));
}

#[test]
fn an_altered_record_is_refused() {
    let w = world();
    let note = w.note();
    // A state value flipped.
    let mut proof = w.ledger.witnessed_state_proof(b"key-2", 2, BLOCKS).unwrap();
    w.verify(&proof, &note).unwrap();
    let WitnessedRecord::State { record, .. } = &mut proof.record else {
        panic!("a state proof")
    };
    record.value = Some(Bytes::from_static(b"value-X"));
    assert!(matches!(
        w.verify(&proof, &note).unwrap_err(),
        WitnessedProofError::State {
            height: 2,
            source: StateProofError::TerminalMismatch(_) | StateProofError::RootMismatch { .. }
        }
    ));
    // A present value claimed absent.
    let WitnessedRecord::State { record, .. } = &mut proof.record else {
        panic!("a state proof")
    };
    record.value = None;
    assert!(matches!(
        w.verify(&proof, &note).unwrap_err(),
        WitnessedProofError::State { height: 2, .. }
    ));
    // A transaction's receipt altered.
    let mut proof = tx_proof(&w, 2);
    let WitnessedRecord::Transaction(record) = &mut proof.record else {
        panic!("a transaction proof")
    };
    record.receipt = ledger_core::Receipt::Failed(ledger_core::Failure::new(1, "no"));
    assert!(matches!(
        w.verify(&proof, &note).unwrap_err(),
        WitnessedProofError::Transaction {
            height: 2,
            source: MerkleProofError::RootMismatch { .. }
        }
    ));
    // Another block's transaction with this block's proofs.
    let mut proof = tx_proof(&w, 2);
    let other = tx_proof(&w, 3);
    let (WitnessedRecord::Transaction(record), WitnessedRecord::Transaction(other)) =
        (&mut proof.record, &other.record)
    else {
        panic!("transaction proofs")
    };
    record.transaction = other.transaction.clone();
    assert!(matches!(
        w.verify(&proof, &note).unwrap_err(),
        WitnessedProofError::Transaction { height: 2, .. }
    ));
}

#[test]
fn an_altered_header_is_refused() {
    let w = world();
    let note = w.note();
    let mut proof = w.ledger.witnessed_state_proof(b"key-2", 2, BLOCKS).unwrap();
    let WitnessedRecord::State { record, .. } = &mut proof.record else {
        panic!("a state proof")
    };
    record.header.timestamp_ms += 1;
    assert!(matches!(
        w.verify(&proof, &note).unwrap_err(),
        WitnessedProofError::HeaderNotInHistory {
            height: 2,
            source: MerkleProofError::RootMismatch { .. }
        }
    ));
    // A header with another transaction root (to fit another block).
    let mut proof = tx_proof(&w, 2);
    let WitnessedRecord::Transaction(record) = &mut proof.record else {
        panic!("a transaction proof")
    };
    record.header.tx_root = Hash([0; 32]);
    assert!(matches!(
        w.verify(&proof, &note).unwrap_err(),
        WitnessedProofError::HeaderNotInHistory { height: 2, .. }
    ));
}

#[test]
fn a_record_at_or_above_the_checkpoint_size_is_refused() {
    let w = world();
    // The node will not build one.
    assert!(matches!(
        w.ledger.witnessed_transaction_proof(&w.tx_ids[2], 2),
        Err(LedgerError::HeightUnavailable { height: 2, .. })
    ));
    assert!(matches!(
        w.ledger.witnessed_state_proof(b"shared", 3, 3),
        Err(LedgerError::HeightUnavailable { height: 3, .. })
    ));
    assert!(matches!(
        w.ledger.witnessed_state_proof(b"shared", 1, BLOCKS + 1),
        Err(LedgerError::HeightUnavailable { .. })
    ));
    // A verifier refuses a proof of block 2 against a checkpoint of 2.
    let note = w.note_with(2, w.root_at(2), &[0, 1]);
    assert_eq!(
        w.verify(&tx_proof(&w, 2), &note).unwrap_err(),
        WitnessedProofError::BlockNotInCheckpoint { height: 2, size: 2 }
    );
    assert_eq!(
        w.verify(&tx_proof(&w, 3), &note).unwrap_err(),
        WitnessedProofError::BlockNotInCheckpoint { height: 3, size: 2 }
    );
}
