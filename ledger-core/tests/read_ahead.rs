//! Reading ahead ([`StateMachine::read_hints`]) changes how fast a block
//! executes, never what it produces: a validator whose head-value cache
//! holds nothing (every read misses, so it reads each block's hinted keys
//! ahead) applies the same blocks to the same roots and receipts as one
//! with the default cache (which does not), whatever the hints name: keys
//! read, keys only written, more keys than the engine uses, keys too long
//! to be state keys, keys of transactions that fail.
//!
//! [`StateMachine::read_hints`]: ledger_core::machine::StateMachine::read_hints

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use common::{app, config, keys, public, seed, CHAIN};
use ledger_core::limits::{MAX_READ_HINTS_PER_TX, MAX_STATE_KEY_BYTES};
use ledger_core::testing::{sign, Op};
use ledger_core::{Block, Ledger, MemStore};
use rand::{RngExt, SeedableRng};

/// Blocks after the genesis mints.
const BLOCKS: u64 = 12;

/// A random chain whose transactions read, write and fail in every way a
/// hint can be right or wrong about.
fn chain(seed: u64) -> Vec<Block> {
    let keys = keys();
    let mut proposer = Ledger::open(MemStore::new(), app(), config()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut blocks = Vec::new();
    for height in 0..=BLOCKS {
        let mut txs = Vec::new();
        if height == 0 {
            for key in &keys {
                let op = Op::Mint {
                    to: public(key),
                    amount: 10_000,
                };
                txs.push(op);
            }
        } else {
            for _ in 0..rng.random_range(60..120) {
                let to = public(&keys[rng.random_range(0..keys.len())]);
                let op = match rng.random_range(0..10) {
                    0 => Op::ReadMany {
                        // More keys than the engine reads ahead.
                        count: rng.random_range(0..3 * MAX_READ_HINTS_PER_TX as u32),
                    },
                    1 => Op::Put {
                        key: rng.random_range(0u32..50).to_le_bytes().to_vec(),
                        value: vec![rng.random(); rng.random_range(1..40)],
                    },
                    2 => Op::Delete {
                        key: rng.random_range(0u32..50).to_le_bytes().to_vec(),
                    },
                    // A key too long to be a state key: the hint is
                    // ignored and the transaction fails.
                    3 => Op::Put {
                        key: vec![7; MAX_STATE_KEY_BYTES + 1],
                        value: vec![1],
                    },
                    4 => Op::Fail { code: 9 },
                    _ => Op::Transfer {
                        to,
                        amount: rng.random_range(0..3_000),
                    },
                };
                txs.push(op);
            }
        }
        let mut signed = Vec::new();
        for op in txs {
            let from = if matches!(op, Op::Mint { .. }) {
                0
            } else {
                rng.random_range(0..keys.len())
            };
            let nonce = proposer.nonce(&public(&keys[from])).unwrap()
                + signed.iter().filter(|(sender, _)| *sender == from).count() as u64;
            signed.push((from, sign(&keys[from], CHAIN, nonce, &[op])));
        }
        let txs = signed.into_iter().map(|(_, tx)| tx).collect();
        let block = proposer.build_block(txs, 1_000 * height).unwrap();
        let verified = proposer.verify_block(block.clone()).unwrap();
        proposer.apply_block(verified).unwrap();
        blocks.push(block);
    }
    blocks
}

#[test]
fn reading_ahead_changes_no_root_and_no_receipt() {
    let seed = seed();
    let blocks = chain(seed);
    let mut cold_config = config();
    cold_config.value_cache_bytes = 0;
    let mut cold = Ledger::open(MemStore::new(), app(), cold_config).unwrap();
    let mut warm = Ledger::open(MemStore::new(), app(), config()).unwrap();
    let mut read_ahead = 0;
    for block in &blocks {
        let cold_outcome = cold
            .apply_block(cold.verify_block(block.clone()).unwrap())
            .unwrap();
        let warm_outcome = warm
            .apply_block(warm.verify_block(block.clone()).unwrap())
            .unwrap();
        assert_eq!(cold_outcome.header, warm_outcome.header, "seed {seed}");
        assert_eq!(cold_outcome.receipts, warm_outcome.receipts, "seed {seed}");
        read_ahead += usize::from(cold_outcome.timings.read_ahead);
    }
    // Every block after the first two reads enough to decide: each read
    // misses the empty cache.
    assert!(
        read_ahead + 2 >= blocks.len(),
        "seed {seed}: {read_ahead} of {} blocks read ahead",
        blocks.len()
    );
    assert!(cold.cache_report().values.misses > warm.cache_report().values.misses);
}
