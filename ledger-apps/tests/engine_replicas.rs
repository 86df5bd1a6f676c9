//! The engine end to end with the `transfers` application: a proposer
//! builds blocks from random (partly invalid) transactions; a replica that
//! applies them, and one that reopens its store between every two blocks,
//! reach identical heads and roots; blocks with a bad signature, root,
//! parent or height are refused and change nothing; every query's proof
//! verifies with the standalone functions. The seed is printed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use ed25519_dalek::SigningKey;
use ledger_apps::transfers::{balance_key, Operation, Transfers};
use ledger_core::engine::{
    verify_block_in_history, verify_transaction_inclusion, Ledger, LedgerConfig, LedgerError,
};
use ledger_core::execute::application_position;
use ledger_core::machine::Receipt;
use ledger_core::state_tree::verify_state_proof;
use ledger_core::store::Store;
use ledger_core::{Block, Hash, PublicKey, Signature, Transaction};
use ledger_storage::{MemStore, RocksStore};
use rand::{RngExt, SeedableRng};

const CHAIN: u64 = 77;
const ACCOUNTS: usize = 12;

fn keys() -> Vec<SigningKey> {
    (0..ACCOUNTS as u8)
        .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
        .collect()
}

fn app(keys: &[SigningKey]) -> Transfers {
    Transfers {
        minter: PublicKey::from_signing_key(&keys[0]),
    }
}

fn config() -> LedgerConfig {
    let mut config = LedgerConfig::new(CHAIN);
    config.state_retention = 4;
    config.node_cache_bytes = 8 << 20;
    config
}

/// A chain of `blocks` blocks built by a proposer over `store`.
fn build_chain<S: Store>(store: S, blocks: u64, seed: u64) -> (Vec<Block>, Ledger<S, Transfers>) {
    let keys = keys();
    let mut proposer = Ledger::open(store, app(&keys), config()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut nonces = [0u64; ACCOUNTS];
    let mut chain = Vec::new();
    for height in 0..blocks {
        let mut txs = Vec::new();
        if height == 0 {
            for (i, key) in keys.iter().enumerate() {
                let op = Operation::Mint {
                    to: PublicKey::from_signing_key(key),
                    amount: 1_000 + i as u64,
                };
                txs.push(
                    Transaction::sign(&keys[0], CHAIN, nonces[0], op.encode().unwrap()).unwrap(),
                );
                nonces[0] += 1;
            }
        }
        for _ in 0..rng.random_range(0..40) {
            let from = rng.random_range(0..ACCOUNTS);
            let to = rng.random_range(0..ACCOUNTS);
            let op = Operation::Transfer {
                to: PublicKey::from_signing_key(&keys[to]),
                amount: rng.random_range(0..600),
            };
            let mut tx =
                Transaction::sign(&keys[from], CHAIN, nonces[from], op.encode().unwrap()).unwrap();
            match rng.random_range(0..20) {
                // A bad signature: the proposer must drop it.
                0 => {
                    let mut sig = tx.signature().0;
                    sig[1] ^= 4;
                    tx = tx.with_signature(Signature(sig));
                }
                // A replay of an old nonce: dropped too.
                1 if nonces[from] > 0 => {
                    tx = Transaction::sign(
                        &keys[from],
                        CHAIN,
                        nonces[from] - 1,
                        op.encode().unwrap(),
                    )
                    .unwrap();
                }
                _ => nonces[from] += 1,
            }
            txs.push(tx);
        }
        let block = proposer.build_block(txs, 1_000 * height).unwrap();
        let verified = proposer.verify_block(block.clone()).unwrap();
        proposer.apply_block(verified).unwrap();
        chain.push(block);
        // Resync the nonce model with the ledger (dropped transactions).
        for (i, key) in keys.iter().enumerate() {
            nonces[i] = proposer.nonce(&PublicKey::from_signing_key(key)).unwrap();
        }
    }
    (chain, proposer)
}

fn replicas_agree(seed: u64, blocks: u64) {
    let (chain, proposer) = build_chain(MemStore::new(), blocks, seed);
    let keys = keys();

    let mut replica = Ledger::open(MemStore::new(), app(&keys), config()).unwrap();
    let reopening_store = MemStore::new();
    for block in &chain {
        let verified = replica.verify_block(block.clone()).unwrap();
        replica.apply_block(verified).unwrap();
        let mut reopened = Ledger::open(reopening_store.clone(), app(&keys), config()).unwrap();
        let verified = reopened.verify_block(block.clone()).unwrap();
        reopened.apply_block(verified).unwrap();
    }
    let reopened = Ledger::open(reopening_store, app(&keys), config()).unwrap();
    assert_eq!(replica.head(), proposer.head());
    assert_eq!(reopened.head(), proposer.head());

    // Transfers conserve supply: the sum of balances is what was minted.
    let minted: u64 = (0..ACCOUNTS as u64).map(|i| 1_000 + i).sum();
    let total: u64 = keys
        .iter()
        .map(|key| {
            let record = replica
                .state(&balance_key(&PublicKey::from_signing_key(key)), None)
                .unwrap();
            record
                .value
                .map(|v| u64::from_le_bytes(v[..].try_into().unwrap()))
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(total, minted);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8))]

    /// A replica that applies the proposer's blocks, and one that reopens
    /// its store between any two blocks, reach identical heads and roots.
    #[test]
    fn replicas_reach_identical_roots_and_reopen_is_transparent(seed in proptest::prelude::any::<u64>(), blocks in 1u64..10) {
        replicas_agree(seed, blocks);
    }
}

