//! The allocator of the project's binaries: mimalloc ([`MiMalloc`]), tuned
//! by [`tune`] at the start of `main`.
//!
//! The library crates allocate through whatever global allocator their
//! binary links and never depend on this crate. docs/PERFORMANCE.md,
//! "Allocator", has the measurements behind both choices.
//!
//! **Why the tuning.** mimalloc returns freed memory to the OS after
//! `purge_delay` (1 s by default). The engine frees and reallocates hundreds
//! of megabytes in a cycle of a few seconds (the state versions a checkpoint
//! drops, then the next versions), so by default each cycle's memory came
//! back from the kernel as fresh pages, to be zeroed again: a quarter of the
//! CPU of the state-tree benchmark's checkpoint cycle was `clear_page`.
//! [`PURGE_DELAY_MS`] keeps freed memory for 10 s, longer than a checkpoint
//! cycle (the engine checkpoints at least every 2 s by default), so it is
//! reused while the ledger is busy and still goes back to the OS once the
//! process has been quiet that long. Never purging was faster still in the
//! state-tree benchmark, but then a process keeps the resident size of its
//! largest moment for good (measured: 5.0 GiB instead of 1.7 GiB after
//! the million-account benchmark's set-up). An operator sets
//! `MIMALLOC_PURGE_DELAY` (milliseconds; -1 never purges) in the
//! environment to choose otherwise: [`tune`] leaves it in force.

#![allow(
    unsafe_code,
    reason = "setting a mimalloc option is a C call; see the SAFETY comment"
)]

use std::ffi::c_long;

pub use mimalloc::MiMalloc;

/// How long freed memory stays with the process before mimalloc returns it
/// to the OS, in milliseconds (mimalloc's default is 1,000).
pub const PURGE_DELAY_MS: c_long = 10_000;

/// mimalloc's `mi_option_purge_delay`: its index in `mi_option_t` of the
/// mimalloc 3 sources libmimalloc-sys builds (`mimalloc.h`; the sys crate
/// names the options around it but not this one).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

// The index above holds for the option list that ends at 47 (mimalloc 3).
// A libmimalloc-sys with another list fails to build here, so that the
// index is checked again before it can set the wrong option.
const _: () = assert!(libmimalloc_sys::_mi_option_last == 47);

/// Applies the tuning, unless `MIMALLOC_PURGE_DELAY` is set in the
/// environment (mimalloc read it at start-up; the operator's choice wins).
/// Call it first thing in `main` (it is also correct later, from any
/// thread, and more than once).
pub fn tune() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` takes an option index and a value and only
    // stores the value in mimalloc's static option table; the index is a
    // valid option of this mimalloc (checked above against the list's end).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

/// Returns the memory freed so far to the OS now, whatever the delay (unless
/// purging is off, `MIMALLOC_PURGE_DELAY=-1`): for a
/// program that ends a phase with memory it will not need again (the
/// benchmark, after generating its workload).
pub fn release_free_memory() {
    // SAFETY: `mi_collect` takes no pointer; it frees mimalloc's own unused
    // pages and returns free memory to the OS, and is safe to call from any
    // thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// The purge delay mimalloc is using, in milliseconds.
pub fn purge_delay_ms() -> c_long {
    // SAFETY: as in `tune`: a valid option index; the call only reads
    // mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resident bytes of this process (Linux `/proc/self/statm`).
    #[cfg(target_os = "linux")]
    fn resident_bytes() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        let pages: usize = statm
            .split_whitespace()
            .nth(1)
            .and_then(|field| field.parse().ok())
            .unwrap_or(0);
        pages * 4096
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn released_memory_leaves_the_process() {
        use std::alloc::{GlobalAlloc, Layout};
        const BYTES: usize = 256 << 20;
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return; // the environment may have turned purging off
        }
        // The test binary's own allocator is the system's: go to mimalloc
        // directly.
        let layout = Layout::from_size_align(BYTES, 4096).unwrap_or_else(|_| unreachable!());
        // SAFETY: a non-zero size; the block is written within its bounds
        // and freed once with the layout it was allocated with.
        unsafe {
            let block = MiMalloc.alloc(layout);
            assert!(!block.is_null());
            std::ptr::write_bytes(block, 1, BYTES);
            let touched = resident_bytes();
            MiMalloc.dealloc(block, layout);
            release_free_memory();
            let released = resident_bytes();
            assert!(
                released + BYTES / 2 < touched,
                "resident {touched} bytes with the block, {released} after releasing it"
            );
        }
    }

    #[test]
    fn tune_sets_the_purge_delay() {
        // mimalloc 3's default, read through the same index, shows that
        // the index names the purge delay (no other option defaults to
        // 1,000), unless the environment set it.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay_ms(), 1_000);
        }
        tune();
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
        }
    }
}
