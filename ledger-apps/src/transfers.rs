//! `transfers`: accounts with balances, a minter, and transfers.
//!
//! State: one key per account, `b"balance:" ‖ public key` → balance as
//! `u64` little-endian (absent means zero). Payloads (canonical, strict):
//!
//! | tag | operation | fields |
//! |---|---|---|
//! | 1 | transfer | recipient public key (32), amount (u64 LE) |
//! | 2 | mint | recipient public key (32), amount (u64 LE); only the minter |
//! | 3 | transfer with memo | recipient (32), amount (u64 LE), memo (the rest of the payload, [`MIN_MEMO_BYTES`] to [`MAX_MEMO_BYTES`] bytes) |
//!
//! A memo is signed and kept in the block (so it is provable with the
//! transaction) but not in the state.
//!
//! **Limits.** [`Operation::encode`] encodes a value exactly or refuses it:
//! an empty memo is [`EncodeError::EmptyField`], a memo over
//! [`MAX_MEMO_BYTES`] is [`EncodeError::FieldTooLong`]; nothing is cut. So
//! `decode(encode(v)) == v` for every value the encoder accepts, and
//! `encode(decode(b)) == b` for every payload the decoder accepts (tested by
//! proptest in `tests/payload_roundtrip.rs`, and fuzzed by
//! `fuzz/fuzz_targets/decode_transfers_payload.rs`).
//!
//! **Keys.** A recipient key comes from the payload, not from a signature,
//! so it must be one only its owner can sign for
//! ([`PublicKey::check_strict`]: canonical, on the curve, prime order).
//! A transfer or mint to any other key fails with [`INVALID_KEY`] and
//! stores nothing: under the ZIP-215 rule a small-order key "signs"
//! anything, so its balance would belong to everyone. The check runs when
//! the transaction would create the recipient's balance (it holds none); a
//! key that holds a balance passed it when it first received, so every
//! credit to a non-strict key fails, while transfers between funded
//! accounts skip the curve arithmetic (tens of microseconds, more than the
//! rest of a transfer's execution).
//!
//! Failures, in the order they are checked: [`MALFORMED_PAYLOAD`],
//! [`NOT_MINTER`], [`INSUFFICIENT_FUNDS`], [`INVALID_KEY`],
//! [`BALANCE_OVERFLOW`]; [`CORRUPT_BALANCE`] wherever a stored balance is
//! read.
//!
//! Total supply changes only by mints, so the sum of all balances always
//! equals the sum of successful mints (tested by proptest).

#![deny(clippy::indexing_slicing)]

use bytes::Bytes;
use ledger_core::machine::{Failure, StateAccess, StateMachine, StateValue, TxContext};
use ledger_core::{PublicKey, Transaction};

use crate::EncodeError;

/// Payload length of a transfer or mint.
pub const PAYLOAD_BYTES: usize = 1 + 32 + 8;

/// Shortest memo: a memo transfer carries a memo (a transfer without one is
/// tag 1).
pub const MIN_MEMO_BYTES: usize = 1;

/// Longest memo: what fits in a transaction payload after the transfer's
/// fields.
pub const MAX_MEMO_BYTES: usize = ledger_core::limits::MAX_PAYLOAD_BYTES as usize - PAYLOAD_BYTES;

const _: () = assert!(MIN_MEMO_BYTES <= MAX_MEMO_BYTES);

const TAG_TRANSFER: u8 = 1;
const TAG_MINT: u8 = 2;
const TAG_TRANSFER_WITH_MEMO: u8 = 3;

/// Failure code: the sender's balance is below the amount.
pub const INSUFFICIENT_FUNDS: u32 = 1;
/// Failure code: a mint by someone other than the minter.
pub const NOT_MINTER: u32 = 2;
/// Failure code: the payload is not a transfer or mint.
pub const MALFORMED_PAYLOAD: u32 = 3;
/// Failure code: a balance would exceed `u64::MAX`.
pub const BALANCE_OVERFLOW: u32 = 4;
/// Failure code: a stored balance is not 8 bytes.
pub const CORRUPT_BALANCE: u32 = 5;
/// Failure code: the recipient's key is not strict (not canonical, not a
/// curve point, or of small or mixed order; [`PublicKey::check_strict`]).
pub const INVALID_KEY: u32 = 6;

/// One transfers operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Move `amount` from the sender to `to`.
    Transfer {
        /// Recipient.
        to: PublicKey,
        /// Amount.
        amount: u64,
    },
    /// Create `amount` for `to` (minter only).
    Mint {
        /// Recipient.
        to: PublicKey,
        /// Amount.
        amount: u64,
    },
    /// A transfer that carries a memo (a reference, an invoice number...):
    /// [`MIN_MEMO_BYTES`] to [`MAX_MEMO_BYTES`] bytes.
    TransferWithMemo {
        /// Recipient.
        to: PublicKey,
        /// Amount.
        amount: u64,
        /// The memo.
        memo: Bytes,
    },
}

