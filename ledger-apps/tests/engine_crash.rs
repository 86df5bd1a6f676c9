//! A ledger killed between or during block commits reopens at its last
//! committed block and continues to the same roots. A child process applies
//! a deterministic chain of `transfers` blocks to a RocksDB ledger, printing
//! each committed height; the parent SIGKILLs it at random moments, reopens,
//! checks the head is exactly the reference chain's block at that height
//! (and the audit passes), and finally applies the rest of the chain itself
//! and compares the final head. The seed is printed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ledger_apps::transfers::{Operation, Transfers};
use ledger_core::engine::{Ledger, LedgerConfig};
use ledger_core::{Block, PublicKey, Transaction};
use ledger_storage::{MemStore, RocksStore};
use rand::{RngExt, SeedableRng};

const CHAIN: u64 = 5;
const BLOCKS: u64 = 400;
const ACCOUNTS: usize = 16;
const CHILD_ENV: &str = "LEDGER_ENGINE_CRASH_CHILD_PATH";
const ROUNDS: usize = 20;

fn keys() -> Vec<SigningKey> {
    (0..ACCOUNTS as u8)
        .map(|i| SigningKey::from_bytes(&[i + 40; 32]))
        .collect()
}

fn app() -> Transfers {
    Transfers {
        minter: PublicKey::from_signing_key(&keys()[0]),
    }
}

fn config() -> LedgerConfig {
    let mut config = LedgerConfig::new(CHAIN);
    config.state_retention = 8;
    config.node_cache_bytes = 16 << 20;
    config
}

/// The reference chain: the same blocks on every run.
fn reference_chain() -> Vec<Block> {
    let keys = keys();
    let mut ledger = Ledger::open(MemStore::new(), app(), config()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xc4a54);
    let mut nonces = [0u64; ACCOUNTS];
    let mut chain = Vec::new();
    for height in 0..BLOCKS {
        let mut txs = Vec::new();
        if height == 0 {
            for key in &keys {
                let op = Operation::Mint {
                    to: PublicKey::from_signing_key(key),
                    amount: 1_000_000,
                };
                txs.push(Transaction::sign(&keys[0], CHAIN, nonces[0], op.encode()).unwrap());
                nonces[0] += 1;
            }
        }
        for _ in 0..20 {
            let from = rng.random_range(0..ACCOUNTS);
            let op = Operation::Transfer {
                to: PublicKey::from_signing_key(&keys[rng.random_range(0..ACCOUNTS)]),
                amount: rng.random_range(1..100),
            };
            txs.push(Transaction::sign(&keys[from], CHAIN, nonces[from], op.encode()).unwrap());
            nonces[from] += 1;
        }
        let block = ledger.build_block(txs, height * 1_000).unwrap();
        ledger
            .apply_block(ledger.verify_block(block.clone()).unwrap())
            .unwrap();
        chain.push(block);
    }
    chain
}

fn run_child(path: &Path) -> ! {
    let chain = reference_chain();
    let mut ledger = Ledger::open(RocksStore::open(path).unwrap(), app(), config()).unwrap();
    let start = ledger.height().map_or(0, |h| h + 1);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ready").unwrap();
    stdout.flush().unwrap();
    for block in &chain[start as usize..] {
        let outcome = ledger
            .apply_block(ledger.verify_block(block.clone()).unwrap())
            .unwrap();
        writeln!(stdout, "committed {}", outcome.header.height).unwrap();
        stdout.flush().unwrap();
    }
    // The whole chain is in: wait to be killed.
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Entry point of the child process (a no-op in a normal test run).
#[test]
fn engine_child_process_entry() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        run_child(Path::new(&path));
    }
}

#[test]
fn killed_ledger_reopens_at_last_committed_block_and_continues() {
    let seed: u64 = std::env::var("LEDGER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("engine crash test seed: {seed} (rerun with LEDGER_CRASH_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let chain = reference_chain();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    drop(RocksStore::open(&path).unwrap());
    let exe = std::env::current_exe().unwrap();
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "engine_child_process_entry",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut acknowledged = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.ends_with("ready") {
                    let _ = ready_tx.send(());
                }
                if let Some(n) = line.strip_prefix("committed ") {
                    acknowledged = Some(n.trim().parse::<u64>().unwrap());
                }
            }
            acknowledged
        });
        // The child first rebuilds the reference chain; then it commits a
        // block every few milliseconds until it is killed.
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child ready");
        std::thread::sleep(Duration::from_millis(rng.random_range(0..40)));
        child.kill().unwrap();
        child.wait().unwrap();
        let acknowledged = reader.join().unwrap();
        let ledger = Ledger::open(RocksStore::open(&path).unwrap(), app(), config()).unwrap();
        let height = ledger.height();
        assert!(
            acknowledged <= height,
            "acknowledged block {acknowledged:?} lost (head {height:?})"
        );
        if let Some(height) = height {
            assert_eq!(
                ledger.head(),
                Some(chain[height as usize].header()),
                "round {round}"
            );
        }
        println!("round {round}: acknowledged {acknowledged:?}, head {height:?}");
    }
    let mut ledger = Ledger::open(RocksStore::open(&path).unwrap(), app(), config()).unwrap();
    let start = ledger.height().map_or(0, |h| h + 1);
    assert!(start > 0, "the child never committed a block");
    for block in &chain[start as usize..] {
        ledger
            .apply_block(ledger.verify_block(block.clone()).unwrap())
            .unwrap();
    }
    assert_eq!(ledger.head(), chain.last().map(Block::header));
    let report = ledger.audit().unwrap();
    assert_eq!(report.blocks, BLOCKS);
}
