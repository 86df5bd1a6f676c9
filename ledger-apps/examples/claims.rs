//! One event, claimed twice: a clinic, two insurers, and a member who
//! tries to be paid by both. Run with
//! `cargo run --release -p ledger-apps --example claims`
//! (`cargo test --examples` runs the same story as a test).
//!
//! The patient holds a policy at each insurer, under a different
//! pseudonymous key at each. The clinic blinds `patient ‖ event`, the tag
//! issuer evaluates it without seeing it, and the clinic puts the finalized
//! tag into its signed attestation. The first claim is approved and paid;
//! the second, for the same event at the other insurer, fails with
//! `DUPLICATE_TAG`, and a state proof shows that no claim carried the tag
//! before the first one. The patient's identifier never reaches the ledger.

use std::collections::BTreeSet;

use ed25519_dalek::SigningKey;
use ledger_apps::claims::tags::{BlindedTag, TagInput, TagIssuer};
use ledger_apps::claims::{claim_tag_key, Claims, Operation, Role, DUPLICATE_TAG};
use ledger_core::machine::Receipt;
use ledger_core::{Hash, Ledger, LedgerConfig, MemStore, PublicKey, Transaction};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const CHAIN: u64 = 16;
const DAY_MS: u64 = 86_400_000;
/// 2026-03-01T00:00Z.
const MARCH_1: u64 = 1_772_323_200_000;

type Error = Box<dyn std::error::Error>;

/// The chain, and everyone's next nonce.
struct Story {
    ledger: Ledger<MemStore, Claims>,
    nonces: std::collections::HashMap<PublicKey, u64>,
    time_ms: u64,
    height: u64,
}

impl Story {
    /// `who` signs `operation`; it is committed in a block of its own. The
    /// transaction's id (the id of what it creates) and its receipt.
    fn step(&mut self, who: &SigningKey, operation: &Operation) -> Result<(Hash, Receipt), Error> {
        let sender = PublicKey::from_signing_key(who);
        let nonce = self.nonces.entry(sender).or_insert(0);
        let tx = Transaction::sign(who, CHAIN, *nonce, operation.encode()?)?;
        *nonce += 1;
        let id = tx.id();
        let block = self.ledger.build_block(vec![tx], self.time_ms)?;
        let outcome = self.ledger.apply_block(self.ledger.verify_block(block)?)?;
        self.height = outcome.header.height;
        let receipt = outcome.receipts.into_iter().next().ok_or("no receipt")?;
        Ok((id, receipt))
    }

    /// A step that must succeed.
    fn ok(&mut self, who: &SigningKey, operation: &Operation) -> Result<Hash, Error> {
        match self.step(who, operation)? {
            (id, Receipt::Success { .. }) => Ok(id),
            (_, Receipt::Failed(failure)) => Err(format!("refused: {failure:?}").into()),
        }
    }
}

