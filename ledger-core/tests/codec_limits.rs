//! Every limit of the codec, tested at its boundary: the value at the limit
//! is accepted, one past it is rejected with `LimitExceeded` (or `Truncated`
//! when the bytes are not there), and nothing is allocated for the claim.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use bytes::Bytes;
use ledger_core::{
    Block, BlockHeader, DecodeError, EncodeError, Hash, Limit, PublicKey, Signature, Transaction,
    BLOCK_FORMAT_VERSION, HEADER_BYTES, MAX_BLOCK_BYTES, MAX_PAYLOAD_BYTES, MAX_TXS_PER_BLOCK,
    MAX_TX_BYTES, TX_FIXED_BYTES,
};

fn header(tx_count: u32) -> BlockHeader {
    BlockHeader {
        version: BLOCK_FORMAT_VERSION,
        chain_id: 1,
        height: 0,
        parent: Hash::ZERO,
        timestamp_ms: 0,
        tx_count,
        tx_root: Hash::ZERO,
        receipts_root: Hash::ZERO,
        state_root: Hash::ZERO,
        history_root: Hash::ZERO,
    }
}

fn tx_with_payload(len: usize) -> Transaction {
    Transaction::from_parts(
        1,
        PublicKey([1; 32]),
        0,
        Bytes::from(vec![7u8; len]),
        Signature([2; 64]),
    )
    .unwrap()
}

/// Offset of the payload length field inside a transaction encoding.
const PAYLOAD_LEN_OFFSET: usize = 8 + 32 + 8;
/// Offset of the transaction count inside a header.
const TX_COUNT_OFFSET: usize = 2 + 8 + 8 + 32 + 8;

#[test]
fn payload_at_limit_roundtrips() {
    let tx = tx_with_payload(MAX_PAYLOAD_BYTES as usize);
    let bytes = tx.encode();
    assert_eq!(bytes.len(), MAX_TX_BYTES as usize);
    assert_eq!(Transaction::decode(&bytes).unwrap(), tx);
}

#[test]
fn payload_length_one_over_limit_is_rejected_before_reading() {
    let mut bytes = tx_with_payload(4).encode().to_vec();
    bytes[PAYLOAD_LEN_OFFSET..PAYLOAD_LEN_OFFSET + 4]
        .copy_from_slice(&(MAX_PAYLOAD_BYTES + 1).to_le_bytes());
    assert_eq!(
        Transaction::decode(&Bytes::from(bytes)),
        Err(DecodeError::LimitExceeded {
            offset: PAYLOAD_LEN_OFFSET,
            what: Limit::PayloadBytes,
            value: u64::from(MAX_PAYLOAD_BYTES) + 1,
            max: u64::from(MAX_PAYLOAD_BYTES),
        })
    );
}

#[test]
fn payload_length_claiming_more_than_present_is_truncated() {
    let mut bytes = tx_with_payload(4).encode().to_vec();
    bytes[PAYLOAD_LEN_OFFSET..PAYLOAD_LEN_OFFSET + 4].copy_from_slice(&1000u32.to_le_bytes());
    assert!(matches!(
        Transaction::decode(&Bytes::from(bytes)),
        Err(DecodeError::Truncated { offset, needed: 1000, .. }) if offset == PAYLOAD_LEN_OFFSET + 4
    ));
}

#[test]
fn oversized_transaction_input_rejected_by_length() {
    let bytes = Bytes::from(vec![0u8; MAX_TX_BYTES as usize + 1]);
    assert!(matches!(
        Transaction::decode(&bytes),
        Err(DecodeError::LimitExceeded {
            offset: 0,
            what: Limit::TxBytes,
            ..
        })
    ));
}

#[test]
fn tx_count_at_limit_is_checked_against_remaining_bytes_not_allocated() {
    // A 158-byte header that claims the maximum count: the decoder must
    // refuse for lack of bytes before reserving 100,000 transactions.
    let bytes = header(MAX_TXS_PER_BLOCK).encode();
    assert_eq!(
        Block::decode(&bytes),
        Err(DecodeError::Truncated {
            offset: HEADER_BYTES as usize,
            needed: u64::from(MAX_TXS_PER_BLOCK) * u64::from(TX_FIXED_BYTES),
            available: 0,
        })
    );
}

