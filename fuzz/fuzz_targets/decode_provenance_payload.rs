//! Hostile bytes into the `provenance` payload decoder and its stored-record
//! decoders (need, shipment, custody step), with the round-trip law as the
//! oracle: whatever a decoder accepts must encode again, exactly to the
//! input (`ledger_apps::roundtrip`). Replayed by
//! `ledger-apps/tests/fuzz_payloads_replay.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ledger_apps::roundtrip::check_provenance_bytes(data);
});
