//! `claims` driven through the real engine (`Ledger` on `MemStore`), one
//! transaction per block: two insurers, two clinics, one patient enrolled at
//! both under two pseudonyms, who has the same event attested at both
//! clinics and claims it at both insurers. The second claim fails with
//! `DUPLICATE_TAG`; a state proof shows that the tag was absent from the
//! registry at the height before the first claim (checked with
//! `StateRecord::verify` against that height's state root) and present
//! after; and every step the rules refuse is in a block, with a failed
//! receipt carrying its code, provable with `TransactionRecord::verify`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a panic in a test is a failing test"
)]

use std::collections::BTreeSet;

use ed25519_dalek::SigningKey;
use ledger_apps::claims::tags::{BlindedTag, TagInput, TagIssuer};
use ledger_apps::claims::{
    self, allocation_tag_key, appointment_key, claim_key, claim_tag_key, Appointment, Claim,
    ClaimStatus, Claims, IssuerKey, Operation, Role, Tag,
};
use ledger_core::machine::Receipt;
use ledger_core::{Hash, Ledger, LedgerConfig, MemStore, PublicKey, Transaction};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const CHAIN: u64 = 16;
const DAY_MS: u64 = 86_400_000;
/// 2026-03-01T00:00Z.
const T0: u64 = 1_772_323_200_000;

const REGISTRAR: usize = 0;
const INSURER_A: usize = 1;
const INSURER_B: usize = 2;
const CLINIC_1: usize = 3;
const CLINIC_2: usize = 4;
const MEMBER_AT_A: usize = 5;
const MEMBER_AT_B: usize = 6;
const DISTRIBUTOR: usize = 7;
const RESIDENT: usize = 8;
const STRANGER: usize = 9;

struct Chain {
    ledger: Ledger<MemStore, Claims>,
    keys: Vec<SigningKey>,
    nonces: Vec<u64>,
    time_ms: u64,
    /// Height of the last block applied.
    height: u64,
}

impl Chain {
    fn new() -> Chain {
        let keys: Vec<SigningKey> = (1..=10u8)
            .map(|i| SigningKey::from_bytes(&[i; 32]))
            .collect();
        let app = Claims {
            registrar: PublicKey::from_signing_key(&keys[REGISTRAR]),
        };
        Chain {
            ledger: Ledger::open(MemStore::new(), app, LedgerConfig::new(CHAIN)).unwrap(),
            nonces: vec![0; keys.len()],
            keys,
            time_ms: T0,
            height: 0,
        }
    }

    fn key(&self, who: usize) -> PublicKey {
        PublicKey::from_signing_key(&self.keys[who])
    }

    /// Signs `payload` as `who` and commits it alone in the next block, at
    /// the chain's current time: its id and receipt.
    fn submit_bytes(&mut self, who: usize, payload: Vec<u8>) -> (Hash, Receipt) {
        let tx = Transaction::sign(
            &self.keys[who],
            CHAIN,
            self.nonces[who],
            bytes::Bytes::from(payload),
        )
        .unwrap();
        self.nonces[who] += 1;
        let id = tx.id();
        let block = self.ledger.build_block(vec![tx], self.time_ms).unwrap();
        assert_eq!(block.transactions().len(), 1, "the engine kept the step");
        let outcome = self
            .ledger
            .apply_block(self.ledger.verify_block(block).unwrap())
            .unwrap();
        self.height = outcome.header.height;
        (id, outcome.receipts[0].clone())
    }

    fn submit(&mut self, who: usize, operation: &Operation) -> (Hash, Receipt) {
        self.submit_bytes(who, operation.encode().unwrap().to_vec())
    }

    /// Submits a step that must succeed: its id (the id of what it creates).
    fn ok(&mut self, who: usize, operation: &Operation) -> Hash {
        let (id, receipt) = self.submit(who, operation);
        assert!(receipt.is_success(), "{operation:?}: {receipt:?}");
        id
    }

