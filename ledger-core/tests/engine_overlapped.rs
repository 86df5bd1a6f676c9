//! The overlapped commit (`Ledger::apply_block_overlapped`): a replica that
//! commits each block in the background while the next executes reaches the
//! same heads as one that commits synchronously, even when its store is slow
//! (the next block's reads then come from the in-memory overlay) and its
//! caches are off; queries wait for the commit; the durable height trails
//! the applied one exactly while a commit is in flight; a failed background
//! commit poisons the ledger (every later call reports it), and reopening
//! the store finds the last durable block.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::time::Duration;

use ed25519_dalek::SigningKey;
use ledger_core::testing::{account_key, key, sign, Op, ScriptedApp};
use ledger_core::{Block, Ledger, LedgerConfig, LedgerError, MemStore, PublicKey, StoreError};
use rand::{RngExt, SeedableRng};

mod common;

use common::slow_store::{Slow, SlowStore};

const CHAIN: u64 = 78;
const ACCOUNTS: usize = 16;

fn keys() -> Vec<SigningKey> {
    (0..ACCOUNTS as u8).map(|i| key(i + 11)).collect()
}

fn app(keys: &[SigningKey]) -> ScriptedApp {
    ScriptedApp {
        minter: PublicKey::from_signing_key(&keys[0]),
    }
}

/// Small retention (pruning runs while a commit is in flight) and no
/// caches (every read of the previous block's writes goes to the overlay or
/// the store).
fn config() -> LedgerConfig {
    let mut config = LedgerConfig::new(CHAIN);
    config.state_retention = 2;
    config.node_cache_bytes = 0;
    config.value_cache_bytes = 0;
    config
}

