//! Hostile bytes into the `claims` payload decoder and its stored-record
//! decoders (party, issuer, policy, enrolment, attestation, claim,
//! programme, appointment), with the round-trip law as the oracle: whatever
//! a decoder accepts must encode again, exactly to the input
//! (`ledger_apps::roundtrip`). Replayed by
//! `ledger-apps/tests/fuzz_payloads_replay.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ledger_apps::roundtrip::check_claims_bytes(data);
});
