//! `claims` under random sequences of enrolments, attestations, claims and
//! decisions (many of them wrong: a stranger or the other insurer signing,
//! amounts over the limits, steps out of order, events outside the policy's
//! validity or inside its waiting period, the same patient's event claimed
//! again), executed by the engine's execution stage and compared with a
//! simple model of the rules: every step succeeds exactly when the model
//! says it may. After every step, from the stored records: no payout above
//! the policy maximum or the approved amount, none before approval, none
//! twice; no claim for an event outside its policy's validity or inside the
//! waiting period after its member's enrolment; no two claims with one tag,
//! and the registry names each claim's tag.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a panic in a test is a failing test"
)]

mod common;

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use common::MapState;
use ed25519_dalek::SigningKey;
use ledger_apps::claims::tags::{TagInput, TagIssuer};
use ledger_apps::claims::{
    claim_key, claim_tag_key, Claim, ClaimStatus, Claims, Operation, Role, Tag,
};
use ledger_core::machine::Receipt;
use ledger_core::testing::proptest_config;
use ledger_core::BlockContext;
use ledger_core::{Hash, PublicKey, Transaction};
use proptest::prelude::*;

const CHAIN: u64 = 17;
const DAY_MS: u64 = 86_400_000;
const START_MS: u64 = 1_000 * DAY_MS;

const REGISTRAR: usize = 0;
const INSURERS: [usize; 2] = [1, 2];
const CLINICS: [usize; 2] = [3, 4];
const MEMBERS: [usize; 3] = [5, 6, 7];
const STRANGER: usize = 8;
const ACTORS: u8 = 9;

#[derive(Clone, Debug)]
struct Terms {
    max_payout: u64,
    waiting_days: u64,
    from_day: u64,
    length_days: u64,
    conditions: BTreeSet<u32>,
}

fn terms() -> impl Strategy<Value = Terms> {
    (
        1u64..1_000,
        0u64..5,
        0u64..5,
        1u64..90,
        prop_oneof![Just(BTreeSet::from([1, 2])), Just(BTreeSet::from([2, 3]))],
    )
        .prop_map(
            |(max_payout, waiting_days, from_day, length_days, conditions)| Terms {
                max_payout,
                waiting_days,
                from_day,
                length_days,
                conditions,
            },
        )
}

impl Terms {
    fn valid_from_ms(&self) -> u64 {
        START_MS + self.from_day * DAY_MS
    }
    fn valid_until_ms(&self) -> u64 {
        self.valid_from_ms() + self.length_days * DAY_MS
    }
}

/// One step: `honest` steps are signed by the party the rules expect.
#[derive(Clone, Debug)]
enum Action {
    Enrol {
        member: usize,
        policy: usize,
    },
    Attest {
        honest: bool,
        member: usize,
        condition: u32,
        days_ago: u64,
        patient: usize,
        event: usize,
    },
    File {
        honest: bool,
        attestation: usize,
        policy: usize,
        amount: u64,
    },
    Approve {
        honest: bool,
        claim: usize,
        amount: u64,
    },
    Reject {
        honest: bool,
        claim: usize,
    },
    Pay {
        honest: bool,
        claim: usize,
        amount: u64,
    },
}

fn honest() -> impl Strategy<Value = bool> {
    prop::bool::weighted(0.85)
}

fn action() -> impl Strategy<Value = (Action, u64)> {
    let action = prop_oneof![
        1 => (0..MEMBERS.len(), 0usize..2).prop_map(|(member, policy)| Action::Enrol { member, policy }),
        2 => (honest(), 0..MEMBERS.len(), 1u32..4, 0u64..12, 0usize..3, 0usize..3).prop_map(
            |(honest, member, condition, days_ago, patient, event)| Action::Attest {
                honest,
                member,
                condition,
                days_ago,
                patient,
                event,
            }
        ),
        3 => (honest(), any::<usize>(), 0usize..2, prop_oneof![0u64..1_200, 1u64..200]).prop_map(
            |(honest, attestation, policy, amount)| Action::File {
                honest,
                attestation,
                policy,
                amount,
            }
        ),
        2 => (honest(), any::<usize>(), prop_oneof![0u64..1_200, Just(1)])
            .prop_map(|(honest, claim, amount)| Action::Approve { honest, claim, amount }),
        1 => (honest(), any::<usize>()).prop_map(|(honest, claim)| Action::Reject { honest, claim }),
        2 => (honest(), any::<usize>(), any::<bool>(), 0u64..1_200)
            .prop_map(|(honest, claim, exact, amount)| Action::Pay {
                honest,
                claim,
                // An exact payment is filled in from the model.
                amount: if exact { u64::MAX } else { amount },
            }),
    ];
    (action, 0u64..DAY_MS)
}