impl Operation {
    /// The canonical payload, or the limit the value breaks: an empty memo
    /// ([`EncodeError::EmptyField`]) or one over [`MAX_MEMO_BYTES`]
    /// ([`EncodeError::FieldTooLong`]).
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let (tag, to, amount, memo) = match self {
            Operation::Transfer { to, amount } => (TAG_TRANSFER, to, amount, &[][..]),
            Operation::Mint { to, amount } => (TAG_MINT, to, amount, &[][..]),
            Operation::TransferWithMemo { to, amount, memo } => {
                check_memo(memo)?;
                (TAG_TRANSFER_WITH_MEMO, to, amount, memo.as_ref())
            }
        };
        let mut out = Vec::with_capacity(PAYLOAD_BYTES + memo.len());
        out.push(tag);
        out.extend_from_slice(&to.0);
        out.extend_from_slice(&amount.to_le_bytes());
        out.extend_from_slice(memo);
        Ok(Bytes::from(out))
    }

    /// Strict decoding of [`Operation::encode`]'s output: `None` for a
    /// payload that is not exactly one operation within its limits.
    pub fn decode(payload: &[u8]) -> Option<Operation> {
        let (&tag, rest) = payload.split_first()?;
        let (to, rest) = rest.split_first_chunk::<32>()?;
        let (amount, memo) = rest.split_first_chunk::<8>()?;
        let amount = u64::from_le_bytes(*amount);
        let to = PublicKey(*to);
        match (tag, memo.len()) {
            (TAG_TRANSFER, 0) => Some(Operation::Transfer { to, amount }),
            (TAG_MINT, 0) => Some(Operation::Mint { to, amount }),
            (TAG_TRANSFER_WITH_MEMO, MIN_MEMO_BYTES..=MAX_MEMO_BYTES) => {
                Some(Operation::TransferWithMemo {
                    to,
                    amount,
                    memo: Bytes::copy_from_slice(memo),
                })
            }
            _ => None,
        }
    }
}

fn check_memo(memo: &[u8]) -> Result<(), EncodeError> {
    if memo.len() < MIN_MEMO_BYTES {
        return Err(EncodeError::EmptyField { field: "memo" });
    }
    if memo.len() > MAX_MEMO_BYTES {
        return Err(EncodeError::FieldTooLong {
            field: "memo",
            len: memo.len(),
            max: MAX_MEMO_BYTES,
        });
    }
    Ok(())
}

/// Prefix of every balance key.
const BALANCE_PREFIX: &[u8; 8] = b"balance:";

/// Bytes of a balance key: the prefix and the account's key.
pub const BALANCE_KEY_BYTES: usize = BALANCE_PREFIX.len() + 32;

/// The state key of an account's balance (`balance:` ‖ key), on the stack.
pub fn balance_key(account: &PublicKey) -> [u8; BALANCE_KEY_BYTES] {
    let mut key = [0u8; BALANCE_KEY_BYTES];
    let (prefix, rest) = key.split_at_mut(BALANCE_PREFIX.len());
    prefix.copy_from_slice(BALANCE_PREFIX);
    rest.copy_from_slice(&account.0);
    key
}

/// Reads a balance (absent is zero).
pub fn read_balance(state: &mut dyn StateAccess, account: &PublicKey) -> Result<u64, Failure> {
    match state.get(&balance_key(account))? {
        None => Ok(0),
        Some(bytes) => <[u8; 8]>::try_from(bytes.as_ref())
            .map(u64::from_le_bytes)
            .map_err(|_| Failure::new(CORRUPT_BALANCE, "stored balance is not 8 bytes")),
    }
}

fn write_balance(
    state: &mut dyn StateAccess,
    account: &PublicKey,
    balance: u64,
) -> Result<(), Failure> {
    let key = balance_key(account);
    if balance == 0 {
        state.delete(&key)?;
    } else {
        state.put(&key, StateValue::from_slice(&balance.to_le_bytes()))?;
    }
    Ok(())
}

/// Takes `amount` from `account`'s balance.
fn debit(state: &mut dyn StateAccess, account: &PublicKey, amount: u64) -> Result<(), Failure> {
    let balance = read_balance(state, account)?;
    let remaining = balance.checked_sub(amount).ok_or_else(|| {
        Failure::new(
            INSUFFICIENT_FUNDS,
            format!("balance {balance} is below {amount}"),
        )
    })?;
    write_balance(state, account, remaining)
}

