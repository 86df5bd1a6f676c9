//! The round-trip law of the applications' encodings as a checkable oracle,
//! shared by the payload fuzz targets (`fuzz/fuzz_targets/decode_*_payload.rs`)
//! and their corpus replay test (`tests/fuzz_payloads_replay.rs`), so that
//! plain `cargo test` checks exactly what the fuzzer checks (feature
//! `fuzzing`).
//!
//! The law: whatever bytes a decoder accepts, encoding the decoded value
//! succeeds and gives back exactly those bytes. Each check feeds the same
//! bytes to every decoder of one application (its payload and its stored
//! records) and panics if any accepted input breaks the law; a decoder that
//! panics on its own fails the check too.

#![allow(
    clippy::expect_used,
    reason = "a broken law in a fuzz oracle must panic"
)]

use crate::{claims, notary, provenance, transfers};

/// Checks `transfers` payload decoding on `data`.
pub fn check_transfers_bytes(data: &[u8]) {
    if let Some(operation) = transfers::Operation::decode(data) {
        let encoded = operation
            .encode()
            .expect("an accepted transfers payload encodes");
        assert_eq!(encoded, data, "transfers payload did not re-encode exactly");
    }
}

/// Checks the `provenance` payload and stored-record decoders on `data`.
pub fn check_provenance_bytes(data: &[u8]) {
    if let Some(operation) = provenance::Operation::decode(data) {
        let encoded = operation
            .encode()
            .expect("an accepted provenance payload encodes");
        assert_eq!(
            encoded, data,
            "provenance payload did not re-encode exactly"
        );
    }
    if let Some(need) = provenance::Need::decode(data) {
        assert_eq!(need.encode(), data, "need did not re-encode exactly");
    }
    if let Some(shipment) = provenance::Shipment::decode(data) {
        assert_eq!(
            shipment.encode(),
            data,
            "shipment did not re-encode exactly"
        );
    }
    if let Some(step) = provenance::CustodyStep::decode(data) {
        assert_eq!(
            step.encode(),
            data,
            "custody step did not re-encode exactly"
        );
    }
}

/// Checks the `notary` payload and anchor decoders on `data`.
pub fn check_notary_bytes(data: &[u8]) {
    if let Some(document) = notary::decode_payload(data) {
        assert_eq!(
            notary::encode_payload(&document),
            data,
            "notary payload did not re-encode exactly"
        );
    }
    if let Some(anchor) = notary::Anchor::decode(data) {
        assert_eq!(anchor.encode(), data, "anchor did not re-encode exactly");
    }
}

/// Checks the `claims` payload and stored-record decoders on `data`.
pub fn check_claims_bytes(data: &[u8]) {
    if let Some(operation) = claims::Operation::decode(data) {
        let encoded = operation
            .encode()
            .expect("an accepted claims payload encodes");
        assert_eq!(encoded, data, "claims payload did not re-encode exactly");
    }
    check_record(data, claims::Party::decode, |v| v.encode().ok(), "party");
    check_record(data, claims::Issuer::decode, |v| v.encode().ok(), "issuer");
    check_record(data, claims::Policy::decode, |v| v.encode().ok(), "policy");
    check_record(
        data,
        claims::Programme::decode,
        |v| v.encode().ok(),
        "programme",
    );
    check_record(
        data,
        claims::Enrolment::decode,
        |v| Some(v.encode()),
        "enrolment",
    );
    check_record(
        data,
        claims::Attestation::decode,
        |v| Some(v.encode()),
        "attestation",
    );
    check_record(data, claims::Claim::decode, |v| Some(v.encode()), "claim");
    check_record(
        data,
        claims::Appointment::decode,
        |v| Some(v.encode()),
        "appointment",
    );
}

/// Panics unless a record `decode` accepts from `data` encodes back to
/// exactly `data`.
fn check_record<T>(
    data: &[u8],
    decode: fn(&[u8]) -> Option<T>,
    encode: fn(&T) -> Option<bytes::Bytes>,
    what: &str,
) {
    if let Some(value) = decode(data) {
        let encoded = encode(&value).expect("an accepted record encodes");
        assert_eq!(encoded, data, "{what} did not re-encode exactly");
    }
}
