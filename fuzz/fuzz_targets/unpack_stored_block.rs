//! Hostile bytes as a stored block record (a damaged or hostile store
//! directory): unpacking and decoding must return an error or a block,
//! allocate no more than the packing's bound, and a block it accepts must
//! pack and unpack to itself. Replayed by
//! `ledger-core/tests/golden_and_corpus.rs`.
#![no_main]

use bytes::Bytes;
use ledger_core::{decode_stored_block, encode_stored_block};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(block) = decode_stored_block(&input) {
        let repacked = Bytes::from(encode_stored_block(&block));
        assert_eq!(decode_stored_block(&repacked).ok(), Some(block));
    }
});
