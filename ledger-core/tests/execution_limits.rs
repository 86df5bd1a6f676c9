//! Every execution limit at its boundary: what one transaction may do
//! (reads, writes, key and value sizes, events, event size) and what one
//! block's transactions may do together (state writes, written bytes,
//! events, event bytes). At the limit the transaction succeeds; one past
//! it, it fails with code 0 (`FAILURE_CODE_LIMIT`), its writes discarded,
//! and the block stays valid and applies the same on every node.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use ledger_core::limits::{
    MAX_BLOCK_EVENTS, MAX_BLOCK_EVENT_BYTES, MAX_BLOCK_STATE_WRITES, MAX_BLOCK_STATE_WRITE_BYTES,
    MAX_EVENTS_PER_TX, MAX_EVENT_BYTES, MAX_READS_PER_TX, MAX_STATE_KEY_BYTES,
    MAX_STATE_VALUE_BYTES, MAX_WRITES_PER_TX,
};
use ledger_core::machine::FAILURE_CODE_LIMIT;
use ledger_core::testing::{key, sign, Op, ScriptedApp};
use ledger_core::{Ledger, LedgerConfig, MemStore, PublicKey, Receipt, Transaction};

const CHAIN: u64 = 6;

fn ledger() -> Ledger<MemStore, ScriptedApp> {
    let app = ScriptedApp {
        minter: PublicKey::from_signing_key(&key(1)),
    };
    Ledger::open(MemStore::new(), app, LedgerConfig::new(CHAIN)).unwrap()
}

/// Builds, applies and returns the receipts of one block of `scripts`, one
/// transaction per script from distinct senders. Every script must be
/// included (none is invalid); a replica applying the block agrees.
fn run(scripts: Vec<Vec<Op>>) -> Vec<Receipt> {
    run_on_ledger(scripts).0
}

fn run_on_ledger(scripts: Vec<Vec<Op>>) -> (Vec<Receipt>, Ledger<MemStore, ScriptedApp>) {
    let txs: Vec<Transaction> = scripts
        .iter()
        .enumerate()
        .map(|(i, ops)| {
            let sender = ledger_core::testing::key((i % 200) as u8 + 10);
            sign(&sender, CHAIN, (i / 200) as u64, ops)
        })
        .collect();
    let mut proposer = ledger();
    let block = proposer.build_block(txs, 1).unwrap();
    assert_eq!(block.transactions().len(), scripts.len());
    let outcome = proposer
        .apply_block(proposer.verify_block(block.clone()).unwrap())
        .unwrap();
    let mut replica = ledger();
    replica
        .apply_block(replica.verify_block(block).unwrap())
        .unwrap();
    assert_eq!(replica.applied_head(), proposer.applied_head());
    (outcome.receipts, proposer)
}

fn limit_failure(receipt: &Receipt) -> bool {
    matches!(receipt, Receipt::Failed(failure) if failure.code() == FAILURE_CODE_LIMIT)
}

fn assert_at_limit_ok_past_it_fails(at: Vec<Op>, past: Vec<Op>, what: &str) {
    let receipts = run(vec![at, past]);
    assert!(
        receipts[0].is_success(),
        "{what} at its limit: {:?}",
        receipts[0]
    );
    assert!(
        limit_failure(&receipts[1]),
        "{what} past its limit: {:?}",
        receipts[1]
    );
}

#[test]
fn per_transaction_limits() {
    assert_at_limit_ok_past_it_fails(
        vec![Op::ReadMany {
            count: MAX_READS_PER_TX as u32,
        }],
        vec![Op::ReadMany {
            count: MAX_READS_PER_TX as u32 + 1,
        }],
        "reads",
    );
    assert_at_limit_ok_past_it_fails(
        vec![Op::PutMany {
            count: MAX_WRITES_PER_TX as u32,
            value_len: 1,
        }],
        vec![Op::PutMany {
            count: MAX_WRITES_PER_TX as u32 + 1,
            value_len: 1,
        }],
        "writes",
    );
    assert_at_limit_ok_past_it_fails(
        vec![Op::Put {
            key: vec![1; MAX_STATE_KEY_BYTES],
            value: vec![1],
        }],
        vec![Op::Put {
            key: vec![1; MAX_STATE_KEY_BYTES + 1],
            value: vec![1],
        }],
        "key bytes",
    );
    assert_at_limit_ok_past_it_fails(
        vec![Op::PutMany {
            count: 1,
            value_len: MAX_STATE_VALUE_BYTES as u32,
        }],
        vec![Op::PutMany {
            count: 1,
            value_len: MAX_STATE_VALUE_BYTES as u32 + 1,
        }],
        "value bytes",
    );
    assert_at_limit_ok_past_it_fails(
        vec![Op::EmitMany {
            count: MAX_EVENTS_PER_TX as u32,
            data_len: 1,
        }],
        vec![Op::EmitMany {
            count: MAX_EVENTS_PER_TX as u32 + 1,
            data_len: 1,
        }],
        "events",
    );
    // Topic `e` is one byte.
    assert_at_limit_ok_past_it_fails(
        vec![Op::EmitMany {
            count: 1,
            data_len: MAX_EVENT_BYTES as u32 - 1,
        }],
        vec![Op::EmitMany {
            count: 1,
            data_len: MAX_EVENT_BYTES as u32,
        }],
        "event bytes",
    );
    // A delete counts as a write.
    let mut deletes: Vec<Op> = (0..MAX_WRITES_PER_TX as u32)
        .map(|i| Op::Delete {
            key: i.to_le_bytes().to_vec(),
        })
        .collect();
    let at = deletes.clone();
    deletes.push(Op::Delete {
        key: b"one more".to_vec(),
    });
    assert_at_limit_ok_past_it_fails(at, deletes, "deletes");
}

