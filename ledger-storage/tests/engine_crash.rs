//! A ledger killed between or during block commits reopens at its last
//! committed block and continues to the same roots, and loses nothing it
//! reported durable. A child process applies a deterministic chain of
//! scripted transfer blocks to a RocksDB ledger — synchronously or with
//! overlapped commits, alternating between runs — and after each apply
//! prints its *durable* height (`Ledger::durable_height`, the promise a
//! node acknowledges blocks on); the parent SIGKILLs it at random moments,
//! reopens, checks that the head is at or above the last durable height
//! reported and is exactly the reference chain's block at that height, and
//! finally applies the rest of the chain itself, compares the final head
//! and audits. State checkpoints run every three blocks, so kills also land
//! during checkpoints; every reopen replays the blocks after the last one
//! and is audited. The seed is printed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ledger_core::testing::{key, sign, Op, ScriptedApp};
use ledger_core::{Block, Ledger, LedgerConfig, MemStore, PublicKey};
use ledger_storage::crash::{crash_seed, report_committed, report_ready, run_child_and_kill};
use ledger_storage::RocksStore;
use rand::{RngExt, SeedableRng};

const CHAIN: u64 = 5;
const BLOCKS: u64 = 400;
const ACCOUNTS: usize = 16;
const CHILD_ENV: &str = "LEDGER_ENGINE_CRASH_CHILD_PATH";
/// Kills in the regular test run (`scripts/soak.sh` runs the ignored test
/// below with many more).
const ROUNDS: usize = 50;
/// Kills of the soak run.
const SOAK_ROUNDS: usize = 1_000;

fn keys() -> Vec<SigningKey> {
    (0..ACCOUNTS as u8).map(|i| key(i + 40)).collect()
}

fn app() -> ScriptedApp {
    ScriptedApp {
        minter: PublicKey::from_signing_key(&keys()[0]),
    }
}

fn config() -> LedgerConfig {
    let mut config = LedgerConfig::new(CHAIN);
    config.state_retention = 8;
    config.node_cache_bytes = 16 << 20;
    // State checkpoints every three blocks: kills land during them too,
    // and opening replays up to three blocks.
    config.checkpoint_blocks = 3;
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
                let op = Op::Mint {
                    to: PublicKey::from_signing_key(key),
                    amount: 1_000_000,
                };
                txs.push(sign(&keys[0], CHAIN, nonces[0], &[op]));
                nonces[0] += 1;
            }
        }
        for _ in 0..20 {
            let from = rng.random_range(0..ACCOUNTS);
            let op = Op::Transfer {
                to: PublicKey::from_signing_key(&keys[rng.random_range(0..ACCOUNTS)]),
                amount: rng.random_range(1..100),
            };
            txs.push(sign(&keys[from], CHAIN, nonces[from], &[op]));
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
    let start = ledger.applied_height().map_or(0, |h| h + 1);
    // Every other run (by the parity of where it starts) commits in the
    // background: what it reports is what the ledger says is durable.
    let overlapped = start % 2 == 1;
    report_ready();
    for block in &chain[start as usize..] {
        let verified = ledger.verify_block(block.clone()).unwrap();
        if overlapped {
            ledger.apply_block_overlapped(verified).unwrap();
        } else {
            ledger.apply_block(verified).unwrap();
        }
        if let Some(durable) = ledger.durable_height() {
            report_committed(durable);
        }
    }
    ledger.flush().unwrap();
    if let Some(height) = ledger.durable_height() {
        report_committed(height);
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
    kill_and_reopen(ROUNDS);
}

/// The same, a thousand kills (`scripts/soak.sh`).
#[test]
#[ignore = "soak run: scripts/soak.sh"]
fn soak_killed_ledger_reopens_at_last_committed_block() {
    kill_and_reopen(SOAK_ROUNDS);
}

fn kill_and_reopen(rounds: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(crash_seed());
    let chain = reference_chain();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    drop(RocksStore::open(&path).unwrap());
    for round in 0..rounds {
        // The child first rebuilds the reference chain, says it is ready,
        // then commits a block every few milliseconds until it is killed.
        let delay = Duration::from_millis(rng.random_range(0..40));
        let acknowledged =
            run_child_and_kill("engine_child_process_entry", CHILD_ENV, &path, true, delay);
        let ledger = Ledger::open(RocksStore::open(&path).unwrap(), app(), config()).unwrap();
        let height = ledger.applied_height();
        assert!(
            acknowledged <= height,
            "acknowledged block {acknowledged:?} lost (head {height:?})"
        );
        if let Some(height) = height {
            assert_eq!(
                ledger.applied_head(),
                Some(chain[height as usize].header()),
                "round {round}"
            );
        }
        let report = ledger.audit().unwrap();
        assert!(report.passed(), "round {round}: {:#?}", report.findings);
        println!(
            "round {round}: acknowledged {acknowledged:?}, head {height:?}, state checkpoint {:?}, replayed {}",
            ledger.heights().state_checkpoint,
            ledger.recovery_report().replayed_blocks
        );
    }
    let mut ledger = Ledger::open(RocksStore::open(&path).unwrap(), app(), config()).unwrap();
    let start = ledger.applied_height().map_or(0, |h| h + 1);
    assert!(start > 0, "the child never committed a block");
    for block in &chain[start as usize..] {
        ledger
            .apply_block(ledger.verify_block(block.clone()).unwrap())
            .unwrap();
    }
    assert_eq!(ledger.applied_head(), chain.last().map(Block::header));
    let report = ledger.audit().unwrap();
    assert_eq!(report.blocks, BLOCKS);
    assert!(report.passed(), "{:#?}", report.findings);
}
