//! `ledger verify` against a read API on loopback (`ledger-serve` over a
//! ledger of 20 transfer blocks, a checkpoint signed by the log and
//! cosigned by 2 of 3 witnesses): yes for a transaction and a state key
//! (text and `--json`), and no — with the step that failed and exit status
//! 1 — for a wrong log key, a policy the cosignatures do not meet, a
//! checkpoint whose root was tampered with, and an unknown transaction;
//! exit status 2 when the server cannot be reached.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use ledger_apps::transfers::{balance_key, Operation, Transfers};
use ledger_core::checkpoint::{Checkpoint, Note, SignatureType, SignerKey};
use ledger_core::hash::to_hex;
use ledger_core::{Hash, Ledger, LedgerConfig, MemStore, PublicKey, Transaction};
use ledger_serve::{serve, CheckpointSource, ServeState, SharedLedger};
use parking_lot::{Mutex, RwLock};

const CHAIN: u64 = 12;
const ORIGIN: &str = "ledger.example/verify";
const BLOCKS: u64 = 20;

struct Latest(Mutex<Option<String>>);

impl CheckpointSource for Latest {
    fn latest(&self) -> Option<String> {
        self.0.lock().clone()
    }
}

fn ledger() -> (Ledger<MemStore, Transfers>, Vec<Hash>, PublicKey) {
    let treasury = SigningKey::from_bytes(&[1; 32]);
    let minter = PublicKey::from_signing_key(&treasury);
    let clinic = PublicKey::from_signing_key(&SigningKey::from_bytes(&[2; 32]));
    let mut ledger = Ledger::open(MemStore::new(), Transfers { minter }, {
        // Proofs at any height, after checkpoints too.
        let mut config = LedgerConfig::new(CHAIN);
        config.keep_every_version = true;
        config
    })
    .unwrap();
    let mut ids = Vec::new();
    for height in 0..BLOCKS {
        let operation = if height == 0 {
            Operation::Mint {
                to: minter,
                amount: 1_000,
            }
        } else {
            Operation::Transfer {
                to: clinic,
                amount: 1,
            }
        };
        let tx = Transaction::sign(&treasury, CHAIN, height, operation.encode().unwrap()).unwrap();
        ids.push(tx.id());
        let block = ledger.build_block(vec![tx], 1_000 * height).unwrap();
        ledger
            .apply_block(ledger.verify_block(block).unwrap())
            .unwrap();
    }
    (ledger, ids, clinic)
}

