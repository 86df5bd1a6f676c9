//! `claims`: insurance claims without double claims, and one-per-person
//! allocations, with the patient's or resident's identity never on the
//! ledger.
//!
//! The fraud that matters to a mutual-aid or insurance platform is the same
//! event claimed twice, at one insurer or at two; the privacy that matters is
//! that nobody's identity lands on a public ledger. Both are served by one
//! mechanism: a **tag registry** in the state, keyed by *blinded tags*.
//!
//! # Parties
//!
//! * The **registrar** (the application's configuration, [`Claims::registrar`])
//!   admits parties with a [`Role`] — insurers, clinics, distributors
//!   ([`Operation::AdmitParty`]) — and **tag issuers**
//!   ([`Operation::AdmitTagIssuer`]): a tag issuer is known by its VOPRF
//!   public key (a ristretto255 point, [`IssuerKey`]); admitting one retires
//!   the previous one, so exactly one issuer is *current* at any time.
//! * An **insurer** publishes **policies** ([`Operation::PublishPolicy`]): the
//!   conditions covered (a set of codes), the maximum payout per event, a
//!   waiting period and a validity window of event dates.
//! * A **member** enrols in a policy under a pseudonymous key
//!   ([`Operation::Enrol`]); the insurer knows who is behind it, the ledger
//!   does not.
//! * A **clinic** attests a diagnosis ([`Operation::Attest`]): member,
//!   condition, event date, the hash of the medical details (which stay with
//!   the clinic) and the event's tag.
//! * A **distributor** opens allocation programmes and books residents'
//!   allocations; a **resident** confirms collecting them.
//!
//! Every step is a transaction signed by the party taking it: a clinic's
//! attestation is its own transaction, so its signature is the transaction
//! signature, checked with all the others in the engine's batch verification
//! (the application never verifies a signature itself).
//!
//! # Claims: a small state machine
//!
//! The member files a claim for an attested event against a policy
//! ([`Operation::File`]); the policy's insurer approves it with an amount
//! ([`Operation::Approve`]), rejects it with a reason code
//! ([`Operation::Reject`]), and pays an approved claim
//! ([`Operation::Pay`]). The only transitions are
//! `Filed → Approved → Paid` and `Filed → Rejected` ([`ClaimStatus`]). The
//! rules, checked by the application on every step:
//!
//! * only the attestation's member files, only against a policy they are
//!   enrolled in, for a covered condition, for an event dated inside the
//!   policy's validity window and not inside the waiting period after the
//!   enrolment, for an amount of 1 to the policy's maximum;
//! * only the policy's insurer approves, rejects or pays; approval is of 1 to
//!   the claimed amount (so never above the policy maximum); payment is of
//!   exactly the approved amount, only after approval, only once;
//! * a claim's tag is the attestation's, and **no two filed claims share a
//!   tag**, whichever insurer, policy or clinic.
//!
//! A rejection is a successful transaction (the insurer's decision, with its
//! reason code in the claim record and in a `claim rejected` event); a step
//! the rules refuse fails with one of the codes below and a message. Both
//! are receipts, committed to by the block's receipts root, and
//! `Ledger::transaction(id)` returns each with its inclusion proof.
//!
//! # Blinded duplicate detection
//!
//! A tag is the output of a verifiable oblivious PRF (RFC 9497, VOPRF mode,
//! ristretto255-SHA512; module `tags`, feature `tags`) keyed by the current tag issuer, over the
//! patient's identifier and the event (length-prefixed, under a domain
//! label). The clinic, which knows the patient, blinds that input; the
//! issuer evaluates it without learning it and proves (a DLEQ proof) that it
//! used its published key; the clinic checks the proof, unblinds, and puts the
//! 64-byte tag into its signed attestation. The same patient and event give
//! the same tag at any clinic, so the second claim of an event fails with
//! [`DUPLICATE_TAG`] at whatever insurer it is filed. The ledger sees only
//! the tag: without the issuer's key nobody can test a guessed identifier
//! against it, and the issuer never saw the input.
//!
//! The registry key of a claim is [`claim_tag_key`] (the tag); its value is
//! the claim's id. Entries are never removed — a rejected claim keeps its
//! tag, so a rejection is final for that event across insurers — and so a
//! state proof of **absence** of `claim_tag_key(tag)` at height `h`
//! (`Ledger::state(key, Some(h))`, checked by `StateRecord::verify` against
//! that height's state root) proves that no claim with this tag was filed up
//! to `h`, and a proof of presence afterwards names the one that was.
//!
//! The ledger does not re-verify VOPRF proofs: it could check a proof over
//! the blinded and evaluated elements, but nothing ties those to the tag
//! without the blinding factor or the input, so the check would prove
//! nothing. What binds a tag to an event is the registered clinic's
//! signature on its attestation; what binds it to an issuer is the issuer
//! key the attestation names, which must be the current one when the
//! attestation is made and when its claim is filed ([`UNKNOWN_ISSUER`]).
//! A new issuer's key opens a new tag space: an event claimed under the
//! retired key could be claimed once more under the new one, so the
//! registrar rotates only a compromised key. What else this does not catch
//! (anything but an exact match, a clinic blinding another input, a
//! colluding issuer) is in `docs/SECURITY.md`.
//!
//! # Allocations: one per person per period
//!
//! The same registry mechanism gives quotas. A distributor opens a
//! programme ([`Operation::OpenProgramme`]: item, units per person, period
//! length, start, number of periods). A distributor who has checked a
//! resident's identity computes the tag of programme, resident identifier
//! and period the same way, and books the resident's allocation for that
//! period under the resident's pseudonymous key ([`Operation::Book`]: the
//! appointment step); a second booking with the same tag fails with
//! [`DUPLICATE_TAG`], at any distributor. The resident signs the collection
//! ([`Operation::Collect`]), once, within the period. Allocation tags live in
//! their own registry ([`allocation_tag_key`]), and their VOPRF input has its
//! own domain label, so they never meet claim tags.
//!
//! *One state machine, not two.* The allocations need the same registrar,
//! the same admitted parties (a clinic that attests diagnoses also hands out
//! masks), the same tag issuers and the same registry code; apart, a
//! platform doing both would run two ledgers or a wrapper, and each machine
//! would repeat admission, issuer rotation and failure codes. What keeps
//! them apart is state: separate key prefixes and separate registries.
//!
//! # State keys
//!
//! | key | value |
//! |---|---|
//! | `claims:party:` ‖ key (32) | [`Party`] |
//! | `claims:issuer:` ‖ issuer key (32) | [`Issuer`] |
//! | `claims:current-issuer` | the current issuer's key (32) |
//! | `claims:policy:` ‖ id (32) | [`Policy`] |
//! | `claims:enrolment:` ‖ policy (32) ‖ member (32) | [`Enrolment`] |
//! | `claims:attestation:` ‖ id (32) | [`Attestation`] |
//! | `claims:claim:` ‖ id (32) | [`Claim`] |
//! | `claims:claim-tag:` ‖ tag (64) | the claim's id (32): the claims registry |
//! | `claims:programme:` ‖ id (32) | [`Programme`] |
//! | `claims:appointment:` ‖ id (32) | [`Appointment`] |
//! | `claims:allocation-tag:` ‖ tag (64) | the appointment's id (32): the allocations registry |
//!
//! Ids are the ids of the transactions that created the records.
//!
//! # Payloads
//!
//! A tag byte, then the fields in order; integers little-endian; keys, ids
//! and issuer keys 32 bytes; tags exactly [`TAG_BYTES`]; a text is a u8
//! length then UTF-8 (at most [`MAX_TEXT_BYTES`]); a condition set is a u8
//! count (1 to [`MAX_POLICY_CONDITIONS`]) then the codes as u32, strictly
//! ascending.
//!
//! | tag | operation | layout | bytes |
//! |---|---|---|---|
//! | 1 | admit party | role (u8: 1 insurer, 2 clinic, 4 distributor), key (32), name (text) | 35 … 99 |
//! | 2 | admit tag issuer | issuer key (32), name (text) | 34 … 98 |
//! | 3 | publish policy | max payout, waiting period ms, valid from ms, valid until ms (u64 each), conditions | 38 … 290 |
//! | 4 | enrol | policy (32) | 33 |
//! | 5 | attest | member (32), condition (u32), event date ms (u64), details hash (32), issuer key (32), tag (64) | 173 |
//! | 6 | file | attestation (32), policy (32), amount (u64) | 73 |
//! | 7 | approve | claim (32), amount (u64) | 41 |
//! | 8 | reject | claim (32), reason (u32) | 37 |
//! | 9 | pay | claim (32), amount (u64), reference (32) | 73 |
//! | 10 | open programme | units per person, period ms, starts ms (u64 each), periods (u32), item (text) | 30 … 94 |
//! | 11 | book | programme (32), period (u32), resident (32), issuer key (32), tag (64) | 165 |
//! | 12 | collect | appointment (32) | 33 |
//!
//! A tag of any other length than [`TAG_BYTES`] makes the payload's length
//! wrong, so the transaction fails with [`MALFORMED_PAYLOAD`].
//!
//! **Limits.** [`Operation::encode`] and the encoders of the records with a
//! text or a condition set encode a value exactly or refuse it
//! ([`EncodeError::FieldTooLong`], [`EncodeError::EmptyList`],
//! [`EncodeError::TooManyItems`]); none cuts. So `decode(encode(v)) == v`
//! for every value an encoder accepts and `encode(decode(b)) == b` for
//! every byte string a decoder accepts (tested by proptest in
//! `tests/payload_roundtrip.rs`, fuzzed by
//! `fuzz/fuzz_targets/decode_claims_payload.rs`).
//!
//! **Keys.** Every ed25519 key the application records as a party must be
//! strict ([`PublicKey::check_strict`]): the key a payload names (the party
//! admitted, the member an attestation names, the resident a booking
//! names) and the sender it records (the insurer of a policy, the member who
//! enrols, the clinic of an attestation, the distributor of a programme or
//! a booking). An issuer key must be the canonical encoding of a ristretto255
//! point other than the identity ([`IssuerKey::check`]). Otherwise the
//! transaction fails with [`INVALID_KEY`] before anything else is looked
//! at, and stores nothing. Senders that the application only compares with
//! a recorded party (a member filing, an insurer deciding, a resident
//! collecting) are as strict as that party.
//!
//! **Failures**, in the order they are checked: [`MALFORMED_PAYLOAD`], then
//! [`INVALID_KEY`], then each operation's rules in the order of its
//! documentation below ([`NOT_AUTHORISED`], [`UNKNOWN_RECORD`],
//! [`DUPLICATE_TAG`], [`UNKNOWN_ISSUER`], [`NOT_ENROLLED`], [`NOT_COVERED`],
//! [`OUTSIDE_VALIDITY`], [`WAITING_PERIOD`], [`AMOUNT_RULE`],
//! [`WRONG_STATE`], [`INVALID_TERMS`], [`FUTURE_EVENT`]); [`CORRUPT_RECORD`]
//! wherever a stored record is read. The order of a claim's checks is
//! authorisation (the attestation exists and names the sender), then the
//! registry, then the issuer, then the policy's terms: a
//! [`DUPLICATE_TAG`] receipt means the filer's attestation was theirs, and
//! it flags a repeated event before anything else about it.