#[test]
fn a_failed_transaction_leaves_only_its_nonce() {
    let (receipts, ledger) = run_on_ledger(vec![
        vec![
            Op::Put {
                key: b"kept?".to_vec(),
                value: b"no".to_vec(),
            },
            Op::ReadMany {
                count: MAX_READS_PER_TX as u32 + 1,
            },
        ],
        vec![Op::Put {
            key: b"kept!".to_vec(),
            value: b"yes".to_vec(),
        }],
    ]);
    assert!(limit_failure(&receipts[0]));
    assert!(receipts[1].is_success());
    assert_eq!(ledger.state(b"kept?", None).unwrap().value, None);
    assert_eq!(
        ledger.state(b"kept!", None).unwrap().value.as_deref(),
        Some(&b"yes"[..])
    );
    // Both senders' nonces were consumed.
    for sender in [10u8, 11] {
        let sender = PublicKey::from_signing_key(&key(sender));
        assert_eq!(ledger.nonce(&sender).unwrap(), 1);
    }
}

/// `count` transactions that together take a block exactly to a budget,
/// then one more that goes one step past it.
fn assert_block_budget(per_tx: Op, count: usize, one_more: Op, what: &str) {
    let mut scripts = vec![vec![per_tx]; count];
    scripts.push(vec![one_more]);
    let receipts = run(scripts);
    let (last, at_budget) = receipts.split_last().unwrap();
    assert!(
        at_budget.iter().all(Receipt::is_success),
        "{what}: every transaction within the block's budget succeeds"
    );
    assert!(
        limit_failure(last),
        "{what}: past the block's budget: {last:?}"
    );
}

#[test]
fn block_budget_of_state_writes() {
    // 390 transactions of 1,024 writes and one of 640: exactly 400,000.
    let full = MAX_WRITES_PER_TX as u32;
    let count = MAX_BLOCK_STATE_WRITES / MAX_WRITES_PER_TX;
    let rest = (MAX_BLOCK_STATE_WRITES % MAX_WRITES_PER_TX) as u32;
    let mut scripts = vec![
        vec![Op::PutMany {
            count: full,
            value_len: 0
        }];
        count
    ];
    scripts.push(vec![Op::PutMany {
        count: rest,
        value_len: 0,
    }]);
    scripts.push(vec![Op::PutMany {
        count: 1,
        value_len: 0,
    }]);
    let receipts = run(scripts);
    let (last, at_budget) = receipts.split_last().unwrap();
    assert!(at_budget.iter().all(Receipt::is_success));
    assert!(limit_failure(last), "{last:?}");
}

#[test]
fn block_budget_of_written_bytes() {
    // Keys are a transaction id and a counter: 36 bytes. One transaction
    // of 1,024 writes of (36 + 65,500) bytes is exactly 64 MiB.
    let value_len = (MAX_BLOCK_STATE_WRITE_BYTES / MAX_WRITES_PER_TX - 36) as u32;
    assert_block_budget(
        Op::PutMany {
            count: MAX_WRITES_PER_TX as u32,
            value_len,
        },
        1,
        Op::PutMany {
            count: 1,
            value_len: 0,
        },
        "written bytes",
    );
}

#[test]
fn block_budget_of_events() {
    let per_tx = MAX_EVENTS_PER_TX;
    assert_block_budget(
        Op::EmitMany {
            count: per_tx as u32,
            data_len: 0,
        },
        MAX_BLOCK_EVENTS / per_tx,
        Op::EmitMany {
            count: 1,
            data_len: 0,
        },
        "events",
    );
}

#[test]
fn block_budget_of_event_bytes() {
    // 64 events of 1 + 1,023 bytes: 64 KiB per transaction, 256 of them.
    let per_tx = MAX_EVENTS_PER_TX * MAX_EVENT_BYTES;
    assert_block_budget(
        Op::EmitMany {
            count: MAX_EVENTS_PER_TX as u32,
            data_len: MAX_EVENT_BYTES as u32 - 1,
        },
        MAX_BLOCK_EVENT_BYTES / per_tx,
        Op::EmitMany {
            count: 1,
            data_len: 0,
        },
        "event bytes",
    );
}
