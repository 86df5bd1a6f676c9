//! Executing transfers allocates per block, never per transaction: keys'
//! positions and small values are inline, a transaction's writes go to a
//! scratch list reused by the next, and the block's maps are sized once.
//! A counting global allocator (it applies to this whole test binary, hence
//! a file of its own with one test) counts the allocations on the executing
//! thread while blocks of 500 and of 2,000 transfers execute; the difference
//! over the extra 1,500 transactions must be (almost) nothing.

#![allow(
    unsafe_code,
    reason = "a global allocator is an unsafe trait; this one only counts and forwards"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::MapState;
use ed25519_dalek::SigningKey;
use ledger_apps::transfers::{balance_key, Operation, Transfers};
use ledger_core::{
    application_position, execute_transactions, BlockContext, InvalidTransactions, PublicKey,
    StateValue, Transaction,
};

thread_local! {
    /// Allocations (calls) made on this thread.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: no panic if the thread is being torn down. A const
    // thread-local of a `Cell` needs no allocation to access.
    let _ = ALLOCATIONS.try_with(|total| total.set(total.get().saturating_add(1)));
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Counts every allocation, then forwards to the system allocator.
struct CountingAllocator;

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds `GlobalAlloc`'s contract; counting touches only a thread-local
// `Cell` and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract for `alloc`, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller's contract for `realloc`, passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const CHAIN: u64 = 5;

/// Allocations on this thread while `count` funded accounts each send one
/// transfer to the next, in one block (all succeed).
fn allocations_for_block(count: usize) -> u64 {
    let keys: Vec<SigningKey> = (0..count)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            SigningKey::from_bytes(&seed)
        })
        .collect();
    let publics: Vec<PublicKey> = keys.iter().map(PublicKey::from_signing_key).collect();
    let mut state = MapState::default();
    for public in &publics {
        let position = application_position(&balance_key(public));
        state
            .0
            .insert(position, StateValue::from(1_000u64.to_le_bytes()));
    }
    let txs: Vec<Transaction> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let to = publics[(i + 1) % count];
            let payload = Operation::Transfer { to, amount: 7 }.encode().unwrap();
            Transaction::sign(key, CHAIN, 0, payload).unwrap()
        })
        .collect();
    let ids: Vec<_> = txs.iter().map(Transaction::id).collect();
    let app = Transfers { minter: publics[0] };
    let context = BlockContext::new(CHAIN, 1, 1_700_000_000_000);
    // Once to warm every lazily initialised static (context keys, the
    // strict-key cache is not touched: every recipient has a balance).
    execute_transactions(
        &app,
        &state,
        context,
        &txs,
        &ids,
        InvalidTransactions::Refuse,
    )
    .unwrap();
    let before = allocations();
    let executed = execute_transactions(
        &app,
        &state,
        context,
        &txs,
        &ids,
        InvalidTransactions::Refuse,
    )
    .unwrap();
    let used = allocations() - before;
    assert!(executed.receipts.iter().all(|r| r.is_success()));
    assert_eq!(executed.updates.len(), 2 * count);
    drop(executed);
    used
}

#[test]
fn transfers_allocate_per_block_not_per_transaction() {
    // Both sizes stay below the size at which nonce lookups go parallel,
    // so every allocation is on this thread.
    let small = allocations_for_block(500);
    let large = allocations_for_block(2_000);
    let per_extra_tx = (large.saturating_sub(small)) as f64 / 1_500.0;
    println!("allocations: {small} for 500 transfers, {large} for 2,000 ({per_extra_tx:.4} per extra transaction)");
    assert!(
        small < 64,
        "{small} allocations for a block of 500 transfers"
    );
    assert!(
        per_extra_tx < 0.01,
        "{per_extra_tx} allocations per transaction ({small} for 500, {large} for 2,000)"
    );
}
