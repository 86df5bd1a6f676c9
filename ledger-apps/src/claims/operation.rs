//! The claims payloads: one [`Operation`] per transaction, a tag byte and
//! its fields in order (layouts in the module documentation of
//! [`crate::claims`]).

use std::collections::BTreeSet;

use bytes::Bytes;
use ledger_core::{Hash, PublicKey};

use super::codec::{put_conditions, put_text, Cursor};
use super::{IssuerKey, Role, Tag};
use crate::EncodeError;

/// One claims operation (a transaction payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Registrar only: `party` takes `role` (insurer, clinic or
    /// distributor), under `name`.
    AdmitParty {
        /// The role it takes.
        role: Role,
        /// The party's key.
        party: PublicKey,
        /// Its name (replaces a name it was admitted under before).
        name: String,
    },
    /// Registrar only: `issuer` becomes the tag issuer whose tags new
    /// attestations and bookings carry; the previous one retires.
    AdmitTagIssuer {
        /// The issuer's VOPRF public key (ristretto255).
        issuer: IssuerKey,
        /// Its name.
        name: String,
    },
    /// An insurer publishes a policy; its id is this transaction's id.
    PublishPolicy {
        /// Largest payout for one event.
        max_payout: u64,
        /// Events within this long after a member's enrolment are not
        /// covered (milliseconds).
        waiting_period_ms: u64,
        /// First covered event time (ms since the epoch, inclusive).
        valid_from_ms: u64,
        /// End of the covered event times (ms since the epoch, exclusive).
        valid_until_ms: u64,
        /// The condition codes it covers (1 to
        /// [`super::MAX_POLICY_CONDITIONS`]).
        conditions: BTreeSet<u32>,
    },
    /// The sender (a member's pseudonymous key) enrols in a policy.
    Enrol {
        /// The policy's id.
        policy: Hash,
    },
    /// A clinic attests a diagnosis; the attestation's id is this
    /// transaction's id. The medical details stay off the ledger: only
    /// their hash is here.
    Attest {
        /// The member's key (as the member enrolled).
        member: PublicKey,
        /// The diagnosed condition's code.
        condition: u32,
        /// When the event happened (ms since the epoch).
        event_date_ms: u64,
        /// Hash of the medical details, kept by the clinic.
        details: Hash,
        /// The tag issuer that evaluated the tag.
        issuer: IssuerKey,
        /// The blinded event tag: VOPRF output over the patient's
        /// identifier and the event.
        tag: Tag,
    },
    /// The member files a claim against a policy for an attested event;
    /// the claim's id is this transaction's id.
    File {
        /// The attestation's id.
        attestation: Hash,
        /// The policy's id.
        policy: Hash,
        /// The amount claimed.
        amount: u64,
    },
    /// The policy's insurer approves a filed claim for `amount`.
    Approve {
        /// The claim's id.
        claim: Hash,
        /// The amount approved.
        amount: u64,
    },
    /// The policy's insurer rejects a filed claim with its reason code.
    Reject {
        /// The claim's id.
        claim: Hash,
        /// The insurer's reason code (its own list; recorded as given).
        reason: u32,
    },
    /// The policy's insurer pays an approved claim, exactly the approved
    /// amount, once.
    Pay {
        /// The claim's id.
        claim: Hash,
        /// The amount paid.
        amount: u64,
        /// The payment's reference off the ledger (a hash of the bank
        /// transfer's record, say).
        reference: Hash,
    },
    /// A distributor opens an allocation programme: `units_per_person` of
    /// `item` per resident per period; its id is this transaction's id.
    OpenProgramme {
        /// What is handed out.
        item: String,
        /// Units per resident per period.
        units_per_person: u64,
        /// Length of a period (ms).
        period_ms: u64,
        /// Start of period 0 (ms since the epoch).
        starts_ms: u64,
        /// Number of periods.
        periods: u32,
    },
    /// A distributor who checked a resident's identity books the resident's
    /// allocation for one period.
    Book {
        /// The programme's id.
        programme: Hash,
        /// The period (0-based).
        period: u32,
        /// The resident's pseudonymous key (signs the collection).
        resident: PublicKey,
        /// The tag issuer that evaluated the tag.
        issuer: IssuerKey,
        /// The blinded quota tag: VOPRF output over the programme, the
        /// resident's identifier and the period.
        tag: Tag,
    },
    /// The resident confirms collecting a booked allocation.
    Collect {
        /// The appointment's id.
        appointment: Hash,
    },
}

