//! `provenance` under random sequences of operations by a registrar,
//! organisations, donors and carriers (many of them wrong: unauthorised,
//! over-quantity, out of order). After every transaction: no shipment holds
//! more than was shipped, no need is pledged or receives more than it asked,
//! every custody step was handed over by its `from` and accepted by its `to`,
//! and accepted quantities never exceed those handed over.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use std::collections::HashMap;

use common::MapState;
use ed25519_dalek::SigningKey;
use ledger_apps::provenance::{
    need_key, shipment_key, trail_key, CustodyStep, Need, Operation, Provenance, Shipment,
};
use ledger_core::machine::Receipt;
use ledger_core::testing::proptest_config;
use ledger_core::BlockContext;
use ledger_core::{Hash, PublicKey, Transaction};
use proptest::prelude::*;

const CHAIN: u64 = 3;

/// Actors: 0 registrar, 1-2 organisations, 3-5 donors, 6-7 carriers.
const ACTORS: u8 = 8;

/// (signer, kind, target, counterpart, quantity, honest): an honest action
/// is signed by the actor the rules expect (the donor with an open pledge, the
/// custodian, the pending receiver); a dishonest one by `signer`.
fn arb_action() -> impl Strategy<Value = (u8, u8, usize, u8, u64, bool)> {
    (
        0..ACTORS,
        0u8..6,
        0usize..8,
        0..ACTORS,
        0u64..300,
        prop::bool::weighted(0.8),
    )
}

struct World {
    keys: Vec<SigningKey>,
    nonces: Vec<u64>,
    state: MapState,
    needs: Vec<Hash>,
    shipments: Vec<Hash>,
    /// Who signed each hand-over / acceptance transaction, by tx id.
    signers: HashMap<Hash, PublicKey>,
    app: Provenance,
    height: u64,
}

impl World {
    fn new() -> Self {
        let keys: Vec<SigningKey> = (1..=ACTORS)
            .map(|i| SigningKey::from_bytes(&[i; 32]))
            .collect();
        let app = Provenance {
            registrar: PublicKey::from_signing_key(&keys[0]),
        };
        World {
            nonces: vec![0; keys.len()],
            keys,
            state: MapState::default(),
            needs: Vec::new(),
            shipments: Vec::new(),
            signers: HashMap::new(),
            app,
            height: 0,
        }
    }

    fn actor_of(&self, key: &PublicKey) -> u8 {
        (0..ACTORS)
            .find(|actor| self.key(*actor) == *key)
            .unwrap_or(0)
    }

    fn key(&self, actor: u8) -> PublicKey {
        PublicKey::from_signing_key(&self.keys[usize::from(actor)])
    }

