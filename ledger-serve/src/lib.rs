//! The ledger's read API over HTTP (`ledger serve`'s read side): the latest
//! witnessed checkpoint, the history tree as c2sp.org/tlog-tiles, and
//! witnessed record proofs that an offline verifier checks with
//! [`ledger_core::verify_witnessed`].
//!
//! # Endpoints (GET only; anything else 405, unknown paths 404)
//!
//! | path | answer |
//! |---|---|
//! | `/checkpoint` | the latest witnessed checkpoint (a C2SP signed note), `text/plain; charset=utf-8`, `Cache-Control: no-cache`; 404 until there is one |
//! | `/tile/<L>/<N>[.p/<W>]` | the hashes of tile level `L`, index `N` (`x001/x234/067` path elements), width `W` (full: 256) of the history tree, `application/octet-stream`; only tiles within the latest checkpoint's tree size (else 404); full tiles `immutable` |
//! | `/tile/entries/<N>[.p/<W>]` | an entry bundle: the encoded block headers (the tree's leaves), each after a big-endian u16 length |
//! | `/proof/tx/<hex id>` | the [`WitnessedProof`](ledger_core::WitnessedProof) of a transaction and its receipt, at the latest checkpoint's size: its binary encoding (`application/octet-stream`), or JSON with `Accept: application/json` or `?format=json`; 404 if unknown or not yet in a checkpoint |
//! | `/proof/state/<hex key>[?height=H]` | the same for an application key's value (or absence) after block `H` (default: the last block in the checkpoint); 404 if `H` is not in the checkpoint or its state is pruned |
//!
//! Malformed paths, ids, keys and queries are 400. Proofs are `no-store`:
//! they are at the latest checkpoint's size, which moves.
//!
//! # Limits
//! Every input bound is a named constant: [`MAX_CONNECTIONS`],
//! [`MAX_IN_FLIGHT_READS`] (ledger reads, each on tokio's blocking pool;
//! past it 503 with `Retry-After`), [`MAX_REQUEST_HEAD_BYTES`],
//! [`MAX_QUERY_BYTES`], the tile path's
//! [`MAX_TILE_PATH_BYTES`](ledger_core::merkle::tiles::MAX_TILE_PATH_BYTES),
//! keys of at most [`MAX_STATE_KEY_BYTES`](ledger_core::limits::MAX_STATE_KEY_BYTES),
//! [`HEADER_READ_TIMEOUT`] and [`READ_TIMEOUT`].
//!
//! # Non-goals
//! It issues no checkpoints and talks to no witness (that is the log side,
//! behind [`CheckpointSource`]); it serves no writes; it does not compress
//! (a proxy in front may).
//!
//! # Example
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use ledger_serve::{serve, CheckpointSource, ServeState, SharedLedger};
//! # use ledger_core::testing::{key, ScriptedApp};
//! # let app = ScriptedApp { minter: ledger_core::PublicKey::from_signing_key(&key(1)) };
//! # let ledger = ledger_core::Ledger::open(ledger_core::MemStore::new(), app, ledger_core::LedgerConfig::new(1)).unwrap();
//! struct Latest;
//! impl CheckpointSource for Latest {
//!     fn latest(&self) -> Option<String> { None }
//! }
//! let shared = SharedLedger::new(Arc::new(parking_lot::RwLock::new(ledger)));
//! let state = ServeState::new(Arc::new(shared), Arc::new(Latest));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = serve(listener, state)?;
//! println!("serving on {}", server.local_addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod client;
mod handlers;
pub mod json;
mod server;
mod source;

use std::time::Duration;

pub use handlers::ServeError;
pub use server::{serve, serve_with, RunningServer, ServeState, ServerConfig};
pub use source::{CheckpointSource, LedgerReader, SharedLedger};

/// Most connections served at once; past it, new connections wait in the
/// listen backlog.
pub const MAX_CONNECTIONS: usize = 1024;

/// Most ledger reads (tiles, proofs) running at once on the blocking pool;
/// past it a request gets 503 at once rather than queueing behind them.
pub const MAX_IN_FLIGHT_READS: usize = 64;

/// Largest request head (request line and headers) hyper reads: far above
/// the longest valid path (a 256-byte key is 512 hex digits).
pub const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;

/// Longest query string read (`height=…&format=json` needs 40).
pub const MAX_QUERY_BYTES: usize = 256;

/// How long a client has to send a request's head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one ledger read may take before the request gets 503.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
