//! Every bound the ledger enforces on untrusted input, in one place.
//!
//! Each limit is checked by the decoder *before* anything is allocated for the
//! value it bounds, and each has a test at its boundary (`tests/codec_limits.rs`).
//! Relations between limits are pinned at compile time below, so that changing
//! one cannot silently make another unreachable.

/// The block format version this build reads and writes.
///
/// The header carries it first; a block with any other version is rejected,
/// never guessed at.
pub const BLOCK_FORMAT_VERSION: u16 = 1;

/// Largest application payload of one transaction, in bytes.
///
/// 64 KiB holds any record of the reference applications (a transfer is
/// 40 bytes, a custody hand-over under 300) with ample room, while keeping one
/// transaction far below a block, so that a single sender cannot fill a block
/// with one transaction.
pub const MAX_PAYLOAD_BYTES: u32 = 64 * 1024;

/// Bytes of a transaction encoding that do not depend on the payload:
/// chain id (8), sender key (32), nonce (8), payload length (4), signature (64).
pub const TX_FIXED_BYTES: u32 = 8 + 32 + 8 + 4 + 64;

/// Largest encoded transaction, in bytes.
pub const MAX_TX_BYTES: u32 = TX_FIXED_BYTES + MAX_PAYLOAD_BYTES;

/// Encoded size of a block header, in bytes (see `docs/FORMAT.md`).
pub const HEADER_BYTES: u32 = 2 + 8 + 8 + 32 + 8 + 4 + 32 + 32 + 32;

/// Largest number of transactions in one block.
///
/// 100,000 is ten times the benchmark's block of 10,000 transfers. The bound
/// keeps the per-block vectors (ids, signatures, receipts) at a size a node
/// can always afford.
pub const MAX_TXS_PER_BLOCK: u32 = 100_000;

/// Largest encoded block, in bytes.
///
/// 32 MiB: a block of `MAX_TXS_PER_BLOCK` minimal transactions fits, and the
/// whole block can be held in memory twice (bytes and decoded view) on any
/// machine that runs a node.
pub const MAX_BLOCK_BYTES: u32 = 32 * 1024 * 1024;

// A block that holds the largest number of the smallest transactions must be
// encodable, or `MAX_TXS_PER_BLOCK` would be a lie.
const _: () = assert!(
    HEADER_BYTES as u64 + MAX_TXS_PER_BLOCK as u64 * TX_FIXED_BYTES as u64
        <= MAX_BLOCK_BYTES as u64
);
// One transaction of the largest payload must fit in a block.
const _: () = assert!(HEADER_BYTES + MAX_TX_BYTES <= MAX_BLOCK_BYTES);
// Every encoded length fits the u32 length prefixes of the format.
const _: () = assert!(MAX_BLOCK_BYTES < u32::MAX);
