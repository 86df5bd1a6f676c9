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
//! Every access is bounded by the named limits of [`crate::limits`], per
//! transaction and per block; exceeding one fails the transaction
//! (deterministically), it never aborts the block.
//!
//! Receipts, events and failures are built only through constructors that
//! enforce those limits, so every receipt that exists can be encoded exactly
//! (no count or length is ever cut to fit its field).

use bytes::Bytes;

use crate::hash::{hash_parts, Domain, Hash};
use crate::types::Transaction;
pub use crate::value::StateValue;

pub use crate::limits::{
    MAX_EVENTS_PER_TX, MAX_EVENT_BYTES, MAX_FAILURE_MESSAGE_BYTES, MAX_READS_PER_TX,
    MAX_READ_HINTS_PER_TX, MAX_STATE_KEY_BYTES, MAX_STATE_VALUE_BYTES, MAX_WRITES_PER_TX,
};

/// What the application knows about the transaction it executes.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
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

impl<'a> TxContext<'a> {
    /// A context for `tx` (for tests and tools that drive an application
    /// directly; the engine builds its own).
    pub fn new(tx: &'a Transaction, height: u64, timestamp_ms: u64, index: u32) -> Self {
        TxContext {
            tx,
            tx_id: tx.id(),
            height,
            timestamp_ms,
            index,
        }
    }
}

/// Why a state access was refused. Every variant but
/// [`StateAccessError::StorageFailed`] fails the transaction;
/// `StorageFailed` aborts the whole block, because a storage fault on one
/// node must never become a deterministic outcome.
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
    /// The block's budget of writes, written bytes, events or event bytes
    /// ([`crate::limits::MAX_BLOCK_STATE_WRITES`] and the others) is spent.
    #[error("the block's {what} budget is spent")]
    BlockBudgetSpent {
        /// Which budget.
        what: &'static str,
    },
    /// The state could not be read. The engine aborts the block and reports
    /// the store's error; what the application makes of this is ignored.
    #[error("state storage failed")]
    StorageFailed,
}

/// The state as one transaction sees it: its own earlier writes, then the
/// block's earlier transactions, then the committed state.
pub trait StateAccess {
    /// The value under `key`, if any (a small value is returned inline,
    /// without allocating: [`StateValue`]).
    fn get(&mut self, key: &[u8]) -> Result<Option<StateValue>, StateAccessError>;
    /// Sets `key` to `value` (`StateValue::from` a slice, an array, a
    /// `Vec` or [`Bytes`]; small values are held inline).
    fn put(&mut self, key: &[u8], value: StateValue) -> Result<(), StateAccessError>;
    /// Removes `key` (a no-op if absent).
    fn delete(&mut self, key: &[u8]) -> Result<(), StateAccessError>;
    /// Records an event in the transaction's receipt.
    fn emit(&mut self, topic: &[u8], data: &[u8]) -> Result<(), StateAccessError>;
}

/// An application's refusal of a transaction: included, writes discarded.
/// Its message is at most [`MAX_FAILURE_MESSAGE_BYTES`] (the constructor
/// enforces it), so a receipt always encodes exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    code: u32,
    message: String,
}

/// Failure code the engine records when a transaction broke a state limit
/// (of the transaction or of its block).
pub const FAILURE_CODE_LIMIT: u32 = 0;

impl Failure {
    /// A failure with `code` and `message`; a message longer than
    /// [`MAX_FAILURE_MESSAGE_BYTES`] is cut at the last character boundary
    /// before it (a failure message explains, it is not a record).
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

    /// The application-defined code (0: a limit, see [`FAILURE_CODE_LIMIT`]).
    pub fn code(&self) -> u32 {
        self.code
    }

    /// The human-readable reason.
    pub fn message(&self) -> &str {
        &self.message
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

    /// Names, by calling `key` with each, state keys that executing `tx`
    /// will probably read: the engine may read their committed values in
    /// parallel before the block's transactions execute one by one, which
    /// pays when reads are slow (a state much larger than the caches).
    ///
    /// A hint only: the outcome of every transaction is the same whatever
    /// this names. A key named but not read costs a wasted read; a key read
    /// but not named is read when asked. It sees the transaction, never the
    /// state, may run on any thread, and the engine uses at most
    /// [`MAX_READ_HINTS_PER_TX`] keys of each transaction (ignoring keys
    /// longer than [`MAX_STATE_KEY_BYTES`]). The default names none.
    fn read_hints(&self, tx: &Transaction, key: &mut dyn FnMut(&[u8])) {
        let _ = (tx, key);
    }
}

/// An event a transaction emitted: a topic and data of at most
/// [`MAX_EVENT_BYTES`] together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    topic: Bytes,
    data: Bytes,
}

impl Event {
    /// An event, if topic and data fit [`MAX_EVENT_BYTES`].
    pub fn new(topic: Bytes, data: Bytes) -> Result<Event, StateAccessError> {
        let len = topic.len().saturating_add(data.len());
        if len > MAX_EVENT_BYTES {
            return Err(StateAccessError::EventTooLarge { len });
        }
        Ok(Event { topic, data })
    }

