//! The strict reader and the writers shared by the claims payloads and
//! stored records: integers little-endian and fixed width, keys, ids and
//! tags at their fixed lengths, texts as a one-byte length and UTF-8, and
//! condition sets as a one-byte count and strictly ascending `u32`s.

use std::collections::BTreeSet;

use ledger_core::{Hash, PublicKey};

use super::{IssuerKey, Tag, MAX_POLICY_CONDITIONS, MAX_TEXT_BYTES};
use crate::EncodeError;

// A text's length and a condition count each travel as one byte.
const _: () = assert!(MAX_TEXT_BYTES <= u8::MAX as usize);
const _: () = assert!(MAX_POLICY_CONDITIONS <= u8::MAX as usize);

/// Bytes of one condition code.
const CONDITION_BYTES: usize = 4;

/// A strict little reader: every method checks the remaining bytes first
/// and returns `None` rather than read past the end.
pub(super) struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Cursor(bytes)
    }

    pub(super) fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    pub(super) fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[byte]| byte)
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(u32::from_le_bytes)
    }

    pub(super) fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_le_bytes)
    }

    pub(super) fn hash(&mut self) -> Option<Hash> {
        self.take::<32>().map(Hash)
    }

    pub(super) fn key(&mut self) -> Option<PublicKey> {
        self.take::<32>().map(PublicKey)
    }

    pub(super) fn issuer(&mut self) -> Option<IssuerKey> {
        self.take::<32>().map(IssuerKey)
    }

    pub(super) fn tag(&mut self) -> Option<Tag> {
        self.take::<{ super::TAG_BYTES }>().map(Tag)
    }

    /// A flag byte: 0 or 1, nothing else.
    pub(super) fn flag(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    /// A text: its length checked against [`MAX_TEXT_BYTES`] and the
    /// remaining bytes, and validated as UTF-8, before anything is
    /// allocated.
    pub(super) fn text(&mut self) -> Option<String> {
        let len = usize::from(self.u8()?);
        if len > MAX_TEXT_BYTES {
            return None;
        }
        let (text, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        std::str::from_utf8(text).ok().map(str::to_owned)
    }

    /// A condition set: a count of 1 to [`MAX_POLICY_CONDITIONS`], checked
    /// against the remaining bytes before anything is read, then that many
    /// codes in strictly ascending order (so a set has one encoding).
    pub(super) fn conditions(&mut self) -> Option<BTreeSet<u32>> {
        let count = usize::from(self.u8()?);
        if count == 0 || count > MAX_POLICY_CONDITIONS {
            return None;
        }
        if self.0.len() < count.checked_mul(CONDITION_BYTES)? {
            return None;
        }
        let mut conditions = BTreeSet::new();
        let mut previous: Option<u32> = None;
        for _ in 0..count {
            let code = self.u32()?;
            if previous.is_some_and(|previous| code <= previous) {
                return None;
            }
            previous = Some(code);
            conditions.insert(code);
        }
        Some(conditions)
    }

    pub(super) fn done(&self) -> bool {
        self.0.is_empty()
    }
}

/// Appends `text` as a one-byte length and its UTF-8 bytes, or refuses it
/// if it is longer than [`MAX_TEXT_BYTES`] (never cut).
pub(super) fn put_text(
    out: &mut Vec<u8>,
    field: &'static str,
    text: &str,
) -> Result<(), EncodeError> {
    let bytes = text.as_bytes();
    let too_long = || EncodeError::FieldTooLong {
        field,
        len: bytes.len(),
        max: MAX_TEXT_BYTES,
    };
    if bytes.len() > MAX_TEXT_BYTES {
        return Err(too_long());
    }
    out.push(u8::try_from(bytes.len()).map_err(|_| too_long())?);
    out.extend_from_slice(bytes);
    Ok(())
}

/// Appends a condition set as its count and its codes in ascending order
/// (a `BTreeSet` iterates so), or refuses an empty set or one of more than
/// [`MAX_POLICY_CONDITIONS`] codes.
pub(super) fn put_conditions(
    out: &mut Vec<u8>,
    conditions: &BTreeSet<u32>,
) -> Result<(), EncodeError> {
    const FIELD: &str = "conditions";
    let too_many = || EncodeError::TooManyItems {
        field: FIELD,
        count: conditions.len(),
        max: MAX_POLICY_CONDITIONS,
    };
    if conditions.is_empty() {
        return Err(EncodeError::EmptyList { field: FIELD });
    }
    if conditions.len() > MAX_POLICY_CONDITIONS {
        return Err(too_many());
    }
    out.push(u8::try_from(conditions.len()).map_err(|_| too_many())?);
    for code in conditions {
        out.extend_from_slice(&code.to_le_bytes());
    }
    Ok(())
}