#![deny(clippy::indexing_slicing)]

mod codec;
mod operation;
mod records;
#[cfg(feature = "tags")]
pub mod tags;

use bytes::Bytes;
use ledger_core::machine::{Failure, StateAccess, StateMachine, StateValue, TxContext};
use ledger_core::{Hash, PublicKey};

pub use operation::Operation;
pub use records::{
    decode_id, Appointment, Attestation, Claim, ClaimStatus, Enrolment, Issuer, Party, Policy,
    Programme, APPOINTMENT_BYTES, ATTESTATION_BYTES, ENROLMENT_BYTES,
};

use crate::EncodeError;

/// Bytes of a tag: the output of the VOPRF's hash, SHA-512 (RFC 9497's
/// `Nh` for ristretto255-SHA512).
pub const TAG_BYTES: usize = 64;

/// Bytes of a tag issuer's key: a compressed ristretto255 point.
pub const ISSUER_KEY_BYTES: usize = 32;

/// Longest party name, issuer name or programme item, in bytes of UTF-8
/// (labels; records and documents belong off the ledger).
pub const MAX_TEXT_BYTES: usize = 64;

/// Most condition codes one policy covers (the policy record stays under
/// 330 bytes; a broader cover is several policies).
pub const MAX_POLICY_CONDITIONS: usize = 64;

