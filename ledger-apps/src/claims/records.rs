//! The records the claims application stores (layouts in the module
//! documentation of [`crate::claims`]). Each has a strict decoder; records
//! with a text or a condition set encode exactly or refuse with
//! [`EncodeError`], the others cannot fail.

use std::collections::BTreeSet;

use bytes::Bytes;
use ledger_core::{Hash, PublicKey};

use super::codec::{put_conditions, put_text, Cursor};
use super::{IssuerKey, Roles, Tag};
use crate::EncodeError;

/// An admitted party: its roles and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// The roles the registrar gave it (at least one).
    pub roles: Roles,
    /// Height of its first admission.
    pub admitted_height: u64,
    /// The name of its latest admission.
    pub name: String,
}

impl Party {
    /// Roles (u8), admitted height (u64), name (text).
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let mut out = Vec::with_capacity(10 + self.name.len());
        out.push(self.roles.bits());
        out.extend_from_slice(&self.admitted_height.to_le_bytes());
        put_text(&mut out, "name", &self.name)?;
        Ok(Bytes::from(out))
    }

    /// Strict decoding of a stored party.
    pub fn decode(bytes: &[u8]) -> Option<Party> {
        let mut cursor = Cursor::new(bytes);
        let party = Party {
            roles: Roles::from_bits(cursor.u8()?)?,
            admitted_height: cursor.u64()?,
            name: cursor.text()?,
        };
        cursor.done().then_some(party)
    }
}

/// An admitted tag issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    /// Height of its admission.
    pub admitted_height: u64,
    /// Height at which the next issuer's admission retired it, if any.
    pub retired_height: Option<u64>,
    /// Its name.
    pub name: String,
}

impl Issuer {
    /// Admitted height (u64), retired flag (u8 0/1) [and height (u64)],
    /// name (text).
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let mut out = Vec::with_capacity(18 + self.name.len());
        out.extend_from_slice(&self.admitted_height.to_le_bytes());
        match self.retired_height {
            None => out.push(0),
            Some(height) => {
                out.push(1);
                out.extend_from_slice(&height.to_le_bytes());
            }
        }
        put_text(&mut out, "name", &self.name)?;
        Ok(Bytes::from(out))
    }

    /// Strict decoding of a stored issuer.
    pub fn decode(bytes: &[u8]) -> Option<Issuer> {
        let mut cursor = Cursor::new(bytes);
        let admitted_height = cursor.u64()?;
        let retired_height = if cursor.flag()? {
            Some(cursor.u64()?)
        } else {
            None
        };
        let name = cursor.text()?;
        cursor.done().then_some(Issuer {
            admitted_height,
            retired_height,
            name,
        })
    }
}

/// A published policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The insurer that published it (and alone decides its claims).
    pub insurer: PublicKey,
    /// Largest payout for one event.
    pub max_payout: u64,
    /// Events within this long after enrolment are not covered (ms).
    pub waiting_period_ms: u64,
    /// First covered event time (inclusive).
    pub valid_from_ms: u64,
    /// End of the covered event times (exclusive).
    pub valid_until_ms: u64,
    /// The covered condition codes.
    pub conditions: BTreeSet<u32>,
}

impl Policy {
    /// Insurer (32), max payout, waiting period, valid from, valid until
    /// (u64 each), conditions (u8 count, ascending u32s).
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let mut out = Vec::with_capacity(66 + 4 * self.conditions.len());
        out.extend_from_slice(&self.insurer.0);
        out.extend_from_slice(&self.max_payout.to_le_bytes());
        out.extend_from_slice(&self.waiting_period_ms.to_le_bytes());
        out.extend_from_slice(&self.valid_from_ms.to_le_bytes());
        out.extend_from_slice(&self.valid_until_ms.to_le_bytes());
        put_conditions(&mut out, &self.conditions)?;
        Ok(Bytes::from(out))
    }

    /// Strict decoding of a stored policy.
    pub fn decode(bytes: &[u8]) -> Option<Policy> {
        let mut cursor = Cursor::new(bytes);
        let policy = Policy {
            insurer: cursor.key()?,
            max_payout: cursor.u64()?,
            waiting_period_ms: cursor.u64()?,
            valid_from_ms: cursor.u64()?,
            valid_until_ms: cursor.u64()?,
            conditions: cursor.conditions()?,
        };
        cursor.done().then_some(policy)
    }
}

/// A member's enrolment in a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enrolment {
    /// The block time of the enrolment (ms); the waiting period runs from it.
    pub enrolled_at_ms: u64,
}

/// Bytes of a stored enrolment.
pub const ENROLMENT_BYTES: usize = 8;

impl Enrolment {
    /// Enrolled at (u64).
    pub fn encode(&self) -> Bytes {
        Bytes::copy_from_slice(&self.enrolled_at_ms.to_le_bytes())
    }

