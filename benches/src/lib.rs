//! Shared workload builders for the criterion benchmarks in `benches/benches/`.
//!
//! Sizes and seeds are named constants so that every run measures the same
//! work; see `docs/PERFORMANCE.md` for the figures and how to reproduce them.

use ed25519_dalek::SigningKey;
use ledger_core::{Block, BlockHeader, Hash, Transaction, BLOCK_FORMAT_VERSION};

/// Transactions in the benchmark block (the end-to-end target's block size).
pub const BLOCK_TXS: usize = 10_000;
/// Distinct senders in the benchmark block.
pub const SENDERS: usize = 1_000;
/// Payload bytes of a benchmark transaction (the size of a `transfers` record).
pub const PAYLOAD_BYTES: usize = 48;
/// Chain id of all benchmark transactions.
pub const CHAIN_ID: u64 = 0xbe4c;

/// Deterministic signing keys: key `i` has secret bytes derived from `i`.
pub fn signing_keys(count: usize) -> Vec<SigningKey> {
    (0..count)
        .map(|i| {
            let seed = ledger_core::hash(ledger_core::Domain::StateKey, &(i as u64).to_le_bytes());
            SigningKey::from_bytes(seed.as_bytes())
        })
        .collect()
}

/// `count` signed transactions from `senders` keys, round-robin, with
/// per-sender nonces in order.
pub fn signed_transactions(count: usize, senders: usize) -> Vec<Transaction> {
    let keys = signing_keys(senders);
    (0..count)
        .map(|i| {
            let key = &keys[i % senders];
            let nonce = (i / senders) as u64;
            let mut payload = vec![0u8; PAYLOAD_BYTES];
            payload[..8].copy_from_slice(&(i as u64).to_le_bytes());
            // Cannot fail: PAYLOAD_BYTES is far below MAX_PAYLOAD_BYTES.
            #[allow(clippy::expect_used)]
            Transaction::sign(key, CHAIN_ID, nonce, payload).expect("payload within limit")
        })
        .collect()
}

/// A block of the given transactions with placeholder roots.
pub fn block_of(transactions: Vec<Transaction>) -> Block {
    let header = BlockHeader {
        version: BLOCK_FORMAT_VERSION,
        chain_id: CHAIN_ID,
        height: 1,
        parent: Hash::ZERO,
        timestamp_ms: 0,
        tx_count: transactions.len() as u32,
        tx_root: Hash::ZERO,
        receipts_root: Hash::ZERO,
        state_root: Hash::ZERO,
        history_root: Hash::ZERO,
    };
    // Cannot fail: the count matches the header and BLOCK_TXS is within limits.
    #[allow(clippy::expect_used)]
    Block::new(header, transactions).expect("benchmark block within limits")
}