    /// Submits a step that must fail with `code`, and checks its failed
    /// receipt's proof against its block's header.
    fn refused(&mut self, who: usize, operation: &Operation, code: u32) {
        let (id, receipt) = self.submit(who, operation);
        self.assert_failed(id, &receipt, code, &format!("{operation:?}"));
    }

    fn assert_failed(&self, id: Hash, receipt: &Receipt, code: u32, what: &str) {
        match receipt {
            Receipt::Failed(failure) => {
                assert_eq!(failure.code(), code, "{what}: {}", failure.message());
            }
            Receipt::Success { .. } => panic!("{what} succeeded; expected code {code}"),
        }
        let record = self.ledger.transaction(&id).unwrap().expect("recorded");
        assert_eq!(&record.receipt, receipt);
        record.verify(&record.header).unwrap();
    }

    fn claim(&self, id: &Hash) -> Claim {
        let value = self.ledger.state(&claim_key(id), None).unwrap().value;
        Claim::decode(&value.expect("claim stored")).unwrap()
    }
}

fn policy(conditions: &[u32], max_payout: u64) -> Operation {
    Operation::PublishPolicy {
        max_payout,
        waiting_period_ms: 7 * DAY_MS,
        valid_from_ms: T0,
        valid_until_ms: T0 + 365 * DAY_MS,
        conditions: conditions.iter().copied().collect::<BTreeSet<u32>>(),
    }
}

/// The tag of `patient`'s `event` the way a clinic gets it: blinded,
/// evaluated by the issuer, the proof checked, unblinded.
fn clinic_tag(issuer: &TagIssuer, rng: &mut ChaCha20Rng, patient: &[u8], event: &[u8]) -> Tag {
    let input = TagInput::claim_event(patient, event).unwrap();
    let (blinded, request) = BlindedTag::new(input, rng).unwrap();
    let response = issuer.evaluate(&request, rng).unwrap();
    blinded.finalize(&response, &issuer.public_key()).unwrap()
}

fn attest(member: PublicKey, condition: u32, day: u64, issuer: IssuerKey, tag: Tag) -> Operation {
    Operation::Attest {
        member,
        condition,
        event_date_ms: T0 + day * DAY_MS,
        details: Hash([day as u8; 32]),
        issuer,
        tag,
    }
}

