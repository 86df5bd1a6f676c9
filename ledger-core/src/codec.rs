//! The canonical binary codec: a strict reader, a writer, and their errors.
//!
//! The format is described byte by byte in `docs/FORMAT.md`. In short:
//! integers are fixed-width little-endian, byte strings carry a `u32`
//! little-endian length prefix, and nothing is optional. Every value has
//! exactly one encoding, so `encode(decode(b)) == b` for every accepted `b`.
//!
//! The reader never panics and never allocates an amount chosen by the input:
//! every length is compared with what remains *and* with its named limit
//! before anything is sliced or reserved. Byte strings are returned as
//! zero-copy slices of the input [`Bytes`].

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use bytes::Bytes;

/// Which named limit a decoded length broke. See [`crate::limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// [`crate::limits::MAX_PAYLOAD_BYTES`].
    PayloadBytes,
    /// [`crate::limits::MAX_TXS_PER_BLOCK`].
    TxsPerBlock,
    /// [`crate::limits::MAX_BLOCK_BYTES`].
    BlockBytes,
    /// [`crate::limits::MAX_TX_BYTES`].
    TxBytes,
    /// The hash count of a proof.
    ProofHashes,
    /// [`crate::limits::MAX_WITNESSED_PROOF_BYTES`].
    WitnessedProofBytes,
    /// [`crate::limits::MAX_RECEIPT_BYTES`].
    ReceiptBytes,
    /// [`crate::limits::MAX_INCLUSION_PROOF_BYTES`] or
    /// [`crate::limits::MAX_STATE_PROOF_BYTES`].
    ProofBytes,
    /// [`crate::limits::MAX_STATE_KEY_BYTES`].
    StateKeyBytes,
    /// [`crate::limits::MAX_STATE_VALUE_BYTES`].
    StateValueBytes,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Limit::PayloadBytes => "payload length",
            Limit::TxsPerBlock => "transaction count",
            Limit::BlockBytes => "block length",
            Limit::TxBytes => "transaction length",
            Limit::ProofHashes => "proof hash count",
            Limit::WitnessedProofBytes => "witnessed proof length",
            Limit::ReceiptBytes => "receipt length",
            Limit::ProofBytes => "proof length",
            Limit::StateKeyBytes => "state key length",
            Limit::StateValueBytes => "state value length",
        })
    }
}

/// Why a byte string is not a valid encoding. Every variant names the byte
/// offset, from the start of the input, where the problem was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside a value.
    #[error("truncated at byte {offset}: needed {needed} bytes, {available} left")]
    Truncated {
        /// Where the value that did not fit starts.
        offset: usize,
        /// How many bytes it needs (at least).
        needed: u64,
        /// How many bytes were left.
        available: usize,
    },
    /// The value ended before the input did.
    #[error("{count} trailing bytes after the value that ends at byte {offset}")]
    TrailingBytes {
        /// Where the value ends.
        offset: usize,
        /// How many bytes follow it.
        count: usize,
    },
    /// The block format version is not one this build reads.
    #[error("block format version {version} at byte {offset} is not supported (this build reads {supported})")]
    UnsupportedVersion {
        /// Where the version field is.
        offset: usize,
        /// The version found.
        version: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// A length or count is over its named limit.
    #[error("{what} {value} at byte {offset} is over the limit of {max}")]
    LimitExceeded {
        /// Where the length or count field is (0 for the input's own length).
        offset: usize,
        /// Which limit.
        what: Limit,
        /// The value found.
        value: u64,
        /// The limit.
        max: u64,
    },
}

/// Why a value cannot be built or encoded: it would break a named limit or an
/// invariant of the format. Values that pass construction always encode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A length or count is over its named limit.
    #[error("{what} {value} is over the limit of {max}")]
    LimitExceeded {
        /// Which limit.
        what: Limit,
        /// The value.
        value: u64,
        /// The limit.
        max: u64,
    },
    /// The header's format version is not the one this build writes.
    #[error("block format version {version} is not supported (this build writes {supported})")]
    UnsupportedVersion {
        /// The version in the header.
        version: u16,
        /// The version this build writes.
        supported: u16,
    },
    /// The header's transaction count does not match the transactions given.
    #[error("header says {header} transactions but the block has {actual}")]
    TxCountMismatch {
        /// `header.tx_count`.
        header: u32,
        /// The number of transactions.
        actual: usize,
    },
}

