//! Reference applications of the ledger engine. Each implements
//! [`ledger_core::machine::StateMachine`] and knows nothing of the engine's
//! internals or of storage:
//!
//! * [`transfers`]: accounts with balances and transfers; the benchmark
//!   workload.
//! * [`provenance`]: needs lists, pledges, and the signed custody trail of
//!   every shipment (donor → carrier → warehouse → hospital).
//! * [`notary`]: anchor a document's hash with signer and time, forever.
//! * [`claims`]: insurance claims with blinded duplicate detection (one
//!   claim per event, across insurers, without the patient's identity on
//!   the ledger), and one-per-person allocations.
//!
//! Every payload encoder encodes a value exactly or refuses it with an
//! [`EncodeError`] naming the field and the limit; none cuts or pads. Every
//! key a payload names is checked with
//! [`ledger_core::PublicKey::check_strict`] before an application stores
//! it. Each module's documentation gives its limits, its key rule and its
//! failure codes.

pub mod claims;
mod error;
pub mod notary;
pub mod provenance;
#[cfg(feature = "fuzzing")]
pub mod roundtrip;
#[cfg(feature = "fuzzing")]
pub mod scenario;
pub mod transfers;

pub use error::EncodeError;