/// Failure code: the payload is not a claims operation (an unknown tag or
/// role, a text or condition set out of its limits, a tag of the wrong
/// length, trailing bytes).
pub const MALFORMED_PAYLOAD: u32 = 1;
/// Failure code: the signer may not take this step (not the registrar, not
/// a party with the role, not the member, insurer or resident the record
/// names).
pub const NOT_AUTHORISED: u32 = 2;
/// Failure code: a key to be recorded is not strict (an ed25519 key that is
/// not canonical, not a curve point, or of small or mixed order; an issuer
/// key that is not a canonical ristretto255 point, or is the identity).
pub const INVALID_KEY: u32 = 3;
/// Failure code: the referenced policy, attestation, claim, programme or
/// appointment does not exist.
pub const UNKNOWN_RECORD: u32 = 4;
/// Failure code: the tag issuer named (or the one an attestation names) is
/// not the current one.
pub const UNKNOWN_ISSUER: u32 = 5;
/// Failure code: the tag is already in the registry: the event was claimed,
/// or the resident's allocation for the period booked, before.
pub const DUPLICATE_TAG: u32 = 6;
/// Failure code: the step does not follow from the record's state (a claim
/// approved, rejected or paid twice, paid before approval; an enrolment,
/// an admission or a collection repeated).
pub const WRONG_STATE: u32 = 7;
/// Failure code: an amount is zero, above the policy maximum or the claimed
/// amount, or a payment is not the approved amount.
pub const AMOUNT_RULE: u32 = 8;
/// Failure code: the member is not enrolled in the policy.
pub const NOT_ENROLLED: u32 = 9;
/// Failure code: the policy does not cover the attested condition.
pub const NOT_COVERED: u32 = 10;
/// Failure code: a date is outside its window: an event outside the
/// policy's validity, an enrolment after it ended, a booking for a period
/// that does not exist or has ended, a collection outside its period.
pub const OUTSIDE_VALIDITY: u32 = 11;
/// Failure code: the event falls inside the waiting period after enrolment.
pub const WAITING_PERIOD: u32 = 12;
/// Failure code: a policy's or programme's terms are invalid (no payout, an
/// empty validity window, no units, periods or period length, or periods
/// that end past the last representable time).
pub const INVALID_TERMS: u32 = 13;
/// Failure code: an attestation dated after the block that records it.
pub const FUTURE_EVENT: u32 = 14;
/// Failure code: stored bytes are not a valid record.
pub const CORRUPT_RECORD: u32 = 15;

/// A blinded tag: the 64-byte VOPRF output over an identifier and an event
/// or period. Equal inputs under the same issuer key give equal tags.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(pub [u8; TAG_BYTES]);

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head = self.0.get(..8).unwrap_or_default();
        write!(f, "Tag({}…)", ledger_core::hash::to_hex(head))
    }
}

/// A tag issuer's VOPRF public key: a compressed ristretto255 point, not
/// yet checked.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IssuerKey(pub [u8; ISSUER_KEY_BYTES]);

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuerKey({})", ledger_core::hash::to_hex(&self.0))
    }
}

/// Why [`IssuerKey::check`] refused a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerKeyError {
    /// The bytes are not the canonical encoding of a ristretto255 point.
    #[error("issuer key is not a canonical ristretto255 point")]
    NotAPoint,
    /// The point is the identity: every "evaluation" under it is the
    /// identity, so its tags would not depend on their input.
    #[error("issuer key is the identity")]
    Identity,
}

impl IssuerKey {
    /// Checks that these bytes are a key a VOPRF client accepts: the
    /// canonical encoding of a ristretto255 point other than the identity
    /// (ristretto255 is a prime-order group, so there is no torsion to
    /// refuse). The same check RFC 9497's `DeserializeElement` makes.
    pub fn check(&self) -> Result<(), IssuerKeyError> {
        use curve25519_dalek::ristretto::CompressedRistretto;
        use curve25519_dalek::traits::IsIdentity;
        let point = CompressedRistretto(self.0)
            .decompress()
            .ok_or(IssuerKeyError::NotAPoint)?;
        if point.is_identity() {
            return Err(IssuerKeyError::Identity);
        }
        Ok(())
    }
}

/// What a party may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Publishes policies and decides their claims.
    Insurer,
    /// Attests diagnoses.
    Clinic,
    /// Opens allocation programmes and books residents' allocations.
    Distributor,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Insurer, Role::Clinic, Role::Distributor];

    /// The role's bit: its byte in a payload, its flag in [`Roles`].
    pub fn bit(self) -> u8 {
        match self {
            Role::Insurer => 1,
            Role::Clinic => 2,
            Role::Distributor => 4,
        }
    }

    /// The role of a payload's role byte.
    pub fn from_bit(bit: u8) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.bit() == bit)
    }
}

/// The roles a party holds: a non-empty set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roles(u8);

impl Roles {
    /// The set of one role.
    pub fn of(role: Role) -> Roles {
        Roles(role.bit())
    }

    /// The set from its byte: `None` if empty or with an unknown bit.
    pub fn from_bits(bits: u8) -> Option<Roles> {
        let known = Role::ALL.iter().fold(0, |all, role| all | role.bit());
        (bits != 0 && bits & !known == 0).then_some(Roles(bits))
    }

    /// Its byte.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether it holds `role`.
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// The set with `role` added.
    pub fn with(self, role: Role) -> Roles {
        Roles(self.0 | role.bit())
    }
}

const PARTY_PREFIX: &[u8] = b"claims:party:";
const ISSUER_PREFIX: &[u8] = b"claims:issuer:";
const CURRENT_ISSUER_KEY: &[u8] = b"claims:current-issuer";
const POLICY_PREFIX: &[u8] = b"claims:policy:";
const ENROLMENT_PREFIX: &[u8] = b"claims:enrolment:";
const ATTESTATION_PREFIX: &[u8] = b"claims:attestation:";
const CLAIM_PREFIX: &[u8] = b"claims:claim:";
const CLAIM_TAG_PREFIX: &[u8] = b"claims:claim-tag:";
const PROGRAMME_PREFIX: &[u8] = b"claims:programme:";
const APPOINTMENT_PREFIX: &[u8] = b"claims:appointment:";
const ALLOCATION_TAG_PREFIX: &[u8] = b"claims:allocation-tag:";

// The longest key stays within the engine's key limit.
const _: () =
    assert!(ALLOCATION_TAG_PREFIX.len() + TAG_BYTES <= ledger_core::machine::MAX_STATE_KEY_BYTES);

