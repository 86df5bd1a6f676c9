//! The engine's stored records besides the trees: keys and values of the
//! head, block, block-id, transaction-index and receipts columns
//! (`docs/STORAGE.md` lists them, `tests/golden_records.rs` pins their
//! bytes).
//!
//! Everything here decodes bytes read back from a store that may be
//! damaged: strictly, without panicking, without indexing unchecked, and
//! allocating in proportion to the input.

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use crate::limits::{MAX_TXS_PER_BLOCK, TX_FIXED_BYTES};
use crate::machine::Receipt;

/// Meta key of the head record (the latest committed header).
pub(crate) const HEAD_KEY: &[u8] = b"head";

/// Key of a block, its receipts, and its height in the block-id index:
/// the height, big-endian (so that keys sort by height).
pub(crate) fn height_key(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

/// The height in a height key.
pub(crate) fn decode_height(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

/// Where a transaction is: its block's height, its index in the block, and
/// the byte range of its encoding in the stored block, so that a query
/// decodes that transaction alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TxLocation {
    pub(crate) height: u64,
    pub(crate) index: u32,
    pub(crate) offset: u32,
    pub(crate) len: u32,
}

/// Encoded size of a [`TxLocation`].
pub(crate) const TX_LOCATION_BYTES: usize = 8 + 4 + 4 + 4;

impl TxLocation {
    /// Height (u64 BE), index (u32 BE), offset (u32 BE), length (u32 BE).
    pub(crate) fn encode(&self) -> [u8; TX_LOCATION_BYTES] {
        let mut out = [0u8; TX_LOCATION_BYTES];
        let parts: [&[u8]; 4] = [
            &self.height.to_be_bytes(),
            &self.index.to_be_bytes(),
            &self.offset.to_be_bytes(),
            &self.len.to_be_bytes(),
        ];
        let mut at = out.as_mut_slice();
        for part in parts {
            let (head, rest) = at.split_at_mut(part.len());
            head.copy_from_slice(part);
            at = rest;
        }
        out
    }

    /// Strict decoding; `None` for any other length or an impossible entry
    /// (an index past the block limit, a length shorter than a transaction).
    pub(crate) fn decode(bytes: &[u8]) -> Option<TxLocation> {
        let bytes = <&[u8; TX_LOCATION_BYTES]>::try_from(bytes).ok()?;
        let (height, rest) = bytes.split_first_chunk::<8>()?;
        let (index, rest) = rest.split_first_chunk::<4>()?;
        let (offset, rest) = rest.split_first_chunk::<4>()?;
        let (len, _) = rest.split_first_chunk::<4>()?;
        let location = TxLocation {
            height: u64::from_be_bytes(*height),
            index: u32::from_be_bytes(*index),
            offset: u32::from_be_bytes(*offset),
            len: u32::from_be_bytes(*len),
        };
        (location.index < MAX_TXS_PER_BLOCK && location.len >= TX_FIXED_BYTES).then_some(location)
    }
}

/// Bytes of an encoded receipt at least (a tag and a u16).
const MIN_RECEIPT_BYTES: usize = 3;

/// A block's receipts as one record: count (u32 LE), then each receipt's
/// length (u32 LE) and encoding.
pub(crate) fn encode_receipts(receipts: &[Receipt]) -> Vec<u8> {
    let encoded: Vec<Vec<u8>> = receipts.iter().map(Receipt::encode).collect();
    let total: usize = encoded.iter().map(|r| r.len().saturating_add(4)).sum();
    let mut out = Vec::with_capacity(total.saturating_add(4));
    // Cannot truncate: a block holds at most MAX_TXS_PER_BLOCK receipts,
    // each of a few KiB at most (the receipt limits).
    out.extend_from_slice(
        &u32::try_from(receipts.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    for receipt in &encoded {
        out.extend_from_slice(
            &u32::try_from(receipt.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        out.extend_from_slice(receipt);
    }
    out
}

/// The count and the first receipt's position, checked against the bytes
/// that remain (so that no count can make a reader allocate what the input
/// cannot hold).
fn receipts_header(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let (count, rest) = bytes.split_first_chunk::<4>()?;
    let count = usize::try_from(u32::from_le_bytes(*count)).ok()?;
    let least = count.checked_mul(4 + MIN_RECEIPT_BYTES)?;
    (count <= MAX_TXS_PER_BLOCK as usize && rest.len() >= least).then_some((count, rest))
}

fn next_receipt<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, after) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    let (encoded, after) = after.split_at_checked(len)?;
    *rest = after;
    Some(encoded)
}

/// Strict decoding of [`encode_receipts`]'s output.
pub(crate) fn decode_receipts(bytes: &[u8]) -> Option<Vec<Receipt>> {
    let (count, mut rest) = receipts_header(bytes)?;
    let mut receipts = Vec::with_capacity(count);
    for _ in 0..count {
        receipts.push(Receipt::decode(next_receipt(&mut rest)?)?);
    }
    rest.is_empty().then_some(receipts)
}

/// The receipt at `index` of a receipts record, decoding only that one
/// (the record's framing is still checked to its end).
pub(crate) fn receipt_at(bytes: &[u8], index: u32) -> Option<Receipt> {
    let (count, mut rest) = receipts_header(bytes)?;
    let mut found = None;
    for at in 0..count {
        let encoded = next_receipt(&mut rest)?;
        if u32::try_from(at).ok()? == index {
            found = Some(encoded);
        }
    }
    if !rest.is_empty() {
        return None;
    }
    Receipt::decode(found?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Failure;

    #[test]
    fn locations_roundtrip_and_refuse_other_lengths() {
        let location = TxLocation {
            height: 7,
            index: 3,
            offset: 190,
            len: 156,
        };
        let bytes = location.encode();
        assert_eq!(TxLocation::decode(&bytes), Some(location));
        assert_eq!(TxLocation::decode(&bytes[..19]), None);
        assert_eq!(TxLocation::decode(&[bytes.as_slice(), &[0]].concat()), None);
        let mut short_len = location;
        short_len.len = TX_FIXED_BYTES - 1;
        assert_eq!(TxLocation::decode(&short_len.encode()), None);
    }

    #[test]
    fn receipts_records_roundtrip_and_single_reads_agree() {
        let receipts = vec![
            Receipt::success(),
            Receipt::Failed(Failure::new(3, "no")),
            Receipt::success(),
        ];
        let bytes = encode_receipts(&receipts);
        assert_eq!(decode_receipts(&bytes).as_ref(), Some(&receipts));
        for (index, receipt) in receipts.iter().enumerate() {
            assert_eq!(receipt_at(&bytes, index as u32).as_ref(), Some(receipt));
        }
        assert_eq!(receipt_at(&bytes, 3), None);
        for len in 0..bytes.len() {
            assert_eq!(decode_receipts(&bytes[..len]), None, "prefix of {len}");
            assert_eq!(receipt_at(&bytes[..len], 0), None, "prefix of {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode_receipts(&longer), None);
    }

    #[test]
    fn a_count_the_bytes_cannot_hold_is_refused_before_allocating() {
        let mut lie = 100_000u32.to_le_bytes().to_vec();
        lie.extend_from_slice(&[0; 3]);
        assert_eq!(decode_receipts(&lie), None);
    }
}