#[derive(Clone, Debug)]
struct ModelAttestation {
    id: Hash,
    member: usize,
    condition: u32,
    event_ms: u64,
    tag: Tag,
}

#[derive(Clone, Debug)]
struct ModelClaim {
    id: Hash,
    policy: usize,
    claimed: u64,
    status: ClaimStatus,
    event_ms: u64,
    member: usize,
    tag: Tag,
    payments: u32,
}

struct World {
    keys: Vec<SigningKey>,
    nonces: Vec<u64>,
    state: MapState,
    app: Claims,
    height: u64,
    now_ms: u64,
    terms: Vec<Terms>,
    policies: Vec<Hash>,
    /// (member index, policy index) → enrolment time.
    enrolled: HashMap<(usize, usize), u64>,
    attestations: Vec<ModelAttestation>,
    claims: Vec<ModelClaim>,
    registry: BTreeSet<Tag>,
    tags: Vec<Vec<Tag>>,
}

impl World {
    fn new(terms: Vec<Terms>, enrolled_at_start: &[bool]) -> World {
        let keys: Vec<SigningKey> = (1..=ACTORS)
            .map(|i| SigningKey::from_bytes(&[i; 32]))
            .collect();
        let app = Claims {
            registrar: PublicKey::from_signing_key(&keys[REGISTRAR]),
        };
        let issuer = TagIssuer::from_seed(&[3; 32]).unwrap();
        let tags = (0..3)
            .map(|patient| {
                (0..3)
                    .map(|event| {
                        let input = TagInput::claim_event(
                            format!("patient {patient}").as_bytes(),
                            format!("event {event}").as_bytes(),
                        )
                        .unwrap();
                        issuer.tag_of(&input).unwrap()
                    })
                    .collect()
            })
            .collect();
        let mut world = World {
            nonces: vec![0; keys.len()],
            keys,
            state: MapState::default(),
            app,
            height: 0,
            now_ms: START_MS,
            terms,
            policies: Vec::new(),
            enrolled: HashMap::new(),
            attestations: Vec::new(),
            claims: Vec::new(),
            registry: BTreeSet::new(),
            tags,
        };
        for (role, who) in [
            (Role::Insurer, INSURERS[0]),
            (Role::Insurer, INSURERS[1]),
            (Role::Clinic, CLINICS[0]),
            (Role::Clinic, CLINICS[1]),
        ] {
            let party = world.key(who);
            let (_, ok) = world.submit(
                REGISTRAR,
                &Operation::AdmitParty {
                    role,
                    party,
                    name: String::new(),
                },
            );
            assert!(ok);
        }
        let (_, ok) = world.submit(
            REGISTRAR,
            &Operation::AdmitTagIssuer {
                issuer: issuer.public_key(),
                name: String::new(),
            },
        );
        assert!(ok);
        for (index, terms) in world.terms.clone().iter().enumerate() {
            let (id, ok) = world.submit(
                INSURERS[index],
                &Operation::PublishPolicy {
                    max_payout: terms.max_payout,
                    waiting_period_ms: terms.waiting_days * DAY_MS,
                    valid_from_ms: terms.valid_from_ms(),
                    valid_until_ms: terms.valid_until_ms(),
                    conditions: terms.conditions.clone(),
                },
            );
            assert!(ok);
            world.policies.push(id);
        }
        for (index, enrol) in enrolled_at_start.iter().enumerate() {
            if *enrol {
                let (member, policy) = (index % MEMBERS.len(), index / MEMBERS.len());
                world.step(&Action::Enrol { member, policy }).unwrap();
            }
        }
        // Past most waiting periods, so that most events may be claimed.
        world.now_ms += 8 * DAY_MS;
        world
    }