#[test]
fn queries_come_with_proofs_that_verify() {
    let (chain, ledger) = build_chain(MemStore::new(), 6, 5);
    let head = *ledger.head().unwrap();
    for block in &chain {
        for tx in block.transactions() {
            let record = ledger.transaction(&tx.id()).unwrap().unwrap();
            assert_eq!(&record.transaction, tx);
            verify_transaction_inclusion(&record.header, &tx.id(), &record.inclusion).unwrap();
            if record.header.height < head.height {
                let proof = ledger.history_proof(record.header.height).unwrap();
                verify_block_in_history(&head, &record.header, &proof).unwrap();
            }
        }
    }
    let keys = keys();
    for height in ledger.oldest_state_height()..=head.height {
        for key in &keys {
            let app_key = balance_key(&PublicKey::from_signing_key(key));
            let record = ledger.state(&app_key, Some(height)).unwrap();
            verify_state_proof(
                &record.header.state_root,
                &application_position(&app_key),
                record.value.as_deref(),
                &record.proof,
            )
            .unwrap();
        }
    }
    assert!(matches!(
        ledger.state(b"x", Some(0)),
        Err(LedgerError::HeightUnavailable { .. })
    ));
    assert!(ledger.transaction(&Hash([9; 32])).unwrap().is_none());
}