/// A strict cursor over an input buffer. Every read checks what remains.
#[derive(Debug)]
pub struct Reader<'a> {
    input: &'a Bytes,
    offset: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `input`.
    pub fn new(input: &'a Bytes) -> Self {
        Reader { input, offset: 0 }
    }

    /// Bytes consumed so far: the offset of the next read.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.offset)
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless the input is used up.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes {
                offset: self.offset,
                count,
            }),
        }
    }

    /// Fails with [`DecodeError::Truncated`] unless `needed` bytes remain.
    /// Lets a caller check a whole run of reads (or a count times a minimum
    /// size) before allocating for it.
    pub fn ensure(&self, needed: u64) -> Result<(), DecodeError> {
        if needed > self.remaining() as u64 {
            return Err(DecodeError::Truncated {
                offset: self.offset,
                needed,
                available: self.remaining(),
            });
        }
        Ok(())
    }

    /// The next `len` bytes as a slice of the input, without copying.
    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        self.ensure(len as u64)?;
        let end = self.offset.saturating_add(len);
        let slice = self
            .input
            .get(self.offset..end)
            .ok_or(DecodeError::Truncated {
                offset: self.offset,
                needed: len as u64,
                available: self.remaining(),
            })?;
        self.offset = end;
        Ok(slice)
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_le_bytes)
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_le_bytes)
    }

    /// A `u32`-length-prefixed byte string of at most `max` bytes, as a
    /// zero-copy slice of the input. The limit is checked before the length
    /// is compared with what remains, so an oversized claim reports the limit.
    pub fn byte_string(&mut self, what: Limit, max: u32) -> Result<Bytes, DecodeError> {
        let offset = self.offset;
        let len = self.u32()?;
        if len > max {
            return Err(DecodeError::LimitExceeded {
                offset,
                what,
                value: u64::from(len),
                max: u64::from(max),
            });
        }
        let len = len as usize;
        self.ensure(len as u64)?;
        let start = self.offset;
        let end = start.saturating_add(len);
        self.offset = end;
        Ok(self.input.slice(start..end))
    }
}

/// Appends fixed-width little-endian fields to a buffer.
pub(crate) trait Writer {
    fn put_u16(&mut self, value: u16);
    fn put_u32(&mut self, value: u32);
    fn put_u64(&mut self, value: u64);
    fn put_slice(&mut self, bytes: &[u8]);
}

impl Writer for Vec<u8> {
    fn put_u16(&mut self, value: u16) {
        self.extend_from_slice(&value.to_le_bytes());
    }
    fn put_u32(&mut self, value: u32) {
        self.extend_from_slice(&value.to_le_bytes());
    }
    fn put_u64(&mut self, value: u64) {
        self.extend_from_slice(&value.to_le_bytes());
    }
    fn put_slice(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixed_width_little_endian() {
        let input = Bytes::from_static(&[1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        let mut reader = Reader::new(&input);
        assert_eq!(reader.u16(), Ok(1));
        assert_eq!(reader.u32(), Ok(2));
        assert_eq!(reader.u64(), Ok(3));
        assert_eq!(reader.finish(), Ok(()));
    }

    #[test]
    fn truncated_read_names_offset() {
        let input = Bytes::from_static(&[1, 2, 3]);
        let mut reader = Reader::new(&input);
        assert_eq!(reader.u16(), Ok(0x0201));
        assert_eq!(
            reader.u32(),
            Err(DecodeError::Truncated {
                offset: 2,
                needed: 4,
                available: 1
            })
        );
    }

    #[test]
    fn byte_string_checks_limit_before_length() {
        let input = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
        let mut reader = Reader::new(&input);
        assert!(matches!(
            reader.byte_string(Limit::PayloadBytes, 10),
            Err(DecodeError::LimitExceeded {
                offset: 0,
                value: 0xffff_ffff,
                max: 10,
                ..
            })
        ));
    }

    #[test]
    fn byte_string_is_zero_copy() {
        let input = Bytes::from_static(&[3, 0, 0, 0, b'a', b'b', b'c']);
        let mut reader = Reader::new(&input);
        let s = reader.byte_string(Limit::PayloadBytes, 10).unwrap();
        assert_eq!(&s[..], b"abc");
        assert_eq!(s.as_ptr(), input[4..].as_ptr());
    }

    #[test]
    fn trailing_bytes_rejected() {
        let input = Bytes::from_static(&[1, 0, 9]);
        let mut reader = Reader::new(&input);
        reader.u16().unwrap();
        assert_eq!(
            reader.finish(),
            Err(DecodeError::TrailingBytes {
                offset: 2,
                count: 1
            })
        );
    }
}