    fn key(&self, who: usize) -> PublicKey {
        PublicKey::from_signing_key(&self.keys[who])
    }

    fn submit(&mut self, who: usize, operation: &Operation) -> (Hash, bool) {
        let tx = Transaction::sign(
            &self.keys[who],
            CHAIN,
            self.nonces[who],
            operation.encode().unwrap(),
        )
        .unwrap();
        self.nonces[who] += 1;
        let context = BlockContext::new(CHAIN, self.height, self.now_ms);
        self.height += 1;
        let (id, receipt) = self.state.execute_one(&self.app, context, tx);
        (id, matches!(receipt, Receipt::Success { .. }))
    }

    /// Runs `action`, checks the outcome against the model, and updates it.
    fn step(&mut self, action: &Action) -> Result<(), TestCaseError> {
        match *action {
            Action::Enrol { member, policy } => {
                let expected = self.now_ms < self.terms[policy].valid_until_ms()
                    && !self.enrolled.contains_key(&(member, policy));
                let operation = Operation::Enrol {
                    policy: self.policies[policy],
                };
                let (_, ok) = self.submit(MEMBERS[member], &operation);
                prop_assert_eq!(ok, expected, "{:?}", action);
                if ok {
                    self.enrolled.insert((member, policy), self.now_ms);
                }
            }
            Action::Attest {
                honest,
                member,
                condition,
                days_ago,
                patient,
                event,
            } => {
                let event_ms = self.now_ms.saturating_sub(days_ago * DAY_MS);
                let tag = self.tags[patient][event];
                let operation = Operation::Attest {
                    member: self.key(MEMBERS[member]),
                    condition,
                    event_date_ms: event_ms,
                    details: Hash([7; 32]),
                    issuer: TagIssuer::from_seed(&[3; 32]).unwrap().public_key(),
                    tag,
                };
                let signer = if honest {
                    CLINICS[patient % 2]
                } else {
                    STRANGER
                };
                let (id, ok) = self.submit(signer, &operation);
                prop_assert_eq!(ok, honest, "{:?}", action);
                if ok {
                    self.attestations.push(ModelAttestation {
                        id,
                        member,
                        condition,
                        event_ms,
                        tag,
                    });
                }
            }
            Action::File {
                honest,
                attestation,
                policy,
                amount,
            } => {
                let Some(attested) = self
                    .attestations
                    .get(attestation % self.attestations.len().max(1))
                    .cloned()
                else {
                    return Ok(());
                };
                let signer = if honest {
                    attested.member
                } else {
                    (attested.member + 1) % MEMBERS.len()
                };
                let terms = &self.terms[policy];
                let expected = signer == attested.member
                    && !self.registry.contains(&attested.tag)
                    && self
                        .enrolled
                        .get(&(signer, policy))
                        .is_some_and(|enrolled| {
                            attested.event_ms >= enrolled + terms.waiting_days * DAY_MS
                        })
                    && terms.conditions.contains(&attested.condition)
                    && attested.event_ms >= terms.valid_from_ms()
                    && attested.event_ms < terms.valid_until_ms()
                    && (1..=terms.max_payout).contains(&amount);
                let operation = Operation::File {
                    attestation: attested.id,
                    policy: self.policies[policy],
                    amount,
                };
                let (id, ok) = self.submit(MEMBERS[signer], &operation);
                prop_assert_eq!(ok, expected, "{:?} {:?}", action, attested);
                if ok {
                    self.registry.insert(attested.tag);
                    self.claims.push(ModelClaim {
                        id,
                        policy,
                        claimed: amount,
                        status: ClaimStatus::Filed,
                        event_ms: attested.event_ms,
                        member: signer,
                        tag: attested.tag,
                        payments: 0,
                    });
                }
            }
            Action::Approve {
                honest,
                claim,
                amount,
            } => self.decide(honest, claim, |claim| {
                let ok =
                    claim.status == ClaimStatus::Filed && (1..=claim.claimed).contains(&amount);
                (
                    Operation::Approve {
                        claim: claim.id,
                        amount,
                    },
                    ok.then_some(ClaimStatus::Approved { amount }),
                )
            })?,
            Action::Reject { honest, claim } => self.decide(honest, claim, |claim| {
                (
                    Operation::Reject {
                        claim: claim.id,
                        reason: 9,
                    },
                    (claim.status == ClaimStatus::Filed)
                        .then_some(ClaimStatus::Rejected { reason: 9 }),
                )
            })?,
            Action::Pay {
                honest,
                claim,
                amount,
            } => self.decide(honest, claim, |claim| {
                let approved = match claim.status {
                    ClaimStatus::Approved { amount } => Some(amount),
                    _ => None,
                };
                let amount = if amount == u64::MAX {
                    approved.unwrap_or(claim.claimed)
                } else {
                    amount
                };
                let reference = Hash([1; 32]);
                (
                    Operation::Pay {
                        claim: claim.id,
                        amount,
                        reference,
                    },
                    (approved == Some(amount)).then_some(ClaimStatus::Paid { amount, reference }),
                )
            })?,
        }
        self.check_invariants()
    }

