//! Shared helpers of the engine's integration tests: deterministic keys, a
//! configuration with small caches and retention, and a proposer that
//! builds a random chain of scripted transfers (some with bad signatures or
//! replayed nonces, which it must leave out).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "each test binary uses part of this; a panic in a test is a failing test"
)]

pub mod golden;
pub mod slow_store;

use ed25519_dalek::SigningKey;
use ledger_core::testing::{account_key, key, sign, Op, ScriptedApp};
use ledger_core::{Block, Ledger, LedgerConfig, PublicKey, Signature, Store};
use rand::{RngExt, SeedableRng};

pub const CHAIN: u64 = 77;
pub const ACCOUNTS: usize = 12;

pub fn keys() -> Vec<SigningKey> {
    (0..ACCOUNTS as u8).map(|i| key(i + 1)).collect()
}

pub fn public(key: &SigningKey) -> PublicKey {
    PublicKey::from_signing_key(key)
}

pub fn app() -> ScriptedApp {
    ScriptedApp {
        minter: public(&keys()[0]),
    }
}

pub fn config() -> LedgerConfig {
    let mut config = LedgerConfig::new(CHAIN);
    config.state_retention = 4;
    config.node_cache_bytes = 8 << 20;
    config
}

/// What every chain of `build_chain` mints in its first block.
pub fn minted() -> u64 {
    (0..ACCOUNTS as u64).map(|i| 1_000 + i).sum()
}

/// A chain of `blocks` blocks of random transfers, built by a proposer over
/// `store` (which ends holding it).
pub fn build_chain<S: Store>(
    store: S,
    blocks: u64,
    seed: u64,
) -> (Vec<Block>, Ledger<S, ScriptedApp>) {
    let keys = keys();
    let mut proposer = Ledger::open(store, app(), config()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut nonces = [0u64; ACCOUNTS];
    let mut chain = Vec::new();
    for height in 0..blocks {
        let mut txs = Vec::new();
        if height == 0 {
            for (i, key) in keys.iter().enumerate() {
                let op = Op::Mint {
                    to: public(key),
                    amount: 1_000 + i as u64,
                };
                txs.push(sign(&keys[0], CHAIN, nonces[0], &[op]));
                nonces[0] += 1;
            }
        }
        for _ in 0..rng.random_range(0..40) {
            let from = rng.random_range(0..ACCOUNTS);
            let to = rng.random_range(0..ACCOUNTS);
            let op = Op::Transfer {
                to: public(&keys[to]),
                amount: rng.random_range(0..600),
            };
            let mut tx = sign(&keys[from], CHAIN, nonces[from], std::slice::from_ref(&op));
            match rng.random_range(0..20) {
                // A bad signature: the proposer must drop it.
                0 => {
                    let mut sig = tx.signature().0;
                    sig[1] ^= 4;
                    tx = tx.with_signature(Signature(sig));
                }
                // A replay of an old nonce: dropped too.
                1 if nonces[from] > 0 => tx = sign(&keys[from], CHAIN, nonces[from] - 1, &[op]),
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
            nonces[i] = proposer.nonce(&public(key)).unwrap();
        }
    }
    (chain, proposer)
}

/// An account's balance at the durable head.
pub fn balance<S: Store>(ledger: &Ledger<S, ScriptedApp>, account: &PublicKey) -> u64 {
    ledger
        .state(&account_key(account), None)
        .unwrap()
        .value
        .map(|v| u64::from_le_bytes(v[..].try_into().unwrap()))
        .unwrap_or(0)
}

/// The sum of every account's balance.
pub fn total_supply<S: Store>(ledger: &Ledger<S, ScriptedApp>) -> u64 {
    keys().iter().map(|key| balance(ledger, &public(key))).sum()
}

/// Applies `blocks` in order.
pub fn apply_all<S: Store>(ledger: &mut Ledger<S, ScriptedApp>, blocks: &[Block]) {
    for block in blocks {
        let verified = ledger.verify_block(block.clone()).unwrap();
        ledger.apply_block(verified).unwrap();
    }
}

/// The seed of a random test: `LEDGER_TEST_SEED` if set, else random;
/// printed so that a failure can be rerun.
pub fn seed() -> u64 {
    let seed = std::env::var("LEDGER_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("test seed: {seed} (rerun with LEDGER_TEST_SEED={seed})");
    seed
}
