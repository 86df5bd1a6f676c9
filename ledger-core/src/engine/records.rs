//! The engine's stored records besides the trees: keys and values of the
//! head, block, block-id, transaction-index and receipts columns
//! (`docs/STORAGE.md` lists them, `tests/golden_records.rs` pins their
//! bytes).
//!
//! Everything here decodes bytes read back from a store that may be
//! damaged: strictly, without panicking, without indexing unchecked, and
//! allocating in proportion to the input — except unpacking, which
//! allocates what a frame declares, refused above `MAX_PACKED_BODY_BYTES`
//! (and, for a block, above the block limit) before anything is allocated.

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use bytes::Bytes;

use crate::limits::{HEADER_BYTES, MAX_BLOCK_BYTES, MAX_TXS_PER_BLOCK, TX_FIXED_BYTES};
use crate::machine::Receipt;
use crate::types::Block;

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

/// Where a transaction is: its block's height and its index in the block.
/// (Its bytes are found by walking the block's transactions: a stored
/// block is compressed, so a byte offset would save nothing and cost 8
/// bytes per transaction.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TxLocation {
    pub(crate) height: u64,
    pub(crate) index: u32,
}

/// Encoded size of a [`TxLocation`].
pub(crate) const TX_LOCATION_BYTES: usize = 8 + 4;

impl TxLocation {
    /// Height (u64 BE), index (u32 BE).
    pub(crate) fn encode(&self) -> [u8; TX_LOCATION_BYTES] {
        let mut out = [0u8; TX_LOCATION_BYTES];
        let (height, index) = out.split_at_mut(8);
        height.copy_from_slice(&self.height.to_be_bytes());
        index.copy_from_slice(&self.index.to_be_bytes());
        out
    }

    /// Strict decoding; `None` for any other length or an index past the
    /// block limit.
    pub(crate) fn decode(bytes: &[u8]) -> Option<TxLocation> {
        let bytes = <&[u8; TX_LOCATION_BYTES]>::try_from(bytes).ok()?;
        let (height, index) = bytes.split_first_chunk::<8>()?;
        let location = TxLocation {
            height: u64::from_be_bytes(*height),
            index: u32::from_be_bytes(<[u8; 4]>::try_from(index).ok()?),
        };
        (location.index < MAX_TXS_PER_BLOCK).then_some(location)
    }
}

/// The byte range of the transaction at `index` in an encoded block
/// (header, then transactions back to back), found by reading each
/// earlier transaction's payload length; `None` if the block ends first.
/// The range is checked against the block's length only: the caller
/// decodes what it names.
pub(crate) fn transaction_span(block: &[u8], index: u32) -> Option<std::ops::Range<usize>> {
    let mut start = HEADER_BYTES as usize;
    let fixed = TX_FIXED_BYTES as usize;
    for at in 0..=index {
        let tx = block.get(start..)?;
        let payload_len = tx.get(PAYLOAD_LEN_OFFSET..)?.first_chunk::<4>()?;
        let len = fixed.checked_add(usize::try_from(u32::from_le_bytes(*payload_len)).ok()?)?;
        let end = start.checked_add(len).filter(|&end| end <= block.len())?;
        if at == index {
            return Some(start..end);
        }
        start = end;
    }
    None
}

/// Offset of a transaction's payload length (after chain id, sender and
/// nonce: `docs/FORMAT.md`).
const PAYLOAD_LEN_OFFSET: usize = 8 + 32 + 8;

/// How the body of a stored block or receipts record is kept: its first
/// byte.
const PACKED_RAW: u8 = 0;
/// The body is one zstd frame with its content size and checksum.
const PACKED_ZSTD: u8 = 1;

/// Bodies shorter than this are stored as they are (a frame's header and
/// checksum would eat what compressing a few transactions saves).
pub(crate) const MIN_COMPRESSED_BODY_BYTES: usize = 1024;

/// The compressor's window: 2 MiB (a block's repeated keys are found up to
/// that far back).
const ZSTD_WINDOW_LOG: u32 = 21;
/// The compressor's hash table: 2^17 entries.
const ZSTD_HASH_LOG: u32 = 17;
/// The shortest match the compressor looks for.
const ZSTD_MIN_MATCH: u32 = 7;

/// The most a stored body may unpack to (and the most the engine
/// compresses; a longer receipts record is stored as it is). A block is at
/// most `MAX_BLOCK_BYTES`, so every block body fits; the bound is what a
/// damaged or hostile store directory can make a reader allocate.
pub(crate) const MAX_PACKED_BODY_BYTES: usize = MAX_BLOCK_BYTES as usize;

