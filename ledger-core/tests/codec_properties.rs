//! Property tests of the canonical codec: every value round-trips, every
//! accepted byte string re-encodes to itself, and truncated or corrupted
//! encodings give an error or a different valid value, never a panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use bytes::Bytes;
use ledger_core::testing::proptest_config;
use ledger_core::{
    Block, BlockHeader, Hash, PublicKey, Signature, Transaction, BLOCK_FORMAT_VERSION,
};
use proptest::prelude::*;

fn arb_hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

fn arb_tx() -> impl Strategy<Value = Transaction> {
    (
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(any::<u8>(), 64),
    )
        .prop_map(|(chain_id, sender, nonce, payload, sig)| {
            let mut signature = [0u8; 64];
            signature.copy_from_slice(&sig);
            Transaction::from_parts(
                chain_id,
                PublicKey(sender),
                nonce,
                Bytes::from(payload),
                Signature(signature),
            )
            .expect("payload under 200 bytes is within the limit")
        })
}

fn arb_block() -> impl Strategy<Value = Block> {
    (
        any::<u64>(),
        any::<u64>(),
        arb_hash(),
        any::<u64>(),
        (arb_hash(), arb_hash(), arb_hash(), arb_hash()),
        prop::collection::vec(arb_tx(), 0..12),
    )
        .prop_map(
            |(
                chain_id,
                height,
                parent,
                timestamp_ms,
                (tx_root, receipts_root, state_root, history_root),
                txs,
            )| {
                let header = BlockHeader {
                    version: BLOCK_FORMAT_VERSION,
                    chain_id,
                    height,
                    parent,
                    timestamp_ms,
                    tx_count: txs.len() as u32,
                    tx_root,
                    receipts_root,
                    state_root,
                    history_root,
                };
                Block::new(header, txs).expect("small blocks are within the limits")
            },
        )
}

proptest! {
    #![proptest_config(proptest_config(512, file!()))]

    #[test]
    fn tx_roundtrip(tx in arb_tx()) {
        let bytes = tx.encode();
        prop_assert_eq!(bytes.len(), tx.encoded_len());
        prop_assert_eq!(Transaction::decode(&bytes)?, tx);
    }

    #[test]
    fn block_roundtrip(block in arb_block()) {
        let bytes = block.encode();
        prop_assert_eq!(bytes.len(), block.encoded_len());
        let decoded = Block::decode(&bytes)?;
        prop_assert_eq!(decoded.id(), block.id());
        prop_assert_eq!(decoded, block);
    }

    #[test]
    fn accepted_bytes_reencode_to_themselves(raw in prop::collection::vec(any::<u8>(), 0..600)) {
        let bytes = Bytes::from(raw);
        if let Ok(tx) = Transaction::decode(&bytes) {
            prop_assert_eq!(tx.encode(), bytes.clone());
        }
        if let Ok(block) = Block::decode(&bytes) {
            prop_assert_eq!(block.encode(), bytes);
        }
    }

    #[test]
    fn every_truncation_is_an_error(block in arb_block()) {
        let bytes = block.encode();
        for len in 0..bytes.len() {
            prop_assert!(Block::decode(&bytes.slice(..len)).is_err(), "prefix of {} bytes accepted", len);
        }
    }

    #[test]
    fn every_flipped_byte_is_an_error_or_another_value(block in arb_block(), mask in 1u8..=255) {
        let bytes = block.encode();
        for at in 0..bytes.len() {
            let mut corrupted = bytes.to_vec();
            corrupted[at] ^= mask;
            let corrupted = Bytes::from(corrupted);
            if let Ok(other) = Block::decode(&corrupted) {
                prop_assert_ne!(&other, &block);
                prop_assert_eq!(other.encode(), corrupted);
            }
        }
    }

    #[test]
    fn every_flipped_tx_byte_is_an_error_or_another_value(tx in arb_tx(), mask in 1u8..=255) {
        let bytes = tx.encode();
        for at in 0..bytes.len() {
            let mut corrupted = bytes.to_vec();
            corrupted[at] ^= mask;
            let corrupted = Bytes::from(corrupted);
            if let Ok(other) = Transaction::decode(&corrupted) {
                prop_assert_ne!(&other, &tx);
                prop_assert_eq!(other.encode(), corrupted);
            }
        }
    }

    #[test]
    fn appended_bytes_are_rejected(block in arb_block(), extra in prop::collection::vec(any::<u8>(), 1..40)) {
        let mut bytes = block.encode().to_vec();
        bytes.extend_from_slice(&extra);
        prop_assert!(Block::decode(&Bytes::from(bytes)).is_err());
    }
}
