//! The audit catches every tampered record. A small ledger (five blocks,
//! transfers, a failed transaction, events, a deleted key, retention 2 and
//! state checkpoints every two blocks so that merging and pruning have
//! run, and a last checkpoint of every block) is built on the in-memory store; then, one at a
//! time, every stored record of every column is changed through the store's
//! own API (so no checksum can notice): a byte flipped, the record deleted;
//! and a record is inserted into every column, at a key inside and a key
//! outside the column's key space. After each tampering the audit must fail
//! and name the tampered column and key. (Before, the audit never looked at
//! block ids, the transaction index, state values, stale lists, nodes below
//! the roots or the head, and caught 19 of 81 tamperings of this kind.)
//!
//! It also checks that `Ledger::open` refuses what the audit calls
//! inconsistent in the head (missing head over blocks, a head without its
//! block, a head that disagrees with its block), instead of opening an
//! empty or a wrong ledger.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use bytes::Bytes;
use ledger_core::hash::to_hex;
use ledger_core::store::KeyRange;
use ledger_core::testing::{key, sign, Op, ScriptedApp};
use ledger_core::{
    audit_store, AuditReport, Column, Durability, FindingKind, Ledger, LedgerConfig, LedgerError,
    MemStore, PublicKey, SignatureVerifier, Store, StoreRead, Transaction, WriteBatch,
};

const CHAIN: u64 = 0xa0d17;

fn config() -> LedgerConfig {
    let mut config = LedgerConfig::new(CHAIN);
    config.state_retention = 2;
    // State checkpoints of two blocks' merged state, so that merging and
    // pruning have run.
    config.checkpoint_blocks = 2;
    config
}

fn app() -> ScriptedApp {
    ScriptedApp {
        minter: PublicKey::from_signing_key(&key(1)),
    }
}

fn small_ledger() -> MemStore {
    let store = MemStore::new();
    let mut ledger = Ledger::open(store.clone(), app(), config()).unwrap();
    let (minter, alice, bob) = (key(1), key(2), key(3));
    let [alice_key, bob_key] = [&alice, &bob].map(PublicKey::from_signing_key);
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
        ],
        vec![
            sign(
                &alice,
                CHAIN,
                0,
                &[Op::Put {
                    key: b"note".to_vec(),
                    value: b"masks".to_vec(),
                }],
            ),
            sign(
                &bob,
                CHAIN,
                0,
                &[Op::Emit {
                    topic: b"t".to_vec(),
                    data: b"d".to_vec(),
                }],
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
            sign(&bob, CHAIN, 1, &[Op::Fail { code: 7 }]),
        ],
        vec![sign(
            &alice,
            CHAIN,
            2,
            &[Op::Delete {
                key: b"note".to_vec(),
            }],
        )],
        vec![
            sign(
                &bob,
                CHAIN,
                2,
                &[Op::Transfer {
                    to: alice_key,
                    amount: 10,
                }],
            ),
            sign(
                &alice,
                CHAIN,
                3,
                &[Op::Put {
                    key: b"new".to_vec(),
                    value: b"v".to_vec(),
                }],
            ),
        ],
    ];
    for (height, txs) in blocks.into_iter().enumerate() {
        let block = ledger.build_block(txs, 1_000 * height as u64).unwrap();
        ledger
            .apply_block(ledger.verify_block(block).unwrap())
            .unwrap();
    }
    // Every block's state in the store, to tamper with.
    assert_eq!(ledger.checkpoint_state().unwrap(), Some(4));
    store
}

fn audit(store: &MemStore) -> AuditReport {
    audit_store(
        store,
        &app(),
        &config(),
        &SignatureVerifier::default(),
        &mut |_| {},
    )
    .unwrap()
}

