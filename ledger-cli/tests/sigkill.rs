//! `ledger witness serve` killed with SIGKILL at random moments while a
//! client submits increasing checkpoints: after each restart the witness's
//! size is at least every size it co-signed before, and its root is the
//! log's (every cosignature returned before the kill is consistent with its
//! state).

// Test helpers outside #[test] functions: a failure is a failing test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ledger_core::checkpoint::{Checkpoint, Note, Policy, SignatureType, SignerKey};
use ledger_core::verify_checkpoint;
use ledger_witness::client::Client;
use ledger_witness::request::AddCheckpointRequest;
use ledger_witness::tree::MemoryTree;

const ORIGIN: &str = "log.test/killed";
const KILLS: usize = 24;
const TIME_BUDGET: Duration = Duration::from_secs(30);

struct Log {
    key: SignerKey,
    tree: MemoryTree,
}

impl Log {
    fn text(&self, size: u64) -> String {
        Checkpoint::new(ORIGIN, size, self.tree.root(size))
            .unwrap()
            .to_text()
    }

    fn note(&self, size: u64) -> Vec<u8> {
        Note::sign(&self.text(size), &self.key)
            .unwrap()
            .encode()
            .into_bytes()
    }

    fn body(&self, old: u64, new: u64) -> Vec<u8> {
        AddCheckpointRequest {
            old_size: old,
            proof: self.tree.consistency_proof(old, new),
            note: self.note(new),
        }
        .encode()
    }
}

fn spawn(dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledger"))
        .args(["witness", "serve", "--listen", "127.0.0.1:0"])
        .arg("--key")
        .arg(dir.join("witness.key"))
        .arg("--logs")
        .arg(dir.join("logs"))
        .arg("--state")
        .arg(dir.join("state"))
        .args(["--rate-per-second", "100000", "--rate-burst", "100000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim_end()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no address in {line:?}"));
    (child, addr)
}

#[test]
fn sigkill_never_loses_a_cosigned_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let witness = SignerKey::new("witness.test/k", SignatureType::CosignatureV1, &[5; 32]).unwrap();
    let log_key = SignerKey::new(ORIGIN, SignatureType::Ed25519, &[6; 32]).unwrap();
    std::fs::write(dir.path().join("witness.key"), witness.encode()).unwrap();
    std::fs::write(
        dir.path().join("logs"),
        format!("# the log under test\n{}\n", log_key.verifier_key()),
    )
    .unwrap();
    let policy = Policy::parse(
        format!(
            "log {}\nwitness k {}\nquorum k\n",
            log_key.verifier_key(),
            witness.verifier_key()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut log = Log {
        key: log_key,
        tree: MemoryTree::new(),
    };
    for i in 0..20_000u32 {
        log.tree.push(&i.to_be_bytes());
    }
    let log = log;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    // Every size co-signed so far, and the largest.
    let mut cosigned_max = 0u64;
    let mut cosigned = 0usize;
    let mut kills = 0;
    while kills < KILLS && start.elapsed() < TIME_BUDGET {
        let (mut child, addr) = spawn(dir.path());
        // SIGKILL from another thread at a random moment, while requests
        // are in flight: the request it interrupts gets no answer.
        let run_for = Duration::from_millis(30 + random(150));
        let killer = std::thread::spawn(move || {
            std::thread::sleep(run_for);
            child.kill().unwrap();
            child.wait().unwrap();
        });
        let outcome = runtime.block_on(async {
            let mut client = Client::connect(addr).await.unwrap();
            // Learn the witness's size after the restart.
            let answer = client.add_checkpoint(log.body(0, 0)).await;
            let Ok(answer) = answer else {
                return Vec::new();
            };
            let mut latest = match answer.status {
                200 => 0,
                409 => String::from_utf8(answer.body)
                    .unwrap()
                    .trim_end()
                    .parse()
                    .unwrap(),
                other => panic!("status {other}"),
            };
            assert!(
                latest >= cosigned_max,
                "rolled back from {cosigned_max} to {latest} after a SIGKILL"
            );
            // Its root is the log's: the same size is co-signed again.
            let Ok(again) = client.add_checkpoint(log.body(latest, latest)).await else {
                return Vec::new();
            };
            assert_eq!(again.status, 200, "the state's root is not the log's");
            let mut sizes = Vec::new();
            loop {
                let new = (latest + 1 + random(8)).min(log.tree.size());
                let Ok(answer) = client.add_checkpoint(log.body(latest, new)).await else {
                    break;
                };
                assert_eq!(
                    answer.status,
                    200,
                    "{}",
                    String::from_utf8_lossy(&answer.body)
                );
                let mut note = log.note(new);
                note.extend_from_slice(&answer.body);
                verify_checkpoint(&note, &log.key.verifier_key(), &policy).unwrap();
                sizes.push(new);
                latest = new;
            }
            sizes
        });
        killer.join().unwrap();
        kills += 1;
        cosigned += outcome.len();
        if let Some(&max) = outcome.iter().max() {
            cosigned_max = cosigned_max.max(max);
        }
    }
    // After the last kill, the state is still there.
    let (mut child, addr) = spawn(dir.path());
    let latest: u64 = runtime.block_on(async {
        let mut client = Client::connect(addr).await.unwrap();
        let answer = client.add_checkpoint(log.body(0, 0)).await.unwrap();
        String::from_utf8(answer.body)
            .unwrap()
            .trim_end()
            .parse()
            .unwrap()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(latest >= cosigned_max);
    assert!(kills >= 20, "only {kills} kills in {TIME_BUDGET:?}");
    assert!(cosigned > kills, "only {cosigned} co-signed");
    eprintln!(
        "{kills} kills, {cosigned} checkpoints co-signed, final size {latest} in {:?}",
        start.elapsed()
    );
}
