#![allow(
    clippy::expect_used,
    reason = "benchmark inputs are built valid; a failure means a broken bench"
)]
//! `apply_block` end to end for one block of 10,000 transfers among 1,000
//! funded accounts: execution, state root and the atomic commit, on the
//! in-memory store and on RocksDB (synced WAL), against the verification of
//! the same block (the stage it is pipelined with). Each iteration applies
//! the block to a copy of a ledger at the same height. A second group
//! applies four consecutive blocks with synchronous and with overlapped
//! commits.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use ledger_apps::transfers::{Operation, Transfers};
use ledger_benches::{BLOCK_TXS, SENDERS};
use ledger_core::{Block, PublicKey, Transaction};
use ledger_core::{Ledger, LedgerConfig};
use ledger_storage::{MemStore, RocksStore};

const CHAIN: u64 = 0xbe4c;

fn accounts() -> Vec<SigningKey> {
    ledger_benches::signing_keys(SENDERS)
}

fn app(accounts: &[SigningKey]) -> Transfers {
    Transfers {
        minter: PublicKey::from_signing_key(&accounts[0]),
    }
}

/// Transfers for the block after `previous` blocks of transfers: every
/// account sends `BLOCK_TXS / accounts` of them.
fn transfers(accounts: &[SigningKey], previous: usize) -> Vec<Transaction> {
    let per_account = BLOCK_TXS / accounts.len();
    (0..BLOCK_TXS)
        .map(|i| {
            let from = i % accounts.len();
            let nonce = (previous * per_account + i / accounts.len()) as u64
                + u64::from(from == 0) * accounts.len() as u64;
            let to =
                PublicKey::from_signing_key(&accounts[(i * 7 + 3 + previous) % accounts.len()]);
            let op = Operation::Transfer {
                to,
                amount: 1 + (i as u64 % 100),
            };
            let payload = op.encode().expect("a transfer always encodes");
            Transaction::sign(&accounts[from], CHAIN, nonce, payload).expect("sign")
        })
        .collect()
}

/// The genesis block (funding every account) and `count` blocks of
/// transfers after it, built by a proposer.
fn chain(accounts: &[SigningKey], count: usize) -> Vec<Block> {
    let mut proposer =
        Ledger::open(MemStore::new(), app(accounts), LedgerConfig::new(CHAIN)).expect("open");
    let minter = &accounts[0];
    let mints: Vec<Transaction> = accounts
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let op = Operation::Mint {
                to: PublicKey::from_signing_key(key),
                amount: 1 << 40,
            };
            let payload = op.encode().expect("a mint always encodes");
            Transaction::sign(minter, CHAIN, i as u64, payload).expect("sign")
        })
        .collect();
    let mut out = Vec::with_capacity(count + 1);
    for height in 0..=count {
        let block = if height == 0 {
            proposer.build_block(mints.clone(), 0).expect("genesis")
        } else {
            let block = proposer
                .build_block(transfers(accounts, height - 1), 1_000 * height as u64)
                .expect("block");
            assert_eq!(
                block.transactions().len(),
                BLOCK_TXS,
                "the proposer dropped transactions"
            );
            block
        };
        proposer
            .apply_block(proposer.verify_block(block.clone()).expect("verify"))
            .expect("apply");
        out.push(block);
    }
    out
}

fn apply(c: &mut Criterion) {
    let accounts = accounts();
    let mut blocks = chain(&accounts, 1).into_iter();
    let genesis = blocks.next().expect("the genesis block");
    let block = blocks.next().expect("a block of transfers");
    let mut group = c.benchmark_group("apply_block_10k_transfers");
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.sample_size(10);

    let base = MemStore::new();
    let mut ledger =
        Ledger::open(base.clone(), app(&accounts), LedgerConfig::new(CHAIN)).expect("open");
    ledger
        .apply_block(ledger.verify_block(genesis.clone()).expect("verify"))
        .expect("genesis");
    let verified = ledger.verify_block(block.clone()).expect("verify");
    group.bench_function("verify_block", |b| {
        b.iter(|| ledger.verify_block(block.clone()).expect("verify"))
    });
    group.bench_function("apply_mem_store", |b| {
        b.iter_batched(
            || {
                // A fresh ledger at height 0 over a copy of the store.
                let store = MemStore::new();
                let mut fresh =
                    Ledger::open(store, app(&accounts), LedgerConfig::new(CHAIN)).expect("open");
                fresh
                    .apply_block(fresh.verify_block(genesis.clone()).expect("verify"))
                    .expect("genesis");
                (fresh, verified.clone())
            },
            |(mut fresh, verified)| fresh.apply_block(verified).expect("apply"),
            BatchSize::PerIteration,
        )
    });
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut counter = 0u32;
    group.bench_function("apply_rocks_store_synced", |b| {
        b.iter_batched(
            || {
                counter += 1;
                let store =
                    RocksStore::open(dir.path().join(format!("ledger-{counter}"))).expect("open");
                let mut fresh =
                    Ledger::open(store, app(&accounts), LedgerConfig::new(CHAIN)).expect("open");
                fresh
                    .apply_block(fresh.verify_block(genesis.clone()).expect("verify"))
                    .expect("genesis");
                (fresh, verified.clone())
            },
            |(mut fresh, verified)| fresh.apply_block(verified).expect("apply"),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// Blocks of the sequence benchmark: the commit of one overlaps the
/// execution of the next only across blocks.
const SEQUENCE_BLOCKS: usize = 4;

/// Four consecutive blocks on RocksDB (synced WAL): committed one after the
/// other (`apply_block`) or each in the background while the next executes
/// (`apply_block_overlapped`, with the final `flush` in the time).
fn apply_sequence(c: &mut Criterion) {
    let accounts = accounts();
    let chain = chain(&accounts, SEQUENCE_BLOCKS);
    let verified: Vec<_> = {
        let ledger =
            Ledger::open(MemStore::new(), app(&accounts), LedgerConfig::new(CHAIN)).expect("open");
        chain
            .iter()
            .skip(1)
            .map(|block| ledger.verify_block(block.clone()).expect("verify"))
            .collect()
    };
    let mut group = c.benchmark_group("apply_4_blocks_10k_transfers_rocks");
    group.throughput(Throughput::Elements((SEQUENCE_BLOCKS * BLOCK_TXS) as u64));
    group.sample_size(10);
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut counter = 0u32;
    for overlapped in [false, true] {
        let name = if overlapped {
            "overlapped"
        } else {
            "synchronous"
        };
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    counter += 1;
                    let store =
                        RocksStore::open(dir.path().join(format!("seq-{counter}"))).expect("open");
                    let mut fresh = Ledger::open(store, app(&accounts), LedgerConfig::new(CHAIN))
                        .expect("open");
                    fresh
                        .apply_block(fresh.verify_block(chain[0].clone()).expect("verify"))
                        .expect("genesis");
                    (fresh, verified.clone())
                },
                |(mut fresh, verified)| {
                    for block in verified {
                        if overlapped {
                            fresh.apply_block_overlapped(block).expect("apply");
                        } else {
                            fresh.apply_block(block).expect("apply");
                        }
                    }
                    fresh.flush().expect("flush");
                    fresh
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, apply, apply_sequence);
criterion_main!(benches);