/// State key of an admitted party.
pub fn party_key(party: &PublicKey) -> Vec<u8> {
    [PARTY_PREFIX, &party.0].concat()
}
/// State key of an admitted tag issuer.
pub fn issuer_key(issuer: &IssuerKey) -> Vec<u8> {
    [ISSUER_PREFIX, &issuer.0].concat()
}
/// State key of the current tag issuer's key.
pub fn current_issuer_key() -> Vec<u8> {
    CURRENT_ISSUER_KEY.to_vec()
}
/// State key of a policy.
pub fn policy_key(policy: &Hash) -> Vec<u8> {
    [POLICY_PREFIX, policy.as_bytes()].concat()
}
/// State key of a member's enrolment in a policy.
pub fn enrolment_key(policy: &Hash, member: &PublicKey) -> Vec<u8> {
    [ENROLMENT_PREFIX, policy.as_bytes(), &member.0].concat()
}
/// State key of an attestation.
pub fn attestation_key(attestation: &Hash) -> Vec<u8> {
    [ATTESTATION_PREFIX, attestation.as_bytes()].concat()
}
/// State key of a claim.
pub fn claim_key(claim: &Hash) -> Vec<u8> {
    [CLAIM_PREFIX, claim.as_bytes()].concat()
}
/// State key of a tag in the claims registry: present (holding the claim's
/// id) once a claim with this tag was filed, absent before, forever.
pub fn claim_tag_key(tag: &Tag) -> Vec<u8> {
    [CLAIM_TAG_PREFIX, &tag.0].concat()
}
/// State key of a programme.
pub fn programme_key(programme: &Hash) -> Vec<u8> {
    [PROGRAMME_PREFIX, programme.as_bytes()].concat()
}
/// State key of an appointment.
pub fn appointment_key(appointment: &Hash) -> Vec<u8> {
    [APPOINTMENT_PREFIX, appointment.as_bytes()].concat()
}
/// State key of a tag in the allocations registry: present (holding the
/// appointment's id) once the allocation was booked.
pub fn allocation_tag_key(tag: &Tag) -> Vec<u8> {
    [ALLOCATION_TAG_PREFIX, &tag.0].concat()
}

fn failure(code: u32, message: impl Into<String>) -> Failure {
    Failure::new(code, message)
}

fn corrupt(what: &str) -> Failure {
    failure(CORRUPT_RECORD, format!("stored {what} is not valid"))
}

/// A record built from a payload that decoded within its limits encodes;
/// should it not, the payload was not what its decoder accepted.
fn encoded(record: Result<Bytes, EncodeError>) -> Result<Bytes, Failure> {
    record.map_err(|error| failure(MALFORMED_PAYLOAD, error.to_string()))
}

/// Reads and decodes the record under `key`; `None` if absent.
fn read<T>(
    state: &mut dyn StateAccess,
    key: &[u8],
    what: &str,
    decode: fn(&[u8]) -> Option<T>,
) -> Result<Option<T>, Failure> {
    match state.get(key)? {
        None => Ok(None),
        Some(bytes) => decode(&bytes).map(Some).ok_or_else(|| corrupt(what)),
    }
}

/// Reads a record that must exist ([`UNKNOWN_RECORD`] otherwise).
fn read_existing<T>(
    state: &mut dyn StateAccess,
    key: &[u8],
    what: &str,
    decode: fn(&[u8]) -> Option<T>,
) -> Result<T, Failure> {
    read(state, key, what, decode)?
        .ok_or_else(|| failure(UNKNOWN_RECORD, format!("no such {what}")))
}

fn require_role(state: &mut dyn StateAccess, who: &PublicKey, role: Role) -> Result<(), Failure> {
    let roles = read(state, &party_key(who), "party", Party::decode)?.map(|party| party.roles);
    if roles.is_some_and(|roles| roles.contains(role)) {
        Ok(())
    } else {
        Err(failure(
            NOT_AUTHORISED,
            format!("the signer is not an admitted {role:?}").to_lowercase(),
        ))
    }
}

/// Refuses `issuer` unless it is the current tag issuer.
fn require_current_issuer(state: &mut dyn StateAccess, issuer: &IssuerKey) -> Result<(), Failure> {
    let current = read(state, CURRENT_ISSUER_KEY, "current issuer", decode_id)?;
    if current.is_some_and(|current| current.0 == issuer.0) {
        Ok(())
    } else {
        Err(failure(UNKNOWN_ISSUER, "not the current tag issuer"))
    }
}

/// Refuses a tag already in the registry under `key`.
fn require_new_tag(state: &mut dyn StateAccess, key: &[u8], what: &str) -> Result<(), Failure> {
    match read(state, key, "registry entry", decode_id)? {
        None => Ok(()),
        Some(earlier) => Err(failure(
            DUPLICATE_TAG,
            format!("tag already registered by {what} {earlier}"),
        )),
    }
}

/// The claims application (and allocations: module documentation).
#[derive(Clone, Debug)]
pub struct Claims {
    /// The only key that admits parties and tag issuers.
    pub registrar: PublicKey,
}

impl StateMachine for Claims {
    fn execute(&self, context: &TxContext<'_>, state: &mut dyn StateAccess) -> Result<(), Failure> {
        let sender = *context.tx.sender();
        let operation = Operation::decode(context.tx.payload())
            .ok_or_else(|| failure(MALFORMED_PAYLOAD, "not a claims payload"))?;
        check_keys(&operation, &sender)?;
        let step = Step {
            sender,
            context,
            registrar: &self.registrar,
        };
        match operation {
            Operation::AdmitParty { role, party, name } => {
                step.admit_party(state, role, party, name)
            }
            Operation::AdmitTagIssuer { issuer, name } => step.admit_issuer(state, issuer, name),
            Operation::PublishPolicy {
                max_payout,
                waiting_period_ms,
                valid_from_ms,
                valid_until_ms,
                conditions,
            } => step.publish_policy(
                state,
                Policy {
                    insurer: sender,
                    max_payout,
                    waiting_period_ms,
                    valid_from_ms,
                    valid_until_ms,
                    conditions,
                },
            ),
            Operation::Enrol { policy } => step.enrol(state, policy),
            Operation::Attest {
                member,
                condition,
                event_date_ms,
                details,
                issuer,
                tag,
            } => step.attest(
                state,
                Attestation {
                    clinic: sender,
                    member,
                    condition,
                    event_date_ms,
                    details,
                    issuer,
                    tag,
                },
            ),
            Operation::File {
                attestation,
                policy,
                amount,
            } => step.file(state, attestation, policy, amount),
            Operation::Approve { claim, amount } => step.approve(state, claim, amount),
            Operation::Reject { claim, reason } => step.reject(state, claim, reason),
            Operation::Pay {
                claim,
                amount,
                reference,
            } => step.pay(state, claim, amount, reference),
            Operation::OpenProgramme {
                item,
                units_per_person,
                period_ms,
                starts_ms,
                periods,
            } => step.open_programme(
                state,
                Programme {
                    organiser: sender,
                    item,
                    units_per_person,
                    period_ms,
                    starts_ms,
                    periods,
                    booked: 0,
                    collected: 0,
                },
            ),
            Operation::Book {
                programme,
                period,
                resident,
                issuer,
                tag,
            } => step.book(state, programme, period, resident, issuer, tag),
            Operation::Collect { appointment } => step.collect(state, appointment),
        }
    }
}