    /// What kind of event (application-defined).
    pub fn topic(&self) -> &Bytes {
        &self.topic
    }

    /// Its data (application-defined).
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Topic plus data bytes.
    pub fn len(&self) -> usize {
        self.topic.len() + self.data.len()
    }

    /// True if topic and data are both empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The events of one successful transaction: at most [`MAX_EVENTS_PER_TX`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Events(Vec<Event>);

impl Events {
    /// The events, if there are at most [`MAX_EVENTS_PER_TX`].
    pub fn new(events: Vec<Event>) -> Result<Events, StateAccessError> {
        if events.len() > MAX_EVENTS_PER_TX {
            return Err(StateAccessError::TooManyEvents);
        }
        Ok(Events(events))
    }

    /// Adds one, if there is room.
    pub fn push(&mut self, event: Event) -> Result<(), StateAccessError> {
        if self.0.len() >= MAX_EVENTS_PER_TX {
            return Err(StateAccessError::TooManyEvents);
        }
        self.0.push(event);
        Ok(())
    }

    /// Topic plus data bytes of every event.
    pub fn bytes(&self) -> usize {
        self.0.iter().map(Event::len).sum()
    }
}

impl std::ops::Deref for Events {
    type Target = [Event];
    fn deref(&self) -> &[Event] {
        &self.0
    }
}

/// The outcome of one included transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// Executed; its writes are in the state.
    Success {
        /// Events, in emission order.
        events: Events,
    },
    /// Failed; only the sender's nonce changed.
    Failed(Failure),
}

impl Receipt {
    /// True for [`Receipt::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, Receipt::Success { .. })
    }

    /// A success without events.
    pub fn success() -> Receipt {
        Receipt::Success {
            events: Events::default(),
        }
    }

    /// The leaf of the receipts tree for the transaction `tx_id`:
    /// `H_Receipt(tx_id ‖ encoding)`. Binding the transaction's id makes a
    /// receipt proof say which transaction got this outcome, not only that
    /// some transaction at that index did.
    pub fn leaf(&self, tx_id: &Hash) -> Hash {
        hash_parts(Domain::Receipt, &[tx_id.as_bytes(), &self.encode()])
    }
}

const RECEIPT_SUCCESS: u8 = 0;
const RECEIPT_FAILED: u8 = 1;

/// The encoding (`docs/FORMAT.md`) and its strict decoder. Stored receipts
/// come back from a store that may be damaged: the decoder never panics,
/// never indexes without a check, and allocates in proportion to its input.
mod encoding {
    #![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

    use bytes::Bytes;

    use super::{Event, Events, Failure, Receipt, RECEIPT_FAILED, RECEIPT_SUCCESS};
    use crate::limits::{MAX_EVENTS_PER_TX, MAX_EVENT_BYTES, MAX_FAILURE_MESSAGE_BYTES};

    /// Smallest encoded event: two empty length-prefixed fields.
    const MIN_EVENT_BYTES: usize = 4;

    fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
        // Cannot truncate: every field is at most MAX_EVENT_BYTES or
        // MAX_FAILURE_MESSAGE_BYTES (constructors enforce it), both
        // below u16::MAX (asserted in `limits`).
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(bytes);
    }

    impl Receipt {
        /// The encoding: tag (0 success, 1 failed); success: event count
        /// (u16 LE), then per event topic and data as u16-length-prefixed
        /// bytes; failed: code (u32 LE), message as u16-length-prefixed UTF-8.
        pub fn encode(&self) -> Vec<u8> {
            let mut out = Vec::with_capacity(16);
            match self {
                Receipt::Success { events } => {
                    out.push(RECEIPT_SUCCESS);
                    // Cannot truncate: at most MAX_EVENTS_PER_TX events.
                    let count = u16::try_from(events.len()).unwrap_or(u16::MAX);
                    out.extend_from_slice(&count.to_le_bytes());
                    for event in events.iter() {
                        put_field(&mut out, event.topic());
                        put_field(&mut out, event.data());
                    }
                }
                Receipt::Failed(failure) => {
                    out.push(RECEIPT_FAILED);
                    out.extend_from_slice(&failure.code().to_le_bytes());
                    put_field(&mut out, failure.message().as_bytes());
                }
            }
            out
        }

        /// Strict decoding of [`Receipt::encode`]'s output: every count and
        /// length within its limit, valid UTF-8, no trailing bytes.
        pub fn decode(bytes: &[u8]) -> Option<Receipt> {
            let mut rest = bytes;
            let receipt = match take_array::<1>(&mut rest)? {
                [RECEIPT_SUCCESS] => {
                    let count = usize::from(u16::from_le_bytes(take_array(&mut rest)?));
                    if count > MAX_EVENTS_PER_TX
                        || rest.len() < count.checked_mul(MIN_EVENT_BYTES)?
                    {
                        return None;
                    }
                    let mut events = Vec::with_capacity(count);
                    for _ in 0..count {
                        let topic = Bytes::copy_from_slice(take_field(&mut rest)?);
                        let data = Bytes::copy_from_slice(take_field(&mut rest)?);
                        if topic.len().checked_add(data.len())? > MAX_EVENT_BYTES {
                            return None;
                        }
                        events.push(Event { topic, data });
                    }
                    Receipt::Success {
                        events: Events(events),
                    }
                }
                [RECEIPT_FAILED] => {
                    let code = u32::from_le_bytes(take_array(&mut rest)?);
                    let message = take_field(&mut rest)?;
                    if message.len() > MAX_FAILURE_MESSAGE_BYTES {
                        return None;
                    }
                    let message = std::str::from_utf8(message).ok()?.to_owned();
                    Receipt::Failed(Failure { code, message })
                }
                _ => return None,
            };
            rest.is_empty().then_some(receipt)
        }
    }

    fn take<'a>(rest: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
        let (head, tail) = rest.split_at_checked(len)?;
        *rest = tail;
        Some(head)
    }

    fn take_array<const N: usize>(rest: &mut &[u8]) -> Option<[u8; N]> {
        let (head, tail) = rest.split_first_chunk::<N>()?;
        *rest = tail;
        Some(*head)
    }

    fn take_field<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = u16::from_le_bytes(take_array(rest)?);
        take(rest, usize::from(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(topic: &'static [u8], data: &'static [u8]) -> Event {
        Event::new(Bytes::from_static(topic), Bytes::from_static(data)).unwrap()
    }

    #[test]
    fn receipts_roundtrip() {
        for receipt in [
            Receipt::success(),
            Receipt::Success {
                events: Events::new(vec![event(b"mint", b"\x01\x02")]).unwrap(),
            },
            Receipt::Failed(Failure::new(7, "insufficient funds")),
        ] {
            let bytes = receipt.encode();
            assert_eq!(Receipt::decode(&bytes), Some(receipt));
            assert_eq!(Receipt::decode(&bytes[..bytes.len() - 1]), None);
        }
    }

    #[test]
    fn receipts_at_their_limits_encode_exactly() {
        let big = Event::new(
            Bytes::from(vec![1u8; 24]),
            Bytes::from(vec![2u8; MAX_EVENT_BYTES - 24]),
        )
        .unwrap();
        let events = Events::new(vec![big; MAX_EVENTS_PER_TX]).unwrap();
        let receipt = Receipt::Success { events };
        assert_eq!(Receipt::decode(&receipt.encode()), Some(receipt));
        let failure = Receipt::Failed(Failure::new(u32::MAX, "x".repeat(1000)));
        assert_eq!(Receipt::decode(&failure.encode()), Some(failure));
    }

    #[test]
    fn constructors_refuse_what_would_not_encode() {
        assert_eq!(
            Event::new(Bytes::new(), Bytes::from(vec![0; MAX_EVENT_BYTES + 1])),
            Err(StateAccessError::EventTooLarge {
                len: MAX_EVENT_BYTES + 1
            })
        );
        assert!(Event::new(Bytes::new(), Bytes::from(vec![0; MAX_EVENT_BYTES])).is_ok());
        let one = event(b"t", b"d");
        assert_eq!(
            Events::new(vec![one.clone(); MAX_EVENTS_PER_TX + 1]),
            Err(StateAccessError::TooManyEvents)
        );
        let mut events = Events::new(vec![one.clone(); MAX_EVENTS_PER_TX]).unwrap();
        assert_eq!(events.push(one), Err(StateAccessError::TooManyEvents));
    }

    #[test]
    fn decoder_refuses_over_limit_receipts() {
        // 65 events (over MAX_EVENTS_PER_TX), each empty.
        let mut too_many = vec![RECEIPT_SUCCESS];
        too_many.extend_from_slice(&65u16.to_le_bytes());
        too_many.extend(std::iter::repeat_n(0u8, 65 * 4));
        assert_eq!(Receipt::decode(&too_many), None);
        // A failure message over the cap.
        let mut long = vec![RECEIPT_FAILED, 0, 0, 0, 0];
        long.extend_from_slice(&257u16.to_le_bytes());
        long.extend(std::iter::repeat_n(b'a', 257));
        assert_eq!(Receipt::decode(&long), None);
        // A count that the remaining bytes cannot hold.
        let mut short = vec![RECEIPT_SUCCESS];
        short.extend_from_slice(&64u16.to_le_bytes());
        assert_eq!(Receipt::decode(&short), None);
    }

    #[test]
    fn failure_messages_are_cut_at_a_char_boundary() {
        let failure = Failure::new(1, "é".repeat(200));
        assert!(failure.message().len() <= MAX_FAILURE_MESSAGE_BYTES);
        assert!(failure.message().chars().all(|c| c == 'é'));
    }

    #[test]
    fn receipt_leaves_bind_the_transaction() {
        let receipt = Receipt::success();
        assert_ne!(receipt.leaf(&Hash([1; 32])), receipt.leaf(&Hash([2; 32])));
    }
}
