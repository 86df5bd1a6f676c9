//! Randomized chains of `transfers` blocks driven by arbitrary bytes, with
//! the engine's invariants checked after every block. Used by the
//! `apply_blocks` fuzz target and its corpus replay test (feature
//! `fuzzing`).
//!
//! Every 5 bytes are one candidate transaction: sender, recipient, amount
//! (u16 LE) and flags — bit 0: corrupt the signature; bit 1: reuse the
//! sender's previous nonce (a replay); bit 2: end the block after it; bit 3:
//! before the real block, offer the replica a copy with a tampered state
//! root. Checked: the proposer builds every block (dropping invalid
//! transactions); a replica applying the same blocks reaches the same head;
//! a tampered block is refused and changes nothing; total supply is
//! conserved; the replica's audit passes at the end.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "an invariant failure in a fuzz scenario must panic"
)]

use ed25519_dalek::SigningKey;
use ledger_core::{Block, Hash, Ledger, LedgerConfig, MemStore, PublicKey, Signature, Transaction};

use crate::transfers::{balance_key, Operation, Transfers};

const CHAIN: u64 = 0xf022;
const ACCOUNTS: usize = 6;
const GENESIS_BALANCE: u64 = 100_000;
/// Bytes per candidate transaction.
pub const OP_BYTES: usize = 5;
/// Most candidate transactions a scenario reads (bounds a fuzz run's time).
pub const MAX_OPS: usize = 200;

fn config() -> LedgerConfig {
    let mut config = LedgerConfig::new(CHAIN);
    config.state_retention = 3;
    config.node_cache_bytes = 1 << 20;
    config.value_cache_bytes = 1 << 16;
    config
}

fn total_supply(ledger: &Ledger<MemStore, Transfers>, accounts: &[SigningKey]) -> u64 {
    accounts
        .iter()
        .map(|key| {
            let record = ledger
                .state(&balance_key(&PublicKey::from_signing_key(key)), None)
                .expect("state");
            record
                .value
                .map(|v| u64::from_le_bytes(v[..].try_into().expect("8-byte balance")))
                .unwrap_or(0)
        })
        .sum()
}

/// Runs the scenario encoded by `data`; panics if an invariant breaks.
pub fn run_transfer_scenario(data: &[u8]) {
    let accounts: Vec<SigningKey> = (0..ACCOUNTS as u8)
        .map(|i| SigningKey::from_bytes(&[i + 0x21; 32]))
        .collect();
    let app = || Transfers {
        minter: PublicKey::from_signing_key(&accounts[0]),
    };
    let mut proposer = Ledger::open(MemStore::new(), app(), config()).expect("open");
    let mut replica = Ledger::open(MemStore::new(), app(), config()).expect("open");
    let mut nonces = [0u64; ACCOUNTS];
    let mut candidates: Vec<Transaction> = accounts
        .iter()
        .map(|key| {
            let op = Operation::Mint {
                to: PublicKey::from_signing_key(key),
                amount: GENESIS_BALANCE,
            };
            nonces[0] += 1;
            let payload = op.encode().expect("a mint always encodes");
            Transaction::sign(&accounts[0], CHAIN, nonces[0] - 1, payload).expect("sign")
        })
        .collect();
    let mut tamper_next = false;
    let mut time = 0u64;
    let mut commit = |candidates: Vec<Transaction>,
                      tamper: bool,
                      proposer: &mut Ledger<MemStore, Transfers>,
                      replica: &mut Ledger<MemStore, Transfers>| {
        time += 1_000;
        let offered = candidates.len();
        let block = proposer.build_block(candidates, time).expect("build");
        assert!(block.transactions().len() <= offered);
        proposer
            .apply_block(
                proposer
                    .verify_block(block.clone())
                    .expect("own block verifies"),
            )
            .expect("own block applies");
        if tamper {
            let (mut header, txs) = block.clone().into_parts();
            header.state_root = Hash([0xee; 32]);
            let before = replica.applied_head().copied();
            let forged = Block::new(header, txs).expect("same size");
            if let Ok(verified) = replica.verify_block(forged) {
                assert!(
                    replica.apply_block(verified).is_err(),
                    "a tampered root was accepted"
                );
            }
            assert_eq!(
                replica.applied_head().copied(),
                before,
                "a refused block changed the head"
            );
        }
        replica
            .apply_block(replica.verify_block(block).expect("replica verifies"))
            .expect("replica applies");
        assert_eq!(
            replica.applied_head(),
            proposer.applied_head(),
            "replica diverged"
        );
        assert_eq!(
            total_supply(proposer, &accounts),
            GENESIS_BALANCE * ACCOUNTS as u64,
            "supply changed"
        );
    };
    commit(
        std::mem::take(&mut candidates),
        false,
        &mut proposer,
        &mut replica,
    );
    for chunk in data.chunks_exact(OP_BYTES).take(MAX_OPS) {
        let [from, to, amount_lo, amount_hi, flags] =
            [chunk[0], chunk[1], chunk[2], chunk[3], chunk[4]];
        let from = usize::from(from) % ACCOUNTS;
        let to = PublicKey::from_signing_key(&accounts[usize::from(to) % ACCOUNTS]);
        let amount = u64::from(u16::from_le_bytes([amount_lo, amount_hi]));
        let nonce = if flags & 2 != 0 && nonces[from] > 0 {
            nonces[from] - 1
        } else {
            nonces[from] += 1;
            nonces[from] - 1
        };
        let op = Operation::Transfer { to, amount };
        let payload = op.encode().expect("a transfer always encodes");
        let mut tx = Transaction::sign(&accounts[from], CHAIN, nonce, payload).expect("sign");
        if flags & 1 != 0 {
            let mut signature = tx.signature().0;
            signature[7] ^= 0x10;
            tx = tx.with_signature(Signature(signature));
        }
        candidates.push(tx);
        tamper_next |= flags & 8 != 0;
        if flags & 4 != 0 {
            commit(
                std::mem::take(&mut candidates),
                tamper_next,
                &mut proposer,
                &mut replica,
            );
            tamper_next = false;
            // Resynchronize the nonce model with what was really included.
            for (i, key) in accounts.iter().enumerate() {
                nonces[i] = proposer
                    .nonce(&PublicKey::from_signing_key(key))
                    .expect("nonce");
            }
        }
    }
    commit(candidates, tamper_next, &mut proposer, &mut replica);
    replica.audit().expect("audit");
}