/// The checkpoint of `size` blocks: its root from the ledger's own proof
/// API (header `size`'s history root would need block `size`), recomputed
/// from the last header and its inclusion proof.
fn root(ledger: &Ledger<MemStore, Transfers>, size: u64) -> [u8; 32] {
    use ledger_core::merkle::{MerkleHasher, Rfc6962Sha256};
    let last = ledger.header_at(size - 1).unwrap().unwrap();
    let proof = ledger.history_proof_at(size - 1, size).unwrap();
    // The last leaf of a tree: its path is the left siblings, bottom up.
    let mut hash = Rfc6962Sha256::leaf(&last.encode());
    for sibling in proof.path() {
        hash = Rfc6962Sha256::node(sibling, &hash);
    }
    hash.0
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledger"))
        .arg("verify")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_yes_and_why_not() {
    let (ledger, ids, clinic) = ledger();
    let log = SignerKey::new(ORIGIN, SignatureType::Ed25519, &[0x4c; 32]).unwrap();
    let witnesses: Vec<SignerKey> = (0..3u8)
        .map(|i| {
            let name = format!("witness{i}.example");
            SignerKey::new(&name, SignatureType::CosignatureV1, &[0x57 + i; 32]).unwrap()
        })
        .collect();
    let sign = |root: [u8; 32]| {
        let text = Checkpoint::new(ORIGIN, BLOCKS, root).unwrap().to_text();
        let mut note = Note::sign(&text, &log).unwrap();
        for witness in [&witnesses[0], &witnesses[1]] {
            note.add_signature(witness.cosign(&text, 1_700_000_000).unwrap())
                .unwrap();
        }
        note.encode()
    };
    let good_note = sign(root(&ledger, BLOCKS));
    let mut tampered_root = root(&ledger, BLOCKS);
    tampered_root[0] ^= 1;
    let tampered_note = sign(tampered_root);

    let latest = Arc::new(Latest(Mutex::new(Some(good_note))));
    let shared = SharedLedger::new(Arc::new(RwLock::new(ledger)));
    let state = ServeState::new(Arc::new(shared), latest.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = serve(listener, state).unwrap();
    let url = format!("http://{}", server.local_addr());

    let dir = tempfile::tempdir().unwrap();
    let vkeys: Vec<String> = witnesses
        .iter()
        .map(|w| w.verifier_key().to_string())
        .collect();
    let policy = |quorum: usize| {
        format!(
            "log {}\nwitness A {}\nwitness B {}\nwitness C {}\ngroup q {quorum} A B C\nquorum q\n",
            log.verifier_key(),
            vkeys[0],
            vkeys[1],
            vkeys[2]
        )
    };
    let two = write(dir.path(), "two", &policy(2));
    let three = write(dir.path(), "three", &policy(3));
    let log_key = log.verifier_key().to_string();
    let tx = ids[5].to_hex();
    let key = to_hex(&balance_key(&clinic));

    let results = tokio::task::spawn_blocking(move || {
        let base = ["--url", &url, "--log-key", &log_key];
        let with = |extra: &[&str]| {
            let mut args = base.to_vec();
            args.extend_from_slice(extra);
            run(&args)
        };
        let mut results = vec![
            with(&["--policy", &two, "--tx", &tx]),
            with(&["--policy", &two, "--state", &key]),
            with(&["--policy", &two, "--state", &key, "--height", "3", "--json"]),
            with(&["--policy", &three, "--tx", &tx]),
            with(&["--policy", &two, "--tx", &"00".repeat(32)]),
        ];
        let other_key = SignerKey::new(ORIGIN, SignatureType::Ed25519, &[0x4d; 32]).unwrap();
        let other = other_key.verifier_key().to_string();
        results.push(run(&[
            "--url",
            &url,
            "--log-key",
            &other,
            "--policy",
            &two,
            "--tx",
            &tx,
        ]));
        (results, url, log_key, two, tx)
    })
    .await
    .unwrap();
    let (results, url, log_key, two, tx) = results;

    let yes_tx = &results[0];
    assert!(yes_tx.status.success(), "{}", stdout(yes_tx));
    assert!(stdout(yes_tx).starts_with(&format!("yes: transaction {tx} is in block 5")));
    assert!(
        stdout(yes_tx).contains("cosigned by A, B"),
        "{}",
        stdout(yes_tx)
    );

    let yes_state = &results[1];
    assert!(yes_state.status.success(), "{}", stdout(yes_state));
    // 19 transfers of 1: the balance 19 as u64 little-endian.
    assert!(stdout(yes_state).contains(&format!(
        "after block 19 is {}",
        to_hex(&19u64.to_le_bytes())
    )));

    let json: serde_json::Value = serde_json::from_str(stdout(&results[2]).trim()).unwrap();
    assert!(results[2].status.success());
    assert_eq!(json["verified"], true);
    assert_eq!(json["kind"], "state");
    assert_eq!(json["header"]["height"], 3);
    assert_eq!(json["value"], to_hex(&3u64.to_le_bytes()));

    for (output, why) in [
        (&results[3], "the checkpoint does not verify"),
        (&results[4], "the server has no /proof/tx/"),
        (&results[5], "the checkpoint does not verify"),
    ] {
        assert_eq!(output.status.code(), Some(1), "{}", stdout(output));
        assert!(
            stdout(output).starts_with(&format!("no: {why}")),
            "{}",
            stdout(output)
        );
    }

    // The server now serves a checkpoint whose root was altered: the
    // header is not in its tree.
    *latest.0.lock() = Some(tampered_note);
    let tampered = tokio::task::spawn_blocking(move || {
        let tampered = run(&[
            "--url",
            &url,
            "--log-key",
            &log_key,
            "--policy",
            &two,
            "--tx",
            &tx,
        ]);
        server_gone(&log_key, &two, &tx);
        tampered
    });
    let tampered = tampered.await.unwrap();
    assert_eq!(tampered.status.code(), Some(1), "{}", stdout(&tampered));
    assert!(
        stdout(&tampered)
            .starts_with("no: block 5's header is not in the checkpoint's history tree"),
        "{}",
        stdout(&tampered)
    );
    server.shutdown().await;
}

/// Nothing listening: exit status 2, and why.
fn server_gone(log_key: &str, policy: &str, tx: &str) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let output = run(&[
        "--url",
        &url,
        "--log-key",
        log_key,
        "--policy",
        policy,
        "--tx",
        tx,
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stdout(&output).starts_with("no: fetching /checkpoint"),
        "{}",
        stdout(&output)
    );
}