#[test]
fn one_event_is_claimed_once_across_insurers_and_every_refusal_is_a_receipt() {
    let mut chain = Chain::new();
    let mut rng = ChaCha20Rng::seed_from_u64(16);
    let issuer = TagIssuer::from_seed(&[7; 32]).unwrap();
    let issuer_key = issuer.public_key();

    // Admissions: registrar only, strict keys only, once per role.
    let admit = |role, party: PublicKey| Operation::AdmitParty {
        role,
        party,
        name: format!("{role:?}"),
    };
    chain.refused(
        STRANGER,
        &admit(Role::Insurer, chain.key(STRANGER)),
        claims::NOT_AUTHORISED,
    );
    let mut small_order = [0u8; 32];
    small_order[0] = 1;
    chain.refused(
        REGISTRAR,
        &admit(Role::Clinic, PublicKey(small_order)),
        claims::INVALID_KEY,
    );
    for (role, who) in [
        (Role::Insurer, INSURER_A),
        (Role::Insurer, INSURER_B),
        (Role::Clinic, CLINIC_1),
        (Role::Clinic, CLINIC_2),
        (Role::Distributor, DISTRIBUTOR),
    ] {
        chain.ok(REGISTRAR, &admit(role, chain.key(who)));
    }
    chain.refused(
        REGISTRAR,
        &admit(Role::Clinic, chain.key(CLINIC_1)),
        claims::WRONG_STATE,
    );
    let admit_issuer = |issuer: IssuerKey| Operation::AdmitTagIssuer {
        issuer,
        name: "tag issuer".into(),
    };
    chain.refused(
        REGISTRAR,
        &admit_issuer(IssuerKey([0; 32])),
        claims::INVALID_KEY,
    );
    chain.ok(REGISTRAR, &admit_issuer(issuer_key));

    // Policies: insurers only, sound terms.
    chain.refused(CLINIC_1, &policy(&[100], 1_000), claims::NOT_AUTHORISED);
    chain.refused(INSURER_A, &policy(&[100], 0), claims::INVALID_TERMS);
    let policy_a = chain.ok(INSURER_A, &policy(&[100, 200], 1_000));
    let policy_b = chain.ok(INSURER_B, &policy(&[100, 300], 5_000));

    // Enrolment, under a different pseudonym at each insurer.
    let enrol = |policy| Operation::Enrol { policy };
    chain.refused(MEMBER_AT_A, &enrol(Hash([9; 32])), claims::UNKNOWN_RECORD);
    chain.ok(MEMBER_AT_A, &enrol(policy_a));
    chain.refused(MEMBER_AT_A, &enrol(policy_a), claims::WRONG_STATE);
    chain.ok(MEMBER_AT_B, &enrol(policy_b));

    // Thirty days on: the patient falls ill on day 29.
    chain.time_ms = T0 + 30 * DAY_MS;
    let patient = b"national id 1985-04-12-7731";
    let tag = clinic_tag(&issuer, &mut rng, patient, b"2026-03-30 condition 100");
    let member_a = chain.key(MEMBER_AT_A);
    let member_b = chain.key(MEMBER_AT_B);
    chain.refused(
        STRANGER,
        &attest(member_a, 100, 29, issuer_key, tag),
        claims::NOT_AUTHORISED,
    );
    let other_issuer = TagIssuer::from_seed(&[8; 32]).unwrap().public_key();
    chain.refused(
        CLINIC_1,
        &attest(member_a, 100, 29, other_issuer, tag),
        claims::UNKNOWN_ISSUER,
    );
    chain.refused(
        CLINIC_1,
        &attest(member_a, 100, 31, issuer_key, tag),
        claims::FUTURE_EVENT,
    );
    let attestation = chain.ok(CLINIC_1, &attest(member_a, 100, 29, issuer_key, tag));

    // Filing: every rule in turn, each a failed receipt.
    let file = |attestation, policy, amount| Operation::File {
        attestation,
        policy,
        amount,
    };
    chain.refused(
        MEMBER_AT_B,
        &file(attestation, policy_a, 100),
        claims::NOT_AUTHORISED,
    );
    chain.refused(
        MEMBER_AT_A,
        &file(Hash([1; 32]), policy_a, 100),
        claims::UNKNOWN_RECORD,
    );
    chain.refused(
        MEMBER_AT_A,
        &file(attestation, Hash([1; 32]), 100),
        claims::UNKNOWN_RECORD,
    );
    chain.refused(
        MEMBER_AT_A,
        &file(attestation, policy_b, 100),
        claims::NOT_ENROLLED,
    );
    chain.refused(
        MEMBER_AT_A,
        &file(attestation, policy_a, 1_001),
        claims::AMOUNT_RULE,
    );
    chain.refused(
        MEMBER_AT_A,
        &file(attestation, policy_a, 0),
        claims::AMOUNT_RULE,
    );
    let other_tag = |event: &[u8]| issuer.tag_of(&TagInput::claim_event(patient, event).unwrap());
    let uncovered = chain.ok(
        CLINIC_1,
        &attest(member_a, 300, 28, issuer_key, other_tag(b"300").unwrap()),
    );
    chain.refused(
        MEMBER_AT_A,
        &file(uncovered, policy_a, 100),
        claims::NOT_COVERED,
    );
    let too_early = chain.ok(
        CLINIC_1,
        &attest(member_a, 100, 3, issuer_key, other_tag(b"day 3").unwrap()),
    );
    chain.refused(
        MEMBER_AT_A,
        &file(too_early, policy_a, 100),
        claims::WAITING_PERIOD,
    );

    // Before the first claim the tag is not in the registry, provably.
    let before = chain.height;
    let claim_a = chain.ok(MEMBER_AT_A, &file(attestation, policy_a, 800));
    let absent = chain
        .ledger
        .state(&claim_tag_key(&tag), Some(before))
        .unwrap();
    assert_eq!(absent.header.height, before);
    assert_eq!(absent.value, None);
    absent
        .verify(&claim_tag_key(&tag), &absent.header.state_root)
        .unwrap();
    // A proof of absence does not pass for a presence, nor at another root.
    let present = chain.ledger.state(&claim_tag_key(&tag), None).unwrap();
    assert_eq!(
        present.value.as_deref(),
        Some(claim_a.as_bytes().as_slice())
    );
    present
        .verify(&claim_tag_key(&tag), &present.header.state_root)
        .unwrap();
    assert!(absent
        .verify(&claim_tag_key(&tag), &present.header.state_root)
        .is_err());

    // The same event, attested at the other clinic for the other
    // pseudonym, claimed at the other insurer: the same tag, refused.
    let same_tag = clinic_tag(&issuer, &mut rng, patient, b"2026-03-30 condition 100");
    assert_eq!(same_tag, tag);
    let second = chain.ok(CLINIC_2, &attest(member_b, 100, 29, issuer_key, same_tag));
    chain.refused(
        MEMBER_AT_B,
        &file(second, policy_b, 800),
        claims::DUPLICATE_TAG,
    );
    // And again at the first insurer (a replay with a new nonce).
    chain.refused(
        MEMBER_AT_A,
        &file(attestation, policy_a, 800),
        claims::DUPLICATE_TAG,
    );
    assert_eq!(
        chain
            .ledger
            .state(&claim_tag_key(&tag), None)
            .unwrap()
            .value
            .as_deref(),
        Some(claim_a.as_bytes().as_slice())
    );

    // Deciding: the policy's insurer only, in order, within the amounts.
    let approve = |claim, amount| Operation::Approve { claim, amount };
    let pay = |claim, amount| Operation::Pay {
        claim,
        amount,
        reference: Hash([0xbb; 32]),
    };
    chain.refused(INSURER_A, &pay(claim_a, 800), claims::WRONG_STATE);
    chain.refused(INSURER_B, &approve(claim_a, 800), claims::NOT_AUTHORISED);
    chain.refused(INSURER_A, &approve(claim_a, 801), claims::AMOUNT_RULE);
    chain.refused(
        INSURER_A,
        &approve(Hash([3; 32]), 1),
        claims::UNKNOWN_RECORD,
    );
    chain.ok(INSURER_A, &approve(claim_a, 700));
    assert_eq!(
        chain.claim(&claim_a).status,
        ClaimStatus::Approved { amount: 700 }
    );
    chain.refused(INSURER_A, &approve(claim_a, 700), claims::WRONG_STATE);
    chain.refused(
        INSURER_A,
        &Operation::Reject {
            claim: claim_a,
            reason: 1,
        },
        claims::WRONG_STATE,
    );
    chain.refused(INSURER_A, &pay(claim_a, 800), claims::AMOUNT_RULE);
    chain.refused(MEMBER_AT_A, &pay(claim_a, 700), claims::NOT_AUTHORISED);
    chain.ok(INSURER_A, &pay(claim_a, 700));
    chain.refused(INSURER_A, &pay(claim_a, 700), claims::WRONG_STATE);
    assert!(matches!(
        chain.claim(&claim_a).status,
        ClaimStatus::Paid { amount: 700, .. }
    ));

    // A rejection is a decision: a successful step, final.
    let tag_b = other_tag(b"2026-03-20 condition 300").unwrap();
    let event_b = chain.ok(CLINIC_2, &attest(member_b, 300, 19, issuer_key, tag_b));
    let claim_b = chain.ok(MEMBER_AT_B, &file(event_b, policy_b, 4_000));
    let reject = Operation::Reject {
        claim: claim_b,
        reason: 42,
    };
    chain.refused(INSURER_A, &reject, claims::NOT_AUTHORISED);
    chain.ok(INSURER_B, &reject);
    assert_eq!(
        chain.claim(&claim_b).status,
        ClaimStatus::Rejected { reason: 42 }
    );
    chain.refused(INSURER_B, &reject, claims::WRONG_STATE);
    chain.refused(INSURER_B, &approve(claim_b, 1), claims::WRONG_STATE);
    chain.refused(INSURER_B, &pay(claim_b, 1), claims::WRONG_STATE);

    // Bad bytes: a payload that is no operation, a tag a byte short.
    let (id, receipt) = chain.submit_bytes(CLINIC_1, vec![0xff, 1, 2]);
    chain.assert_failed(id, &receipt, claims::MALFORMED_PAYLOAD, "junk");
    let mut short_tag = attest(member_a, 100, 29, issuer_key, tag)
        .encode()
        .unwrap()
        .to_vec();
    short_tag.pop();
    let (id, receipt) = chain.submit_bytes(CLINIC_1, short_tag);
    chain.assert_failed(id, &receipt, claims::MALFORMED_PAYLOAD, "63-byte tag");
}

