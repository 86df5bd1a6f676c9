//! The application interface: what an application implements to run on the
//! ledger, and what it may do to the state.
//!
//! The engine hands an application one transaction at a time, already
//! checked (signature, chain id, nonce), together with a read/write view of
//! the state. The application either succeeds, emitting events, or *fails*:
//! it says no. The two outcomes that a block can hold are:
//!
//! * **invalid** transactions (bad signature, wrong chain id, wrong nonce,
//!   malformed bytes) are never executed: a block that holds one is rejected
//!   whole. That is the engine's business, before the application is asked.
//! * **failed** transactions are included: the sender's nonce is consumed,
//!   every write the application made for it is discarded, and its receipt
//!   records the failure code and message.
//!
//! Execution must be deterministic: the same transaction against the same
//! state must give the same writes, events and outcome on every machine. An
//! application must not read clocks, randomness or anything outside the
//! [`TxContext`] and the [`StateAccess`] it is given.
//!
//! Every access is bounded by the named limits below; exceeding one fails
//! the transaction (deterministically), it never aborts the block.

use bytes::Bytes;

use crate::hash::Hash;
use crate::types::Transaction;

/// Longest application state key, in bytes.
pub const MAX_STATE_KEY_BYTES: usize = 256;
/// Largest application state value, in bytes.
pub const MAX_STATE_VALUE_BYTES: usize = 64 * 1024;
/// Most reads one transaction may make.
pub const MAX_READS_PER_TX: usize = 4_096;
/// Most writes (puts and deletes) one transaction may make.
pub const MAX_WRITES_PER_TX: usize = 1_024;
/// Most events one transaction may emit.
pub const MAX_EVENTS_PER_TX: usize = 64;
/// Largest event (topic plus data), in bytes.
pub const MAX_EVENT_BYTES: usize = 1_024;
/// Longest failure message kept in a receipt, in bytes; longer messages are
/// cut at a character boundary.
pub const MAX_FAILURE_MESSAGE_BYTES: usize = 256;

/// What the application knows about the transaction it executes.
#[derive(Clone, Copy, Debug)]
pub struct TxContext<'a> {
    /// The transaction (its signature and nonce are already checked).
    pub tx: &'a Transaction,
    /// Its id.
    pub tx_id: Hash,
    /// Height of the block being executed.
    pub height: u64,
    /// Timestamp of the block being executed (milliseconds since the epoch):
    /// the only clock an application may read.
    pub timestamp_ms: u64,
    /// Position of the transaction in its block.
    pub index: u32,
}

/// Why a state access was refused. Limit variants fail the transaction;
/// [`StateAccessError::Storage`] aborts the whole block, because a storage
/// fault on one node must never become a deterministic outcome.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateAccessError {
    /// A key longer than [`MAX_STATE_KEY_BYTES`].
    #[error("state key of {len} bytes is over the limit of {MAX_STATE_KEY_BYTES}")]
    KeyTooLong {
        /// The key's length.
        len: usize,
    },
    /// A value larger than [`MAX_STATE_VALUE_BYTES`].
    #[error("state value of {len} bytes is over the limit of {MAX_STATE_VALUE_BYTES}")]
    ValueTooLarge {
        /// The value's length.
        len: usize,
    },
    /// More than [`MAX_READS_PER_TX`] reads.
    #[error("more than {MAX_READS_PER_TX} state reads in one transaction")]
    TooManyReads,
    /// More than [`MAX_WRITES_PER_TX`] writes.
    #[error("more than {MAX_WRITES_PER_TX} state writes in one transaction")]
    TooManyWrites,
    /// More than [`MAX_EVENTS_PER_TX`] events.
    #[error("more than {MAX_EVENTS_PER_TX} events in one transaction")]
    TooManyEvents,
    /// An event larger than [`MAX_EVENT_BYTES`].
    #[error("event of {len} bytes is over the limit of {MAX_EVENT_BYTES}")]
    EventTooLarge {
        /// The event's size.
        len: usize,
    },
    /// The state could not be read (an I/O or corruption error, rendered).
    #[error("state storage failed: {0}")]
    Storage(String),
}

/// The state as one transaction sees it: its own earlier writes, then the
/// block's earlier transactions, then the committed state.
pub trait StateAccess {
    /// The value under `key`, if any.
    fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, StateAccessError>;
    /// Sets `key` to `value`.
    fn put(&mut self, key: &[u8], value: Bytes) -> Result<(), StateAccessError>;
    /// Removes `key` (a no-op if absent).
    fn delete(&mut self, key: &[u8]) -> Result<(), StateAccessError>;
    /// Records an event in the transaction's receipt.
    fn emit(&mut self, topic: &[u8], data: &[u8]) -> Result<(), StateAccessError>;
}

/// An application's refusal of a transaction: included, writes discarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Application-defined code (0 is reserved for limit violations
    /// reported by the engine).
    pub code: u32,
    /// Human-readable reason, cut to [`MAX_FAILURE_MESSAGE_BYTES`].
    pub message: String,
}