    /// Strict decoding: exactly [`ENROLMENT_BYTES`].
    pub fn decode(bytes: &[u8]) -> Option<Enrolment> {
        <[u8; ENROLMENT_BYTES]>::try_from(bytes)
            .ok()
            .map(|bytes| Enrolment {
                enrolled_at_ms: u64::from_le_bytes(bytes),
            })
    }
}

/// A clinic's signed diagnosis attestation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attestation {
    /// The clinic that attested (the transaction's signer).
    pub clinic: PublicKey,
    /// The member it names.
    pub member: PublicKey,
    /// The condition's code.
    pub condition: u32,
    /// When the event happened (ms).
    pub event_date_ms: u64,
    /// Hash of the medical details, kept off the ledger.
    pub details: Hash,
    /// The tag issuer.
    pub issuer: IssuerKey,
    /// The event's blinded tag.
    pub tag: Tag,
}

/// Bytes of a stored attestation.
pub const ATTESTATION_BYTES: usize = 32 + 32 + 4 + 8 + 32 + 32 + super::TAG_BYTES;

impl Attestation {
    /// Clinic (32), member (32), condition (u32), event date (u64),
    /// details (32), issuer (32), tag (64).
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(ATTESTATION_BYTES);
        out.extend_from_slice(&self.clinic.0);
        out.extend_from_slice(&self.member.0);
        out.extend_from_slice(&self.condition.to_le_bytes());
        out.extend_from_slice(&self.event_date_ms.to_le_bytes());
        out.extend_from_slice(self.details.as_bytes());
        out.extend_from_slice(&self.issuer.0);
        out.extend_from_slice(&self.tag.0);
        Bytes::from(out)
    }

    /// Strict decoding of a stored attestation.
    pub fn decode(bytes: &[u8]) -> Option<Attestation> {
        let mut cursor = Cursor::new(bytes);
        let attestation = Attestation {
            clinic: cursor.key()?,
            member: cursor.key()?,
            condition: cursor.u32()?,
            event_date_ms: cursor.u64()?,
            details: cursor.hash()?,
            issuer: cursor.issuer()?,
            tag: cursor.tag()?,
        };
        cursor.done().then_some(attestation)
    }
}

/// Where a claim is. The transitions: `Filed → Approved → Paid` and
/// `Filed → Rejected`; nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimStatus {
    /// Filed by the member, awaiting the insurer.
    Filed,
    /// Approved by the insurer for `amount`, awaiting payment.
    Approved {
        /// The approved amount.
        amount: u64,
    },
    /// Rejected by the insurer (final).
    Rejected {
        /// The insurer's reason code.
        reason: u32,
    },
    /// Paid (final).
    Paid {
        /// The amount paid (the approved amount).
        amount: u64,
        /// The payment's reference off the ledger.
        reference: Hash,
    },
}

const STATUS_FILED: u8 = 1;
const STATUS_APPROVED: u8 = 2;
const STATUS_REJECTED: u8 = 3;
const STATUS_PAID: u8 = 4;

/// A filed claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The policy claimed against.
    pub policy: Hash,
    /// The attestation of the event (its member filed the claim).
    pub attestation: Hash,
    /// The policy's insurer.
    pub insurer: PublicKey,
    /// The amount claimed.
    pub claimed: u64,
    /// Where it is.
    pub status: ClaimStatus,
}

impl Claim {
    /// Policy (32), attestation (32), insurer (32), claimed (u64), status
    /// (u8: 1 filed; 2 approved, amount u64; 3 rejected, reason u32; 4
    /// paid, amount u64, reference 32).
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(32 * 3 + 8 + 1 + 40);
        out.extend_from_slice(self.policy.as_bytes());
        out.extend_from_slice(self.attestation.as_bytes());
        out.extend_from_slice(&self.insurer.0);
        out.extend_from_slice(&self.claimed.to_le_bytes());
        match self.status {
            ClaimStatus::Filed => out.push(STATUS_FILED),
            ClaimStatus::Approved { amount } => {
                out.push(STATUS_APPROVED);
                out.extend_from_slice(&amount.to_le_bytes());
            }
            ClaimStatus::Rejected { reason } => {
                out.push(STATUS_REJECTED);
                out.extend_from_slice(&reason.to_le_bytes());
            }
            ClaimStatus::Paid { amount, reference } => {
                out.push(STATUS_PAID);
                out.extend_from_slice(&amount.to_le_bytes());
                out.extend_from_slice(reference.as_bytes());
            }
        }
        Bytes::from(out)
    }

    /// Strict decoding of a stored claim.
    pub fn decode(bytes: &[u8]) -> Option<Claim> {
        let mut cursor = Cursor::new(bytes);
        let policy = cursor.hash()?;
        let attestation = cursor.hash()?;
        let insurer = cursor.key()?;
        let claimed = cursor.u64()?;
        let status = match cursor.u8()? {
            STATUS_FILED => ClaimStatus::Filed,
            STATUS_APPROVED => ClaimStatus::Approved {
                amount: cursor.u64()?,
            },
            STATUS_REJECTED => ClaimStatus::Rejected {
                reason: cursor.u32()?,
            },
            STATUS_PAID => ClaimStatus::Paid {
                amount: cursor.u64()?,
                reference: cursor.hash()?,
            },
            _ => return None,
        };
        cursor.done().then_some(Claim {
            policy,
            attestation,
            insurer,
            claimed,
            status,
        })
    }
}

