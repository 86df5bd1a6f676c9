//! Hostile bytes into the block decoder: it must return an error or a block
//! whose encoding is exactly the input. Replayed by
//! `ledger-core/tests/golden_and_corpus.rs`.
#![no_main]

use bytes::Bytes;
use ledger_core::Block;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(block) = Block::decode(&input) {
        assert_eq!(block.encode(), input);
        assert_eq!(block.header().tx_count as usize, block.transactions().len());
    }
});