    fn submit(&mut self, actor: u8, op: &Operation) -> (Hash, bool) {
        let index = usize::from(actor);
        let tx = Transaction::sign(
            &self.keys[index],
            CHAIN,
            self.nonces[index],
            op.encode().unwrap(),
        )
        .unwrap();
        self.nonces[index] += 1;
        let context = BlockContext::new(CHAIN, self.height, self.height);
        self.height += 1;
        let (id, receipt) = self.state.execute_one(&self.app, context, tx);
        self.signers.insert(id, self.key(actor));
        (id, matches!(receipt, Receipt::Success { .. }))
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        for need_id in &self.needs {
            let need = Need::decode(&self.state.get(&need_key(need_id)).unwrap()).unwrap();
            prop_assert!(need.pledged <= need.quantity);
            prop_assert!(need.received <= need.quantity);
        }
        for shipment_id in &self.shipments {
            let shipment =
                Shipment::decode(&self.state.get(&shipment_key(shipment_id)).unwrap()).unwrap();
            prop_assert!(shipment.in_custody <= shipment.shipped);
            if let Some((_, pending)) = shipment.pending {
                prop_assert!(pending <= shipment.in_custody);
            }
            let mut holder_quantity = shipment.shipped;
            for step_index in 0..shipment.steps {
                let step = CustodyStep::decode(
                    &self.state.get(&trail_key(shipment_id, step_index)).unwrap(),
                )
                .unwrap();
                prop_assert!(step.accepted <= step.handed_over);
                prop_assert!(
                    step.handed_over <= holder_quantity,
                    "handed over more than held"
                );
                holder_quantity = step.accepted;
                // The acceptance was signed by the receiver.
                prop_assert_eq!(self.signers.get(&step.accepted_in), Some(&step.to));
            }
            prop_assert_eq!(holder_quantity, shipment.in_custody);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(proptest_config(48, file!()))]

    #[test]
    fn custody_invariants_hold(actions in prop::collection::vec(arb_action(), 1..120)) {
        let mut world = World::new();
        // Register the two organisations and publish one need each, so that
        // the random actions have something to work on.
        for org in 1..=2u8 {
            let organisation = world.key(org);
            world.submit(0, &Operation::RegisterOrganisation { organisation, name: format!("org {org}") });
            let (id, ok) = world.submit(org, &Operation::PublishNeed { item: "masks".into(), quantity: 1_000, destination: "ward".into() });
            prop_assert!(ok);
            world.needs.push(id);
        }
        for (signer, kind, target, counterpart, quantity, honest) in actions {
            let mut signer = signer;
            let op = match kind {
                0 => Operation::PublishNeed { item: "gloves".into(), quantity, destination: "icu".into() },
                1 => {
                    if honest {
                        signer = 3 + (target % 3) as u8;
                    }
                    Operation::Pledge { need: world.needs[target % world.needs.len()], quantity }
                }
                2 => {
                    if honest {
                        signer = 3 + (target % 3) as u8;
                    }
                    Operation::Ship { need: world.needs[target % world.needs.len()], quantity: quantity / 4 + 1 }
                }
                3 | 4 if !world.shipments.is_empty() => {
                    let shipment = world.shipments[target % world.shipments.len()];
                    let record = Shipment::decode(&world.state.get(&shipment_key(&shipment)).unwrap()).unwrap();
                    if kind == 3 {
                        if honest {
                            signer = world.actor_of(&record.custodian);
                        }
                        let quantity = if honest { 1 + quantity % record.in_custody.max(1) } else { quantity };
                        Operation::HandOver { shipment, to: world.key(counterpart), quantity }
                    } else {
                        if let (true, Some((receiver, pending))) = (honest, record.pending) {
                            signer = world.actor_of(&receiver);
                            Operation::Accept { shipment, quantity: quantity % (pending + 1) }
                        } else {
                            Operation::Accept { shipment, quantity }
                        }
                    }
                }
                _ => Operation::RegisterOrganisation { organisation: world.key(counterpart), name: "x".into() },
            };
            let (id, ok) = world.submit(signer, &op);
            if ok {
                match op {
                    Operation::PublishNeed { .. } => world.needs.push(id),
                    Operation::Ship { .. } => world.shipments.push(id),
                    _ => {}
                }
            }
            world.check_invariants()?;
        }
    }
}

#[test]
fn full_custody_trail_donor_to_hospital() {
    let mut world = World::new();
    let hospital = 1u8;
    let (donor, carrier, warehouse) = (3u8, 6u8, 7u8);
    world.submit(
        0,
        &Operation::RegisterOrganisation {
            organisation: world.key(hospital),
            name: "hospital".into(),
        },
    );
    let (need, ok) = world.submit(
        hospital,
        &Operation::PublishNeed {
            item: "N95".into(),
            quantity: 500,
            destination: "ward 4".into(),
        },
    );
    assert!(ok);
    world.needs.push(need);
    assert!(
        world
            .submit(
                donor,
                &Operation::Pledge {
                    need,
                    quantity: 200
                }
            )
            .1
    );
    let (shipment, ok) = world.submit(
        donor,
        &Operation::Ship {
            need,
            quantity: 200,
        },
    );
    assert!(ok);
    world.shipments.push(shipment);
    // A hand-over without acceptance does not move custody.
    assert!(
        world
            .submit(
                donor,
                &Operation::HandOver {
                    shipment,
                    to: world.key(carrier),
                    quantity: 200
                }
            )
            .1
    );
    assert!(
        !world
            .submit(
                warehouse,
                &Operation::Accept {
                    shipment,
                    quantity: 200
                }
            )
            .1,
        "only the named receiver accepts"
    );
    assert!(
        !world
            .submit(
                carrier,
                &Operation::Accept {
                    shipment,
                    quantity: 201
                }
            )
            .1,
        "never more than handed over"
    );
    assert!(
        world
            .submit(
                carrier,
                &Operation::Accept {
                    shipment,
                    quantity: 200
                }
            )
            .1
    );
    assert!(
        world
            .submit(
                carrier,
                &Operation::HandOver {
                    shipment,
                    to: world.key(warehouse),
                    quantity: 200
                }
            )
            .1
    );
    assert!(
        world
            .submit(
                warehouse,
                &Operation::Accept {
                    shipment,
                    quantity: 198
                }
            )
            .1
    );
    assert!(
        !world
            .submit(
                warehouse,
                &Operation::HandOver {
                    shipment,
                    to: world.key(hospital),
                    quantity: 199
                }
            )
            .1
    );
    assert!(
        world
            .submit(
                warehouse,
                &Operation::HandOver {
                    shipment,
                    to: world.key(hospital),
                    quantity: 198
                }
            )
            .1
    );
    assert!(
        world
            .submit(
                hospital,
                &Operation::Accept {
                    shipment,
                    quantity: 198
                }
            )
            .1
    );
    world.check_invariants().unwrap();
    let record = Shipment::decode(&world.state.get(&shipment_key(&shipment)).unwrap()).unwrap();
    assert!(record.delivered);
    assert_eq!(record.steps, 3);
    let need_record = Need::decode(&world.state.get(&need_key(&need)).unwrap()).unwrap();
    assert_eq!(need_record.received, 198);
}
