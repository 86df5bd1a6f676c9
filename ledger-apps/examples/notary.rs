//! Anchor a document's hash forever and look it up with a proof. Run with
//! `cargo run --release --example notary`.

use ed25519_dalek::SigningKey;
use ledger_apps::notary::{anchor_key, encode_payload, Anchor, Notary};
use ledger_core::application_position;
use ledger_core::verify_state_proof;
use ledger_core::MemStore;
use ledger_core::{Hash, Transaction};
use ledger_core::{Ledger, LedgerConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const CHAIN: u64 = 2;
    let registry = SigningKey::from_bytes(&[9; 32]);
    let mut ledger = Ledger::open(MemStore::new(), Notary, LedgerConfig::new(CHAIN))?;

    // The document itself never touches the ledger: only its hash does.
    let document = b"Deed of donation: 4,000 N95 masks to St. Mary's, signed 2026-03-02";
    let digest = Hash(*blake3::hash(document).as_bytes());
    let tx = Transaction::sign(&registry, CHAIN, 0, encode_payload(&digest))?;
    let block = ledger.build_block(vec![tx], 1_772_409_600_000)?;
    let verified = ledger.verify_block(block)?;
    ledger.apply_block(verified)?;

    // Years later, anyone with the document can check when and by whom it
    // was anchored, against a header they trust.
    let key = anchor_key(&digest);
    let record = ledger.state(&key, None)?;
    verify_state_proof(
        &record.header.state_root,
        &application_position(&key),
        record.value.as_deref(),
        &record.proof,
    )?;
    let anchor =
        Anchor::decode(record.value.as_deref().ok_or("not anchored")?).ok_or("bad record")?;
    println!(
        "document {digest} anchored at height {} (time {} ms) by {:?}; proof verified",
        anchor.height, anchor.timestamp_ms, anchor.signer
    );
    // A second anchor of the same document fails (the record is permanent).
    let again = Transaction::sign(&registry, CHAIN, 1, encode_payload(&digest))?;
    let block = ledger.build_block(vec![again], 1_772_409_660_000)?;
    let outcome = ledger.apply_block(ledger.verify_block(block)?)?;
    println!("second anchor: {:?}", outcome.receipts[0]);
    Ok(())
}