/// The key rule (module documentation): every key to be recorded is
/// strict, checked before anything else.
fn check_keys(operation: &Operation, sender: &PublicKey) -> Result<(), Failure> {
    if let Some(key) = operation.named_key() {
        key.check_strict()
            .map_err(|error| failure(INVALID_KEY, format!("key refused: {error}")))?;
    }
    if let Operation::AdmitTagIssuer { issuer, .. } = operation {
        issuer
            .check()
            .map_err(|error| failure(INVALID_KEY, format!("key refused: {error}")))?;
    }
    if operation.records_sender() {
        sender.check_strict().map_err(|error| {
            failure(INVALID_KEY, format!("the signer's key is refused: {error}"))
        })?;
    }
    Ok(())
}

/// One transaction's execution: who signed, and when.
struct Step<'a> {
    sender: PublicKey,
    context: &'a TxContext<'a>,
    registrar: &'a PublicKey,
}

impl Step<'_> {
    fn id(&self) -> Hash {
        self.context.tx_id
    }

    fn now_ms(&self) -> u64 {
        self.context.timestamp_ms
    }

    fn require_registrar(&self) -> Result<(), Failure> {
        if self.sender == *self.registrar {
            Ok(())
        } else {
            Err(failure(NOT_AUTHORISED, "only the registrar admits"))
        }
    }

    /// Registrar only; a role the party already holds is [`WRONG_STATE`].
    fn admit_party(
        &self,
        state: &mut dyn StateAccess,
        role: Role,
        party: PublicKey,
        name: String,
    ) -> Result<(), Failure> {
        self.require_registrar()?;
        let key = party_key(&party);
        let record = match read(state, &key, "party", Party::decode)? {
            Some(existing) if existing.roles.contains(role) => {
                return Err(failure(WRONG_STATE, "the party already holds this role"));
            }
            Some(existing) => Party {
                roles: existing.roles.with(role),
                admitted_height: existing.admitted_height,
                name,
            },
            None => Party {
                roles: Roles::of(role),
                admitted_height: self.context.height,
                name,
            },
        };
        state.put(&key, encoded(record.encode())?.into())?;
        state.emit(b"party admitted", &[&party.0[..], &[role.bit()]].concat())?;
        Ok(())
    }

    /// Registrar only; an issuer admitted before (current or retired) is
    /// [`WRONG_STATE`]. The current issuer, if any, retires.
    fn admit_issuer(
        &self,
        state: &mut dyn StateAccess,
        issuer: IssuerKey,
        name: String,
    ) -> Result<(), Failure> {
        self.require_registrar()?;
        let key = issuer_key(&issuer);
        if state.get(&key)?.is_some() {
            return Err(failure(WRONG_STATE, "tag issuer admitted before"));
        }
        if let Some(previous) = read(state, CURRENT_ISSUER_KEY, "current issuer", decode_id)? {
            let previous_key = issuer_key(&IssuerKey(previous.0));
            let mut record = read(state, &previous_key, "issuer", Issuer::decode)?
                .ok_or_else(|| corrupt("current issuer's record"))?;
            record.retired_height = Some(self.context.height);
            state.put(&previous_key, encoded(record.encode())?.into())?;
        }
        let record = Issuer {
            admitted_height: self.context.height,
            retired_height: None,
            name,
        };
        state.put(&key, encoded(record.encode())?.into())?;
        state.put(CURRENT_ISSUER_KEY, StateValue::from_slice(&issuer.0))?;
        state.emit(b"tag issuer admitted", &issuer.0)?;
        Ok(())
    }

    /// An insurer only ([`NOT_AUTHORISED`]); a payout of at least 1 and a
    /// non-empty validity window ([`INVALID_TERMS`]).
    fn publish_policy(&self, state: &mut dyn StateAccess, policy: Policy) -> Result<(), Failure> {
        require_role(state, &self.sender, Role::Insurer)?;
        if policy.max_payout == 0 {
            return Err(failure(INVALID_TERMS, "a policy pays at least 1"));
        }
        if policy.valid_from_ms >= policy.valid_until_ms {
            return Err(failure(INVALID_TERMS, "the validity window is empty"));
        }
        state.put(&policy_key(&self.id()), encoded(policy.encode())?.into())?;
        state.emit(b"policy", self.id().as_bytes())?;
        Ok(())
    }

    /// The policy exists ([`UNKNOWN_RECORD`]), has not ended
    /// ([`OUTSIDE_VALIDITY`]), and the sender is not enrolled yet
    /// ([`WRONG_STATE`]).
    fn enrol(&self, state: &mut dyn StateAccess, policy_id: Hash) -> Result<(), Failure> {
        let policy = read_existing(state, &policy_key(&policy_id), "policy", Policy::decode)?;
        if self.now_ms() >= policy.valid_until_ms {
            return Err(failure(OUTSIDE_VALIDITY, "the policy has ended"));
        }
        let key = enrolment_key(&policy_id, &self.sender);
        if state.get(&key)?.is_some() {
            return Err(failure(WRONG_STATE, "already enrolled"));
        }
        let enrolment = Enrolment {
            enrolled_at_ms: self.now_ms(),
        };
        state.put(&key, enrolment.encode().into())?;
        Ok(())
    }

    /// A clinic only ([`NOT_AUTHORISED`]); the current issuer
    /// ([`UNKNOWN_ISSUER`]); an event no later than the block
    /// ([`FUTURE_EVENT`]).
    fn attest(&self, state: &mut dyn StateAccess, attestation: Attestation) -> Result<(), Failure> {
        require_role(state, &self.sender, Role::Clinic)?;
        require_current_issuer(state, &attestation.issuer)?;
        if attestation.event_date_ms > self.now_ms() {
            return Err(failure(
                FUTURE_EVENT,
                "the event is dated after its attestation",
            ));
        }
        state.put(&attestation_key(&self.id()), attestation.encode().into())?;
        state.emit(b"attestation", self.id().as_bytes())?;
        Ok(())
    }

    /// In order: the attestation exists ([`UNKNOWN_RECORD`]) and names the
    /// sender ([`NOT_AUTHORISED`]); its tag is new ([`DUPLICATE_TAG`]); its
    /// issuer is still current ([`UNKNOWN_ISSUER`]); the policy exists
    /// ([`UNKNOWN_RECORD`]); the sender is enrolled ([`NOT_ENROLLED`]); the
    /// condition is covered ([`NOT_COVERED`]); the event is inside the
    /// validity window ([`OUTSIDE_VALIDITY`]) and not inside the waiting
    /// period ([`WAITING_PERIOD`]); the amount is 1 to the policy maximum
    /// ([`AMOUNT_RULE`]).
    fn file(
        &self,
        state: &mut dyn StateAccess,
        attestation_id: Hash,
        policy_id: Hash,
        amount: u64,
    ) -> Result<(), Failure> {
        let attestation = read_existing(
            state,
            &attestation_key(&attestation_id),
            "attestation",
            Attestation::decode,
        )?;
        if attestation.member != self.sender {
            return Err(failure(NOT_AUTHORISED, "only the attested member files"));
        }
        let registry_key = claim_tag_key(&attestation.tag);
        require_new_tag(state, &registry_key, "claim")?;
        require_current_issuer(state, &attestation.issuer)?;
        let policy = read_existing(state, &policy_key(&policy_id), "policy", Policy::decode)?;
        let enrolment = read(
            state,
            &enrolment_key(&policy_id, &self.sender),
            "enrolment",
            Enrolment::decode,
        )?
        .ok_or_else(|| failure(NOT_ENROLLED, "not enrolled in this policy"))?;
        if !policy.conditions.contains(&attestation.condition) {
            return Err(failure(NOT_COVERED, "the condition is not covered"));
        }
        let event = attestation.event_date_ms;
        if event < policy.valid_from_ms || event >= policy.valid_until_ms {
            return Err(failure(
                OUTSIDE_VALIDITY,
                "the event is outside the policy's validity",
            ));
        }
        let covered_from = enrolment
            .enrolled_at_ms
            .saturating_add(policy.waiting_period_ms);
        if event < covered_from {
            return Err(failure(
                WAITING_PERIOD,
                "the event is inside the waiting period",
            ));
        }
        if amount == 0 || amount > policy.max_payout {
            return Err(failure(
                AMOUNT_RULE,
                format!("a claim is of 1 to {}", policy.max_payout),
            ));
        }
        let claim = Claim {
            policy: policy_id,
            attestation: attestation_id,
            insurer: policy.insurer,
            claimed: amount,
            status: ClaimStatus::Filed,
        };
        state.put(&claim_key(&self.id()), claim.encode().into())?;
        state.put(&registry_key, StateValue::from_slice(self.id().as_bytes()))?;
        state.emit(b"claim filed", self.id().as_bytes())?;
        Ok(())
    }

    /// The claim exists ([`UNKNOWN_RECORD`]) and the sender is its insurer
    /// ([`NOT_AUTHORISED`]).
    fn decided_claim(
        &self,
        state: &mut dyn StateAccess,
        claim_id: &Hash,
    ) -> Result<Claim, Failure> {
        let claim = read_existing(state, &claim_key(claim_id), "claim", Claim::decode)?;
        if claim.insurer != self.sender {
            return Err(failure(NOT_AUTHORISED, "only the policy's insurer decides"));
        }
        Ok(claim)
    }

    /// Its insurer only; a filed claim ([`WRONG_STATE`]); 1 to the claimed
    /// amount, itself at most the policy maximum ([`AMOUNT_RULE`]).
    fn approve(
        &self,
        state: &mut dyn StateAccess,
        claim_id: Hash,
        amount: u64,
    ) -> Result<(), Failure> {
        let mut claim = self.decided_claim(state, &claim_id)?;
        if claim.status != ClaimStatus::Filed {
            return Err(failure(WRONG_STATE, "only a filed claim is approved"));
        }
        if amount == 0 || amount > claim.claimed {
            return Err(failure(
                AMOUNT_RULE,
                format!("approval is of 1 to the {} claimed", claim.claimed),
            ));
        }
        claim.status = ClaimStatus::Approved { amount };
        state.put(&claim_key(&claim_id), claim.encode().into())?;
        state.emit(
            b"claim approved",
            &[claim_id.as_bytes(), &amount.to_le_bytes()[..]].concat(),
        )?;
        Ok(())
    }

    /// Its insurer only; a filed claim ([`WRONG_STATE`]).
    fn reject(
        &self,
        state: &mut dyn StateAccess,
        claim_id: Hash,
        reason: u32,
    ) -> Result<(), Failure> {
        let mut claim = self.decided_claim(state, &claim_id)?;
        if claim.status != ClaimStatus::Filed {
            return Err(failure(WRONG_STATE, "only a filed claim is rejected"));
        }
        claim.status = ClaimStatus::Rejected { reason };
        state.put(&claim_key(&claim_id), claim.encode().into())?;
        state.emit(
            b"claim rejected",
            &[claim_id.as_bytes(), &reason.to_le_bytes()[..]].concat(),
        )?;
        Ok(())
    }

    /// Its insurer only; an approved claim ([`WRONG_STATE`]: not before
    /// approval, not twice); exactly the approved amount ([`AMOUNT_RULE`]).
    fn pay(
        &self,
        state: &mut dyn StateAccess,
        claim_id: Hash,
        amount: u64,
        reference: Hash,
    ) -> Result<(), Failure> {
        let mut claim = self.decided_claim(state, &claim_id)?;
        let approved = match claim.status {
            ClaimStatus::Approved { amount } => amount,
            ClaimStatus::Filed => return Err(failure(WRONG_STATE, "the claim is not approved")),
            ClaimStatus::Paid { .. } => return Err(failure(WRONG_STATE, "the claim is paid")),
            ClaimStatus::Rejected { .. } => {
                return Err(failure(WRONG_STATE, "the claim was rejected"))
            }
        };
        if amount != approved {
            return Err(failure(
                AMOUNT_RULE,
                format!("the payment must be the {approved} approved"),
            ));
        }
        claim.status = ClaimStatus::Paid { amount, reference };
        state.put(&claim_key(&claim_id), claim.encode().into())?;
        state.emit(
            b"claim paid",
            &[
                claim_id.as_bytes(),
                &amount.to_le_bytes()[..],
                reference.as_bytes(),
            ]
            .concat(),
        )?;
        Ok(())
    }

    /// A distributor only ([`NOT_AUTHORISED`]); at least one unit, a period
    /// of at least 1 ms, at least one period, and periods that end within
    /// `u64` milliseconds ([`INVALID_TERMS`]).
    fn open_programme(
        &self,
        state: &mut dyn StateAccess,
        programme: Programme,
    ) -> Result<(), Failure> {
        require_role(state, &self.sender, Role::Distributor)?;
        if programme.units_per_person == 0 || programme.period_ms == 0 || programme.periods == 0 {
            return Err(failure(
                INVALID_TERMS,
                "a programme has units, a period length and periods",
            ));
        }
        let ends = programme
            .period_ms
            .checked_mul(u64::from(programme.periods))
            .and_then(|length| length.checked_add(programme.starts_ms));
        if ends.is_none() {
            return Err(failure(
                INVALID_TERMS,
                "the programme ends past the last time",
            ));
        }
        state.put(
            &programme_key(&self.id()),
            encoded(programme.encode())?.into(),
        )?;
        state.emit(b"programme", self.id().as_bytes())?;
        Ok(())
    }

    /// In order: a distributor ([`NOT_AUTHORISED`]); the programme exists
    /// ([`UNKNOWN_RECORD`]); the tag is new ([`DUPLICATE_TAG`]); the issuer
    /// is current ([`UNKNOWN_ISSUER`]); the period exists and has not ended
    /// ([`OUTSIDE_VALIDITY`]; booking ahead is allowed).
    fn book(
        &self,
        state: &mut dyn StateAccess,
        programme_id: Hash,
        period: u32,
        resident: PublicKey,
        issuer: IssuerKey,
        tag: Tag,
    ) -> Result<(), Failure> {
        require_role(state, &self.sender, Role::Distributor)?;
        let key = programme_key(&programme_id);
        let mut programme = read_existing(state, &key, "programme", Programme::decode)?;
        let registry_key = allocation_tag_key(&tag);
        require_new_tag(state, &registry_key, "appointment")?;
        require_current_issuer(state, &issuer)?;
        let (_, ends) = programme
            .period_window(period)
            .ok_or_else(|| failure(OUTSIDE_VALIDITY, "the programme has no such period"))?;
        if self.now_ms() >= ends {
            return Err(failure(OUTSIDE_VALIDITY, "the period has ended"));
        }
        let appointment = Appointment {
            programme: programme_id,
            period,
            resident,
            distributor: self.sender,
            units: programme.units_per_person,
            collected: false,
        };
        // A count of transactions: it cannot reach u64::MAX.
        programme.booked = programme.booked.saturating_add(1);
        state.put(&appointment_key(&self.id()), appointment.encode().into())?;
        state.put(&registry_key, StateValue::from_slice(self.id().as_bytes()))?;
        state.put(&key, encoded(programme.encode())?.into())?;
        state.emit(b"appointment", self.id().as_bytes())?;
        Ok(())
    }

    /// The appointment exists ([`UNKNOWN_RECORD`]); the sender is its
    /// resident ([`NOT_AUTHORISED`]); not collected yet ([`WRONG_STATE`]);
    /// within its period ([`OUTSIDE_VALIDITY`]).
    fn collect(&self, state: &mut dyn StateAccess, appointment_id: Hash) -> Result<(), Failure> {
        let key = appointment_key(&appointment_id);
        let mut appointment = read_existing(state, &key, "appointment", Appointment::decode)?;
        if appointment.resident != self.sender {
            return Err(failure(NOT_AUTHORISED, "only the booked resident collects"));
        }
        if appointment.collected {
            return Err(failure(WRONG_STATE, "already collected"));
        }
        let programme_key = programme_key(&appointment.programme);
        let mut programme = read(state, &programme_key, "programme", Programme::decode)?
            .ok_or_else(|| corrupt("appointment's programme"))?;
        let (starts, ends) = programme
            .period_window(appointment.period)
            .ok_or_else(|| corrupt("appointment's period"))?;
        if self.now_ms() < starts || self.now_ms() >= ends {
            return Err(failure(
                OUTSIDE_VALIDITY,
                "outside the appointment's period",
            ));
        }
        appointment.collected = true;
        programme.collected = programme.collected.saturating_add(1);
        state.put(&key, appointment.encode().into())?;
        state.put(&programme_key, encoded(programme.encode())?.into())?;
        state.emit(
            b"collected",
            &[
                appointment_id.as_bytes(),
                &appointment.units.to_le_bytes()[..],
            ]
            .concat(),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        reason = "a panic in a test is a failing test"
    )]

    use std::collections::BTreeSet;

    use super::*;

    fn every_operation() -> Vec<Operation> {
        vec![
            Operation::AdmitParty {
                role: Role::Clinic,
                party: PublicKey([1; 32]),
                name: "St. Mary's".into(),
            },
            Operation::AdmitTagIssuer {
                issuer: IssuerKey([2; 32]),
                name: String::new(),
            },
            Operation::PublishPolicy {
                max_payout: 1_000,
                waiting_period_ms: 7,
                valid_from_ms: 1,
                valid_until_ms: 2,
                conditions: BTreeSet::from([3, 1, u32::MAX]),
            },
            Operation::Enrol {
                policy: Hash([3; 32]),
            },
            Operation::Attest {
                member: PublicKey([4; 32]),
                condition: 100,
                event_date_ms: 5,
                details: Hash([5; 32]),
                issuer: IssuerKey([6; 32]),
                tag: Tag([7; TAG_BYTES]),
            },
            Operation::File {
                attestation: Hash([8; 32]),
                policy: Hash([9; 32]),
                amount: 10,
            },
            Operation::Approve {
                claim: Hash([10; 32]),
                amount: 9,
            },
            Operation::Reject {
                claim: Hash([11; 32]),
                reason: 42,
            },
            Operation::Pay {
                claim: Hash([12; 32]),
                amount: 9,
                reference: Hash([13; 32]),
            },
            Operation::OpenProgramme {
                item: "masks".into(),
                units_per_person: 10,
                period_ms: 7,
                starts_ms: 0,
                periods: 4,
            },
            Operation::Book {
                programme: Hash([14; 32]),
                period: 2,
                resident: PublicKey([15; 32]),
                issuer: IssuerKey([16; 32]),
                tag: Tag([17; TAG_BYTES]),
            },
            Operation::Collect {
                appointment: Hash([18; 32]),
            },
        ]
    }

    #[test]
    fn payloads_roundtrip_strictly_and_refuse_cuts_and_trailing_bytes() {
        for (index, operation) in every_operation().into_iter().enumerate() {
            let bytes = operation.encode().unwrap();
            assert_eq!(bytes.first(), Some(&(index as u8 + 1)), "{operation:?}");
            assert_eq!(Operation::decode(&bytes), Some(operation.clone()));
            for len in 0..bytes.len() {
                assert_eq!(Operation::decode(&bytes[..len]), None, "{operation:?}");
            }
            let mut longer = bytes.to_vec();
            longer.push(0);
            assert_eq!(Operation::decode(&longer), None, "{operation:?}");
        }
        // The fixed sizes of the module documentation's table.
        let sizes: Vec<usize> = every_operation()
            .iter()
            .map(|operation| operation.encode().unwrap().len())
            .collect();
        assert_eq!(sizes[3..9], [33, 173, 73, 41, 37, 73]);
        assert_eq!(sizes[10..], [165, 33]);
    }

    #[test]
    fn condition_sets_are_bounded_non_empty_and_ascending() {
        let policy = |conditions: BTreeSet<u32>| Operation::PublishPolicy {
            max_payout: 1,
            waiting_period_ms: 0,
            valid_from_ms: 0,
            valid_until_ms: 1,
            conditions,
        };
        assert_eq!(
            policy(BTreeSet::new()).encode(),
            Err(EncodeError::EmptyList {
                field: "conditions"
            })
        );
        let too_many: BTreeSet<u32> = (0..=MAX_POLICY_CONDITIONS as u32).collect();
        assert_eq!(
            policy(too_many).encode(),
            Err(EncodeError::TooManyItems {
                field: "conditions",
                count: MAX_POLICY_CONDITIONS + 1,
                max: MAX_POLICY_CONDITIONS
            })
        );
        let most: BTreeSet<u32> = (0..MAX_POLICY_CONDITIONS as u32).collect();
        let bytes = policy(most.clone()).encode().unwrap();
        assert_eq!(bytes.len(), 34 + 4 * MAX_POLICY_CONDITIONS);
        assert_eq!(Operation::decode(&bytes), Some(policy(most)));
        // Two codes out of order, or repeated: not a set's one encoding.
        let two = policy(BTreeSet::from([1, 2])).encode().unwrap().to_vec();
        let mut swapped = two.clone();
        swapped[34..38].copy_from_slice(&2u32.to_le_bytes());
        swapped[38..42].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(Operation::decode(&swapped), None);
        let mut repeated = two.clone();
        repeated[38..42].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(Operation::decode(&repeated), None);
        // A count over the limit is refused before the codes are read.
        let mut huge = two;
        huge[33] = u8::MAX;
        assert_eq!(Operation::decode(&huge), None);
    }

    #[test]
    fn texts_are_refused_not_cut() {
        let admit = |name: String| Operation::AdmitParty {
            role: Role::Insurer,
            party: PublicKey([1; 32]),
            name,
        };
        assert_eq!(
            admit("€".repeat(22)).encode(),
            Err(EncodeError::FieldTooLong {
                field: "name",
                len: 66,
                max: MAX_TEXT_BYTES
            })
        );
        let exact = admit("x".repeat(MAX_TEXT_BYTES));
        assert_eq!(
            Operation::decode(&exact.encode().unwrap()),
            Some(exact.clone())
        );
        let mut invalid = exact.encode().unwrap().to_vec();
        invalid[35] = 0xff;
        assert_eq!(Operation::decode(&invalid), None, "not UTF-8");
        // An unknown role byte.
        let mut role = exact.encode().unwrap().to_vec();
        role[1] = 3;
        assert_eq!(Operation::decode(&role), None);
    }

    #[test]
    fn records_roundtrip_strictly() {
        let party = Party {
            roles: Roles::of(Role::Clinic).with(Role::Distributor),
            admitted_height: 3,
            name: "clinic".into(),
        };
        let issuer = Issuer {
            admitted_height: 1,
            retired_height: Some(9),
            name: "issuer".into(),
        };
        let policy = Policy {
            insurer: PublicKey([1; 32]),
            max_payout: 5,
            waiting_period_ms: 6,
            valid_from_ms: 7,
            valid_until_ms: 8,
            conditions: BTreeSet::from([1, 2]),
        };
        let programme = Programme {
            organiser: PublicKey([2; 32]),
            item: "masks".into(),
            units_per_person: 10,
            period_ms: 7,
            starts_ms: 0,
            periods: 4,
            booked: 2,
            collected: 1,
        };
        let encoded = [
            party.encode().unwrap(),
            issuer.encode().unwrap(),
            policy.encode().unwrap(),
            programme.encode().unwrap(),
        ];
        assert_eq!(Party::decode(&encoded[0]), Some(party));
        assert_eq!(Issuer::decode(&encoded[1]), Some(issuer));
        assert_eq!(Policy::decode(&encoded[2]), Some(policy));
        assert_eq!(Programme::decode(&encoded[3]), Some(programme));
        for bytes in &encoded {
            assert!(Party::decode(&bytes[..bytes.len() - 1]).is_none());
            assert!(Policy::decode(&bytes[..bytes.len() - 1]).is_none());
        }
        for status in [
            ClaimStatus::Filed,
            ClaimStatus::Approved { amount: 3 },
            ClaimStatus::Rejected { reason: 4 },
            ClaimStatus::Paid {
                amount: 3,
                reference: Hash([9; 32]),
            },
        ] {
            let claim = Claim {
                policy: Hash([1; 32]),
                attestation: Hash([2; 32]),
                insurer: PublicKey([3; 32]),
                claimed: 5,
                status,
            };
            let bytes = claim.encode();
            assert_eq!(Claim::decode(&bytes), Some(claim));
            assert_eq!(Claim::decode(&bytes[..bytes.len() - 1]), None);
        }
        let appointment = Appointment {
            programme: Hash([1; 32]),
            period: 2,
            resident: PublicKey([3; 32]),
            distributor: PublicKey([4; 32]),
            units: 10,
            collected: true,
        };
        let mut bytes = appointment.encode().to_vec();
        assert_eq!(bytes.len(), APPOINTMENT_BYTES);
        assert_eq!(Appointment::decode(&bytes), Some(appointment));
        *bytes.last_mut().unwrap() = 2;
        assert_eq!(Appointment::decode(&bytes), None, "a flag is 0 or 1");
        assert_eq!(Roles::from_bits(0), None);
        assert_eq!(Roles::from_bits(8), None);
    }

    #[test]
    fn issuer_keys_are_canonical_points_other_than_the_identity() {
        use curve25519_dalek::constants::RISTRETTO_BASEPOINT_COMPRESSED;
        assert_eq!(IssuerKey(RISTRETTO_BASEPOINT_COMPRESSED.0).check(), Ok(()));
        assert_eq!(IssuerKey([0; 32]).check(), Err(IssuerKeyError::Identity));
        assert_eq!(
            IssuerKey([0xff; 32]).check(),
            Err(IssuerKeyError::NotAPoint)
        );
    }

    #[test]
    fn every_failure_code_is_distinct() {
        let codes = [
            MALFORMED_PAYLOAD,
            NOT_AUTHORISED,
            INVALID_KEY,
            UNKNOWN_RECORD,
            UNKNOWN_ISSUER,
            DUPLICATE_TAG,
            WRONG_STATE,
            AMOUNT_RULE,
            NOT_ENROLLED,
            NOT_COVERED,
            OUTSIDE_VALIDITY,
            WAITING_PERIOD,
            INVALID_TERMS,
            FUTURE_EVENT,
            CORRUPT_RECORD,
        ];
        let distinct: BTreeSet<u32> = codes.into_iter().collect();
        assert_eq!(distinct, (1..=15).collect());
    }
}
