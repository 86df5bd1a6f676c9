//! The engine end to end with the scripted test application: a proposer
//! builds blocks from random (partly invalid) transfers; a replica that
//! applies them, and one that reopens its store between every two blocks,
//! reach identical heads and roots; blocks with a bad signature, root,
//! parent or height are refused and change nothing; every query's proof
//! verifies with the standalone functions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use common::{app, apply_all, build_chain, config, keys, minted, public, total_supply};
use ledger_core::testing::{account_key, proptest_config};
use ledger_core::{
    verify_block_in_history, Block, BlockHeader, Column, Durability, Failure, Hash, Ledger,
    LedgerError, MemStore, Receipt, Signature, Store, StoreRead,
};

fn replicas_agree(seed: u64, blocks: u64) {
    let (chain, proposer) = build_chain(MemStore::new(), blocks, seed);
    let mut replica = Ledger::open(MemStore::new(), app(), config()).unwrap();
    let reopening_store = MemStore::new();
    for block in &chain {
        apply_all(&mut replica, std::slice::from_ref(block));
        let mut reopened = Ledger::open(reopening_store.clone(), app(), config()).unwrap();
        apply_all(&mut reopened, std::slice::from_ref(block));
    }
    let reopened = Ledger::open(reopening_store, app(), config()).unwrap();
    assert_eq!(replica.applied_head(), proposer.applied_head());
    assert_eq!(reopened.applied_head(), proposer.applied_head());
    // Transfers conserve supply: the sum of balances is what was minted.
    assert_eq!(total_supply(&replica), minted());
}

