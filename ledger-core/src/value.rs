//! State values as execution passes them around: small ones inline.
//!
//! Most state values are small (a balance or a nonce is 8 bytes, a key or a
//! hash 32). Reading one through [`crate::StateAccess::get`], overlaying it
//! in a transaction's writes and the block's, caching it at the head and
//! handing it to the state tree would cost a heap allocation at every step
//! if each were a [`Bytes`]. A [`StateValue`] of at most
//! [`INLINE_VALUE_BYTES`] is held inline instead (copying it is copying 40
//! bytes); a larger one shares one [`Bytes`] buffer. Which representation a
//! value has is invisible: equality, hashing of the value and every
//! encoding see only its bytes.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// Values up to this many bytes are held inline (no allocation of their
/// own): balances, nonces, keys, hashes and other small records.
pub const INLINE_VALUE_BYTES: usize = 32;

/// A state value: its bytes, inline when small ([`INLINE_VALUE_BYTES`]).
#[derive(Clone)]
pub struct StateValue(Repr);

#[derive(Clone)]
enum Repr {
    Inline {
        len: u8,
        bytes: [u8; INLINE_VALUE_BYTES],
    },
    Shared(Bytes),
}

impl StateValue {
    /// A value holding a copy of `bytes` (no allocation when small).
    pub fn from_slice(bytes: &[u8]) -> Self {
        match Self::inline(bytes) {
            Some(value) => value,
            None => StateValue(Repr::Shared(Bytes::copy_from_slice(bytes))),
        }
    }

    /// The inline representation of `bytes`, if it is small enough.
    fn inline(bytes: &[u8]) -> Option<Self> {
        let len = u8::try_from(bytes.len()).ok()?;
        let mut inline = [0u8; INLINE_VALUE_BYTES];
        inline.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(StateValue(Repr::Inline { len, bytes: inline }))
    }

    /// The value's bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            // `len` is at most INLINE_VALUE_BYTES by construction; the
            // fallback is never taken.
            Repr::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(&[]),
            Repr::Shared(bytes) => bytes,
        }
    }

    /// The value as a [`Bytes`] (shares the buffer of a large value, copies
    /// a small one).
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Repr::Inline { .. } => Bytes::copy_from_slice(self.as_slice()),
            Repr::Shared(bytes) => bytes.clone(),
        }
    }

    /// True if the value is held inline.
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }

    /// Heap bytes the value holds on its own (for byte-bounded caches):
    /// none inline, the buffer and its shared header otherwise.
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Shared(bytes) => bytes.len() + 32,
        }
    }
}

impl Deref for StateValue {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for StateValue {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<Bytes> for StateValue {
    /// Small values are copied inline (and the buffer released); large ones
    /// keep the buffer.
    fn from(bytes: Bytes) -> Self {
        match Self::inline(&bytes) {
            Some(value) => value,
            None => StateValue(Repr::Shared(bytes)),
        }
    }
}

impl From<&[u8]> for StateValue {
    fn from(bytes: &[u8]) -> Self {
        StateValue::from_slice(bytes)
    }
}

impl<const N: usize> From<[u8; N]> for StateValue {
    fn from(bytes: [u8; N]) -> Self {
        StateValue::from_slice(&bytes)
    }
}

impl<const N: usize> From<&[u8; N]> for StateValue {
    fn from(bytes: &[u8; N]) -> Self {
        StateValue::from_slice(bytes)
    }
}

impl From<Vec<u8>> for StateValue {
    fn from(bytes: Vec<u8>) -> Self {
        StateValue::from(Bytes::from(bytes))
    }
}

impl From<StateValue> for Bytes {
    fn from(value: StateValue) -> Self {
        match value.0 {
            Repr::Inline { .. } => value.to_bytes(),
            Repr::Shared(bytes) => bytes,
        }
    }
}

impl PartialEq for StateValue {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for StateValue {}

impl PartialEq<[u8]> for StateValue {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for StateValue {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for StateValue {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl PartialEq<Bytes> for StateValue {
    fn eq(&self, other: &Bytes) -> bool {
        self.as_slice() == other.as_ref()
    }
}

impl fmt::Debug for StateValue {
    /// As a byte string: printable ASCII as is, other bytes escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.as_slice().escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_up_to_the_limit_and_shared_above() {
        for len in [0, 1, 8, INLINE_VALUE_BYTES] {
            let bytes = vec![7u8; len];
            for value in [
                StateValue::from_slice(&bytes),
                StateValue::from(Bytes::from(bytes.clone())),
                StateValue::from(bytes.clone()),
            ] {
                assert!(value.is_inline(), "{len} bytes");
                assert_eq!(value.as_slice(), &bytes[..]);
                assert_eq!(value.heap_bytes(), 0);
                assert_eq!(value.to_bytes(), Bytes::from(bytes.clone()));
            }
        }
        let large = vec![9u8; INLINE_VALUE_BYTES + 1];
        let shared = Bytes::from(large.clone());
        let value = StateValue::from(shared.clone());
        assert!(!value.is_inline());
        assert_eq!(value, shared);
        // The buffer is shared, not copied.
        assert_eq!(value.to_bytes().as_ptr(), shared.as_ptr());
        assert_eq!(value.heap_bytes(), large.len() + 32);
        assert!(!StateValue::from_slice(&large).is_inline());
    }

    #[test]
    fn equality_and_debug_see_only_the_bytes() {
        let a = StateValue::from_slice(b"balance");
        let b = StateValue::from(Bytes::from_static(b"balance"));
        assert_eq!(a, b);
        assert_eq!(a, *b"balance");
        assert_ne!(a, StateValue::from_slice(b"balancf"));
        assert_eq!(format!("{a:?}"), r#"b"balance""#);
        let odd = StateValue::from_slice(&[0, b'"', 0x7f]);
        assert_eq!(format!("{odd:?}"), r#"b"\x00\"\x7f""#);
        assert_eq!(
            Bytes::from(odd.clone()),
            Bytes::from_static(&[0, b'"', 0x7f])
        );
    }
}
