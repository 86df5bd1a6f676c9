//! What the applications' payload encoders refuse.
//!
//! A ledger record is exactly what was signed, so an encoder never cuts,
//! pads or rewrites a value to make it fit its format: it encodes the value
//! exactly or returns one of these errors, naming the field and the limit
//! it broke. Each limit is a named constant of its application
//! ([`crate::transfers::MAX_MEMO_BYTES`], [`crate::provenance::MAX_TEXT_BYTES`],
//! [`crate::claims::MAX_POLICY_CONDITIONS`]).

/// Why a value cannot be encoded as an application payload.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A field is longer than its format allows.
    #[error("{field} is {len} bytes, over the limit of {max}")]
    FieldTooLong {
        /// The field, as named in its operation.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The longest the format allows, in bytes.
        max: usize,
    },
    /// A field is empty and its format requires at least one byte.
    #[error("{field} is empty; its format requires at least one byte")]
    EmptyField {
        /// The field, as named in its operation.
        field: &'static str,
    },
    /// A list is empty and its format requires at least one item.
    #[error("{field} is empty; its format requires at least one item")]
    EmptyList {
        /// The field, as named in its operation.
        field: &'static str,
    },
    /// A list has more items than its format allows.
    #[error("{field} has {count} items, over the limit of {max}")]
    TooManyItems {
        /// The field, as named in its operation.
        field: &'static str,
        /// Its number of items.
        count: usize,
        /// The most the format allows.
        max: usize,
    },
}