proptest::proptest! {
    #![proptest_config(proptest_config(8, file!()))]

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
    let head = *ledger.applied_head().unwrap();
    let mut failed = 0;
    for block in &chain {
        for tx in block.transactions() {
            let record = ledger.transaction(&tx.id()).unwrap().unwrap();
            assert_eq!(&record.transaction, tx);
            assert_eq!(record.header, *block.header());
            record.verify(block.header()).unwrap();
            failed += usize::from(!record.receipt.is_success());
            if record.header.height < head.height {
                let proof = ledger.history_proof(record.header.height).unwrap();
                verify_block_in_history(&head, &record.header, &proof).unwrap();
            }
            // A proof checked against another block's header fails.
            if let Some(other) = chain
                .iter()
                .find(|b| b.id() != block.id() && b.header().tx_count > 0)
            {
                assert!(record.verify(other.header()).is_err());
            }
        }
    }
    assert!(failed > 0, "the chain should hold some failed transfers");
    for height in ledger.oldest_state_height()..=head.height {
        let header = ledger.header_at(height).unwrap().unwrap();
        for key in keys() {
            let app_key = account_key(&public(&key));
            let record = ledger.state(&app_key, Some(height)).unwrap();
            assert_eq!(record.header, header);
            record.verify(&app_key, &header.state_root).unwrap();
            // The same proof does not vouch for another key or another root.
            assert!(record.verify(b"another key", &header.state_root).is_err());
            assert!(record.verify(&app_key, &Hash([5; 32])).is_err());
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
    let store = MemStore::new();
    let mut ledger = Ledger::open(store.clone(), app(), config()).unwrap();
    apply_all(&mut ledger, &chain[..3]);
    let next = chain[3].clone();
    let head_before = *ledger.applied_head().unwrap();
    let (header, txs) = next.clone().into_parts();
    let contents_before = snapshot(&store);

    // Tampered roots: refused after execution, nothing written.
    for (root, mutate) in [
        (
            "state",
            (|h: &mut BlockHeader| h.state_root = Hash([1; 32])) as fn(&mut BlockHeader),
        ),
        ("receipts", |h| h.receipts_root = Hash([1; 32])),
    ] {
        let mut bad = header;
        mutate(&mut bad);
        let verified = ledger
            .verify_block(Block::new(bad, txs.clone()).unwrap())
            .unwrap();
        let error = ledger.apply_block(verified).unwrap_err();
        assert!(
            matches!(error, LedgerError::RootMismatch { root: found, .. } if found == root),
            "{error:?}"
        );
        assert!(error.is_block_invalid());
    }
    // A wrong parent, a wrong height, a wrong history root, an earlier time.
    for mutate in [
        (|h: &mut BlockHeader| h.parent = Hash([2; 32])) as fn(&mut BlockHeader),
        |h| h.height += 1,
        |h| h.history_root = Hash([3; 32]),
        |h| h.timestamp_ms = 0,
    ] {
        let mut bad = header;
        mutate(&mut bad);
        let verified = ledger
            .verify_block(Block::new(bad, txs.clone()).unwrap())
            .unwrap();
        let error = ledger.apply_block(verified).unwrap_err();
        assert!(error.is_block_invalid(), "{error:?}");
    }
    // A bad signature: refused by verification with its index.
    assert!(!txs.is_empty());
    let mut forged = txs.clone();
    let mut sig = forged[0].signature().0;
    sig[0] ^= 1;
    forged[0] = forged[0].clone().with_signature(Signature(sig));
    let err = ledger
        .verify_block(Block::new(header, forged).unwrap())
        .unwrap_err();
    assert!(matches!(err, LedgerError::InvalidSignatures(_)), "{err:?}");
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
    assert_eq!(*ledger.applied_head().unwrap(), head_before);
    assert!(
        snapshot(&store) == contents_before,
        "a refused block wrote to the store"
    );
    // Reopened, the store is at the same head; the real block still applies.
    let mut reopened = Ledger::open(store, app(), config()).unwrap();
    assert_eq!(*reopened.applied_head().unwrap(), head_before);
    let verified = reopened.verify_block(next).unwrap();
    let outcome = reopened.apply_block(verified).unwrap();
    assert_eq!(outcome.receipts.len(), txs.len());
    assert_eq!(outcome.header, header);
}

/// Every record of every column.
fn snapshot(store: &MemStore) -> Vec<(Column, bytes::Bytes, bytes::Bytes)> {
    Column::ALL
        .iter()
        .flat_map(|column| {
            store
                .scan(*column, ledger_core::store::KeyRange::all())
                .unwrap()
                .map(|entry| {
                    let (key, value) = entry.unwrap();
                    (*column, key, value)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn audit_passes_on_a_good_ledger_and_finds_tampering() {
    let store = MemStore::new();
    let (_, ledger) = build_chain(store.clone(), 8, 33);
    let report = ledger.audit().unwrap();
    assert_eq!(report.blocks, 8);
    assert!(report.passed(), "{:?}", report.findings);
    // Tamper with the stored receipts of block 3: the audit names it.
    let mut batch = ledger_core::store::WriteBatch::new();
    let forged = Receipt::Failed(Failure::new(99, "forged")).encode();
    // Stored plain (packing byte 0), so that the audit compares contents.
    let mut record = vec![0u8];
    record.extend_from_slice(&1u32.to_le_bytes());
    record.extend_from_slice(&(forged.len() as u32).to_le_bytes());
    record.extend_from_slice(&forged);
    batch.put(Column::Receipts, 3u64.to_be_bytes().to_vec(), record);
    store.commit(batch, Durability::Synced).unwrap();
    let reopened = Ledger::open(store, app(), config()).unwrap();
    let report = reopened.audit().unwrap();
    assert!(!report.passed());
    assert_eq!(
        report.findings[0].column,
        Column::Receipts,
        "{:?}",
        report.findings
    );
    assert_eq!(
        report.findings[0].key,
        ledger_core::hash::to_hex(&3u64.to_be_bytes())
    );
    assert!(
        report.findings[0]
            .detail
            .contains("differs from the receipts"),
        "{:?}",
        report.findings
    );
}
