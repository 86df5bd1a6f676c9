//! Counts the process's heap allocations, for the report's allocations per
//! transaction. One relaxed atomic increment per allocation is the whole
//! cost; the count covers every thread (decoding, verification, execution,
//! the state tree and the commit).
//!
//! The allocations themselves go to mimalloc, the allocator of the
//! project's binaries (`ledger_alloc`; docs/PERFORMANCE.md, "Allocator":
//! the state tree's updates take a fifth less time than with glibc's
//! malloc), tuned by `ledger_alloc::tune` at the start of `main`.

#![allow(
    unsafe_code,
    reason = "a global allocator is an unsafe trait; this one only counts and forwards"
)]

use std::alloc::{GlobalAlloc, Layout};

use ledger_alloc::MiMalloc;
use std::sync::atomic::{AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Allocations (including reallocations) since the process started.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Counts every allocation, then forwards to mimalloc.
pub struct CountingAllocator;

// SAFETY: every method forwards its arguments unchanged to `MiMalloc`, which
// upholds `GlobalAlloc`'s contract; counting is one atomic increment and
// never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc`, passed on unchanged.
        unsafe { MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on unchanged.
        unsafe { MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc`, passed on unchanged.
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on unchanged.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }
}
