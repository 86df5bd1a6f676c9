//! A transparency-log witness, c2sp.org/tlog-witness: `POST
//! /add-checkpoint` takes a log's signed checkpoint and a consistency
//! proof from the checkpoint the witness co-signed last for that log, and
//! answers with a `cosignature/v1` (c2sp.org/tlog-cosignature) once the new
//! checkpoint is durably its latest.
//!
//! - [`request`]: the request body. [`consistency`]: RFC 6962 SHA-256
//!   consistency proofs. [`logs`]: the logs file.
//! - [`witness`]: the checks, in the specification's order, and the
//!   atomic check-and-commit under a per-origin lock.
//! - [`store`]: the durable state (snapshot and group-committed journal).
//! - [`server`]: HTTP. [`client`]: a minimal client. [`tree`]: a reference
//!   in-memory RFC 6962 tree (for tests and tools).
//!
//! Invariants: the witness answers 200 for a checkpoint only after that
//! checkpoint is durably the origin's latest; the size it records for an
//! origin never decreases; and it never co-signs two different roots for one
//! size of one origin, across crashes and restarts.

pub mod client;
pub mod consistency;
pub mod logs;
pub mod rate;
pub mod request;
pub mod server;
pub mod store;
pub mod tree;
pub mod witness;

use std::time::Duration;

pub use consistency::verify_consistency;
pub use logs::LogKeys;
pub use server::{serve, serve_with, RunningServer, ServerConfig};
pub use witness::{Config, OpenError, Witness, WitnessError};

/// The largest request body accepted (413 beyond): 63 proof lines of 45
/// bytes and a checkpoint note with room for many signatures.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The most consistency proof lines in a request (c2sp.org/tlog-witness).
pub const MAX_PROOF_HASHES: usize = 63;

/// The most log keys in a logs file.
pub const MAX_LOGS: usize = 4096;

/// The largest logs file.
pub const MAX_LOGS_FILE_BYTES: usize = 1024 * 1024;

/// Requests per second each origin may make, on average.
pub const DEFAULT_RATE_PER_SECOND: f64 = 50.0;

/// Requests each origin may make at once (the token bucket's capacity).
pub const DEFAULT_RATE_BURST: f64 = 100.0;

/// Most requests past their signature check at once (waiting for their
/// origin's lock or for their commit).
pub const MAX_IN_FLIGHT: usize = 1024;

/// Most open connections; further ones wait to be accepted.
pub const MAX_CONNECTIONS: usize = 1024;

/// How long a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client has to send a request's body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