fn main() -> Result<(), Error> {
    let key = |n: u8| SigningKey::from_bytes(&[n; 32]);
    let (registrar, mutual_aid, city_health, clinic) = (key(1), key(2), key(3), key(4));
    // One person, one pseudonym per insurer.
    let (member_at_mutual_aid, member_at_city_health) = (key(5), key(6));
    let public = |key: &SigningKey| PublicKey::from_signing_key(key);
    let app = Claims {
        registrar: public(&registrar),
    };
    let mut story = Story {
        ledger: Ledger::open(MemStore::new(), app, LedgerConfig::new(CHAIN))?,
        nonces: Default::default(),
        time_ms: MARCH_1,
        height: 0,
    };
    let mut rng = ChaCha20Rng::seed_from_u64(2026);
    let issuer = TagIssuer::from_seed(&[42; 32])?;

    // The registrar admits the parties and the tag issuer.
    for (role, party, name) in [
        (Role::Insurer, &mutual_aid, "Mutual Aid Fund"),
        (Role::Insurer, &city_health, "City Health"),
        (Role::Clinic, &clinic, "Riverside Clinic"),
    ] {
        let party = public(party);
        let name = name.into();
        story.ok(&registrar, &Operation::AdmitParty { role, party, name })?;
    }
    story.ok(
        &registrar,
        &Operation::AdmitTagIssuer {
            issuer: issuer.public_key(),
            name: "Tag issuer".into(),
        },
    )?;
    println!("admitted two insurers, a clinic and the tag issuer");

    // Each insurer publishes a policy; the member enrols in both.
    let respiratory = 100;
    let policy = |max_payout| Operation::PublishPolicy {
        max_payout,
        waiting_period_ms: 14 * DAY_MS,
        valid_from_ms: MARCH_1,
        valid_until_ms: MARCH_1 + 365 * DAY_MS,
        conditions: BTreeSet::from([respiratory]),
    };
    let policy_a = story.ok(&mutual_aid, &policy(2_000))?;
    let policy_b = story.ok(&city_health, &policy(3_000))?;
    story.ok(
        &member_at_mutual_aid,
        &Operation::Enrol { policy: policy_a },
    )?;
    story.ok(
        &member_at_city_health,
        &Operation::Enrol { policy: policy_b },
    )?;
    println!("policies {policy_a} and {policy_b}; the member is enrolled in both");

    // Six weeks later the patient falls ill. The clinic blinds the patient's
    // identifier and the event; the issuer evaluates the blinded point and
    // proves it used its published key; the clinic checks and unblinds.
    story.time_ms = MARCH_1 + 42 * DAY_MS;
    let event_day = MARCH_1 + 41 * DAY_MS;
    let input = || TagInput::claim_event(b"national id 1985-04-12-7731", b"2026-04-11 J12");
    let (blinded, request) = BlindedTag::new(input()?, &mut rng)?;
    let response = issuer.evaluate(&request, &mut rng)?;
    let tag = blinded.finalize(&response, &issuer.public_key())?;
    println!("the clinic's tag for the event: {tag:?} (the issuer saw only a blinded point)");

    let attest = |member: &SigningKey, tag| Operation::Attest {
        member: public(member),
        condition: respiratory,
        event_date_ms: event_day,
        details: Hash(*blake3::hash(b"chest X-ray, report 2026-0411-17").as_bytes()),
        issuer: issuer.public_key(),
        tag,
    };
    let first = story.ok(&clinic, &attest(&member_at_mutual_aid, tag))?;

    // The tag is not in the registry before the first claim: provably.
    let before = story.height;
    let claim = story.ok(
        &member_at_mutual_aid,
        &Operation::File {
            attestation: first,
            policy: policy_a,
            amount: 1_500,
        },
    )?;
    story.ok(
        &mutual_aid,
        &Operation::Approve {
            claim,
            amount: 1_200,
        },
    )?;
    story.ok(
        &mutual_aid,
        &Operation::Pay {
            claim,
            amount: 1_200,
            reference: Hash(*blake3::hash(b"bank transfer 88-1204").as_bytes()),
        },
    )?;
    println!("claim {claim} at Mutual Aid Fund: filed for 1500, approved and paid 1200");

    // The same patient, the same event, attested again (the clinic blinds
    // again: a fresh blind, the same tag) for the other pseudonym, and
    // claimed at the other insurer.
    let (blinded, request) = BlindedTag::new(input()?, &mut rng)?;
    let again = blinded.finalize(&issuer.evaluate(&request, &mut rng)?, &issuer.public_key())?;
    let second = story.ok(&clinic, &attest(&member_at_city_health, again))?;
    let (refused, receipt) = story.step(
        &member_at_city_health,
        &Operation::File {
            attestation: second,
            policy: policy_b,
            amount: 3_000,
        },
    )?;
    let Receipt::Failed(failure) = &receipt else {
        return Err("the second claim of one event was accepted".into());
    };
    assert_eq!(failure.code(), DUPLICATE_TAG);
    println!(
        "second claim at City Health refused, code {}: {}",
        failure.code(),
        failure.message()
    );
    // The refusal is in the ledger with its proof, like any receipt.
    let record = story.ledger.transaction(&refused)?.ok_or("not recorded")?;
    record.verify(&record.header)?;
    println!(
        "its failed receipt is in block {} and proven",
        record.header.height
    );

    // Anyone can check that no claim had this tag before the first one,
    // and which claim holds it now, against state roots they trust.
    let key = claim_tag_key(&tag);
    let absent = story.ledger.state(&key, Some(before))?;
    absent.verify(&key, &absent.header.state_root)?;
    assert!(absent.value.is_none());
    let present = story.ledger.state(&key, None)?;
    present.verify(&key, &present.header.state_root)?;
    assert_eq!(present.value.as_deref(), Some(claim.as_bytes().as_slice()));
    println!(
        "proofs: the tag was absent at height {before}, and names claim {claim} at height {}",
        present.header.height
    );
    Ok(())
}

#[test]
fn the_story_runs() {
    assert!(main().is_ok());
}
