//! Keys taken from payloads must be strict. Under the ZIP-215 rule a
//! small-order key "signs" anything, a key plus a torsion point is a second
//! name for its owner, and a non-canonical encoding is a second spelling of
//! another key; so every operation that names a key for the application to
//! store (transfers: transfer, transfer with memo, mint; provenance:
//! register an organisation, hand over) must fail with the application's
//! `INVALID_KEY` code for each of the 8 small-order points, an honest key
//! plus each non-zero torsion point, every encoding with `y ≥ p` or a sign
//! bit on `x = 0`, and an off-curve encoding, and must store nothing; the
//! same operation with an honest key still succeeds. Each transaction runs
//! through the engine's execution stage, so failed writes are discarded as
//! in a real block.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use std::collections::HashMap;

use bytes::Bytes;
use common::MapState;
use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::SigningKey;
use ledger_apps::{provenance, transfers};
use ledger_core::machine::{Receipt, StateMachine};
use ledger_core::BlockContext;
use ledger_core::{Hash, PublicKey, Transaction};

const CHAIN: u64 = 17;

/// The committed state as a map, and one block per submitted transaction.
struct Chain<M> {
    app: M,
    state: MapState,
    nonces: HashMap<PublicKey, u64>,
    height: u64,
}

impl<M: StateMachine> Chain<M> {
    fn new(app: M) -> Self {
        Chain {
            app,
            state: MapState::default(),
            nonces: HashMap::new(),
            height: 0,
        }
    }

    /// Executes one transaction in a block of its own; returns its id and
    /// receipt.
    fn submit(&mut self, signer: &SigningKey, payload: Bytes) -> (Hash, Receipt) {
        let nonce = self
            .nonces
            .entry(PublicKey::from_signing_key(signer))
            .or_insert(0);
        let tx = Transaction::sign(signer, CHAIN, *nonce, payload).unwrap();
        *nonce += 1;
        self.execute(tx)
    }

    /// Executes a transaction from `sender` without a signature: the
    /// execution stage takes signatures as checked, and a small-order key's
    /// signature would pass the ZIP-215 check anyway.
    fn submit_as(&mut self, sender: PublicKey, payload: Bytes) -> (Hash, Receipt) {
        let nonce = self.nonces.entry(sender).or_insert(0);
        let tx = Transaction::from_parts(
            CHAIN,
            sender,
            *nonce,
            payload,
            ledger_core::Signature([0; 64]),
        )
        .unwrap();
        *nonce += 1;
        self.execute(tx)
    }

    fn execute(&mut self, tx: Transaction) -> (Hash, Receipt) {
        let block = BlockContext::new(CHAIN, self.height, self.height);
        self.height += 1;
        self.state.execute_one(&self.app, block, tx)
    }

    fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.state.get(key)
    }
}

