//! A transaction query decodes that transaction alone: the index holds each
//! transaction's byte range in its block, and the block's proof trees are
//! cached after the first query. Measured with a counting allocator: a
//! query on a 4,000-transaction block allocates a few KiB, where decoding
//! the whole block (as the old query did) allocates about a megabyte. And a
//! damaged index entry is reported, never answered with another
//! transaction.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ledger_core::testing::{key, sign, Op, ScriptedApp};
use ledger_core::{
    Column, Durability, Ledger, LedgerConfig, LedgerError, MemStore, PublicKey, Store, StoreRead,
    WriteBatch,
};

struct Counting;

// Per thread: the other test of this binary builds its ledger at the same
// time, and a process-wide count picked up its allocations (a CI failure).
// The query decodes on the calling thread.
thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn allocated() -> usize {
    ALLOCATED.with(Cell::get)
}

// SAFETY: forwards to the system allocator, only counting this thread's
// bytes (thread-local access does not allocate for a `const` Cell).
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|bytes| bytes.set(bytes.get() + layout.size()));
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CHAIN: u64 = 9;

fn ledger_with_one_big_block() -> (Ledger<MemStore, ScriptedApp>, Vec<ledger_core::Hash>) {
    ledger_with_one_big_block_and_cache(LedgerConfig::new(CHAIN).block_cache_bytes)
}

fn ledger_with_one_big_block_and_cache(
    block_cache_bytes: usize,
) -> (Ledger<MemStore, ScriptedApp>, Vec<ledger_core::Hash>) {
    let app = ScriptedApp {
        minter: PublicKey::from_signing_key(&key(1)),
    };
    let mut config = LedgerConfig::new(CHAIN);
    config.block_cache_bytes = block_cache_bytes;
    let mut ledger = Ledger::open(MemStore::new(), app, config).unwrap();
    let txs: Vec<_> = (0..4_000u64)
        .map(|i| {
            let sender = key((i % 250) as u8 + 2);
            sign(
                &sender,
                CHAIN,
                i / 250,
                &[Op::Put {
                    key: i.to_le_bytes().to_vec(),
                    value: vec![7; 40],
                }],
            )
        })
        .collect();
    let ids = txs.iter().map(|tx| tx.id()).collect();
    let block = ledger.build_block(txs, 1).unwrap();
    ledger
        .apply_block(ledger.verify_block(block).unwrap())
        .unwrap();
    (ledger, ids)
}

#[test]
fn a_query_decodes_one_transaction_not_its_block() {
    let (ledger, ids) = ledger_with_one_big_block();
    // The first query on the block builds its proof trees (once).
    ledger.transaction(&ids[0]).unwrap().unwrap();
    for id in [&ids[1], &ids[1_999], &ids[3_999]] {
        let before = allocated();
        let record = ledger.transaction(id).unwrap().unwrap();
        let allocated = allocated() - before;
        assert_eq!(record.transaction.id(), *id);
        record.verify(&record.header).unwrap();
        assert!(
            allocated < 16 * 1024,
            "a query allocated {allocated} bytes (the block is {} transactions)",
            ids.len()
        );
    }
}

/// A block too large for the query cache with its transactions (the
/// trees alone may fit), or too large for it at all: queries still answer,
/// unpacking the block again.
#[test]
fn queries_answer_whatever_the_cache_holds() {
    for cache in [0, 1 << 20, 2 << 20, 3 << 20, 32 << 20] {
        let (ledger, ids) = ledger_with_one_big_block_and_cache(cache);
        for _ in 0..2 {
            for id in [&ids[0], &ids[1_999], &ids[3_999]] {
                let record = ledger.transaction(id).unwrap().unwrap();
                assert_eq!(record.transaction.id(), *id, "cache {cache}");
                record.verify(&record.header).unwrap();
            }
        }
    }
}

#[test]
fn a_damaged_index_entry_is_reported_not_followed() {
    let (ledger, ids) = ledger_with_one_big_block();
    // Point transaction 5's entry at transaction 6's bytes.
    let entry = ledger
        .store()
        .get(Column::TxIndex, ids[6].as_bytes())
        .unwrap()
        .unwrap();
    let mut batch = WriteBatch::new();
    batch.put(Column::TxIndex, ids[5].0.to_vec(), entry);
    ledger.store().commit(batch, Durability::Synced).unwrap();
    let error = ledger.transaction(&ids[5]).unwrap_err();
    assert!(
        matches!(
            error,
            LedgerError::Corrupt {
                column: Column::TxIndex,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_block_invalid());
    // A truncated entry too.
    let mut batch = WriteBatch::new();
    batch.put(Column::TxIndex, ids[7].0.to_vec(), vec![0u8; 11]);
    ledger.store().commit(batch, Durability::Synced).unwrap();
    assert!(matches!(
        ledger.transaction(&ids[7]),
        Err(LedgerError::Corrupt {
            column: Column::TxIndex,
            ..
        })
    ));
}
