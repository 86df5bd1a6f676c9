//! Hostile bytes into the transaction decoder: it must return an error or a
//! transaction whose encoding is exactly the input. Replayed by
//! `ledger-core/tests/golden_and_corpus.rs`.
#![no_main]

use bytes::Bytes;
use ledger_core::Transaction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(tx) = Transaction::decode(&input) {
        assert_eq!(tx.encode(), input);
    }
});