    /// A decision on claim `index`: `rule` gives the operation and the
    /// status it leads to if the claim's insurer signs it and it is allowed.
    fn decide(
        &mut self,
        honest: bool,
        index: usize,
        rule: impl Fn(&ModelClaim) -> (Operation, Option<ClaimStatus>),
    ) -> Result<(), TestCaseError> {
        let Some(index) = (!self.claims.is_empty()).then(|| index % self.claims.len()) else {
            return Ok(());
        };
        let claim = self.claims[index].clone();
        let insurer = INSURERS[claim.policy];
        let signer = if honest {
            insurer
        } else {
            INSURERS[1 - claim.policy]
        };
        let (operation, next) = rule(&claim);
        let expected = signer == insurer && next.is_some();
        let (_, ok) = self.submit(signer, &operation);
        prop_assert_eq!(ok, expected, "{:?} {:?}", operation, claim);
        if ok {
            let claim = &mut self.claims[index];
            claim.status = next.unwrap();
            if matches!(claim.status, ClaimStatus::Paid { .. }) {
                claim.payments += 1;
            }
        }
        Ok(())
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        let mut tags = BTreeSet::new();
        for model in &self.claims {
            let stored = Claim::decode(&self.state.get(&claim_key(&model.id)).unwrap()).unwrap();
            let terms = &self.terms[model.policy];
            prop_assert_eq!(stored.status, model.status);
            prop_assert!(stored.claimed <= terms.max_payout);
            match stored.status {
                ClaimStatus::Approved { amount } => prop_assert!(amount <= stored.claimed),
                ClaimStatus::Paid { amount, .. } => {
                    prop_assert!(amount <= stored.claimed && amount <= terms.max_payout);
                    prop_assert_eq!(model.payments, 1);
                }
                ClaimStatus::Filed | ClaimStatus::Rejected { .. } => {
                    prop_assert_eq!(model.payments, 0)
                }
            }
            prop_assert!(model.event_ms >= terms.valid_from_ms());
            prop_assert!(model.event_ms < terms.valid_until_ms());
            let enrolled = self.enrolled[&(model.member, model.policy)];
            prop_assert!(model.event_ms >= enrolled + terms.waiting_days * DAY_MS);
            prop_assert!(tags.insert(model.tag), "two claims with one tag");
            prop_assert_eq!(
                self.state.get(&claim_tag_key(&model.tag)),
                Some(Bytes::copy_from_slice(model.id.as_bytes()))
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(proptest_config(48, file!()))]

    #[test]
    fn claims_follow_the_rules_of_the_model(
        terms in prop::collection::vec(terms(), 2),
        enrolled_at_start in prop::collection::vec(prop::bool::weighted(0.7), 6),
        actions in prop::collection::vec(action(), 1..80),
    ) {
        let mut world = World::new(terms, &enrolled_at_start);
        for (action, advance_ms) in &actions {
            world.now_ms += advance_ms;
            world.step(action)?;
        }
    }
}
