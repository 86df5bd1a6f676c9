//! Hostile bytes into the `transfers` payload decoder, with the round-trip
//! law as the oracle: whatever it accepts must encode again, exactly to the
//! input (`ledger_apps::roundtrip`). Replayed by
//! `ledger-apps/tests/fuzz_payloads_replay.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ledger_apps::roundtrip::check_transfers_bytes(data);
});
