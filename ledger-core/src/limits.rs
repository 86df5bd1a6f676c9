//! Every bound the ledger enforces on what blocks, transactions and
//! applications may do, in one place: the encoding limits (checked by the
//! decoders before anything is allocated for the value they bound, tested at
//! their boundary in `tests/codec_limits.rs`), and the execution limits (what
//! one transaction, and one block, may make an application read and write;
//! tested at their boundary in `tests/execution_limits.rs`).
//!
//! Limits on proofs and stored records sit beside their formats
//! ([`crate::merkle::MAX_PROOF_HASHES`],
//! [`crate::state_tree::MAX_STATE_PROOF_SIBLINGS`]); limits an operator
//! chooses (cache budgets, retention) are fields of
//! [`crate::LedgerConfig`]. Relations between limits are pinned at compile
//! time below, so that changing one cannot silently make another
//! unreachable.

/// The block format version this build reads and writes.
///
/// The header carries it first; a block with any other version is rejected,
/// never guessed at. Version 3: the history root is RFC 6962's SHA-256 tree
/// over the encoded headers (version 2: blake3 over the block ids).
pub const BLOCK_FORMAT_VERSION: u16 = 3;

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

/// Encoded size of a block header, in bytes (see `docs/FORMAT.md`): version,
/// chain id, height, parent, timestamp, transaction count, then the
/// transaction, receipts, state and history roots.
pub const HEADER_BYTES: u32 = 2 + 8 + 8 + 32 + 8 + 4 + 32 + 32 + 32 + 32;

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

// ---------------------------------------------------------------------------
// Execution: what one transaction may do.

/// Longest application state key, in bytes. Keys are hashed to positions, so
/// length costs only hashing; 256 bytes holds any composite key of the
/// reference applications (a prefix and two or three hashes).
pub const MAX_STATE_KEY_BYTES: usize = 256;

/// Largest application state value, in bytes: as large as a payload, so that
/// an application can store what a transaction carries.
pub const MAX_STATE_VALUE_BYTES: usize = 64 * 1024;

/// Most state reads one transaction may make. Reads cost a tree lookup each;
/// 4,096 bounds one transaction's work at a few milliseconds.
pub const MAX_READS_PER_TX: usize = 4_096;

/// Most keys of one transaction's read hints the engine reads ahead
/// ([`crate::machine::StateMachine::read_hints`]); it ignores the rest. A
/// hint saves a read's latency, not its work: a few keys per transaction
/// cover the reference applications, and the bound keeps a hinting
/// application from making the engine read more than a small multiple of
/// what the block executes.
pub const MAX_READ_HINTS_PER_TX: usize = 16;

/// Most state writes (puts and deletes) one transaction may make.
pub const MAX_WRITES_PER_TX: usize = 1_024;

/// Most events one transaction may emit.
pub const MAX_EVENTS_PER_TX: usize = 64;

/// Largest event (topic plus data), in bytes.
pub const MAX_EVENT_BYTES: usize = 1_024;

/// Longest failure message kept in a receipt, in bytes; longer messages are
/// cut at a character boundary by `Failure::new`.
pub const MAX_FAILURE_MESSAGE_BYTES: usize = 256;

// ---------------------------------------------------------------------------
// Execution: what one block may do. Without these, a block within
// MAX_BLOCK_BYTES could make its transactions write
// MAX_TXS_PER_BLOCK × MAX_WRITES_PER_TX values of MAX_STATE_VALUE_BYTES: an
// unbounded commit. A transaction that would take its block past one of them
// fails (code 0, like any limit), its writes discarded; the block stays
// valid, and every node decides the same.

/// Most application state writes (puts and deletes, counted per call) of one
/// block's successful transactions: 20 times the 20,000 of the benchmark's
/// 10,000-transfer block. Nonces, one per transaction, are not counted.
pub const MAX_BLOCK_STATE_WRITES: usize = 400_000;

/// Most bytes of keys and values written by one block's successful
/// transactions: twice `MAX_BLOCK_BYTES`, so a block may store everything it
/// carries and a little more, and its commit stays below 100 MB.
pub const MAX_BLOCK_STATE_WRITE_BYTES: usize = 64 * 1024 * 1024;

/// Most events of one block's successful transactions.
pub const MAX_BLOCK_EVENTS: usize = 200_000;

/// Most event bytes (topics plus data) of one block's successful
/// transactions: the receipts record of a block stays below 16 MiB plus its
/// fixed per-receipt bytes.
pub const MAX_BLOCK_EVENT_BYTES: usize = 16 * 1024 * 1024;

// One transaction at its own limits must fit in an empty block's budget, or
// the per-transaction limits would be a lie.
const _: () = assert!(MAX_WRITES_PER_TX <= MAX_BLOCK_STATE_WRITES);
const _: () = assert!(MAX_STATE_KEY_BYTES + MAX_STATE_VALUE_BYTES <= MAX_BLOCK_STATE_WRITE_BYTES);
const _: () = assert!(MAX_EVENTS_PER_TX <= MAX_BLOCK_EVENTS);
const _: () = assert!(MAX_EVENTS_PER_TX * MAX_EVENT_BYTES <= MAX_BLOCK_EVENT_BYTES);
// Receipt encodings use u16 counts and lengths.
const _: () = assert!(MAX_EVENTS_PER_TX <= u16::MAX as usize);
const _: () = assert!(MAX_EVENT_BYTES <= u16::MAX as usize);
const _: () = assert!(MAX_FAILURE_MESSAGE_BYTES <= u16::MAX as usize);