#[test]
fn one_allocation_per_resident_per_period() {
    let mut chain = Chain::new();
    let issuer = TagIssuer::from_seed(&[7; 32]).unwrap();
    let issuer_key = issuer.public_key();
    chain.ok(
        REGISTRAR,
        &Operation::AdmitParty {
            role: Role::Distributor,
            party: chain.key(DISTRIBUTOR),
            name: "pharmacy".into(),
        },
    );
    chain.ok(
        REGISTRAR,
        &Operation::AdmitParty {
            role: Role::Distributor,
            party: chain.key(CLINIC_1),
            name: "clinic".into(),
        },
    );
    chain.ok(
        REGISTRAR,
        &Operation::AdmitTagIssuer {
            issuer: issuer_key,
            name: "tag issuer".into(),
        },
    );
    let open = Operation::OpenProgramme {
        item: "N95 masks".into(),
        units_per_person: 10,
        period_ms: 7 * DAY_MS,
        starts_ms: T0,
        periods: 4,
    };
    chain.refused(STRANGER, &open, claims::NOT_AUTHORISED);
    let programme = chain.ok(DISTRIBUTOR, &open);
    let tag = |period| {
        issuer
            .tag_of(&TagInput::allocation(&programme, b"resident 7731", period).unwrap())
            .unwrap()
    };
    let resident = chain.key(RESIDENT);
    let book = |period, tag| Operation::Book {
        programme,
        period,
        resident,
        issuer: issuer_key,
        tag,
    };
    let appointment = chain.ok(DISTRIBUTOR, &book(0, tag(0)));
    // The same resident at another distributor, same week: refused.
    chain.refused(CLINIC_1, &book(0, tag(0)), claims::DUPLICATE_TAG);
    chain.refused(CLINIC_1, &book(4, tag(4)), claims::OUTSIDE_VALIDITY);
    // Next week's is another tag.
    let next_week = chain.ok(CLINIC_1, &book(1, tag(1)));
    let collect = |appointment| Operation::Collect { appointment };
    chain.refused(STRANGER, &collect(appointment), claims::NOT_AUTHORISED);
    chain.refused(RESIDENT, &collect(Hash([5; 32])), claims::UNKNOWN_RECORD);
    chain.refused(RESIDENT, &collect(next_week), claims::OUTSIDE_VALIDITY);
    chain.ok(RESIDENT, &collect(appointment));
    chain.refused(RESIDENT, &collect(appointment), claims::WRONG_STATE);
    let stored = chain
        .ledger
        .state(&appointment_key(&appointment), None)
        .unwrap()
        .value
        .unwrap();
    assert!(Appointment::decode(&stored).unwrap().collected);
    let entry = chain
        .ledger
        .state(&allocation_tag_key(&tag(0)), None)
        .unwrap();
    assert_eq!(
        entry.value.as_deref(),
        Some(appointment.as_bytes().as_slice())
    );
    entry
        .verify(&allocation_tag_key(&tag(0)), &entry.header.state_root)
        .unwrap();
    // Three weeks on, week 0 has ended: no late booking of it.
    chain.time_ms = T0 + 21 * DAY_MS;
    let late = issuer
        .tag_of(&TagInput::allocation(&programme, b"resident 1", 0).unwrap())
        .unwrap();
    chain.refused(DISTRIBUTOR, &book(0, late), claims::OUTSIDE_VALIDITY);
}
