//! A scripted application for tests of the engine (feature `testing`): each
//! transaction's payload is a list of [`Op`]s that the application performs
//! in order, so a test can make a transaction read, write, emit, transfer
//! or fail exactly as it needs, up to and past every limit.
//!
//! Accounts live under `b"acct:" ‖ public key` as `u64` little-endian
//! balances; only the configured minter may mint, so the sum of balances is
//! the sum of successful mints (the supply invariant replica tests check).

#![allow(clippy::indexing_slicing, reason = "test support; decoders use get")]

use bytes::Bytes;
use ed25519_dalek::SigningKey;

use crate::machine::{Failure, StateAccess, StateMachine, TxContext};
use crate::types::{PublicKey, Transaction};

/// Failure code of a transfer above the sender's balance.
pub const INSUFFICIENT_FUNDS: u32 = 1;
/// Failure code of a mint by someone other than the minter.
pub const NOT_MINTER: u32 = 2;
/// Failure code of a payload that is not a list of ops.
pub const MALFORMED: u32 = 3;

/// One step of a scripted transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Put `value` under `key`.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Delete `key`.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// Emit an event.
    Emit {
        /// Its topic.
        topic: Vec<u8>,
        /// Its data.
        data: Vec<u8>,
    },
    /// Fail the transaction with `code`.
    Fail {
        /// The code.
        code: u32,
    },
    /// Move `amount` from the sender's account to `to`'s.
    Transfer {
        /// The recipient.
        to: PublicKey,
        /// The amount.
        amount: u64,
    },
    /// Create `amount` in `to`'s account (the minter only).
    Mint {
        /// The recipient.
        to: PublicKey,
        /// The amount.
        amount: u64,
    },
    /// Put `count` values of `value_len` bytes under keys made of the
    /// transaction id and the counter.
    PutMany {
        /// How many.
        count: u32,
        /// Bytes per value.
        value_len: u32,
    },
    /// Read `count` distinct keys.
    ReadMany {
        /// How many.
        count: u32,
    },
    /// Emit `count` events of `data_len` data bytes (topic `b"e"`).
    EmitMany {
        /// How many.
        count: u32,
        /// Data bytes per event.
        data_len: u32,
    },
}

const PUT: u8 = 1;
const DELETE: u8 = 2;
const EMIT: u8 = 3;
const FAIL: u8 = 4;
const TRANSFER: u8 = 5;
const MINT: u8 = 6;
const PUT_MANY: u8 = 7;
const READ_MANY: u8 = 8;
const EMIT_MANY: u8 = 9;

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Encodes a script.
pub fn encode(ops: &[Op]) -> Bytes {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Put { key, value } => {
                out.push(PUT);
                put_bytes(&mut out, key);
                put_bytes(&mut out, value);
            }
            Op::Delete { key } => {
                out.push(DELETE);
                put_bytes(&mut out, key);
            }
            Op::Emit { topic, data } => {
                out.push(EMIT);
                put_bytes(&mut out, topic);
                put_bytes(&mut out, data);
            }
            Op::Fail { code } => {
                out.push(FAIL);
                out.extend_from_slice(&code.to_le_bytes());
            }
            Op::Transfer { to, amount } | Op::Mint { to, amount } => {
                out.push(if matches!(op, Op::Mint { .. }) {
                    MINT
                } else {
                    TRANSFER
                });
                out.extend_from_slice(&to.0);
                out.extend_from_slice(&amount.to_le_bytes());
            }
            Op::PutMany { count, value_len }
            | Op::EmitMany {
                count,
                data_len: value_len,
            } => {
                out.push(if matches!(op, Op::PutMany { .. }) {
                    PUT_MANY
                } else {
                    EMIT_MANY
                });
                out.extend_from_slice(&count.to_le_bytes());
                out.extend_from_slice(&value_len.to_le_bytes());
            }
            Op::ReadMany { count } => {
                out.push(READ_MANY);
                out.extend_from_slice(&count.to_le_bytes());
            }
        }
    }
    Bytes::from(out)
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, len: usize) -> Option<&[u8]> {
        let (head, tail) = self.0.split_at_checked(len)?;
        self.0 = tail;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = self.u32()? as usize;
        self.take(len).map(<[u8]>::to_vec)
    }
    fn key(&mut self) -> Option<PublicKey> {
        Some(PublicKey(self.take(32)?.try_into().ok()?))
    }
}

