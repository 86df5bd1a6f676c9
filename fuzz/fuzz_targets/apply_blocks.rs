//! Structured fuzzing of the engine: arbitrary bytes drive a chain of
//! `transfers` blocks (bad signatures, replays, overdrafts, tampered roots)
//! through a proposer and a replica on in-memory stores, checking after
//! every block that the replica agrees, refused blocks change nothing and
//! supply is conserved (`ledger_apps::scenario`). Replayed by
//! `ledger-apps/tests/fuzz_apply_blocks_replay.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ledger_apps::scenario::run_transfer_scenario(data);
});
