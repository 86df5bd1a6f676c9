//! Transfers on an embedded ledger, start to finish: open a RocksDB-backed
//! ledger in a temporary directory, mint, transfer, commit blocks, then read
//! a balance and a transaction back with proofs and check them the way a
//! light client would. Run with `cargo run --release --example transfers`.

use ed25519_dalek::SigningKey;
use ledger_apps::transfers::{balance_key, Operation, Transfers};
use ledger_core::application_position;
use ledger_core::verify_state_proof;
use ledger_core::{verify_transaction_inclusion, Ledger, LedgerConfig};
use ledger_core::{PublicKey, Transaction};
use ledger_storage::RocksStore;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const CHAIN: u64 = 1;
    let treasury = SigningKey::from_bytes(&[1; 32]);
    let clinic = SigningKey::from_bytes(&[2; 32]);
    let app = Transfers {
        minter: PublicKey::from_signing_key(&treasury),
    };

    let dir = tempfile::tempdir()?;
    let store = RocksStore::open(dir.path().join("ledger"))?;
    let mut ledger = Ledger::open(store, app, LedgerConfig::new(CHAIN))?;

    // Block 0: the treasury mints 1,000 units to itself.
    let mint = Operation::Mint {
        to: PublicKey::from_signing_key(&treasury),
        amount: 1_000,
    };
    let block = ledger.build_block(
        vec![Transaction::sign(&treasury, CHAIN, 0, mint.encode()?)?],
        1_700_000_000_000,
    )?;
    let verified = ledger.verify_block(block)?;
    ledger.apply_block(verified)?;

    // Block 1: it sends 250 to a clinic.
    let pay = Operation::Transfer {
        to: PublicKey::from_signing_key(&clinic),
        amount: 250,
    };
    let tx = Transaction::sign(&treasury, CHAIN, 1, pay.encode()?)?;
    let block = ledger.build_block(vec![tx.clone()], 1_700_000_060_000)?;
    let verified = ledger.verify_block(block)?;
    let outcome = ledger.apply_block(verified)?;
    println!(
        "committed block {} ({}), receipt: {:?}",
        outcome.header.height, outcome.id, outcome.receipts[0]
    );

    // Anyone can check the clinic's balance against the header's state root.
    let key = balance_key(&PublicKey::from_signing_key(&clinic));
    let record = ledger.state(&key, None)?;
    verify_state_proof(
        &record.header.state_root,
        &application_position(&key),
        record.value.as_deref(),
        &record.proof,
    )?;
    let balance = u64::from_le_bytes(record.value.as_deref().unwrap_or(&[0; 8]).try_into()?);
    println!(
        "clinic balance {balance}, proof of {} bytes verified",
        record.proof.encode().len()
    );

    // And that the transfer is in block 1.
    let found = ledger
        .transaction(&tx.id())?
        .ok_or("transaction not found")?;
    verify_transaction_inclusion(&found.header, &tx.id(), &found.inclusion)?;
    println!(
        "transaction {} is in block {}: inclusion proof verified",
        tx.id(),
        found.header.height
    );
    let report = ledger.audit()?;
    println!(
        "audit: {} blocks, {} transactions re-verified",
        report.blocks, report.transactions
    );
    Ok(())
}