/// Decodes a script; `None` if malformed.
pub fn decode(payload: &[u8]) -> Option<Vec<Op>> {
    let mut cursor = Cursor(payload);
    let mut ops = Vec::new();
    while let Some(&tag) = cursor.0.first() {
        cursor.0 = &cursor.0[1..];
        ops.push(match tag {
            PUT => Op::Put {
                key: cursor.bytes()?,
                value: cursor.bytes()?,
            },
            DELETE => Op::Delete {
                key: cursor.bytes()?,
            },
            EMIT => Op::Emit {
                topic: cursor.bytes()?,
                data: cursor.bytes()?,
            },
            FAIL => Op::Fail {
                code: cursor.u32()?,
            },
            TRANSFER => Op::Transfer {
                to: cursor.key()?,
                amount: cursor.u64()?,
            },
            MINT => Op::Mint {
                to: cursor.key()?,
                amount: cursor.u64()?,
            },
            PUT_MANY => Op::PutMany {
                count: cursor.u32()?,
                value_len: cursor.u32()?,
            },
            READ_MANY => Op::ReadMany {
                count: cursor.u32()?,
            },
            EMIT_MANY => Op::EmitMany {
                count: cursor.u32()?,
                data_len: cursor.u32()?,
            },
            _ => return None,
        });
    }
    Some(ops)
}

/// The state key of an account.
pub fn account_key(account: &PublicKey) -> Vec<u8> {
    [b"acct:".as_slice(), &account.0].concat()
}

/// Reads an account's balance (absent is 0).
fn balance(state: &mut dyn StateAccess, account: &PublicKey) -> Result<u64, Failure> {
    Ok(state
        .get(&account_key(account))?
        .and_then(|bytes| <[u8; 8]>::try_from(&bytes[..]).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0))
}

fn set_balance(
    state: &mut dyn StateAccess,
    account: &PublicKey,
    value: u64,
) -> Result<(), Failure> {
    let key = account_key(account);
    if value == 0 {
        state.delete(&key)?;
    } else {
        state.put(&key, value.to_le_bytes().into())?;
    }
    Ok(())
}

/// The scripted application.
#[derive(Clone, Debug)]
pub struct ScriptedApp {
    /// The only account that may mint.
    pub minter: PublicKey,
}

impl StateMachine for ScriptedApp {
    /// What its operations read (balances, the keys of `ReadMany`, more
    /// than the engine uses), and the keys it writes, which it does not
    /// read: hints may be wrong or too many without changing an outcome.
    fn read_hints(&self, tx: &Transaction, key: &mut dyn FnMut(&[u8])) {
        let Some(ops) = decode(tx.payload()) else {
            return;
        };
        for op in ops {
            match op {
                Op::Transfer { to, .. } => {
                    key(&account_key(tx.sender()));
                    key(&account_key(&to));
                }
                Op::Mint { to, .. } => key(&account_key(&to)),
                Op::ReadMany { count } => {
                    for i in 0..count {
                        key(&i.to_le_bytes());
                    }
                }
                Op::Put { key: written, .. } | Op::Delete { key: written } => key(&written),
                _ => {}
            }
        }
    }

