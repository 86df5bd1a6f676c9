//! The JSON form of a witnessed proof (`Accept: application/json` or
//! `?format=json`), for people and tools that read JSON: every byte string
//! as lower-case hex, and the whole binary encoding beside the fields
//! (`encoded`), which is what a verifier should check
//! ([`WitnessedProof::decode`], then [`ledger_core::verify_witnessed`]).
//!
//! Shape:
//! ```text
//! { "format_version": 1, "kind": "transaction" | "state",
//!   "header": { "version", "chain_id", "height", "parent", "timestamp_ms", "tx_count",
//!               "tx_root", "receipts_root", "state_root", "history_root", "id" },
//!   "history": { "index", "size", "path": [hex, …] },
//!   kind transaction: "transaction": { "id", "chain_id", "sender", "nonce", "payload", "signature" },
//!                     "receipt": { "success": bool, "encoded": hex },
//!                     "inclusion": {…}, "receipt_inclusion": {…}
//!   kind state:       "key": hex, "value": hex | null, "state_proof": hex,
//!   "encoded": hex }
//! ```

use ledger_core::hash::to_hex;
use ledger_core::{
    BlockHeader, InclusionProof, Receipt, WitnessedProof, WitnessedRecord,
    WITNESSED_PROOF_FORMAT_VERSION,
};
use serde_json::{json, Map, Value};

/// A block header's fields (hashes in hex) and its id.
pub fn header(header: &BlockHeader) -> Value {
    json!({
        "version": header.version,
        "chain_id": header.chain_id,
        "height": header.height,
        "parent": header.parent.to_hex(),
        "timestamp_ms": header.timestamp_ms,
        "tx_count": header.tx_count,
        "tx_root": header.tx_root.to_hex(),
        "receipts_root": header.receipts_root.to_hex(),
        "state_root": header.state_root.to_hex(),
        "history_root": header.history_root.to_hex(),
        "id": header.id().to_hex(),
    })
}

/// An inclusion proof: index, tree size, path (hex).
pub fn inclusion(proof: &InclusionProof) -> Value {
    let path: Vec<Value> = proof.path().iter().map(|h| h.to_hex().into()).collect();
    json!({ "index": proof.index(), "size": proof.size(), "path": path })
}

/// A witnessed proof; `encoded` is its binary encoding.
pub fn witnessed_proof(proof: &WitnessedProof, encoded: &[u8]) -> Value {
    let mut out = Map::new();
    out.insert(
        "format_version".into(),
        WITNESSED_PROOF_FORMAT_VERSION.into(),
    );
    out.insert("header".into(), header(proof.record.header()));
    out.insert("history".into(), inclusion(&proof.history));
    record_fields(&proof.record, &mut out);
    out.insert("encoded".into(), to_hex(encoded).into());
    Value::Object(out)
}

/// The record's own fields, for [`witnessed_proof`] and `ledger verify
/// --json`.
pub fn record_fields(record: &WitnessedRecord, out: &mut Map<String, Value>) {
    match record {
        WitnessedRecord::Transaction(record) => {
            let tx = &record.transaction;
            out.insert("kind".into(), "transaction".into());
            out.insert(
                "transaction".into(),
                json!({
                    "id": tx.id().to_hex(),
                    "chain_id": tx.chain_id(),
                    "sender": to_hex(&tx.sender().0),
                    "nonce": tx.nonce(),
                    "payload": to_hex(tx.payload()),
                    "signature": to_hex(&tx.signature().0),
                }),
            );
            out.insert(
                "receipt".into(),
                json!({
                    "success": matches!(record.receipt, Receipt::Success { .. }),
                    "encoded": to_hex(&record.receipt.encode()),
                }),
            );
            out.insert("inclusion".into(), inclusion(&record.inclusion));
            out.insert(
                "receipt_inclusion".into(),
                inclusion(&record.receipt_inclusion),
            );
        }
        WitnessedRecord::State { key, record } => {
            out.insert("kind".into(), "state".into());
            out.insert("key".into(), to_hex(key).into());
            let value = record.value.as_deref().map(to_hex);
            out.insert("value".into(), value.map_or(Value::Null, Value::from));
            out.insert("state_proof".into(), to_hex(&record.proof.encode()).into());
        }
        _ => {
            out.insert("kind".into(), "unknown".into());
        }
    }
}