fn records(store: &MemStore) -> Vec<(Column, Bytes, Bytes)> {
    Column::ALL
        .iter()
        .flat_map(|column| {
            store
                .scan(*column, KeyRange::all())
                .unwrap()
                .map(|entry| {
                    let (key, value) = entry.unwrap();
                    (*column, key, value)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn tampered(store: &MemStore, change: impl FnOnce(&mut WriteBatch)) -> MemStore {
    let copy = store.fork();
    let mut batch = WriteBatch::new();
    change(&mut batch);
    copy.commit(batch, Durability::Synced).unwrap();
    copy
}

fn assert_named(report: &AuditReport, column: Column, key: &[u8], what: &str) {
    assert!(!report.passed(), "{what}: the audit passed");
    assert!(
        report
            .findings
            .iter()
            .any(|finding| finding.column == column && finding.key == to_hex(key)),
        "{what}: no finding names {column} {}; findings: {:#?}",
        to_hex(key),
        report.findings
    );
}

#[test]
fn a_clean_ledger_passes_with_every_record_checked() {
    let store = small_ledger();
    let report = audit(&store);
    assert!(report.passed(), "{:#?}", report.findings);
    assert_eq!(report.blocks, 5);
    let stored = records(&store).len() as u64;
    assert_eq!(report.records, stored, "every stored record is checked");
}

#[test]
fn every_flipped_byte_and_every_deleted_record_is_named() {
    let store = small_ledger();
    let all = records(&store);
    assert!(all.len() > 40, "{} records", all.len());
    for (column, key, value) in &all {
        // A flipped byte in the middle of the value (an appended byte for
        // an empty one).
        let mut flipped = value.to_vec();
        match flipped.get_mut(value.len() / 2) {
            Some(byte) => *byte ^= 0x20,
            None => flipped.push(1),
        }
        let copy = tampered(&store, |batch| batch.put(*column, key.clone(), flipped));
        assert_named(
            &audit(&copy),
            *column,
            key,
            &format!("flip in {column} {}", to_hex(key)),
        );
        let copy = tampered(&store, |batch| batch.delete(*column, key.clone()));
        assert_named(
            &audit(&copy),
            *column,
            key,
            &format!("delete of {column} {}", to_hex(key)),
        );
    }
}

#[test]
fn an_inserted_record_in_any_column_is_named() {
    let store = small_ledger();
    for column in Column::ALL {
        let existing: Vec<Bytes> = records(&store)
            .into_iter()
            .filter(|(c, _, _)| *c == column)
            .map(|(_, key, _)| key)
            .collect();
        // A key shaped like the column's own (a neighbour of an existing
        // key, or a height above the head), and one that is not.
        let mut shaped = existing
            .first()
            .map(|k| k.to_vec())
            .unwrap_or_else(|| vec![0; 8]);
        if let Some(last) = shaped.last_mut() {
            *last = last.wrapping_add(1);
        }
        if column == Column::Blocks || column == Column::Receipts {
            shaped = 99u64.to_be_bytes().to_vec();
        }
        for inserted in [shaped, b"not a key of this column".to_vec()] {
            if existing.iter().any(|k| k[..] == inserted[..]) {
                continue;
            }
            let copy = tampered(&store, |batch| {
                batch.put(column, inserted.clone(), b"x".to_vec())
            });
            let report = audit(&copy);
            assert_named(&report, column, &inserted, &format!("insert into {column}"));
            let finding = report
                .findings
                .iter()
                .find(|f| f.column == column && f.key == to_hex(&inserted))
                .unwrap();
            assert_eq!(finding.kind, FindingKind::Orphan, "{finding}");
        }
    }
}

#[test]
fn open_refuses_an_inconsistent_head_and_the_audit_says_why() {
    let store = small_ledger();
    // The head record deleted over five blocks: not an empty ledger.
    let copy = tampered(&store, |batch| batch.delete(Column::Meta, &b"head"[..]));
    let error = Ledger::open(copy.clone(), app(), config()).unwrap_err();
    assert!(
        matches!(
            error,
            LedgerError::Corrupt {
                column: Column::Blocks,
                ..
            }
        ),
        "{error:?}"
    );
    assert_named(&audit(&copy), Column::Meta, b"head", "deleted head");
    // The head's block deleted.
    let copy = tampered(&store, |batch| {
        batch.delete(Column::Blocks, 4u64.to_be_bytes().to_vec())
    });
    let error = Ledger::open(copy, app(), config()).unwrap_err();
    assert!(
        matches!(
            error,
            LedgerError::Corrupt {
                column: Column::Blocks,
                ..
            }
        ),
        "{error:?}"
    );
    // A block above the head.
    let block = store
        .get(Column::Blocks, &4u64.to_be_bytes())
        .unwrap()
        .unwrap();
    let copy = tampered(&store, |batch| {
        batch.put(Column::Blocks, 5u64.to_be_bytes().to_vec(), block)
    });
    let error = Ledger::open(copy, app(), config()).unwrap_err();
    assert!(
        matches!(
            error,
            LedgerError::Corrupt {
                column: Column::Blocks,
                ..
            }
        ),
        "{error:?}"
    );
    // A head that is another block's header.
    let earlier = Ledger::open(store.clone(), app(), config())
        .unwrap()
        .header_at(3)
        .unwrap()
        .unwrap();
    let copy = tampered(&store, |batch| {
        batch.put(Column::Meta, &b"head"[..], earlier.encode())
    });
    assert!(Ledger::open(copy.clone(), app(), config()).is_err());
    assert_named(&audit(&copy), Column::Meta, b"head", "head set back");
}

/// A state value changed in the store: queries refuse to serve it, and the
/// next valid block is not blamed for the node's own damaged state.
#[test]
fn a_tampered_state_value_is_the_nodes_fault_not_the_next_blocks() {
    let store = small_ledger();
    // The next block, built on a clean copy.
    let mut clean = Ledger::open(store.fork(), app(), config()).unwrap();
    let alice = PublicKey::from_signing_key(&key(2));
    let next = clean
        .build_block(
            vec![sign(
                &key(3),
                CHAIN,
                3,
                &[Op::Transfer {
                    to: alice,
                    amount: 1,
                }],
            )],
            9_000,
        )
        .unwrap();
    clean
        .apply_block(clean.verify_block(next.clone()).unwrap())
        .unwrap();
    // Every value record of bob's balance, changed to a fortune.
    let bob = ledger_core::testing::account_key(&PublicKey::from_signing_key(&key(3)));
    let position = ledger_core::application_position(&bob);
    let copy = tampered(&store, |batch| {
        for (column, key, _) in records(&store) {
            if column == Column::StateValues && key.starts_with(position.as_bytes()) {
                let mut value = vec![1u8];
                value.extend_from_slice(&u64::MAX.to_le_bytes());
                batch.put(column, key, value);
            }
        }
    });
    let mut ledger = Ledger::open(copy, app(), config()).unwrap();
    let error = ledger.state(&bob, None).unwrap_err();
    assert!(!error.is_block_invalid(), "{error:?}");
    let error = ledger
        .apply_block(ledger.verify_block(next).unwrap())
        .unwrap_err();
    assert!(
        !error.is_block_invalid(),
        "the valid block was blamed for the node's damaged state: {error:?}"
    );
    // A block that really is wrong is still refused as the block's fault.
    let (mut header, txs) = clean.block_by_height(5).unwrap().unwrap().into_parts();
    header.state_root = ledger_core::Hash([3; 32]);
    let mut honest = Ledger::open(store.fork(), app(), config()).unwrap();
    let forged = ledger_core::Block::new(header, txs).unwrap();
    let error = honest
        .apply_block(honest.verify_block(forged).unwrap())
        .unwrap_err();
    assert!(error.is_block_invalid(), "{error:?}");
}

/// A ledger whose second block (height 1) is large enough that its
/// transactions and receipts are stored compressed.
fn ledger_with_a_compressed_block() -> MemStore {
    let store = MemStore::new();
    let mut ledger = Ledger::open(store.clone(), app(), config()).unwrap();
    let genesis = ledger
        .build_block(vec![sign(&key(1), CHAIN, 0, &[Op::Fail { code: 3 }])], 1)
        .unwrap();
    ledger
        .apply_block(ledger.verify_block(genesis).unwrap())
        .unwrap();
    let txs = (0..200u64)
        .map(|i| {
            let op = if i % 9 == 0 {
                Op::Fail { code: 4 }
            } else {
                Op::Put {
                    key: i.to_le_bytes().to_vec(),
                    value: vec![7; 40],
                }
            };
            sign(&key((i % 50) as u8 + 2), CHAIN, i / 50, &[op])
        })
        .collect();
    let block = ledger.build_block(txs, 2).unwrap();
    ledger
        .apply_block(ledger.verify_block(block).unwrap())
        .unwrap();
    ledger.checkpoint_state().unwrap();
    store
}

#[test]
fn a_flipped_byte_in_a_compressed_block_or_receipts_record_is_named() {
    let store = ledger_with_a_compressed_block();
    assert!(audit(&store).passed());
    let key = 1u64.to_be_bytes();
    for column in [Column::Blocks, Column::Receipts] {
        let stored = store.get(column, &key).unwrap().unwrap();
        // Packing byte 1: one zstd frame.
        assert_eq!(stored[0], 1, "{column} is stored compressed");
        // The packing byte, the header and the frame's header, then every
        // 37th byte of the frame, and its checksum at the end.
        let frame_start = if column == Column::Blocks { 191 } else { 1 };
        let positions: Vec<usize> = (0..frame_start + 16)
            .chain((frame_start + 16..stored.len()).step_by(37))
            .chain(stored.len() - 4..stored.len())
            .collect();
        for at in positions {
            let mut flipped = stored.to_vec();
            flipped[at] ^= 0x08;
            let copy = tampered(&store, |batch| batch.put(column, key.to_vec(), flipped));
            assert_named(
                &audit(&copy),
                column,
                &key,
                &format!("flip of {column} byte {at}"),
            );
        }
    }
    // The block stored plain instead: the same facts, and the audit passes.
    let stored = store.get(Column::Blocks, &key).unwrap().unwrap();
    let encoded = ledger_core::decode_stored_block(&stored).unwrap().encode();
    let plain = [&[0u8][..], &encoded].concat();
    let copy = tampered(&store, |batch| {
        batch.put(Column::Blocks, key.to_vec(), plain)
    });
    assert!(
        audit(&copy).passed(),
        "a block stored plain holds the same facts"
    );
}