#[test]
fn refused_blocks_change_nothing() {
    let (chain, _) = build_chain(MemStore::new(), 4, 9);
    let keys = keys();
    let store = MemStore::new();
    let mut ledger = Ledger::open(store.clone(), app(&keys), config()).unwrap();
    for block in &chain[..3] {
        let verified = ledger.verify_block(block.clone()).unwrap();
        ledger.apply_block(verified).unwrap();
    }
    let next = chain[3].clone();
    let head_before = *ledger.head().unwrap();
    let (header, txs) = next.clone().into_parts();

    // A tampered state root: refused after execution, nothing written.
    let mut bad = header;
    bad.state_root = Hash([1; 32]);
    let verified = ledger
        .verify_block(Block::new(bad, txs.clone()).unwrap())
        .unwrap();
    assert!(matches!(
        ledger.apply_block(verified),
        Err(LedgerError::RootMismatch { root: "state", .. })
    ));
    // A wrong parent, a wrong height, a wrong history root.
    for mutate in [
        (|h: &mut ledger_core::BlockHeader| h.parent = Hash([2; 32]))
            as fn(&mut ledger_core::BlockHeader),
        |h| h.height += 1,
        |h| h.history_root = Hash([3; 32]),
    ] {
        let mut bad = header;
        mutate(&mut bad);
        let verified = ledger
            .verify_block(Block::new(bad, txs.clone()).unwrap())
            .unwrap();
        assert!(ledger.apply_block(verified).is_err());
    }
    // A bad signature: refused by verification with its index.
    if !txs.is_empty() {
        let mut forged = txs.clone();
        let sig = forged[0].signature().0;
        let mut sig2 = sig;
        sig2[0] ^= 1;
        forged[0] = forged[0].clone().with_signature(Signature(sig2));
        let err = ledger
            .verify_block(Block::new(header, forged).unwrap())
            .unwrap_err();
        assert!(matches!(err, LedgerError::InvalidSignatures(_)), "{err:?}");
    }
    // A tampered transaction root.
    let mut bad = header;
    bad.tx_root = Hash([4; 32]);
    assert!(matches!(
        ledger.verify_block(Block::new(bad, txs.clone()).unwrap()),
        Err(LedgerError::RootMismatch {
            root: "transaction",
            ..
        })
    ));
    assert_eq!(*ledger.head().unwrap(), head_before);
    // Reopened, the store is at the same head; the real block still applies.
    let mut reopened = Ledger::open(store, app(&keys), config()).unwrap();
    assert_eq!(*reopened.head().unwrap(), head_before);
    let verified = reopened.verify_block(next).unwrap();
    let outcome = reopened.apply_block(verified).unwrap();
    assert_eq!(outcome.receipts.len(), txs.len());
    assert!(outcome
        .receipts
        .iter()
        .all(|r| matches!(r, Receipt::Success { .. } | Receipt::Failed(_))));
}

#[test]
fn rocks_store_ledger_reopens_at_its_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let (chain, proposer) = build_chain(MemStore::new(), 8, 21);
    let keys = keys();
    {
        let mut ledger =
            Ledger::open(RocksStore::open(&path).unwrap(), app(&keys), config()).unwrap();
        for block in &chain[..5] {
            let verified = ledger.verify_block(block.clone()).unwrap();
            ledger.apply_block(verified).unwrap();
        }
    }
    let mut ledger = Ledger::open(RocksStore::open(&path).unwrap(), app(&keys), config()).unwrap();
    assert_eq!(ledger.height(), Some(4));
    for block in &chain[5..] {
        let verified = ledger.verify_block(block.clone()).unwrap();
        ledger.apply_block(verified).unwrap();
    }
    assert_eq!(ledger.head(), proposer.head());
}

#[test]
fn audit_passes_on_a_good_ledger_and_finds_tampering() {
    let store = MemStore::new();
    let (_, ledger) = build_chain(store.clone(), 8, 33);
    let report = ledger.audit().unwrap();
    assert_eq!(report.blocks, 8);
    // Tamper with the stored receipts of block 3: the audit names it.
    let mut batch = ledger_core::store::WriteBatch::new();
    let forged = Receipt::Failed(ledger_core::machine::Failure::new(99, "forged")).encode();
    let mut record = 1u32.to_le_bytes().to_vec();
    record.extend_from_slice(&(forged.len() as u32).to_le_bytes());
    record.extend_from_slice(&forged);
    batch.put(
        ledger_core::store::Column::Receipts,
        3u64.to_be_bytes().to_vec(),
        record,
    );
    store
        .commit(batch, ledger_core::store::Durability::Synced)
        .unwrap();
    let reopened = Ledger::open(store, app(&keys()), config()).unwrap();
    let error = reopened.audit().unwrap_err();
    assert_eq!(error.height, 3, "{error}");
}
