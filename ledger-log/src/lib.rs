//! The log side of signed, witnessed checkpoints (C2SP): a node's
//! [`CheckpointLog`] signs checkpoints of its ledger's history tree with the
//! log key, keeps them durably with the witness cosignatures it receives,
//! submits them to the policy's witnesses in the background, and says
//! which is the latest checkpoint a quorum has cosigned. [`SplitViewEvidence`]
//! is the proof that a log key signed two views of one history.
//!
//! - [`history`]: [`HistorySource`], the tree head and consistency proofs
//!   read from a `Ledger` behind a `parking_lot::RwLock`.
//! - [`journal`]: the durable, append-only record of checkpoints and
//!   cosignatures, torn tail dropped on opening.
//! - [`log`]: [`CheckpointLog`] — issuance ("every N blocks or T elapsed,
//!   whichever first") and the background submission (its own tokio
//!   runtime, one task per witness).
//! - `submit`: one witness's submission loop (consistency proof from the
//!   size the witness last cosigned, 409 → that size, backoff with jitter).
//! - [`http`]: the bounded HTTP/1.1 `POST`. [`evidence`]: split views.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn demo<S, M>(ledger: Arc<parking_lot::RwLock<ledger_core::Ledger<S, M>>>, key: ledger_core::SignerKey)
//! # where S: ledger_core::Store + 'static, M: ledger_core::StateMachine + 'static, ledger_core::Ledger<S, M>: Send + Sync {
//! use ledger_log::{CheckpointLog, LogConfig};
//! let policy = ledger_core::Policy::parse(b"witness w1 <vkey> http://127.0.0.1:7380\nquorum w1\n").unwrap();
//! let log = CheckpointLog::open("log-dir".as_ref(), key, policy, ledger, LogConfig::default()).unwrap();
//! // after applying blocks (without holding the ledger's lock):
//! log.issue_if_due().unwrap();
//! let _note: Option<String> = log.latest_witnessed();
//! # }
//! ```
//!
//! # Limits
//! Every limit is a named constant below; the journal never reads more than
//! [`MAX_RECORD_BYTES`] at once nor keeps more than
//! [`MAX_RETAINED_CHECKPOINTS`] checkpoints in memory, each with at most
//! [`MAX_COSIGNATURES_PER_CHECKPOINT`]; a witness's answer is read up to
//! [`MAX_RESPONSE_BYTES`] within the request timeout
//! ([`DEFAULT_REQUEST_TIMEOUT`]).
//!
//! # Non-goals
//! It does not serve the log (tiles, checkpoints over HTTP), speak TLS
//! (`https://` witnesses need a proxy), or compact its journal (it grows
//! by one record per checkpoint and per cosignature: a few hundred bytes).

pub mod evidence;
pub mod history;
pub mod http;
pub mod journal;
pub mod log;
mod submit;

use std::time::Duration;

pub use evidence::{EvidenceError, SplitViewEvidence};
pub use history::{HistoryError, HistorySource, TreeHash};
pub use journal::{CheckpointJournal, JournalError, StoredCheckpoint};
pub use log::{
    read_policy, CheckpointLog, ClientConfig, IssuancePolicy, LogConfig, LogError, WitnessStatus,
};

/// The largest journal record's payload: a checkpoint note signed by the
/// log (a few hundred bytes) or one cosignature (about a hundred), with a
/// wide margin; a length above it in a record marks a torn tail, never an
/// allocation.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// Checkpoints kept in memory (the newest); older ones stay in the journal.
/// A lagging witness needs only the newest, and `latest_witnessed` looks no
/// further back.
pub const MAX_RETAINED_CHECKPOINTS: usize = 256;

/// Cosignatures kept per checkpoint (one per witness key), within a note's
/// signature limit with the log's own.
pub const MAX_COSIGNATURES_PER_CHECKPOINT: usize = 64;

const _: () = assert!(MAX_COSIGNATURES_PER_CHECKPOINT < ledger_core::MAX_NOTE_SIGNATURES);
const _: () = assert!(MAX_RECORD_BYTES <= u32::MAX as usize);

/// The largest witness answer read (a cosignature line is about 130 bytes;
/// a 409's body a number).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How long one request to a witness may take, connect to last byte.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The first retry delay after a failed request; doubled per failure.
pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_millis(100);

/// The longest retry delay (each delay is drawn uniformly from its upper
/// half: jitter, so that restarted witnesses are not hit in step).
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// 409s answered by a resubmission at once before backing off (the
/// witness's size can move between two requests only if another client
/// submits for the same log).
pub const MAX_CONFLICT_RETRIES: u32 = 4;

/// Default issuance: a checkpoint once this many blocks are durable past
/// the last one...
pub const DEFAULT_CHECKPOINT_EVERY_BLOCKS: u64 = 64;

/// ... or once this long has passed since the last one with any new block,
/// whichever comes first.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(5);

/// How often the background task checks whether a checkpoint is due by
/// time (issuance by blocks is checked by [`CheckpointLog::issue_if_due`]).
pub const DEFAULT_ISSUANCE_POLL: Duration = Duration::from_millis(500);
