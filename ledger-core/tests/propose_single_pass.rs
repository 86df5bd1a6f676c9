//! Building a block (`Ledger::build_block`) is one pass over the candidates
//! whatever they hold: each candidate is executed at most once (the old
//! proposer re-executed the whole list once per wrong-nonce transaction, so
//! a mempool full of bad nonces cost quadratic work). Invalid candidates
//! (wrong nonce, wrong chain, repeats, bad signatures) are left out;
//! transactions the application refuses are kept as failed, with their
//! receipts; the block stops at its byte limit.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ledger_core::testing::{key, sign, Op, ScriptedApp, INSUFFICIENT_FUNDS};
use ledger_core::{
    Failure, Ledger, LedgerConfig, MemStore, PublicKey, Receipt, Signature, StateAccess,
    StateMachine, Transaction, TxContext, MAX_BLOCK_BYTES, MAX_PAYLOAD_BYTES,
};

const CHAIN: u64 = 5;

/// The scripted app, counting how often it is asked to execute.
struct Counting {
    inner: ScriptedApp,
    calls: Arc<AtomicUsize>,
}

impl StateMachine for Counting {
    fn execute(&self, context: &TxContext<'_>, state: &mut dyn StateAccess) -> Result<(), Failure> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.execute(context, state)
    }
}

fn ledger() -> (Ledger<MemStore, Counting>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Counting {
        inner: ScriptedApp {
            minter: PublicKey::from_signing_key(&key(1)),
        },
        calls: Arc::clone(&calls),
    };
    let ledger = Ledger::open(MemStore::new(), app, LedgerConfig::new(CHAIN)).unwrap();
    (ledger, calls)
}

fn put(n: u64) -> Vec<Op> {
    vec![Op::Put {
        key: n.to_le_bytes().to_vec(),
        value: b"v".to_vec(),
    }]
}

#[test]
fn a_mempool_of_bad_nonces_costs_one_execution_per_candidate() {
    let (mut ledger, calls) = ledger();
    let sender = key(2);
    // 300 good transactions, each followed by one whose nonce is wrong
    // (a replay of the previous nonce, or one from the far future).
    let mut candidates = Vec::new();
    for nonce in 0..300u64 {
        candidates.push(sign(&sender, CHAIN, nonce, &put(nonce)));
        let wrong = if nonce % 2 == 0 { nonce } else { nonce + 1_000 };
        candidates.push(sign(&sender, CHAIN, wrong, &put(nonce + 10_000)));
    }
    let offered = candidates.len();
    let block = ledger.build_block(candidates, 1).unwrap();
    assert_eq!(block.transactions().len(), 300);
    assert!(
        block
            .transactions()
            .iter()
            .enumerate()
            .all(|(i, tx)| tx.nonce() == i as u64),
        "the good transactions, in order"
    );
    let executions = calls.load(Ordering::SeqCst);
    assert!(
        executions <= offered,
        "{executions} executions for {offered} candidates"
    );
    // The block is valid: a replica (or the proposer) applies it.
    let verified = ledger.verify_block(block).unwrap();
    ledger.apply_block(verified).unwrap();
}

#[test]
fn refused_transactions_are_kept_as_failed_and_invalid_ones_left_out() {
    let (mut ledger, _) = ledger();
    let (minter, alice, bob) = (key(1), key(2), key(3));
    let bob_key = PublicKey::from_signing_key(&bob);
    let mut bad_signature = sign(&alice, CHAIN, 1, &put(1));
    bad_signature = bad_signature.with_signature(Signature([7; 64]));
    let good_overdraft = sign(
        &alice,
        CHAIN,
        0,
        &[Op::Transfer {
            to: bob_key,
            amount: 5,
        }],
    );
    let candidates = vec![
        sign(
            &minter,
            CHAIN,
            0,
            &[Op::Mint {
                to: bob_key,
                amount: 50,
            }],
        ),
        good_overdraft.clone(),            // alice has nothing: fails, kept
        good_overdraft,                    // a repeat: left out
        bad_signature,                     // left out
        sign(&bob, CHAIN + 1, 0, &put(2)), // another chain: left out
        sign(&bob, CHAIN, 0, &[Op::Fail { code: 77 }]), // refused: kept
        sign(&bob, CHAIN, 1, &put(3)),     // bob's next nonce: kept
    ];
    let block = ledger.build_block(candidates, 1).unwrap();
    let senders: Vec<(PublicKey, u64)> = block
        .transactions()
        .iter()
        .map(|tx| (*tx.sender(), tx.nonce()))
        .collect();
    assert_eq!(
        senders,
        vec![
            (PublicKey::from_signing_key(&minter), 0),
            (PublicKey::from_signing_key(&alice), 0),
            (bob_key, 0),
            (bob_key, 1)
        ]
    );
    let outcome = ledger
        .apply_block(ledger.verify_block(block).unwrap())
        .unwrap();
    let codes: Vec<Option<u32>> = outcome
        .receipts
        .iter()
        .map(|receipt| match receipt {
            Receipt::Success { .. } => None,
            Receipt::Failed(failure) => Some(failure.code()),
        })
        .collect();
    assert_eq!(codes, vec![None, Some(INSUFFICIENT_FUNDS), Some(77), None]);
}

#[test]
fn a_block_stops_at_its_byte_limit() {
    let (ledger, _) = ledger();
    let sender = key(2);
    let payload = vec![0u8; MAX_PAYLOAD_BYTES as usize];
    let count = MAX_BLOCK_BYTES as usize / payload.len() + 5;
    let candidates: Vec<Transaction> = (0..count as u64)
        .map(|nonce| Transaction::sign(&sender, CHAIN, nonce, payload.clone()).unwrap())
        .collect();
    let block = ledger.build_block(candidates, 1).unwrap();
    assert!(block.encoded_len() <= MAX_BLOCK_BYTES as usize);
    assert!(block.transactions().len() < count);
    assert!(
        block.encoded_len() + block.transactions()[0].encoded_len() > MAX_BLOCK_BYTES as usize,
        "the block is full"
    );
}
