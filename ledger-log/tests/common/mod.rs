//! Shared helpers of ledger-log's integration tests: a transfers ledger
//! behind a lock (honest or forked from a height), real witnesses on
//! loopback, policies, and bounded waits.
// Test helpers: a failure here is a failing test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_apps::transfers::{Operation, Transfers};
use ledger_core::checkpoint::{Policy, SignatureType, SignerKey, VerifierKey};
use ledger_core::testing::key;
use ledger_core::{Ledger, LedgerConfig, MemStore, PublicKey, Transaction};
use ledger_log::{ClientConfig, IssuancePolicy, LogConfig};
use ledger_witness::{serve_with, Config, LogKeys, RunningServer, ServerConfig, Witness};
use parking_lot::RwLock;

pub const CHAIN: u64 = 19;
pub const ORIGIN: &str = "ledger.test/log";

pub type Node = Arc<RwLock<Ledger<MemStore, Transfers>>>;

pub fn log_key() -> SignerKey {
    SignerKey::new(ORIGIN, SignatureType::Ed25519, &[0x4c; 32]).unwrap()
}

pub fn witness_key(i: u8) -> SignerKey {
    let name = format!("witness{i}.test");
    SignerKey::new(&name, SignatureType::CosignatureV1, &[0x57 + i; 32]).unwrap()
}

pub fn node() -> Node {
    let app = Transfers {
        minter: PublicKey::from_signing_key(&key(1)),
    };
    Arc::new(RwLock::new(
        Ledger::open(MemStore::new(), app, LedgerConfig::new(CHAIN)).unwrap(),
    ))
}

/// Applies the next block under the write lock: one mint of `amount` to
/// account 2 (the minter's nonce is the block's height); the time it took.
pub fn apply_with(node: &Node, amount: u64) -> Duration {
    let started = Instant::now();
    let mut ledger = node.write();
    let height = ledger.applied_height().map_or(0, |h| h + 1);
    let op = Operation::Mint {
        to: PublicKey::from_signing_key(&key(2)),
        amount,
    };
    let tx = Transaction::sign(&key(1), CHAIN, height, op.encode().unwrap()).unwrap();
    let block = ledger.build_block(vec![tx], 1_000 + height).unwrap();
    let verified = ledger.verify_block(block).unwrap();
    ledger.apply_block(verified).unwrap();
    started.elapsed()
}

/// The honest chain: block `h` mints `h + 1`.
pub fn apply(node: &Node) -> Duration {
    let height = node.read().applied_height().map_or(0, |h| h + 1);
    apply_with(node, height + 1)
}

pub fn witness_config(server: ServerConfig) -> (Config, ServerConfig) {
    let mut config = Config::default();
    config.rate.per_second = 1e9;
    config.rate.burst = 1e9;
    (config, server)
}

/// Starts witness `i` (its state in `dir`) for the test log on `addr`
/// (port 0: any).
pub async fn start_witness(dir: &Path, i: u8, addr: SocketAddr) -> RunningServer {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let witness = Witness::open(
        witness_key(i),
        LogKeys::from_keys([log_key().verifier_key()]),
        dir,
        witness_config(ServerConfig::default()).0,
    )
    .unwrap();
    serve_with(listener, Arc::new(witness), ServerConfig::default()).unwrap()
}

/// A policy of the given witnesses (index, URL) and a quorum of `k`.
pub fn policy(witnesses: &[(u8, String)], k: usize) -> Policy {
    Policy::parse(policy_text(witnesses, k).as_bytes()).unwrap()
}

/// The tlog-policy text of [`policy`].
pub fn policy_text(witnesses: &[(u8, String)], k: usize) -> String {
    let mut text = format!("log {}\n", log_key().verifier_key());
    let mut names = Vec::new();
    for (i, url) in witnesses {
        text.push_str(&format!(
            "witness w{i} {} {url}\n",
            witness_key(*i).verifier_key()
        ));
        names.push(format!("w{i}"));
    }
    text.push_str(&format!("group q {k} {}\nquorum q\n", names.join(" ")));
    text
}

/// Short timeouts and backoff so that faults heal within a test.
pub fn fast_config(every_blocks: u64) -> LogConfig {
    LogConfig {
        issuance: IssuancePolicy {
            every_blocks,
            interval: Duration::from_secs(3600),
        },
        client: ClientConfig {
            request_timeout: Duration::from_millis(500),
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
            issuance_poll: Duration::from_millis(50),
        },
    }
}

/// Polls `condition` every 10 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn log_vkey() -> VerifierKey {
    log_key().verifier_key()
}

/// The runtime that serves the test's witnesses and fakes.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