// ---------------------------------------------------------------------------
// Checkpoints: signed notes, checkpoints, cosignatures and trust policies in
// the C2SP formats (`crate::checkpoint`). These bound what an offline
// verifier parses; each is checked before anything it bounds is allocated,
// and tested at its boundary in `checkpoint`'s unit tests.

/// Largest signed note (text, blank line and signature lines), in bytes.
///
/// c2sp.org/signed-note asks verifiers to accept at least 16 signatures and
/// reminds that a post-quantum signature line can approach 5 kB of base64;
/// 1 MiB holds 100 such lines beside any checkpoint text, and is what the Go
/// and Rust reference implementations accept (1,000,000 bytes).
pub const MAX_NOTE_BYTES: usize = 1024 * 1024;

/// Most signature lines in one signed note: six times the 16 the
/// specification requires verifiers to accept, and the 100 of the reference
/// implementations.
pub const MAX_NOTE_SIGNATURES: usize = 100;

/// Longest key name of a verifier or signer key, in bytes.
///
/// The specification bounds none, but the ML-DSA-44 cosignature format of
/// c2sp.org/tlog-cosignature encodes cosigner names and log origins with a
/// one-byte length, so 255 is the ecosystem's bound. A longer name in a
/// signature line cannot name a key we hold, and is ignored like any
/// unknown key.
pub const MAX_KEY_NAME_BYTES: usize = 255;

/// Largest trust policy file (c2sp.org/tlog-policy), in bytes: far more than
/// `MAX_POLICY_WITNESSES` witness lines of ~120 bytes.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// Most `log` lines in one policy (the specification recommends supporting
/// at least 32).
pub const MAX_POLICY_LOGS: usize = 64;

/// Most `witness` lines in one policy (at least 32 recommended).
pub const MAX_POLICY_WITNESSES: usize = 256;

/// Most `group` lines in one policy (at least 32 recommended).
pub const MAX_POLICY_GROUPS: usize = 256;

// The specification's floors.
const _: () = assert!(MAX_NOTE_SIGNATURES >= 16);
const _: () =
    assert!(MAX_POLICY_LOGS >= 32 && MAX_POLICY_WITNESSES >= 32 && MAX_POLICY_GROUPS >= 32);

// ---------------------------------------------------------------------------
// Witnessed proofs in their binary encoding (`WitnessedProof::encode`,
// `docs/FORMAT.md`): what an offline verifier (a QR proof bundle) decodes.
// Each length is checked against its limit before the bytes it announces
// are read; the whole input against `MAX_WITNESSED_PROOF_BYTES` first.

/// Format version of the binary `WitnessedProof` encoding.
pub const WITNESSED_PROOF_FORMAT_VERSION: u16 = 1;

/// Largest encoded receipt: tag, event count, and `MAX_EVENTS_PER_TX`
/// events of two u16-length-prefixed fields whose bytes together are at
/// most `MAX_EVENT_BYTES` (a failure is far shorter).
pub const MAX_RECEIPT_BYTES: u32 = 1 + 2 + MAX_EVENTS_PER_TX as u32 * (4 + MAX_EVENT_BYTES as u32);

/// Largest encoded inclusion proof (index, size, count, 65 hashes):
/// `merkle::MAX_PROOF_HASHES` hashes after 17 bytes.
pub const MAX_INCLUSION_PROOF_BYTES: u32 = 8 + 8 + 1 + 65 * 32;

/// Largest encoded state proof: a leaf terminal (65 bytes), the u16 count,
/// a bitmap of 256 bits and 256 sibling hashes.
pub const MAX_STATE_PROOF_BYTES: u32 = 65 + 2 + 32 + 256 * 32;

/// Largest encoded `WitnessedProof`: above the largest transaction record
/// (a transaction of `MAX_TX_BYTES`, the largest receipt, two inclusion
/// proofs) and the largest state record (key, value, state proof), with the
/// header and history proof. Small enough to hold in memory without
/// thought, and to say no to at once.
pub const MAX_WITNESSED_PROOF_BYTES: u32 = 192 * 1024;

const _: () = assert!(
    2 + 1
        + HEADER_BYTES
        + 4
        + MAX_INCLUSION_PROOF_BYTES
        + 4
        + MAX_TX_BYTES
        + 4
        + MAX_RECEIPT_BYTES
        + 2 * (4 + MAX_INCLUSION_PROOF_BYTES)
        <= MAX_WITNESSED_PROOF_BYTES
);
const _: () = assert!(
    2 + 1
        + HEADER_BYTES
        + 4
        + MAX_INCLUSION_PROOF_BYTES
        + 4
        + MAX_STATE_KEY_BYTES as u32
        + 1
        + 4
        + MAX_STATE_VALUE_BYTES as u32
        + 4
        + MAX_STATE_PROOF_BYTES
        <= MAX_WITNESSED_PROOF_BYTES
);
