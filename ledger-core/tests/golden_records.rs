//! Golden fixtures of everything the engine stores and every proof it
//! serves: a fixed, deterministic ledger of three blocks (fixed keys,
//! deterministic ed25519 signatures, fixed timestamps) is built on the
//! in-memory store, and every record of every column, and the encodings of
//! its proofs, must equal the bytes checked in under `tests/fixtures/`.
//! A change of any stored format or proof encoding fails here, so that it
//! is a conscious decision (with a format or schema version bump).
//!
//! Regenerate after a deliberate change only:
//! `LEDGER_BLESS=1 cargo test --release -p ledger-core --test golden_records`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::fmt::Write as _;

mod common;

use common::golden::check_or_bless;
use ledger_core::hash::to_hex;
use ledger_core::store::KeyRange;
use ledger_core::testing::{account_key, key, sign, Op, ScriptedApp};
use ledger_core::{Column, Ledger, LedgerConfig, MemStore, PublicKey, StoreRead, Transaction};

const CHAIN: u64 = 0x601d;

fn golden_ledger() -> Ledger<MemStore, ScriptedApp> {
    let (minter, alice, bob) = (key(1), key(2), key(3));
    let [alice_key, bob_key] = [&alice, &bob].map(PublicKey::from_signing_key);
    let mut config = LedgerConfig::new(CHAIN);
    config.state_retention = 2;
    // State checkpoints only where the loop below writes them.
    config.checkpoint_blocks = u64::MAX;
    config.checkpoint_interval = std::time::Duration::MAX;
    let mut ledger = Ledger::open(
        MemStore::new(),
        ScriptedApp {
            minter: PublicKey::from_signing_key(&minter),
        },
        config,
    )
    .unwrap();
    let blocks: Vec<Vec<Transaction>> = vec![
        vec![
            sign(
                &minter,
                CHAIN,
                0,
                &[Op::Mint {
                    to: alice_key,
                    amount: 500,
                }],
            ),
            sign(
                &minter,
                CHAIN,
                1,
                &[Op::Mint {
                    to: bob_key,
                    amount: 70,
                }],
            ),
            sign(
                &alice,
                CHAIN,
                0,
                &[
                    Op::Put {
                        key: b"note".to_vec(),
                        value: b"200 boxes of masks".to_vec(),
                    },
                    Op::Emit {
                        topic: b"pledge".to_vec(),
                        data: b"200".to_vec(),
                    },
                ],
            ),
        ],
        vec![
            sign(
                &alice,
                CHAIN,
                1,
                &[Op::Transfer {
                    to: bob_key,
                    amount: 120,
                }],
            ),
            sign(&bob, CHAIN, 0, &[Op::Fail { code: 7 }]),
            sign(
                &alice,
                CHAIN,
                2,
                &[Op::Delete {
                    key: b"note".to_vec(),
                }],
            ),
        ],
        vec![
            sign(
                &bob,
                CHAIN,
                1,
                &[Op::Transfer {
                    to: alice_key,
                    amount: 1_000,
                }],
            ),
            sign(
                &bob,
                CHAIN,
                2,
                &[Op::Transfer {
                    to: alice_key,
                    amount: 190,
                }],
            ),
        ],
    ];
    for (height, txs) in blocks.into_iter().enumerate() {
        let count = txs.len();
        let block = ledger
            .build_block(txs, 1_767_225_600_000 + height as u64)
            .unwrap();
        assert_eq!(block.transactions().len(), count);
        let verified = ledger.verify_block(block).unwrap();
        ledger.apply_block(verified).unwrap();
        // Blocks 0 and 1 checkpointed one by one, block 2 held in memory:
        // the proofs below come from both, byte-identical to when every
        // block's state was stored.
        if height < 2 {
            ledger.checkpoint_state().unwrap();
        }
    }
    ledger
}

#[test]
fn stored_records_are_byte_stable() {
    let ledger = golden_ledger();
    let mut text = String::from("# column key value (hex), every record after three blocks\n");
    for column in Column::ALL {
        for entry in ledger.store().scan(column, KeyRange::all()).unwrap() {
            let (key, value) = entry.unwrap();
            writeln!(text, "{column} {} {}", to_hex(&key), to_hex(&value)).unwrap();
        }
    }
    check_or_bless("stored_records_v5.txt", &text);
}

#[test]
fn proofs_are_byte_stable() {
    let ledger = golden_ledger();
    let head = *ledger.applied_head().unwrap();
    let mut text = String::from("# what proof: encoding (hex)\n");
    writeln!(text, "head header: {}", to_hex(&head.encode())).unwrap();
    writeln!(text, "head id: {}", head.id()).unwrap();
    let alice = account_key(&PublicKey::from_signing_key(&key(2)));
    for (what, state_key, height) in [
        ("state proof of a member at 2", alice.as_slice(), 2),
        ("state proof of a member at 1", alice.as_slice(), 1),
        ("state proof of an absent key at 2", b"note".as_slice(), 2),
    ] {
        let record = ledger.state(state_key, Some(height)).unwrap();
        record.verify(state_key, &record.header.state_root).unwrap();
        writeln!(text, "{what}: {}", to_hex(&record.proof.encode())).unwrap();
    }
    let block = ledger.block_by_height(1).unwrap().unwrap();
    for tx in block.transactions() {
        let record = ledger.transaction(&tx.id()).unwrap().unwrap();
        record.verify(block.header()).unwrap();
        writeln!(
            text,
            "inclusion of tx {}: {}",
            tx.id(),
            to_hex(&record.inclusion.encode())
        )
        .unwrap();
        writeln!(
            text,
            "receipt {} of tx {}: {}",
            to_hex(&record.receipt.encode()),
            tx.id(),
            to_hex(&record.receipt_inclusion.encode())
        )
        .unwrap();
    }
    for height in 0..head.height {
        let proof = ledger.history_proof(height).unwrap();
        let header = ledger.header_at(height).unwrap().unwrap();
        ledger_core::verify_block_in_history(&head, &header, &proof).unwrap();
        writeln!(
            text,
            "history proof of block {height}: {}",
            to_hex(&proof.encode())
        )
        .unwrap();
    }
    // Between the trees of two sizes, up to the one the next header will
    // commit to (head height + 1 blocks).
    for new in 1..=head.height + 1 {
        for old in 1..new {
            let proof = ledger.history_consistency_proof(old, new).unwrap();
            writeln!(
                text,
                "history consistency {old} -> {new}: {}",
                to_hex(&proof.encode())
            )
            .unwrap();
        }
    }
    check_or_bless("proofs_v3.txt", &text);
}