/// A chain built by a synchronous proposer: transfers among accounts that
/// often touch the same keys in consecutive blocks.
fn chain(blocks: u64, seed: u64) -> (Vec<Block>, Ledger<MemStore, ScriptedApp>) {
    let keys = keys();
    let mut proposer = Ledger::open(MemStore::new(), app(&keys), config()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut nonces = [0u64; ACCOUNTS];
    let mut out = Vec::new();
    for height in 0..blocks {
        let mut txs = Vec::new();
        if height == 0 {
            for key in &keys {
                let op = Op::Mint {
                    to: PublicKey::from_signing_key(key),
                    amount: 10_000,
                };
                txs.push(sign(&keys[0], CHAIN, nonces[0], &[op]));
                nonces[0] += 1;
            }
        }
        for _ in 0..rng.random_range(1..30) {
            let from = rng.random_range(0..ACCOUNTS);
            let to = rng.random_range(0..ACCOUNTS);
            let op = Op::Transfer {
                to: PublicKey::from_signing_key(&keys[to]),
                amount: rng.random_range(0..3_000),
            };
            txs.push(sign(&keys[from], CHAIN, nonces[from], &[op]));
            nonces[from] += 1;
        }
        let block = proposer.build_block(txs, 1_000 * height).unwrap();
        assert!(!block.transactions().is_empty());
        let verified = proposer.verify_block(block.clone()).unwrap();
        proposer.apply_block(verified).unwrap();
        out.push(block);
    }
    (out, proposer)
}

#[test]
fn overlapped_replica_on_a_slow_store_matches_the_proposer() {
    for seed in 0..4 {
        let (blocks, proposer) = chain(12, seed);
        let keys = keys();
        let store = SlowStore::new(
            MemStore::new(),
            Duration::from_millis(15),
            Slow::Every,
            usize::MAX,
        );
        let mut replica = Ledger::open(store, app(&keys), config()).unwrap();
        for block in &blocks {
            let verified = replica.verify_block(block.clone()).unwrap();
            let outcome = replica.apply_block_overlapped(verified).unwrap();
            assert_eq!(outcome.header, *block.header());
        }
        assert_eq!(replica.applied_head(), proposer.applied_head());
        // Queries wait for the last commit and see the head.
        let last = blocks.last().unwrap();
        assert_eq!(
            replica
                .block_by_height(last.header().height)
                .unwrap()
                .as_ref(),
            Some(last)
        );
        for key in &keys {
            let position = account_key(&PublicKey::from_signing_key(key));
            assert_eq!(
                replica.state(&position, None).unwrap().value,
                proposer.state(&position, None).unwrap().value
            );
        }
    }
}

#[test]
fn refused_block_while_a_commit_is_in_flight_changes_nothing() {
    let (blocks, proposer) = chain(6, 9);
    let keys = keys();
    let store = SlowStore::new(
        MemStore::new(),
        Duration::from_millis(10),
        Slow::Every,
        usize::MAX,
    );
    let mut replica = Ledger::open(store, app(&keys), config()).unwrap();
    for (i, block) in blocks.iter().enumerate() {
        replica
            .apply_block_overlapped(replica.verify_block(block.clone()).unwrap())
            .unwrap();
        // The same block again is refused (wrong height) and changes nothing.
        let again = replica.verify_block(block.clone()).unwrap();
        assert!(matches!(
            replica.apply_block_overlapped(again),
            Err(LedgerError::WrongHeight { .. })
        ));
        assert_eq!(replica.applied_height(), Some(i as u64));
    }
    replica.flush().unwrap();
    assert_eq!(replica.applied_head(), proposer.applied_head());
}

#[test]
fn a_failed_background_commit_is_reported_and_reopen_finds_the_last_durable_block() {
    let (blocks, _) = chain(6, 3);
    let keys = keys();
    let inner = MemStore::new();
    // Commits 0..3 succeed (blocks 0, 1, 2); the commit of block 3 fails.
    let store = SlowStore::new(inner.clone(), Duration::from_millis(5), Slow::Every, 3);
    let mut replica = Ledger::open(store, app(&keys), config()).unwrap();
    for block in &blocks[..4] {
        let verified = replica.verify_block(block.clone()).unwrap();
        // Block 3's apply returns before its commit fails.
        replica.apply_block_overlapped(verified).unwrap();
    }
    let verified = replica.verify_block(blocks[4].clone()).unwrap();
    let error = replica.apply_block_overlapped(verified).unwrap_err();
    assert!(
        matches!(error, LedgerError::Poisoned(StoreError::Io { .. })),
        "{error:?}"
    );
    assert!(
        !error.is_block_invalid(),
        "a failed commit is the node's fault"
    );
    // Every later call reports it; the durable height stays at block 2.
    assert!(matches!(replica.flush(), Err(LedgerError::Poisoned(_))));
    assert!(matches!(
        replica.block_by_height(0),
        Err(LedgerError::Poisoned(_))
    ));
    assert_eq!(replica.durable_height(), Some(2));
    let verified = replica.verify_block(blocks[4].clone()).unwrap();
    assert!(matches!(
        replica.apply_block(verified),
        Err(LedgerError::Poisoned(_))
    ));
    drop(replica);
    // Reopening the store finds block 2, the last durable one, and goes on.
    let mut reopened = Ledger::open(inner, app(&keys), config()).unwrap();
    assert_eq!(reopened.applied_height(), Some(2));
    for block in &blocks[3..] {
        let verified = reopened.verify_block(block.clone()).unwrap();
        reopened.apply_block(verified).unwrap();
    }
    assert_eq!(reopened.applied_head(), Some(blocks[5].header()));
}

#[test]
fn the_durable_height_trails_the_applied_height_only_while_a_commit_runs() {
    let (blocks, _) = chain(5, 11);
    let keys = keys();
    let store = SlowStore::new(
        MemStore::new(),
        Duration::from_millis(300),
        Slow::Every,
        usize::MAX,
    );
    let mut replica = Ledger::open(store, app(&keys), config()).unwrap();
    assert_eq!(replica.heights().durable, None);
    for (height, block) in blocks.iter().enumerate() {
        let height = height as u64;
        let verified = replica.verify_block(block.clone()).unwrap();
        replica.apply_block_overlapped(verified).unwrap();
        // The commit takes 300 ms: right after the call, the block is
        // applied and not durable.
        let heights = replica.heights();
        assert_eq!(heights.applied, Some(height));
        assert_eq!(heights.durable, height.checked_sub(1), "{heights:?}");
        // The state stays in memory until a checkpoint (32 blocks or 2 s
        // by default), which covers only durable blocks.
        assert!(
            heights
                .state_checkpoint
                .is_none_or(|checkpoint| Some(checkpoint) <= heights.durable),
            "{heights:?}"
        );
    }
    // Without waiting, the durable height reaches the head by itself.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while replica.durable_height() != Some(4) {
        assert!(
            std::time::Instant::now() < deadline,
            "the commit never ended"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(replica.durable_head().as_ref(), replica.applied_head());
    assert_eq!(replica.checkpoint_state().unwrap(), Some(4));
    assert_eq!(replica.heights().state_checkpoint, Some(4));
    // The synchronous mode is durable when it returns.
    let (blocks, _) = chain(2, 12);
    let mut synchronous = Ledger::open(MemStore::new(), app(&keys), config()).unwrap();
    for block in &blocks {
        let verified = synchronous.verify_block(block.clone()).unwrap();
        synchronous.apply_block(verified).unwrap();
        assert_eq!(synchronous.durable_height(), synchronous.applied_height());
    }
}
