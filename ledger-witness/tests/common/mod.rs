//! Shared helpers of the witness's integration tests: keys, a log's
//! reference tree, request bodies, and a witness on loopback.
// Test helpers: a failure here is a failing test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use ledger_core::checkpoint::{Checkpoint, Note, SignatureType, SignerKey, VerifierKey};
use ledger_witness::request::AddCheckpointRequest;
use ledger_witness::tree::MemoryTree;
use ledger_witness::{serve_with, Config, LogKeys, RunningServer, ServerConfig, Witness};

pub const WITNESS: &str = "witness.test/w1";

pub fn log_key(origin: &str) -> SignerKey {
    let seed = ledger_witness::tree::leaf_hash(origin.as_bytes());
    SignerKey::new(origin, SignatureType::Ed25519, &seed).unwrap()
}

pub fn witness_key() -> SignerKey {
    SignerKey::new(WITNESS, SignatureType::CosignatureV1, &[0x77; 32]).unwrap()
}

/// A log: its key and its tree.
pub struct Log {
    pub key: SignerKey,
    pub tree: MemoryTree,
}

impl Log {
    pub fn new(origin: &str) -> Self {
        Self {
            key: log_key(origin),
            tree: MemoryTree::new(),
        }
    }

    pub fn grow_to(&mut self, size: u64) {
        while self.tree.size() < size {
            let i = self.tree.size();
            self.tree
                .push(format!("{} leaf {i}", self.key.name()).as_bytes());
        }
    }

    pub fn text(&self, size: u64) -> String {
        Checkpoint::new(self.key.name(), size, self.tree.root(size))
            .unwrap()
            .to_text()
    }

    pub fn note(&self, size: u64) -> Vec<u8> {
        Note::sign(&self.text(size), &self.key)
            .unwrap()
            .encode()
            .into_bytes()
    }

    /// The request from `old` to `size` (with the proof between them).
    pub fn body(&self, old: u64, size: u64) -> Vec<u8> {
        AddCheckpointRequest {
            old_size: old,
            proof: self.tree.consistency_proof(old, size),
            note: self.note(size),
        }
        .encode()
    }
}

pub fn body(old: u64, proof: Vec<[u8; 32]>, note: Vec<u8>) -> Vec<u8> {
    AddCheckpointRequest {
        old_size: old,
        proof,
        note,
    }
    .encode()
}

pub fn open(dir: &Path, logs: &[VerifierKey], config: Config) -> Witness {
    Witness::open(
        witness_key(),
        LogKeys::from_keys(logs.iter().cloned()),
        dir,
        config,
    )
    .unwrap()
}

pub async fn start(dir: &Path, logs: &[VerifierKey], config: Config) -> RunningServer {
    start_with(dir, logs, config, ServerConfig::default()).await
}

pub async fn start_with(
    dir: &Path,
    logs: &[VerifierKey],
    config: Config,
    server: ServerConfig,
) -> RunningServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve_with(listener, Arc::new(open(dir, logs, config)), server).unwrap()
}

/// A rate limit no test reaches.
pub fn unlimited() -> Config {
    let mut config = Config::default();
    config.rate.per_second = 1e9;
    config.rate.burst = 1e9;
    config
}