/// An allocation programme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Programme {
    /// The distributor that opened it.
    pub organiser: PublicKey,
    /// What is handed out.
    pub item: String,
    /// Units per resident per period.
    pub units_per_person: u64,
    /// Length of a period (ms).
    pub period_ms: u64,
    /// Start of period 0 (ms).
    pub starts_ms: u64,
    /// Number of periods.
    pub periods: u32,
    /// Appointments booked so far.
    pub booked: u64,
    /// Appointments collected so far.
    pub collected: u64,
}

impl Programme {
    /// Organiser (32), units per person, period, start (u64 each), periods
    /// (u32), booked, collected (u64 each), item (text).
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let mut out = Vec::with_capacity(77 + self.item.len());
        out.extend_from_slice(&self.organiser.0);
        out.extend_from_slice(&self.units_per_person.to_le_bytes());
        out.extend_from_slice(&self.period_ms.to_le_bytes());
        out.extend_from_slice(&self.starts_ms.to_le_bytes());
        out.extend_from_slice(&self.periods.to_le_bytes());
        out.extend_from_slice(&self.booked.to_le_bytes());
        out.extend_from_slice(&self.collected.to_le_bytes());
        put_text(&mut out, "item", &self.item)?;
        Ok(Bytes::from(out))
    }

    /// Strict decoding of a stored programme.
    pub fn decode(bytes: &[u8]) -> Option<Programme> {
        let mut cursor = Cursor::new(bytes);
        let organiser = cursor.key()?;
        let units_per_person = cursor.u64()?;
        let period_ms = cursor.u64()?;
        let starts_ms = cursor.u64()?;
        let periods = cursor.u32()?;
        let booked = cursor.u64()?;
        let collected = cursor.u64()?;
        let item = cursor.text()?;
        cursor.done().then_some(Programme {
            organiser,
            item,
            units_per_person,
            period_ms,
            starts_ms,
            periods,
            booked,
            collected,
        })
    }

    /// Start and end (exclusive) of `period` in ms, if the programme has it
    /// and the times fit a `u64` (the programme's terms were checked so
    /// when it opened).
    pub fn period_window(&self, period: u32) -> Option<(u64, u64)> {
        if period >= self.periods {
            return None;
        }
        let start = self
            .period_ms
            .checked_mul(u64::from(period))?
            .checked_add(self.starts_ms)?;
        Some((start, start.checked_add(self.period_ms)?))
    }
}

/// A booked allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appointment {
    /// The programme.
    pub programme: Hash,
    /// The period.
    pub period: u32,
    /// The resident (signs the collection).
    pub resident: PublicKey,
    /// The distributor that booked it.
    pub distributor: PublicKey,
    /// Units allocated (the programme's units per person).
    pub units: u64,
    /// Whether the resident confirmed collecting them.
    pub collected: bool,
}

/// Bytes of a stored appointment.
pub const APPOINTMENT_BYTES: usize = 32 + 4 + 32 + 32 + 8 + 1;

impl Appointment {
    /// Programme (32), period (u32), resident (32), distributor (32),
    /// units (u64), collected (u8 0/1).
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(APPOINTMENT_BYTES);
        out.extend_from_slice(self.programme.as_bytes());
        out.extend_from_slice(&self.period.to_le_bytes());
        out.extend_from_slice(&self.resident.0);
        out.extend_from_slice(&self.distributor.0);
        out.extend_from_slice(&self.units.to_le_bytes());
        out.push(u8::from(self.collected));
        Bytes::from(out)
    }

    /// Strict decoding of a stored appointment.
    pub fn decode(bytes: &[u8]) -> Option<Appointment> {
        let mut cursor = Cursor::new(bytes);
        let appointment = Appointment {
            programme: cursor.hash()?,
            period: cursor.u32()?,
            resident: cursor.key()?,
            distributor: cursor.key()?,
            units: cursor.u64()?,
            collected: cursor.flag()?,
        };
        cursor.done().then_some(appointment)
    }
}

/// Strict decoding of a registry entry or the current-issuer record: exactly
/// 32 bytes (the claim's or appointment's id, or the issuer's key).
pub fn decode_id(bytes: &[u8]) -> Option<Hash> {
    <[u8; 32]>::try_from(bytes).ok().map(Hash)
}