/// Why a stored block or receipts record could not be unpacked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoredRecordError {
    /// Shorter than its packing byte (and a block's header).
    #[error("stored record too short ({0} bytes)")]
    TooShort(usize),
    /// A packing byte this build does not know.
    #[error("unknown packing {0}")]
    UnknownPacking(u8),
    /// The compressed body is not exactly one zstd frame with its checksum
    /// and content size, or declares more than its record may hold
    /// (`MAX_PACKED_BODY_BYTES`, 32 MiB; for a block, the block limit).
    #[error("malformed compressed body: {0}")]
    MalformedFrame(&'static str),
    /// zstd refused the body (a damaged frame or a wrong checksum).
    #[error("compressed body does not decompress: {0}")]
    Decompress(String),
    /// The stored block does not decode.
    #[error(transparent)]
    Block(#[from] crate::codec::DecodeError),
}

/// `prefix` as it is, then `body` packed: compressed if that is shorter.
fn pack(prefix: &[u8], body: &[u8]) -> Vec<u8> {
    let head = 1usize.saturating_add(prefix.len());
    if (MIN_COMPRESSED_BODY_BYTES..=MAX_PACKED_BODY_BYTES).contains(&body.len()) {
        // Compressed straight after the packing byte and the prefix.
        let bound = zstd::zstd_safe::compress_bound(body.len());
        let mut out = vec![0u8; head.saturating_add(bound)];
        let (out_head, out_body) = out.split_at_mut(head);
        if let Some(written) = compress(body, out_body).filter(|&n| n < body.len()) {
            if let Some((packing, out_prefix)) = out_head.split_first_mut() {
                *packing = PACKED_ZSTD;
                out_prefix.copy_from_slice(prefix);
            }
            out.truncate(head.saturating_add(written));
            return out;
        }
    }
    let mut out = Vec::with_capacity(head.saturating_add(body.len()));
    out.push(PACKED_RAW);
    out.extend_from_slice(prefix);
    out.extend_from_slice(body);
    out
}

/// Compresses `body` into `out` as one zstd frame with its content size
/// and checksum; the frame's length, or `None` if zstd fails (it does not
/// on these inputs given `compress_bound` bytes; the body is then stored as
/// it is).
///
/// zstd's fast strategy with a 2 MiB window and a 128 Ki-entry hash table
/// ([`ZSTD_HASH_LOG`]) and 7-byte matches ([`ZSTD_MIN_MATCH`]): the public
/// keys a block repeats are found anywhere in it, and signatures (which
/// never match) are skipped quickly. `docs/STORAGE.md` has the measurement
/// against levels 1 to 6.
fn compress(body: &[u8], out: &mut [u8]) -> Option<usize> {
    use zstd::zstd_safe::{CParameter, Strategy};
    let mut compressor = zstd::bulk::Compressor::new(1).ok()?;
    for parameter in [
        CParameter::Strategy(Strategy::ZSTD_fast),
        CParameter::WindowLog(ZSTD_WINDOW_LOG),
        CParameter::HashLog(ZSTD_HASH_LOG),
        CParameter::MinMatch(ZSTD_MIN_MATCH),
        CParameter::ChecksumFlag(true),
        CParameter::ContentSizeFlag(true),
    ] {
        compressor.set_parameter(parameter).ok()?;
    }
    compressor.compress_to_buffer(body, out).ok()
}

/// The record `pack(prefix, body)` made, as `prefix ‖ body`: the stored
/// bytes themselves (no copy) for a plain body; for a compressed one, a
/// new buffer of the prefix and exactly the declared size, refused above
/// `max_body` before it is allocated, after checking that the body is one
/// zstd frame with its checksum.
fn unpack(stored: &Bytes, prefix_len: usize, max_body: usize) -> Result<Bytes, StoredRecordError> {
    let too_short = || StoredRecordError::TooShort(stored.len());
    let (&packing, rest) = stored.split_first().ok_or_else(too_short)?;
    let (prefix, frame) = rest.split_at_checked(prefix_len).ok_or_else(too_short)?;
    match packing {
        PACKED_RAW => Ok(stored.slice(1..)),
        PACKED_ZSTD => {
            // A zstd frame (not a skippable one), with its checksum.
            let descriptor = frame
                .strip_prefix(&ZSTD_MAGIC)
                .and_then(|rest| rest.first())
                .ok_or(StoredRecordError::MalformedFrame("not a zstd frame"))?;
            if descriptor & ZSTD_CHECKSUM_FLAG == 0 {
                return Err(StoredRecordError::MalformedFrame("no checksum"));
            }
            let whole = zstd::zstd_safe::find_frame_compressed_size(frame)
                .map_err(|_| StoredRecordError::MalformedFrame("not a zstd frame"))?;
            if whole != frame.len() {
                return Err(StoredRecordError::MalformedFrame("bytes after the frame"));
            }
            let declared = zstd::zstd_safe::get_frame_content_size(frame)
                .ok()
                .flatten()
                .and_then(|size| usize::try_from(size).ok())
                .ok_or(StoredRecordError::MalformedFrame("no content size"))?;
            if declared > max_body {
                return Err(StoredRecordError::MalformedFrame(
                    "declares more than a record may hold",
                ));
            }
            let mut out = vec![0u8; prefix_len.saturating_add(declared)];
            let (out_prefix, out_body) = out.split_at_mut(prefix_len);
            out_prefix.copy_from_slice(prefix);
            let written = zstd::bulk::Decompressor::new()
                .and_then(|mut decompressor| decompressor.decompress_to_buffer(frame, out_body))
                .map_err(|error| StoredRecordError::Decompress(error.to_string()))?;
            if written != declared {
                return Err(StoredRecordError::MalformedFrame(
                    "shorter than its declared size",
                ));
            }
            Ok(Bytes::from(out))
        }
        other => Err(StoredRecordError::UnknownPacking(other)),
    }
}

/// The first bytes of a zstd frame (RFC 8878, 3.1.1), little-endian.
const ZSTD_MAGIC: [u8; 4] = 0xFD2F_B528u32.to_le_bytes();
/// The frame header descriptor's bit for a content checksum.
const ZSTD_CHECKSUM_FLAG: u8 = 0b100;

/// The most a block's transactions may unpack to: a block is at most
/// `MAX_BLOCK_BYTES` with its header.
const MAX_BLOCK_BODY_BYTES: usize = (MAX_BLOCK_BYTES - HEADER_BYTES) as usize;

/// A block's stored record: packing byte, the header as it is (so that
/// a header is read without unpacking), then the transactions packed.
/// `encoded` is the block's encoding (`Block::encode`).
pub(crate) fn pack_block(encoded: &[u8]) -> Vec<u8> {
    let (header, transactions) = encoded
        .split_at_checked(HEADER_BYTES as usize)
        .unwrap_or((encoded, &[]));
    pack(header, transactions)
}

/// The block encoding a stored block record holds.
pub(crate) fn unpack_block(stored: &Bytes) -> Result<Bytes, StoredRecordError> {
    unpack(stored, HEADER_BYTES as usize, MAX_BLOCK_BODY_BYTES)
}

/// The header bytes of a stored block record, without unpacking it.
pub(crate) fn stored_block_header(stored: &[u8]) -> Option<&[u8]> {
    stored
        .get(1..)
        .and_then(|rest| rest.get(..HEADER_BYTES as usize))
}

/// The record the engine stores for `block` (`docs/FORMAT.md`, "Stored
/// records"): for tools and tests that write or compare stored blocks.
pub fn encode_stored_block(block: &Block) -> Vec<u8> {
    pack_block(&block.encode())
}

/// A stored block record decoded: unpacked, then `Block::decode`.
pub fn decode_stored_block(stored: &Bytes) -> Result<Block, StoredRecordError> {
    Ok(Block::decode(&unpack_block(stored)?)?)
}

/// A receipts record ([`encode_receipts`]) packed for storage.
pub(crate) fn pack_receipts(record: &[u8]) -> Vec<u8> {
    pack(&[], record)
}

/// The receipts record a stored one holds.
pub(crate) fn unpack_receipts(stored: &Bytes) -> Result<Bytes, StoredRecordError> {
    unpack(stored, 0, MAX_PACKED_BODY_BYTES)
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
        };
        let bytes = location.encode();
        assert_eq!(TxLocation::decode(&bytes), Some(location));
        assert_eq!(TxLocation::decode(&bytes[..11]), None);
        assert_eq!(TxLocation::decode(&[bytes.as_slice(), &[0]].concat()), None);
        let mut past = location;
        past.index = MAX_TXS_PER_BLOCK;
        assert_eq!(TxLocation::decode(&past.encode()), None);
        past.index = MAX_TXS_PER_BLOCK - 1;
        assert_eq!(TxLocation::decode(&past.encode()), Some(past));
    }

    /// A block of `n` signed transactions of 41-byte payloads (the size of
    /// a transfer), senders and payloads repeating as in a busy ledger.
    fn block_of(n: u32) -> Block {
        use crate::types::{BlockHeader, Transaction};
        let keys: Vec<_> = (0..16u8)
            .map(|i| ed25519_dalek::SigningKey::from_bytes(&[i; 32]))
            .collect();
        let transactions = (0..n)
            .map(|i| {
                let key = &keys[(i % 16) as usize];
                let payload = [
                    [1u8].as_slice(),
                    &[(i % 7) as u8; 32],
                    &u64::from(i).to_le_bytes(),
                ]
                .concat();
                Transaction::sign(key, 7, u64::from(i), payload).unwrap()
            })
            .collect();
        let header = BlockHeader {
            version: crate::limits::BLOCK_FORMAT_VERSION,
            chain_id: 7,
            height: 3,
            parent: crate::hash::Hash([9; 32]),
            timestamp_ms: 1_700_000_000_000,
            tx_count: n,
            tx_root: crate::hash::Hash([1; 32]),
            receipts_root: crate::hash::Hash([2; 32]),
            state_root: crate::hash::Hash([3; 32]),
            history_root: crate::hash::Hash([4; 32]),
        };
        Block::new(header, transactions).unwrap()
    }

    #[test]
    fn blocks_pack_small_plain_and_large_compressed() {
        for (n, packing) in [(0, PACKED_RAW), (1, PACKED_RAW), (400, PACKED_ZSTD)] {
            let block = block_of(n);
            let encoded = block.encode();
            let stored = Bytes::from(pack_block(&encoded));
            assert_eq!(stored[0], packing, "{n} transactions");
            assert_eq!(
                stored_block_header(&stored),
                encoded.get(..HEADER_BYTES as usize)
            );
            assert_eq!(unpack_block(&stored).unwrap(), encoded);
            assert_eq!(decode_stored_block(&stored).unwrap(), block);
            if packing == PACKED_ZSTD {
                assert!(
                    stored.len() < encoded.len() * 3 / 4,
                    "{} of {}",
                    stored.len(),
                    encoded.len()
                );
            }
            for (index, tx) in block.transactions().iter().enumerate() {
                let span = transaction_span(&encoded, index as u32).unwrap();
                assert_eq!(&encoded[span], &tx.encode()[..]);
            }
            assert_eq!(transaction_span(&encoded, n), None);
        }
    }

    #[test]
    fn damaged_packed_records_are_refused_without_panicking() {
        let encoded = block_of(50).encode();
        let stored = pack_block(&encoded);
        assert_eq!(stored[0], PACKED_ZSTD);
        // Every single-byte change of the header's packing byte or the frame,
        // and every truncation, is refused or (header bytes) unpacks to
        // another header: never a panic, never the original block.
        for at in 0..stored.len() {
            let mut damaged = stored.clone();
            damaged[at] ^= 0x41;
            match unpack_block(&Bytes::from(damaged)) {
                Ok(unpacked) => assert_ne!(unpacked, encoded, "byte {at}"),
                Err(_) => assert!(at == 0 || at > HEADER_BYTES as usize, "byte {at}"),
            }
        }
        for len in 0..stored.len() {
            assert!(
                unpack_block(&Bytes::copy_from_slice(&stored[..len])).is_err(),
                "{len}"
            );
        }
        let mut longer = stored.clone();
        longer.push(0);
        assert_eq!(
            unpack_block(&Bytes::from(longer)),
            Err(StoredRecordError::MalformedFrame("bytes after the frame"))
        );
        let mut unknown = stored.clone();
        unknown[0] = 2;
        assert_eq!(
            unpack_block(&Bytes::from(unknown)),
            Err(StoredRecordError::UnknownPacking(2))
        );
    }

    /// A zstd frame of `body` made by zstd's streaming encoder, with or
    /// without its content size and checksum.
    fn stream_frame(body: &[u8], content_size: bool, checksum: bool) -> Vec<u8> {
        let mut frame = Vec::new();
        let mut encoder = zstd::stream::write::Encoder::new(&mut frame, 1).unwrap();
        encoder.include_contentsize(content_size).unwrap();
        encoder.include_checksum(checksum).unwrap();
        encoder
            .set_pledged_src_size(content_size.then_some(body.len() as u64))
            .unwrap();
        std::io::Write::write_all(&mut encoder, body).unwrap();
        encoder.finish().unwrap();
        frame
    }

    #[test]
    fn a_frame_declaring_more_than_the_bound_is_refused_before_allocating() {
        let too_large = Err(StoredRecordError::MalformedFrame(
            "declares more than a record may hold",
        ));
        // A frame of MAX_PACKED_BODY_BYTES + 1 zeros compresses to a few
        // hundred bytes; unpacking refuses it by its declared size.
        let frame = stream_frame(&vec![0u8; MAX_PACKED_BODY_BYTES + 1], true, true);
        let stored: Vec<u8> = [&[PACKED_ZSTD][..], &frame].concat();
        assert_eq!(unpack_receipts(&Bytes::from(stored)), too_large);
        // One byte less is the bound itself: accepted.
        let body = vec![0u8; MAX_PACKED_BODY_BYTES];
        let stored = Bytes::from(pack_receipts(&body));
        assert_eq!(stored[0], PACKED_ZSTD);
        assert_eq!(
            unpack_receipts(&stored).unwrap().len(),
            MAX_PACKED_BODY_BYTES
        );
        // A block's transactions: at most the block limit with the header.
        let header = [0u8; HEADER_BYTES as usize];
        for (len, accepted) in [
            (MAX_BLOCK_BODY_BYTES, true),
            (MAX_BLOCK_BODY_BYTES + 1, false),
        ] {
            let frame = stream_frame(&vec![0u8; len], true, true);
            let stored = Bytes::from([&[PACKED_ZSTD][..], &header, &frame].concat());
            match unpack_block(&stored) {
                Ok(unpacked) => {
                    assert!(accepted, "{len}");
                    assert_eq!(unpacked.len(), MAX_BLOCK_BYTES as usize);
                }
                Err(error) => {
                    assert!(!accepted, "{len}: {error}");
                    assert_eq!(Err(error), too_large);
                }
            }
        }
        // A frame without a content size, or without a checksum, is refused.
        for (content_size, checksum, problem) in [
            (false, true, "no content size"),
            (true, false, "no checksum"),
        ] {
            let frame = stream_frame(&[7u8; 4096], content_size, checksum);
            let stored: Vec<u8> = [&[PACKED_ZSTD][..], &frame].concat();
            assert_eq!(
                unpack_receipts(&Bytes::from(stored)),
                Err(StoredRecordError::MalformedFrame(problem))
            );
        }
        // So is a skippable frame (which would unpack to nothing).
        let skippable: Vec<u8> = [
            &[PACKED_ZSTD][..],
            &[0x50, 0x2A, 0x4D, 0x18],
            &4u32.to_le_bytes(),
            b"skip",
        ]
        .concat();
        assert_eq!(
            unpack_receipts(&Bytes::from(skippable)),
            Err(StoredRecordError::MalformedFrame("not a zstd frame"))
        );
    }

    #[test]
    fn receipts_records_pack_and_unpack() {
        let receipts = vec![Receipt::success(); 2_000];
        let record = encode_receipts(&receipts);
        let stored = Bytes::from(pack_receipts(&record));
        assert_eq!(stored[0], PACKED_ZSTD);
        assert!(
            stored.len() < record.len() / 10,
            "{} of {}",
            stored.len(),
            record.len()
        );
        assert_eq!(unpack_receipts(&stored).unwrap(), record);
        let small = encode_receipts(&receipts[..3]);
        let stored = Bytes::from(pack_receipts(&small));
        assert_eq!(stored[0], PACKED_RAW);
        assert_eq!(unpack_receipts(&stored).unwrap(), small);
    }

    /// The golden block (`tests/fixtures/block_v3_7tx.bin`) as a stored
    /// record: compressed, and pinned in `stored_block_v5_7tx.bin`, so that
    /// every later build reads what this one wrote (`LEDGER_BLESS=1`
    /// rewrites it after a deliberate change).
    #[test]
    fn the_golden_block_packs_to_its_fixture_and_back() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let encoded = Bytes::from(std::fs::read(dir.join("block_v3_7tx.bin")).unwrap());
        let block = Block::decode(&encoded).unwrap();
        let packed = pack_block(&encoded);
        assert_eq!(packed[0], PACKED_ZSTD);
        let path = dir.join("stored_block_v5_7tx.bin");
        if std::env::var_os("LEDGER_BLESS").is_some() {
            std::fs::write(&path, &packed).unwrap();
        }
        let stored = Bytes::from(std::fs::read(&path).unwrap());
        assert_eq!(decode_stored_block(&stored).unwrap(), block);
        assert_eq!(
            packed, stored,
            "this build packs the golden block differently"
        );
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