fn signer(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn public(seed: u8) -> PublicKey {
    PublicKey::from_signing_key(&signer(seed))
}

/// Every key an application must refuse, each with a description.
fn refused_keys() -> Vec<(String, PublicKey)> {
    let mut keys = Vec::new();
    for (i, point) in EIGHT_TORSION.iter().enumerate() {
        keys.push((
            format!("small-order point {i}"),
            PublicKey(point.compress().0),
        ));
    }
    let honest = CompressedEdwardsY(public(0x99).0).decompress().unwrap();
    for (i, point) in EIGHT_TORSION.iter().enumerate().skip(1) {
        keys.push((
            format!("honest key + torsion point {i}"),
            PublicKey((honest + point).compress().0),
        ));
    }
    // y = p + k for k in 0..19 (2^255 - 19 + k), both signs: the field
    // element is not reduced, so no such encoding is canonical.
    for k in 0..19u8 {
        for sign in [0u8, 0x80] {
            let mut bytes = [0xffu8; 32];
            bytes[0] = 0xed + k;
            bytes[31] = 0x7f | sign;
            keys.push((format!("y = p + {k}, sign {sign:#x}"), PublicKey(bytes)));
        }
    }
    // x = 0 with the sign bit set: y = 1 (the identity) and y = -1.
    let mut identity_negative = [0u8; 32];
    identity_negative[0] = 1;
    identity_negative[31] = 0x80;
    keys.push(("y = 1, sign bit set".into(), PublicKey(identity_negative)));
    let mut minus_one_negative = [0xffu8; 32];
    minus_one_negative[0] = 0xec;
    keys.push(("y = -1, sign bit set".into(), PublicKey(minus_one_negative)));
    // y = 2 is not on the curve.
    let mut two = [0u8; 32];
    two[0] = 2;
    keys.push(("off the curve (y = 2)".into(), PublicKey(two)));
    keys
}

fn assert_invalid_key(receipt: &Receipt, code: u32, what: &str) {
    match receipt {
        Receipt::Failed(failure) => assert_eq!(failure.code(), code, "{what}: {failure:?}"),
        Receipt::Success { .. } => panic!("{what}: accepted"),
    }
}

#[test]
fn the_refused_set_is_what_check_strict_refuses() {
    let keys = refused_keys();
    assert_eq!(keys.len(), 8 + 7 + 38 + 2 + 1);
    for (what, key) in &keys {
        assert!(key.check_strict().is_err(), "{what} passes check_strict");
    }
    assert_eq!(public(0x99).check_strict(), Ok(()));
}

fn funded_transfers() -> (Chain<transfers::Transfers>, SigningKey, SigningKey) {
    let minter = signer(1);
    let sender = signer(2);
    let mut chain = Chain::new(transfers::Transfers {
        minter: PublicKey::from_signing_key(&minter),
    });
    let mint = transfers::Operation::Mint {
        to: PublicKey::from_signing_key(&sender),
        amount: 1_000,
    };
    let (_, receipt) = chain.submit(&minter, mint.encode().unwrap());
    assert!(receipt.is_success(), "{receipt:?}");
    (chain, minter, sender)
}

/// The three transfers operations that credit `to`, signed by whom they
/// need: (name, signer is the minter, operation).
fn crediting_operations(
    to: PublicKey,
    amount: u64,
) -> Vec<(&'static str, bool, transfers::Operation)> {
    vec![
        (
            "transfer",
            false,
            transfers::Operation::Transfer { to, amount },
        ),
        (
            "transfer with memo",
            false,
            transfers::Operation::TransferWithMemo {
                to,
                amount,
                memo: Bytes::from_static(b"invoice 7"),
            },
        ),
        ("mint", true, transfers::Operation::Mint { to, amount }),
    ]
}

#[test]
fn transfers_refuse_non_strict_recipients_and_store_nothing() {
    let (mut chain, minter, sender) = funded_transfers();
    for (what, key) in refused_keys() {
        // Zero moves nothing, and is refused all the same.
        for amount in [10, 0] {
            for (name, by_minter, operation) in crediting_operations(key, amount) {
                let by = if by_minter { &minter } else { &sender };
                let (_, receipt) = chain.submit(by, operation.encode().unwrap());
                let label = format!("{name} of {amount} to {what}");
                assert_invalid_key(&receipt, transfers::INVALID_KEY, &label);
                assert_eq!(chain.get(&transfers::balance_key(&key)), None, "{label}");
            }
        }
    }
    // Nothing moved: the sender still holds everything.
    let balance = chain.get(&transfers::balance_key(&public(2))).unwrap();
    assert_eq!(balance.as_ref(), 1_000u64.to_le_bytes());
}

#[test]
fn transfers_to_honest_keys_still_work() {
    let (mut chain, minter, sender) = funded_transfers();
    let honest = public(0x99);
    for (name, by_minter, operation) in crediting_operations(honest, 10) {
        let by = if by_minter { &minter } else { &sender };
        let (_, receipt) = chain.submit(by, operation.encode().unwrap());
        assert!(receipt.is_success(), "{name}: {receipt:?}");
    }
    let balance = chain.get(&transfers::balance_key(&honest)).unwrap();
    assert_eq!(balance.as_ref(), 30u64.to_le_bytes());
}

/// A provenance chain with a registered hospital, a need, a pledge and a
/// shipment in the donor's custody.
struct Donation {
    chain: Chain<provenance::Provenance>,
    registrar: SigningKey,
    donor: SigningKey,
    shipment: Hash,
}

fn donation() -> Donation {
    let registrar = signer(1);
    let hospital = signer(2);
    let donor = signer(3);
    let mut chain = Chain::new(provenance::Provenance {
        registrar: PublicKey::from_signing_key(&registrar),
    });
    let run = |chain: &mut Chain<_>, by: &SigningKey, operation: provenance::Operation| {
        let (id, receipt) = chain.submit(by, operation.encode().unwrap());
        assert!(receipt.is_success(), "{operation:?}: {receipt:?}");
        id
    };
    let register = provenance::Operation::RegisterOrganisation {
        organisation: PublicKey::from_signing_key(&hospital),
        name: "St. Mary's".into(),
    };
    run(&mut chain, &registrar, register);
    let publish = provenance::Operation::PublishNeed {
        item: "N95 masks".into(),
        quantity: 100,
        destination: "ward 4".into(),
    };
    let need = run(&mut chain, &hospital, publish);
    let pledge = provenance::Operation::Pledge { need, quantity: 50 };
    run(&mut chain, &donor, pledge);
    let ship = provenance::Operation::Ship { need, quantity: 50 };
    let shipment = run(&mut chain, &donor, ship);
    Donation {
        chain,
        registrar,
        donor,
        shipment,
    }
}

fn stored_shipment(donation: &Donation) -> provenance::Shipment {
    let bytes = donation
        .chain
        .get(&provenance::shipment_key(&donation.shipment))
        .unwrap();
    provenance::Shipment::decode(&bytes).unwrap()
}

#[test]
fn provenance_refuses_non_strict_organisations_and_receivers() {
    let mut donation = donation();
    let before = stored_shipment(&donation);
    for (what, key) in refused_keys() {
        let register = provenance::Operation::RegisterOrganisation {
            organisation: key,
            name: "anyone".into(),
        };
        let (_, receipt) = donation
            .chain
            .submit(&donation.registrar, register.encode().unwrap());
        assert_invalid_key(
            &receipt,
            provenance::INVALID_KEY,
            &format!("register {what}"),
        );
        assert_eq!(
            donation.chain.get(&provenance::organisation_key(&key)),
            None,
            "register {what}"
        );
        let hand_over = provenance::Operation::HandOver {
            shipment: donation.shipment,
            to: key,
            quantity: 50,
        };
        let (_, receipt) = donation
            .chain
            .submit(&donation.donor, hand_over.encode().unwrap());
        assert_invalid_key(
            &receipt,
            provenance::INVALID_KEY,
            &format!("hand over to {what}"),
        );
        assert_eq!(stored_shipment(&donation), before, "hand over to {what}");
    }
}

#[test]
fn provenance_with_honest_keys_still_works() {
    let mut donation = donation();
    let carrier = signer(0x99);
    let register = provenance::Operation::RegisterOrganisation {
        organisation: PublicKey::from_signing_key(&carrier),
        name: "Carrier Co".into(),
    };
    let (_, receipt) = donation
        .chain
        .submit(&donation.registrar, register.encode().unwrap());
    assert!(receipt.is_success(), "{receipt:?}");
    let hand_over = provenance::Operation::HandOver {
        shipment: donation.shipment,
        to: PublicKey::from_signing_key(&carrier),
        quantity: 50,
    };
    let (_, receipt) = donation
        .chain
        .submit(&donation.donor, hand_over.encode().unwrap());
    assert!(receipt.is_success(), "{receipt:?}");
    let accept = provenance::Operation::Accept {
        shipment: donation.shipment,
        quantity: 50,
    };
    let (_, receipt) = donation.chain.submit(&carrier, accept.encode().unwrap());
    assert!(receipt.is_success(), "{receipt:?}");
    assert_eq!(
        stored_shipment(&donation).custodian,
        PublicKey::from_signing_key(&carrier)
    );
}

#[test]
fn applications_refuse_non_strict_senders_they_record() {
    // Notary: an anchor's signer must identify someone.
    let mut notary = Chain::new(ledger_apps::notary::Notary);
    let document = Hash([0x42; 32]);
    for (what, key) in refused_keys() {
        let (_, receipt) = notary.submit_as(key, ledger_apps::notary::encode_payload(&document));
        assert_invalid_key(
            &receipt,
            ledger_apps::notary::INVALID_KEY,
            &format!("anchor by {what}"),
        );
        assert_eq!(
            notary.get(&ledger_apps::notary::anchor_key(&document)),
            None,
            "{what}"
        );
    }
    let (_, receipt) = notary.submit(&signer(7), ledger_apps::notary::encode_payload(&document));
    assert!(receipt.is_success(), "{receipt:?}");
    // Provenance: a donor who pledges (and would ship, becoming custodian).
    let mut donation = donation();
    let need = {
        let publish = provenance::Operation::PublishNeed {
            item: "masks".into(),
            quantity: 10,
            destination: "ward 3".into(),
        };
        let (id, receipt) = donation.chain.submit(&signer(2), publish.encode().unwrap());
        assert!(receipt.is_success(), "{receipt:?}");
        id
    };
    for (what, key) in refused_keys() {
        for operation in [
            provenance::Operation::Pledge { need, quantity: 1 },
            provenance::Operation::Ship { need, quantity: 1 },
        ] {
            let (_, receipt) = donation.chain.submit_as(key, operation.encode().unwrap());
            assert_invalid_key(
                &receipt,
                provenance::INVALID_KEY,
                &format!("{operation:?} by {what}"),
            );
            assert_eq!(
                donation.chain.get(&provenance::pledge_key(&need, &key)),
                None,
                "{operation:?} by {what}"
            );
        }
    }
}
