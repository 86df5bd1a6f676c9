//! `transfers` executed by the engine's execution stage over random
//! workloads: total supply is conserved by transfers and changed only by
//! mints; failed transactions change nothing but their sender's nonce; and a
//! wrong nonce or chain id makes the whole block invalid.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use common::MapState;
use ed25519_dalek::SigningKey;
use ledger_apps::transfers::{balance_key, Operation, Transfers, INSUFFICIENT_FUNDS};
use ledger_core::machine::Receipt;
use ledger_core::testing::proptest_config;
use ledger_core::{
    execute_transactions, nonce_position, BlockContext, ExecutedBlock, ExecutionError,
    InvalidTransactions,
};
use ledger_core::{Hash, PublicKey, Transaction};
use proptest::prelude::*;

const CHAIN: u64 = 9;

impl MapState {
    fn balance(&self, account: &PublicKey) -> u64 {
        self.get(&balance_key(account))
            .map(|b| u64::from_le_bytes(b[..].try_into().unwrap()))
            .unwrap_or(0)
    }
}

fn keys(n: u8) -> Vec<SigningKey> {
    (1..=n).map(|i| SigningKey::from_bytes(&[i; 32])).collect()
}

fn context(height: u64) -> BlockContext {
    BlockContext::new(CHAIN, height, 0)
}

fn run(
    app: &Transfers,
    state: &MapState,
    height: u64,
    txs: &[Transaction],
) -> Result<ExecutedBlock, ExecutionError> {
    let ids: Vec<Hash> = txs.iter().map(Transaction::id).collect();
    execute_transactions(
        app,
        state,
        context(height),
        txs,
        &ids,
        InvalidTransactions::Refuse,
    )
}

proptest! {
    #![proptest_config(proptest_config(64, file!()))]

    #[test]
    fn supply_is_conserved_and_failures_touch_only_nonces(
        mints in prop::collection::vec((0usize..5, 0u64..1_000), 1..5),
        transfers in prop::collection::vec((0usize..5, 0usize..5, 0u64..800), 0..40),
    ) {
        let accounts = keys(5);
        let minter = &accounts[0];
        let app = Transfers { minter: PublicKey::from_signing_key(minter) };
        let mut state = MapState::default();
        let mut nonces = [0u64; 5];
        let mut txs = Vec::new();
        let mut minted = 0u64;
        for (to, amount) in &mints {
            let op = Operation::Mint { to: PublicKey::from_signing_key(&accounts[*to]), amount: *amount };
            txs.push(Transaction::sign(minter, CHAIN, nonces[0], op.encode().unwrap()).unwrap());
            nonces[0] += 1;
            minted += amount;
        }
        let genesis = run(&app, &state, 0, &txs).unwrap();
        prop_assert!(genesis.receipts.iter().all(Receipt::is_success));
        state.apply(&genesis);

        let mut txs = Vec::new();
        for (from, to, amount) in &transfers {
            let op = Operation::Transfer { to: PublicKey::from_signing_key(&accounts[*to]), amount: *amount };
            txs.push(Transaction::sign(&accounts[*from], CHAIN, nonces[*from], op.encode().unwrap()).unwrap());
            nonces[*from] += 1;
        }
        let executed = run(&app, &state, 1, &txs).unwrap();
        state.apply(&executed);
        let total: u64 = accounts.iter().map(|k| state.balance(&PublicKey::from_signing_key(k))).sum();
        prop_assert_eq!(total, minted);

        // The only way a transfer fails here is a balance below the amount.
        for receipt in &executed.receipts {
            if let Receipt::Failed(failure) = receipt {
                prop_assert_eq!(failure.code(), INSUFFICIENT_FUNDS);
            }
        }
        // Every sender's nonce advanced by its number of transactions.
        for (i, key) in accounts.iter().enumerate() {
            let stored = state.0.get(&nonce_position(&PublicKey::from_signing_key(key)))
                .map(|b| u64::from_le_bytes(b[..].try_into().unwrap())).unwrap_or(0);
            prop_assert_eq!(stored, nonces[i]);
        }
    }
}

#[test]
fn failed_transaction_changes_only_the_nonce() {
    let accounts = keys(2);
    let app = Transfers {
        minter: PublicKey::from_signing_key(&accounts[0]),
    };
    let state = MapState::default();
    let poor = &accounts[1];
    let op = Operation::Transfer {
        to: PublicKey::from_signing_key(&accounts[0]),
        amount: 5,
    };
    let tx = Transaction::sign(poor, CHAIN, 0, op.encode().unwrap()).unwrap();
    let executed = run(&app, &state, 0, &[tx]).unwrap();
    assert!(matches!(&executed.receipts[0], Receipt::Failed(f) if f.code() == INSUFFICIENT_FUNDS));
    assert_eq!(executed.updates.len(), 1);
    assert_eq!(
        executed.updates[0].position,
        nonce_position(&PublicKey::from_signing_key(poor))
    );
}

#[test]
fn wrong_nonce_and_chain_and_duplicates_invalidate_the_block() {
    let accounts = keys(1);
    let app = Transfers {
        minter: PublicKey::from_signing_key(&accounts[0]),
    };
    let state = MapState::default();
    let op = Operation::Mint {
        to: PublicKey::from_signing_key(&accounts[0]),
        amount: 1,
    };
    let skip = Transaction::sign(&accounts[0], CHAIN, 1, op.encode().unwrap()).unwrap();
    assert!(matches!(
        run(&app, &state, 0, &[skip]),
        Err(ExecutionError::WrongNonce {
            index: 0,
            expected: 0,
            found: 1
        })
    ));
    let other_chain = Transaction::sign(&accounts[0], CHAIN + 1, 0, op.encode().unwrap()).unwrap();
    assert!(matches!(
        run(&app, &state, 0, &[other_chain]),
        Err(ExecutionError::WrongChain { index: 0, .. })
    ));
    let tx = Transaction::sign(&accounts[0], CHAIN, 0, op.encode().unwrap()).unwrap();
    assert!(matches!(
        run(&app, &state, 0, &[tx.clone(), tx]),
        Err(ExecutionError::DuplicateTransaction { index: 1, first: 0 })
    ));
}