    fn execute(&self, context: &TxContext<'_>, state: &mut dyn StateAccess) -> Result<(), Failure> {
        let ops =
            decode(context.tx.payload()).ok_or_else(|| Failure::new(MALFORMED, "not a script"))?;
        let sender = *context.tx.sender();
        for op in ops {
            match op {
                Op::Put { key, value } => state.put(&key, value.into())?,
                Op::Delete { key } => state.delete(&key)?,
                Op::Emit { topic, data } => state.emit(&topic, &data)?,
                Op::Fail { code } => return Err(Failure::new(code, "scripted failure")),
                Op::Transfer { to, amount } => {
                    let from = balance(state, &sender)?;
                    let left = from
                        .checked_sub(amount)
                        .ok_or_else(|| Failure::new(INSUFFICIENT_FUNDS, "insufficient funds"))?;
                    set_balance(state, &sender, left)?;
                    let to_balance = balance(state, &to)?.saturating_add(amount);
                    set_balance(state, &to, to_balance)?;
                }
                Op::Mint { to, amount } => {
                    if sender != self.minter {
                        return Err(Failure::new(NOT_MINTER, "only the minter mints"));
                    }
                    let to_balance = balance(state, &to)?.saturating_add(amount);
                    set_balance(state, &to, to_balance)?;
                }
                Op::PutMany { count, value_len } => {
                    for i in 0..count {
                        let key = [context.tx_id.as_bytes().as_slice(), &i.to_le_bytes()].concat();
                        state.put(&key, vec![0xab; value_len as usize].into())?;
                    }
                }
                Op::ReadMany { count } => {
                    for i in 0..count {
                        state.get(&i.to_le_bytes())?;
                    }
                }
                Op::EmitMany { count, data_len } => {
                    for _ in 0..count {
                        state.emit(b"e", &vec![0xcd; data_len as usize])?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A deterministic signing key for tests: seed `n`.
pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// Signs a script as a transaction of chain `chain_id`.
pub fn sign(key: &SigningKey, chain_id: u64, nonce: u64, ops: &[Op]) -> Transaction {
    // Test scripts stay far below the payload limit.
    #[allow(
        clippy::expect_used,
        reason = "test support: a too-large script is a test bug"
    )]
    Transaction::sign(key, chain_id, nonce, encode(ops)).expect("script fits a payload")
}

/// The environment variable that fixes a randomised test's seed (the one
/// proptest reads too).
pub const SEED_VARIABLE: &str = "PROPTEST_RNG_SEED";

/// The seed of a randomised test, printed so that a failure can be run
/// again: `PROPTEST_RNG_SEED` if it is set, else a fresh random one.
///
/// The line goes to stderr, which the test harness shows only for a test
/// that failed (`cargo test` and `cargo nextest` both capture it). Pass
/// the seed to proptest as `RngSeed::Fixed(seed)`: the run with the same
/// seed generates the same cases in the same order, so the failing one
/// comes back and shrinks the same way.
pub fn test_seed(test: &str) -> u64 {
    let seed = seed_from(std::env::var(SEED_VARIABLE).ok().as_deref(), test);
    eprintln!("{test}: seed {seed} (run again with {SEED_VARIABLE}={seed})");
    seed
}

/// The seed `variable` names, or a fresh random one without it.
fn seed_from(variable: Option<&str>, test: &str) -> u64 {
    match variable {
        Some(text) => match text.trim().parse::<u64>() {
            Ok(seed) => seed,
            // A test run that asked for a seed and got another would
            // silently test something else.
            Err(error) => panic!("{SEED_VARIABLE}={text:?} is not a u64 seed: {error}"),
        },
        None => {
            use std::hash::{BuildHasher, Hasher};
            // `RandomState` is seeded by the OS for every process (and
            // differs for each one made).
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write(test.as_bytes());
            hasher.finish()
        }
    }
}

/// proptest's configuration for a property test of `cases` cases whose
/// seed is [`test_seed`]`(test)` (pass `file!()`): every proptest block of
/// the workspace uses it, so every failure prints the seed that repeats it.
pub fn proptest_config(cases: u32, test: &str) -> proptest::test_runner::Config {
    config_with_seed(cases, test_seed(test))
}

/// proptest's default configuration with `cases` cases and the fixed seed
/// `seed`.
fn config_with_seed(cases: u32, seed: u64) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..proptest::test_runner::Config::default()
    }
}

/// A decoder of stored bytes that says whether it accepted them.
pub type RecordDecoder = fn(&[u8]) -> bool;

/// The engine's private record decoders, for tests that hold every decoder
/// to the allocation rule (`docs/FORMAT.md`): each takes bytes and says
/// whether it accepted them.
pub fn record_decoders() -> Vec<(&'static str, RecordDecoder)> {
    vec![
        ("receipts record", |bytes| {
            crate::engine::records::decode_receipts(bytes).is_some()
        }),
        ("one receipt of a record", |bytes| {
            crate::engine::records::receipt_at(bytes, 0).is_some()
        }),
        ("transaction location", |bytes| {
            crate::engine::records::TxLocation::decode(bytes).is_some()
        }),
        ("stale list", |bytes| {
            crate::state_tree::decode_stale_list(bytes).is_ok()
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_roundtrip() {
        let ops = vec![
            Op::Put {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
            },
            Op::Delete { key: b"k".to_vec() },
            Op::Emit {
                topic: b"t".to_vec(),
                data: vec![1, 2],
            },
            Op::Fail { code: 9 },
            Op::Transfer {
                to: PublicKey([1; 32]),
                amount: 5,
            },
            Op::Mint {
                to: PublicKey([2; 32]),
                amount: 6,
            },
            Op::PutMany {
                count: 3,
                value_len: 4,
            },
            Op::ReadMany { count: 7 },
            Op::EmitMany {
                count: 2,
                data_len: 8,
            },
        ];
        assert_eq!(decode(&encode(&ops)), Some(ops));
        assert_eq!(decode(&[0xee]), None);
    }

    #[test]
    fn a_named_seed_is_used_and_a_missing_one_is_fresh() {
        assert_eq!(seed_from(Some("42"), "t"), 42);
        assert_eq!(seed_from(Some(" 7\n"), "t"), 7);
        assert_ne!(seed_from(None, "t"), seed_from(None, "t"));
    }

    #[test]
    #[should_panic(expected = "is not a u64 seed")]
    fn a_seed_that_is_not_a_number_stops_the_test() {
        seed_from(Some("forty-two"), "t");
    }

    #[test]
    fn the_config_carries_the_cases_and_the_seed_and_keeps_the_defaults() {
        use proptest::test_runner::{Config, RngSeed};
        let config = config_with_seed(17, 42);
        assert_eq!(config.cases, 17);
        assert_eq!(config.rng_seed, RngSeed::Fixed(42));
        let defaults = Config::default();
        assert_eq!(config.max_shrink_iters, defaults.max_shrink_iters);
        assert_eq!(config.max_global_rejects, defaults.max_global_rejects);
        assert_eq!(config.timeout, defaults.timeout);
        assert!(matches!(
            proptest_config(3, "t").rng_seed,
            RngSeed::Fixed(_)
        ));
    }

    /// What printing the seed relies on: proptest given the same fixed
    /// seed generates the same cases.
    #[test]
    fn the_same_seed_generates_the_same_cases() {
        use proptest::strategy::{Strategy, ValueTree};
        use proptest::test_runner::{Config, RngSeed, TestRunner};
        let cases = |seed| {
            let mut runner = TestRunner::new(Config {
                rng_seed: RngSeed::Fixed(seed),
                ..Config::default()
            });
            (0..8)
                .map(|_| {
                    proptest::collection::vec(proptest::num::u64::ANY, 0..9)
                        .new_tree(&mut runner)
                        .map(|tree| tree.current())
                })
                .collect::<Result<Vec<_>, _>>()
                .expect("generating")
        };
        assert_eq!(cases(5), cases(5));
        assert_ne!(cases(5), cases(6));
    }
}
