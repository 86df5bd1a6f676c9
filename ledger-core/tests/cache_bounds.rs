//! The engine's caches are bounded in bytes, whatever their values: an
//! application that writes values of the largest size cannot push the
//! head-value cache past its budget (the old cache was bounded in entries:
//! 262,144 values of 64 KiB is 16 GiB). Checked twice: the budget the
//! ledger reports, and the heap the cache really holds, measured with a
//! counting allocator.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use bytes::Bytes;
use ledger_core::cache::TwoGenerationCache;
use ledger_core::limits::{MAX_STATE_VALUE_BYTES, MAX_WRITES_PER_TX};
use ledger_core::testing::{key, sign, Op, ScriptedApp};
use ledger_core::{Hash, Ledger, LedgerConfig, MemStore, PublicKey};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting live bytes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const BUDGET: usize = 4 * 1024 * 1024;

/// The allocator counts the whole process: tests of this file run one at
/// a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_cache_holds_no_more_heap_than_its_budget() {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Both ends of the value range: the largest state values, and tiny
    // ones whose cost is the hash table itself.
    for (value_len, count) in [(MAX_STATE_VALUE_BYTES, 2_000usize), (8, 400_000)] {
        let before = LIVE.load(Ordering::SeqCst);
        let cache: TwoGenerationCache<Hash, Bytes> = TwoGenerationCache::new(BUDGET);
        for i in 0..count as u64 {
            let mut position = [0u8; 32];
            position[..8].copy_from_slice(&i.to_le_bytes());
            cache.insert(Hash(position), Bytes::from(vec![0u8; value_len]));
        }
        let held = LIVE.load(Ordering::SeqCst) - before;
        let usage = cache.usage();
        assert!(usage.entries > 0);
        assert!(usage.held_bytes <= BUDGET, "{usage:?}");
        assert!(
            held as usize <= BUDGET,
            "values of {value_len} bytes: the cache holds {held} bytes of heap for a budget of {BUDGET}"
        );
        drop(cache);
    }
}

#[test]
fn the_ledger_reports_caches_within_their_budgets_with_maximal_values() {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let chain = 10;
    let app = ScriptedApp {
        minter: PublicKey::from_signing_key(&key(1)),
    };
    let mut config = LedgerConfig::new(chain);
    config.value_cache_bytes = BUDGET;
    config.node_cache_bytes = BUDGET;
    config.block_cache_bytes = BUDGET;
    let mut ledger = Ledger::open(MemStore::new(), app, config).unwrap();
    // Two blocks of 1,000 values of the largest size: 125 MiB written.
    for height in 0..2u64 {
        let txs: Vec<_> = (0..10u64)
            .map(|i| {
                let ops = [Op::PutMany {
                    count: (MAX_WRITES_PER_TX / 10) as u32,
                    value_len: (MAX_STATE_VALUE_BYTES - 36) as u32,
                }];
                sign(&key(i as u8 + 2), chain, height, &ops)
            })
            .collect();
        let block = ledger.build_block(txs, height).unwrap();
        ledger
            .apply_block(ledger.verify_block(block).unwrap())
            .unwrap();
    }
    let report = ledger.cache_report();
    for usage in [report.values, report.nodes, report.blocks] {
        assert_eq!(usage.capacity_bytes, BUDGET);
        assert!(usage.held_bytes <= BUDGET, "{report:?}");
    }
    assert!(report.values.entries > 0, "{report:?}");
}
