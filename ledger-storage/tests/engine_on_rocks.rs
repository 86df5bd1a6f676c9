//! The engine over RocksDB (the engine's own tests run on the in-memory
//! store): a ledger reopens at its head after a clean close and after a
//! drop with an overlapped commit in flight, then continues to the same
//! head as a ledger that never closed, and its audit passes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use ledger_core::testing::{key, sign, Op, ScriptedApp};
use ledger_core::{Block, Ledger, LedgerConfig, MemStore, PublicKey};
use ledger_storage::RocksStore;

const CHAIN: u64 = 31;

fn app() -> ScriptedApp {
    ScriptedApp {
        minter: PublicKey::from_signing_key(&key(1)),
    }
}

fn config() -> LedgerConfig {
    let mut config = LedgerConfig::new(CHAIN);
    config.state_retention = 3;
    config
}

/// `blocks` blocks of transfers among 8 accounts, built in memory.
fn chain(blocks: u64) -> (Vec<Block>, Ledger<MemStore, ScriptedApp>) {
    let mut proposer = Ledger::open(MemStore::new(), app(), config()).unwrap();
    let accounts: Vec<_> = (2..10u8).map(key).collect();
    let mut out = Vec::new();
    for height in 0..blocks {
        let txs: Vec<_> = if height == 0 {
            accounts
                .iter()
                .enumerate()
                .map(|(i, account)| {
                    let to = PublicKey::from_signing_key(account);
                    sign(&key(1), CHAIN, i as u64, &[Op::Mint { to, amount: 1_000 }])
                })
                .collect()
        } else {
            accounts
                .iter()
                .enumerate()
                .map(|(i, account)| {
                    let to = PublicKey::from_signing_key(&accounts[(i + 1) % accounts.len()]);
                    sign(
                        account,
                        CHAIN,
                        height - 1,
                        &[Op::Transfer { to, amount: height }],
                    )
                })
                .collect()
        };
        let block = proposer.build_block(txs, height).unwrap();
        proposer
            .apply_block(proposer.verify_block(block.clone()).unwrap())
            .unwrap();
        out.push(block);
    }
    (out, proposer)
}

#[test]
fn a_rocks_ledger_reopens_at_its_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let (blocks, proposer) = chain(8);
    {
        let mut ledger = Ledger::open(RocksStore::open(&path).unwrap(), app(), config()).unwrap();
        for block in &blocks[..5] {
            ledger
                .apply_block(ledger.verify_block(block.clone()).unwrap())
                .unwrap();
        }
    }
    let mut ledger = Ledger::open(RocksStore::open(&path).unwrap(), app(), config()).unwrap();
    assert_eq!(ledger.applied_height(), Some(4));
    for block in &blocks[5..] {
        ledger
            .apply_block(ledger.verify_block(block.clone()).unwrap())
            .unwrap();
    }
    assert_eq!(ledger.applied_head(), proposer.applied_head());
    assert_eq!(ledger.audit().unwrap().blocks, 8);
}

#[test]
fn a_rocks_ledger_dropped_mid_commit_reopens_at_its_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let (blocks, proposer) = chain(10);
    {
        let mut ledger = Ledger::open(RocksStore::open(&path).unwrap(), app(), config()).unwrap();
        for block in &blocks[..7] {
            let verified = ledger.verify_block(block.clone()).unwrap();
            ledger.apply_block_overlapped(verified).unwrap();
        }
        // Dropped with block 6's commit in flight: the drop finishes it and
        // releases the store's lock.
    }
    let mut ledger = Ledger::open(RocksStore::open(&path).unwrap(), app(), config()).unwrap();
    assert_eq!(ledger.applied_height(), Some(6));
    for block in &blocks[7..] {
        let verified = ledger.verify_block(block.clone()).unwrap();
        ledger.apply_block_overlapped(verified).unwrap();
    }
    ledger.flush().unwrap();
    assert_eq!(ledger.applied_head(), proposer.applied_head());
    assert_eq!(ledger.audit().unwrap().blocks, 10);
}
