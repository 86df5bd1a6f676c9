//! Medical supplies from a donor to a hospital, every hand-over signed by
//! both sides, and the custody trail read back with a proof for each step.
//! Run with `cargo run --release --example provenance`.

use ed25519_dalek::SigningKey;
use ledger_apps::provenance::{
    shipment_key, trail_key, CustodyStep, Operation, Provenance, Shipment,
};
use ledger_core::application_position;
use ledger_core::verify_state_proof;
use ledger_core::MemStore;
use ledger_core::{Ledger, LedgerConfig};
use ledger_core::{PublicKey, Transaction};

struct Party {
    key: SigningKey,
    nonce: u64,
}

impl Party {
    fn new(seed: u8) -> Self {
        Party {
            key: SigningKey::from_bytes(&[seed; 32]),
            nonce: 0,
        }
    }
    fn public(&self) -> PublicKey {
        PublicKey::from_signing_key(&self.key)
    }
    fn sign(&mut self, op: &Operation) -> Result<Transaction, Box<dyn std::error::Error>> {
        let payload = op.encode()?;
        self.nonce += 1;
        Ok(Transaction::sign(&self.key, 3, self.nonce - 1, payload)?)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut registrar = Party::new(1);
    let mut hospital = Party::new(2);
    let mut donor = Party::new(3);
    let mut carrier = Party::new(4);
    let mut warehouse = Party::new(5);
    let app = Provenance {
        registrar: registrar.public(),
    };
    let mut ledger = Ledger::open(MemStore::new(), app, LedgerConfig::new(3))?;
    let mut time = 1_772_409_600_000u64;
    let mut commit = |ledger: &mut Ledger<MemStore, Provenance>,
                      txs: Vec<Transaction>|
     -> Result<(), Box<dyn std::error::Error>> {
        time += 60_000;
        let block = ledger.build_block(txs, time)?;
        let outcome = ledger.apply_block(ledger.verify_block(block)?)?;
        for receipt in &outcome.receipts {
            println!("  height {}: {:?}", outcome.header.height, receipt);
        }
        Ok(())
    };

    let register = registrar.sign(&Operation::RegisterOrganisation {
        organisation: hospital.public(),
        name: "St. Mary's".into(),
    })?;
    let need = hospital.sign(&Operation::PublishNeed {
        item: "N95 masks".into(),
        quantity: 2_000,
        destination: "ward 4".into(),
    })?;
    let need_id = need.id();
    commit(&mut ledger, vec![register, need])?;
    let pledge = donor.sign(&Operation::Pledge {
        need: need_id,
        quantity: 500,
    })?;
    let ship = donor.sign(&Operation::Ship {
        need: need_id,
        quantity: 500,
    })?;
    let shipment = ship.id();
    commit(&mut ledger, vec![pledge, ship])?;
    let hand = donor.sign(&Operation::HandOver {
        shipment,
        to: carrier.public(),
        quantity: 500,
    })?;
    commit(&mut ledger, vec![hand])?;
    let accept = carrier.sign(&Operation::Accept {
        shipment,
        quantity: 500,
    })?;
    let hand = carrier.sign(&Operation::HandOver {
        shipment,
        to: warehouse.public(),
        quantity: 500,
    })?;
    commit(&mut ledger, vec![accept, hand])?;
    let accept = warehouse.sign(&Operation::Accept {
        shipment,
        quantity: 498,
    })?; // two boxes damaged
    let hand = warehouse.sign(&Operation::HandOver {
        shipment,
        to: hospital.public(),
        quantity: 498,
    })?;
    commit(&mut ledger, vec![accept, hand])?;
    let accept = hospital.sign(&Operation::Accept {
        shipment,
        quantity: 498,
    })?;
    commit(&mut ledger, vec![accept])?;

    // The custody trail, each step proved against the latest header.
    let record = ledger.state(&shipment_key(&shipment), None)?;
    let shipment_state =
        Shipment::decode(record.value.as_deref().ok_or("no shipment")?).ok_or("bad record")?;
    println!(
        "shipment {shipment}: delivered {}, {} steps",
        shipment_state.delivered, shipment_state.steps
    );
    for index in 0..shipment_state.steps {
        let key = trail_key(&shipment, index);
        let step_record = ledger.state(&key, None)?;
        verify_state_proof(
            &step_record.header.state_root,
            &application_position(&key),
            step_record.value.as_deref(),
            &step_record.proof,
        )?;
        let step = CustodyStep::decode(step_record.value.as_deref().ok_or("missing step")?)
            .ok_or("bad step")?;
        println!(
            "  step {index}: {} of {} units accepted, proof verified",
            step.accepted, step.handed_over
        );
    }
    Ok(())
}