/// Failure code the engine records when a transaction broke a state limit.
pub const FAILURE_CODE_LIMIT: u32 = 0;

impl Failure {
    /// A failure with `code` and `message`.
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > MAX_FAILURE_MESSAGE_BYTES {
            let mut cut = MAX_FAILURE_MESSAGE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        Failure { code, message }
    }
}

impl From<StateAccessError> for Failure {
    fn from(error: StateAccessError) -> Self {
        Failure::new(FAILURE_CODE_LIMIT, error.to_string())
    }
}

/// A deterministic application: executes verified transactions against the
/// state. Implementations hold configuration only, never mutable state.
pub trait StateMachine: Send + Sync {
    /// Executes one transaction. `Err` fails it: its writes and events are
    /// discarded and its receipt records the failure.
    fn execute(&self, context: &TxContext<'_>, state: &mut dyn StateAccess) -> Result<(), Failure>;
}

/// An event a transaction emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What kind of event (application-defined).
    pub topic: Bytes,
    /// Its data (application-defined).
    pub data: Bytes,
}

/// The outcome of one included transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// Executed; its writes are in the state.
    Success {
        /// Events, in emission order.
        events: Vec<Event>,
    },
    /// Failed; only the sender's nonce changed.
    Failed(Failure),
}

impl Receipt {
    /// True for [`Receipt::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, Receipt::Success { .. })
    }
}

const RECEIPT_SUCCESS: u8 = 0;
const RECEIPT_FAILED: u8 = 1;

impl Receipt {
    /// The stored encoding: tag (0 success, 1 failed); success: event count
    /// (u16 LE), then per event topic and data as u16-length-prefixed bytes;
    /// failed: code (u32 LE), message as u16-length-prefixed UTF-8.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        let put = |out: &mut Vec<u8>, bytes: &[u8]| {
            let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(bytes.get(..usize::from(len)).unwrap_or(&[]));
        };
        match self {
            Receipt::Success { events } => {
                out.push(RECEIPT_SUCCESS);
                let count = u16::try_from(events.len()).unwrap_or(u16::MAX);
                out.extend_from_slice(&count.to_le_bytes());
                for event in events.iter().take(usize::from(count)) {
                    put(&mut out, &event.topic);
                    put(&mut out, &event.data);
                }
            }
            Receipt::Failed(failure) => {
                out.push(RECEIPT_FAILED);
                out.extend_from_slice(&failure.code.to_le_bytes());
                put(&mut out, failure.message.as_bytes());
            }
        }
        out
    }

    /// Strict decoding of [`Receipt::encode`]'s output.
    pub fn decode(bytes: &[u8]) -> Option<Receipt> {
        fn take<'a>(rest: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
            if rest.len() < len {
                return None;
            }
            let (head, tail) = rest.split_at(len);
            *rest = tail;
            Some(head)
        }
        fn field<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
            let len = take(rest, 2)?;
            let len = u16::from_le_bytes([*len.first()?, *len.get(1)?]);
            take(rest, usize::from(len))
        }
        let (&tag, mut rest) = bytes.split_first()?;
        let receipt = match tag {
            RECEIPT_SUCCESS => {
                let count = take(&mut rest, 2)?;
                let count = u16::from_le_bytes([*count.first()?, *count.get(1)?]);
                if usize::from(count) > MAX_EVENTS_PER_TX {
                    return None;
                }
                let mut events = Vec::with_capacity(usize::from(count));
                for _ in 0..count {
                    let topic = Bytes::copy_from_slice(field(&mut rest)?);
                    let data = Bytes::copy_from_slice(field(&mut rest)?);
                    events.push(Event { topic, data });
                }
                Receipt::Success { events }
            }
            RECEIPT_FAILED => {
                let code = take(&mut rest, 4)?;
                let code = u32::from_le_bytes(code.try_into().ok()?);
                let message = String::from_utf8(field(&mut rest)?.to_vec()).ok()?;
                Receipt::Failed(Failure { code, message })
            }
            _ => return None,
        };
        rest.is_empty().then_some(receipt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_roundtrip() {
        for receipt in [
            Receipt::Success { events: vec![] },
            Receipt::Success {
                events: vec![Event {
                    topic: Bytes::from_static(b"mint"),
                    data: Bytes::from_static(b"\x01\x02"),
                }],
            },
            Receipt::Failed(Failure::new(7, "insufficient funds")),
        ] {
            let bytes = receipt.encode();
            assert_eq!(Receipt::decode(&bytes), Some(receipt));
            assert_eq!(Receipt::decode(&bytes[..bytes.len() - 1]), None);
        }
    }

    #[test]
    fn failure_messages_are_cut_at_a_char_boundary() {
        let failure = Failure::new(1, "é".repeat(200));
        assert!(failure.message.len() <= MAX_FAILURE_MESSAGE_BYTES);
        assert!(failure.message.chars().all(|c| c == 'é'));
    }
}
