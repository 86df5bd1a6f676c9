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

/// The purge delay mimalloc is using, in milliseconds.
pub fn purge_delay_ms() -> c_long {
    // SAFETY: as in `tune`: a valid option index; the call only reads
    // mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

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