/// Adds `amount` to `account`'s balance. An account without a balance is
/// about to enter the state, so its key is checked first (module docs).
fn credit(state: &mut dyn StateAccess, account: &PublicKey, amount: u64) -> Result<(), Failure> {
    let balance = read_balance(state, account)?;
    if balance == 0 {
        check_recipient_key(account)?;
    }
    let balance = balance
        .checked_add(amount)
        .ok_or_else(|| Failure::new(BALANCE_OVERFLOW, "balance overflow"))?;
    write_balance(state, account, balance)
}

/// Refuses a recipient key that is not strict: one that others than its
/// owner can sign for, or a second name for another key.
fn check_recipient_key(key: &PublicKey) -> Result<(), Failure> {
    key.check_strict()
        .map_err(|error| Failure::new(INVALID_KEY, format!("recipient refused: {error}")))
}

/// The transfers application.
#[derive(Clone, Debug)]
pub struct Transfers {
    /// The only account allowed to mint.
    pub minter: PublicKey,
}

impl StateMachine for Transfers {
    /// The balances a transfer reads: its sender's and its recipient's (a
    /// mint's recipient's).
    fn read_hints(&self, tx: &Transaction, key: &mut dyn FnMut(&[u8])) {
        let Some(operation) = Operation::decode(tx.payload()) else {
            return;
        };
        match operation {
            Operation::Mint { to, .. } => key(&balance_key(&to)),
            Operation::Transfer { to, .. } | Operation::TransferWithMemo { to, .. } => {
                key(&balance_key(tx.sender()));
                key(&balance_key(&to));
            }
        }
    }

    fn execute(&self, context: &TxContext<'_>, state: &mut dyn StateAccess) -> Result<(), Failure> {
        let sender = *context.tx.sender();
        let operation = Operation::decode(context.tx.payload())
            .ok_or_else(|| Failure::new(MALFORMED_PAYLOAD, "not a transfer or mint payload"))?;
        match operation {
            Operation::Mint { to, amount } => {
                if sender != self.minter {
                    return Err(Failure::new(NOT_MINTER, "only the minter may mint"));
                }
                credit(state, &to, amount)?;
                state.emit(b"mint", &[to.0.as_slice(), &amount.to_le_bytes()].concat())?;
            }
            Operation::Transfer { to, amount } | Operation::TransferWithMemo { to, amount, .. } => {
                debit(state, &sender, amount)?;
                credit(state, &to, amount)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_roundtrip_and_strictness() {
        let op = Operation::Transfer {
            to: PublicKey([3; 32]),
            amount: 77,
        };
        let bytes = op.encode().unwrap();
        assert_eq!(bytes.len(), PAYLOAD_BYTES);
        assert_eq!(Operation::decode(&bytes), Some(op));
        assert_eq!(Operation::decode(&bytes[..PAYLOAD_BYTES - 1]), None);
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(Operation::decode(&longer), None);
        let mut bad_tag = bytes.to_vec();
        bad_tag[0] = 9;
        assert_eq!(Operation::decode(&bad_tag), None);
    }

    #[test]
    fn memo_bounds() {
        let with = |memo: Vec<u8>| Operation::TransferWithMemo {
            to: PublicKey([5; 32]),
            amount: 9,
            memo: Bytes::from(memo),
        };
        for len in [MIN_MEMO_BYTES, 200, MAX_MEMO_BYTES] {
            let op = with(vec![0xab; len]);
            let bytes = op.encode().unwrap();
            assert_eq!(bytes.len(), PAYLOAD_BYTES + len);
            assert_eq!(Operation::decode(&bytes), Some(op));
        }
        // The longest payload is the engine's payload limit.
        assert_eq!(
            with(vec![1; MAX_MEMO_BYTES]).encode().unwrap().len(),
            ledger_core::limits::MAX_PAYLOAD_BYTES as usize
        );
        // Longer memos and empty ones are refused, never cut or padded.
        assert_eq!(
            with(vec![1; MAX_MEMO_BYTES + 1]).encode(),
            Err(EncodeError::FieldTooLong {
                field: "memo",
                len: MAX_MEMO_BYTES + 1,
                max: MAX_MEMO_BYTES
            })
        );
        assert_eq!(
            with(Vec::new()).encode(),
            Err(EncodeError::EmptyField { field: "memo" })
        );
        // The decoder agrees: a memo transfer without memo is malformed.
        let mut empty = with(vec![1]).encode().unwrap().to_vec();
        empty.pop();
        assert_eq!(Operation::decode(&empty), None);
        // A plain transfer or mint with trailing bytes is malformed.
        let mut mint = Operation::Mint {
            to: PublicKey([5; 32]),
            amount: 9,
        }
        .encode()
        .unwrap()
        .to_vec();
        mint.push(0);
        assert_eq!(Operation::decode(&mint), None);
    }
}
