//! `transfers`: accounts with balances, a minter, and transfers.
//!
//! State: one key per account, `b"balance:" ‖ public key` → balance as
//! `u64` little-endian (absent means zero). Payloads (canonical, strict):
//!
//! | tag | operation | fields |
//! |---|---|---|
//! | 1 | transfer | recipient public key (32), amount (u64 LE) |
//! | 2 | mint | recipient public key (32), amount (u64 LE); only the minter |
//!
//! Total supply changes only by mints, so the sum of all balances always
//! equals the sum of successful mints (tested by proptest).

use bytes::Bytes;
use ledger_core::machine::{Failure, StateAccess, StateMachine, TxContext};
use ledger_core::PublicKey;

/// Payload length of a transfer or mint.
pub const PAYLOAD_BYTES: usize = 1 + 32 + 8;

const TAG_TRANSFER: u8 = 1;
const TAG_MINT: u8 = 2;

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

/// One transfers operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

impl Operation {
    /// The canonical payload.
    pub fn encode(&self) -> Bytes {
        let (tag, to, amount) = match self {
            Operation::Transfer { to, amount } => (TAG_TRANSFER, to, amount),
            Operation::Mint { to, amount } => (TAG_MINT, to, amount),
        };
        let mut out = Vec::with_capacity(PAYLOAD_BYTES);
        out.push(tag);
        out.extend_from_slice(&to.0);
        out.extend_from_slice(&amount.to_le_bytes());
        Bytes::from(out)
    }

    /// Strict decoding of [`Operation::encode`]'s output.
    pub fn decode(payload: &[u8]) -> Option<Operation> {
        let (&tag, rest) = payload.split_first()?;
        let (to, rest) = rest.split_first_chunk::<32>()?;
        let amount = u64::from_le_bytes(*<&[u8; 8]>::try_from(rest).ok()?);
        let to = PublicKey(*to);
        match tag {
            TAG_TRANSFER => Some(Operation::Transfer { to, amount }),
            TAG_MINT => Some(Operation::Mint { to, amount }),
            _ => None,
        }
    }
}

/// The state key of an account's balance.
pub fn balance_key(account: &PublicKey) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + 32);
    key.extend_from_slice(b"balance:");
    key.extend_from_slice(&account.0);
    key
}

/// Reads a balance (absent is zero).
pub fn read_balance(state: &mut dyn StateAccess, account: &PublicKey) -> Result<u64, Failure> {
    match state.get(&balance_key(account))? {
        None => Ok(0),
        Some(bytes) => <[u8; 8]>::try_from(&bytes[..])
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
        state.put(&key, Bytes::copy_from_slice(&balance.to_le_bytes()))?;
    }
    Ok(())
}

/// The transfers application.
#[derive(Clone, Debug)]
pub struct Transfers {
    /// The only account allowed to mint.
    pub minter: PublicKey,
}

impl StateMachine for Transfers {
    fn execute(&self, context: &TxContext<'_>, state: &mut dyn StateAccess) -> Result<(), Failure> {
        let sender = *context.tx.sender();
        let operation = Operation::decode(context.tx.payload())
            .ok_or_else(|| Failure::new(MALFORMED_PAYLOAD, "not a transfer or mint payload"))?;
        match operation {
            Operation::Mint { to, amount } => {
                if sender != self.minter {
                    return Err(Failure::new(NOT_MINTER, "only the minter may mint"));
                }
                let balance = read_balance(state, &to)?;
                let balance = balance
                    .checked_add(amount)
                    .ok_or_else(|| Failure::new(BALANCE_OVERFLOW, "balance overflow"))?;
                write_balance(state, &to, balance)?;
                state.emit(b"mint", &operation.encode()[1..])?;
            }
            Operation::Transfer { to, amount } => {
                let from_balance = read_balance(state, &sender)?;
                let remaining = from_balance.checked_sub(amount).ok_or_else(|| {
                    Failure::new(
                        INSUFFICIENT_FUNDS,
                        format!("balance {from_balance} is below {amount}"),
                    )
                })?;
                write_balance(state, &sender, remaining)?;
                let to_balance = read_balance(state, &to)?;
                let to_balance = to_balance
                    .checked_add(amount)
                    .ok_or_else(|| Failure::new(BALANCE_OVERFLOW, "balance overflow"))?;
                write_balance(state, &to, to_balance)?;
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
        let bytes = op.encode();
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
}