const TAG_ADMIT_PARTY: u8 = 1;
const TAG_ADMIT_TAG_ISSUER: u8 = 2;
const TAG_PUBLISH_POLICY: u8 = 3;
const TAG_ENROL: u8 = 4;
const TAG_ATTEST: u8 = 5;
const TAG_FILE: u8 = 6;
const TAG_APPROVE: u8 = 7;
const TAG_REJECT: u8 = 8;
const TAG_PAY: u8 = 9;
const TAG_OPEN_PROGRAMME: u8 = 10;
const TAG_BOOK: u8 = 11;
const TAG_COLLECT: u8 = 12;

impl Operation {
    /// The canonical payload: a tag byte, then the fields in order (keys,
    /// ids and issuer keys 32 bytes, tags 64, integers little-endian,
    /// texts a u8 length and UTF-8, condition sets a u8 count and
    /// ascending u32s), or the limit the value breaks: a text over
    /// [`super::MAX_TEXT_BYTES`] ([`EncodeError::FieldTooLong`]), an empty
    /// condition set ([`EncodeError::EmptyList`]) or one over
    /// [`super::MAX_POLICY_CONDITIONS`] ([`EncodeError::TooManyItems`]).
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let mut out = Vec::with_capacity(176);
        match self {
            Operation::AdmitParty { role, party, name } => {
                out.push(TAG_ADMIT_PARTY);
                out.push(role.bit());
                out.extend_from_slice(&party.0);
                put_text(&mut out, "name", name)?;
            }
            Operation::AdmitTagIssuer { issuer, name } => {
                out.push(TAG_ADMIT_TAG_ISSUER);
                out.extend_from_slice(&issuer.0);
                put_text(&mut out, "name", name)?;
            }
            Operation::PublishPolicy {
                max_payout,
                waiting_period_ms,
                valid_from_ms,
                valid_until_ms,
                conditions,
            } => {
                out.push(TAG_PUBLISH_POLICY);
                out.extend_from_slice(&max_payout.to_le_bytes());
                out.extend_from_slice(&waiting_period_ms.to_le_bytes());
                out.extend_from_slice(&valid_from_ms.to_le_bytes());
                out.extend_from_slice(&valid_until_ms.to_le_bytes());
                put_conditions(&mut out, conditions)?;
            }
            Operation::Enrol { policy } => {
                out.push(TAG_ENROL);
                out.extend_from_slice(policy.as_bytes());
            }
            Operation::Attest {
                member,
                condition,
                event_date_ms,
                details,
                issuer,
                tag,
            } => {
                out.push(TAG_ATTEST);
                out.extend_from_slice(&member.0);
                out.extend_from_slice(&condition.to_le_bytes());
                out.extend_from_slice(&event_date_ms.to_le_bytes());
                out.extend_from_slice(details.as_bytes());
                out.extend_from_slice(&issuer.0);
                out.extend_from_slice(&tag.0);
            }
            Operation::File {
                attestation,
                policy,
                amount,
            } => {
                out.push(TAG_FILE);
                out.extend_from_slice(attestation.as_bytes());
                out.extend_from_slice(policy.as_bytes());
                out.extend_from_slice(&amount.to_le_bytes());
            }
            Operation::Approve { claim, amount } => {
                out.push(TAG_APPROVE);
                out.extend_from_slice(claim.as_bytes());
                out.extend_from_slice(&amount.to_le_bytes());
            }
            Operation::Reject { claim, reason } => {
                out.push(TAG_REJECT);
                out.extend_from_slice(claim.as_bytes());
                out.extend_from_slice(&reason.to_le_bytes());
            }
            Operation::Pay {
                claim,
                amount,
                reference,
            } => {
                out.push(TAG_PAY);
                out.extend_from_slice(claim.as_bytes());
                out.extend_from_slice(&amount.to_le_bytes());
                out.extend_from_slice(reference.as_bytes());
            }
            Operation::OpenProgramme {
                item,
                units_per_person,
                period_ms,
                starts_ms,
                periods,
            } => {
                out.push(TAG_OPEN_PROGRAMME);
                out.extend_from_slice(&units_per_person.to_le_bytes());
                out.extend_from_slice(&period_ms.to_le_bytes());
                out.extend_from_slice(&starts_ms.to_le_bytes());
                out.extend_from_slice(&periods.to_le_bytes());
                put_text(&mut out, "item", item)?;
            }
            Operation::Book {
                programme,
                period,
                resident,
                issuer,
                tag,
            } => {
                out.push(TAG_BOOK);
                out.extend_from_slice(programme.as_bytes());
                out.extend_from_slice(&period.to_le_bytes());
                out.extend_from_slice(&resident.0);
                out.extend_from_slice(&issuer.0);
                out.extend_from_slice(&tag.0);
            }
            Operation::Collect { appointment } => {
                out.push(TAG_COLLECT);
                out.extend_from_slice(appointment.as_bytes());
            }
        }
        Ok(Bytes::from(out))
    }

    /// Strict decoding of [`Operation::encode`]'s output: `None` for a
    /// payload that is not exactly one operation within its limits (an
    /// unknown tag or role, a text over the limit or not UTF-8, a condition
    /// set empty, too large or not strictly ascending, a field cut short —
    /// a tag of fewer than 64 bytes among them — or trailing bytes).
    pub fn decode(payload: &[u8]) -> Option<Operation> {
        let mut cursor = Cursor::new(payload);
        let operation = match cursor.u8()? {
            TAG_ADMIT_PARTY => Operation::AdmitParty {
                role: Role::from_bit(cursor.u8()?)?,
                party: cursor.key()?,
                name: cursor.text()?,
            },
            TAG_ADMIT_TAG_ISSUER => Operation::AdmitTagIssuer {
                issuer: cursor.issuer()?,
                name: cursor.text()?,
            },
            TAG_PUBLISH_POLICY => Operation::PublishPolicy {
                max_payout: cursor.u64()?,
                waiting_period_ms: cursor.u64()?,
                valid_from_ms: cursor.u64()?,
                valid_until_ms: cursor.u64()?,
                conditions: cursor.conditions()?,
            },
            TAG_ENROL => Operation::Enrol {
                policy: cursor.hash()?,
            },
            TAG_ATTEST => Operation::Attest {
                member: cursor.key()?,
                condition: cursor.u32()?,
                event_date_ms: cursor.u64()?,
                details: cursor.hash()?,
                issuer: cursor.issuer()?,
                tag: cursor.tag()?,
            },
            TAG_FILE => Operation::File {
                attestation: cursor.hash()?,
                policy: cursor.hash()?,
                amount: cursor.u64()?,
            },
            TAG_APPROVE => Operation::Approve {
                claim: cursor.hash()?,
                amount: cursor.u64()?,
            },
            TAG_REJECT => Operation::Reject {
                claim: cursor.hash()?,
                reason: cursor.u32()?,
            },
            TAG_PAY => Operation::Pay {
                claim: cursor.hash()?,
                amount: cursor.u64()?,
                reference: cursor.hash()?,
            },
            TAG_OPEN_PROGRAMME => Operation::OpenProgramme {
                units_per_person: cursor.u64()?,
                period_ms: cursor.u64()?,
                starts_ms: cursor.u64()?,
                periods: cursor.u32()?,
                item: cursor.text()?,
            },
            TAG_BOOK => Operation::Book {
                programme: cursor.hash()?,
                period: cursor.u32()?,
                resident: cursor.key()?,
                issuer: cursor.issuer()?,
                tag: cursor.tag()?,
            },
            TAG_COLLECT => Operation::Collect {
                appointment: cursor.hash()?,
            },
            _ => return None,
        };
        cursor.done().then_some(operation)
    }

    /// The ed25519 keys this operation names for the application to
    /// record as parties (not the sender's).
    pub(super) fn named_key(&self) -> Option<&PublicKey> {
        match self {
            Operation::AdmitParty { party, .. } => Some(party),
            Operation::Attest { member, .. } => Some(member),
            Operation::Book { resident, .. } => Some(resident),
            _ => None,
        }
    }

    /// Whether the application records this operation's sender as a party
    /// (an insurer's policy, a member's enrolment, a clinic's attestation,
    /// a distributor's programme or booking).
    pub(super) fn records_sender(&self) -> bool {
        matches!(
            self,
            Operation::PublishPolicy { .. }
                | Operation::Enrol { .. }
                | Operation::Attest { .. }
                | Operation::OpenProgramme { .. }
                | Operation::Book { .. }
        )
    }
}