#[test]
fn tx_count_one_over_limit_is_rejected() {
    let mut bytes = header(0).encode().to_vec();
    bytes[TX_COUNT_OFFSET..TX_COUNT_OFFSET + 4]
        .copy_from_slice(&(MAX_TXS_PER_BLOCK + 1).to_le_bytes());
    assert_eq!(
        Block::decode(&Bytes::from(bytes)),
        Err(DecodeError::LimitExceeded {
            offset: TX_COUNT_OFFSET,
            what: Limit::TxsPerBlock,
            value: u64::from(MAX_TXS_PER_BLOCK) + 1,
            max: u64::from(MAX_TXS_PER_BLOCK),
        })
    );
}

#[test]
fn block_with_max_tx_count_roundtrips() {
    let txs: Vec<_> = (0..MAX_TXS_PER_BLOCK).map(|_| tx_with_payload(0)).collect();
    let block = Block::new(header(MAX_TXS_PER_BLOCK), txs).unwrap();
    let bytes = block.encode();
    assert!(bytes.len() <= MAX_BLOCK_BYTES as usize);
    assert_eq!(Block::decode(&bytes).unwrap(), block);
}

#[test]
fn block_over_count_limit_cannot_be_built() {
    let txs: Vec<_> = (0..=MAX_TXS_PER_BLOCK)
        .map(|_| tx_with_payload(0))
        .collect();
    assert!(matches!(
        Block::new(header(MAX_TXS_PER_BLOCK + 1), txs),
        Err(EncodeError::LimitExceeded {
            what: Limit::TxsPerBlock,
            ..
        })
    ));
}

/// The number of full-payload transactions that fit under the block limit.
fn max_full_txs() -> u32 {
    (MAX_BLOCK_BYTES - HEADER_BYTES) / MAX_TX_BYTES
}

#[test]
fn block_bytes_at_limit_roundtrips_and_one_over_is_rejected() {
    // Fill a block to exactly MAX_BLOCK_BYTES with full transactions and one
    // transaction sized to take up the rest.
    let full = max_full_txs();
    let rest = (MAX_BLOCK_BYTES - HEADER_BYTES - full * MAX_TX_BYTES - TX_FIXED_BYTES) as usize;
    let mut txs: Vec<_> = (0..full)
        .map(|_| tx_with_payload(MAX_PAYLOAD_BYTES as usize))
        .collect();
    txs.push(tx_with_payload(rest));
    let block = Block::new(header(full + 1), txs.clone()).unwrap();
    let bytes = block.encode();
    assert_eq!(bytes.len(), MAX_BLOCK_BYTES as usize);
    assert_eq!(Block::decode(&bytes).unwrap(), block);

    // One more byte of payload: cannot be built, and its bytes cannot be decoded.
    let last = txs.len() - 1;
    txs[last] = tx_with_payload(rest + 1);
    assert!(matches!(
        Block::new(header(full + 1), txs),
        Err(EncodeError::LimitExceeded {
            what: Limit::BlockBytes,
            ..
        })
    ));
    let mut over = bytes.to_vec();
    over.push(0);
    assert_eq!(
        Block::decode(&Bytes::from(over)),
        Err(DecodeError::LimitExceeded {
            offset: 0,
            what: Limit::BlockBytes,
            value: u64::from(MAX_BLOCK_BYTES) + 1,
            max: u64::from(MAX_BLOCK_BYTES),
        })
    );
}

#[test]
fn unknown_version_is_rejected() {
    // The previous version (1, without a receipts root) and the next one.
    for version in [BLOCK_FORMAT_VERSION - 1, BLOCK_FORMAT_VERSION + 1] {
        let mut bytes = header(0).encode().to_vec();
        bytes[0..2].copy_from_slice(&version.to_le_bytes());
        assert_eq!(
            Block::decode(&Bytes::from(bytes)),
            Err(DecodeError::UnsupportedVersion {
                offset: 0,
                version,
                supported: BLOCK_FORMAT_VERSION
            })
        );
    }
    let mut future = header(0);
    future.version = BLOCK_FORMAT_VERSION + 1;
    assert!(matches!(
        Block::new(future, vec![]),
        Err(EncodeError::UnsupportedVersion { .. })
    ));
}

#[test]
fn trailing_bytes_after_block_are_rejected() {
    let mut bytes = header(0).encode().to_vec();
    bytes.push(0);
    assert_eq!(
        Block::decode(&Bytes::from(bytes)),
        Err(DecodeError::TrailingBytes {
            offset: HEADER_BYTES as usize,
            count: 1
        })
    );
}
