//! The HTTP side: the read API's axum routes and bounded concurrent ledger
//! reads, served by `ledger-http`'s accept loop (HTTP/1.1 keep-alive, a
//! bounded number of connections, a bounded request head read under a
//! timeout, an orderly shutdown). GET only: the server reads no request
//! bodies.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
pub use ledger_http::RunningServer;
use ledger_http::{serve_router, ConnectionLimits};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::handlers;
use crate::source::{CheckpointSource, LedgerReader};
use crate::{
    HEADER_READ_TIMEOUT, MAX_CONNECTIONS, MAX_IN_FLIGHT_READS, MAX_REQUEST_HEAD_BYTES, READ_TIMEOUT,
};

/// The server's timeouts and bounds.
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// How long a client has to send a request's head.
    pub header_read_timeout: Duration,
    /// How long one ledger read may take.
    pub read_timeout: Duration,
    /// Most ledger reads at once.
    pub max_in_flight_reads: usize,
    /// Most connections at once.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_read_timeout: HEADER_READ_TIMEOUT,
            read_timeout: READ_TIMEOUT,
            max_in_flight_reads: MAX_IN_FLIGHT_READS,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// What the handlers share: the ledger, the checkpoint source, and the
/// bound on reads in flight.
#[derive(Clone)]
pub struct ServeState {
    pub(crate) reader: Arc<dyn LedgerReader>,
    pub(crate) checkpoints: Arc<dyn CheckpointSource>,
    pub(crate) reads: Arc<Semaphore>,
    pub(crate) read_timeout: Duration,
}

impl ServeState {
    /// The state over a ledger and a checkpoint source, with the default
    /// bounds.
    pub fn new(reader: Arc<dyn LedgerReader>, checkpoints: Arc<dyn CheckpointSource>) -> Self {
        let config = ServerConfig::default();
        ServeState {
            reader,
            checkpoints,
            reads: Arc::new(Semaphore::new(config.max_in_flight_reads)),
            read_timeout: config.read_timeout,
        }
    }

    fn configured(mut self, config: &ServerConfig) -> Self {
        self.reads = Arc::new(Semaphore::new(config.max_in_flight_reads));
        self.read_timeout = config.read_timeout;
        self
    }
}

/// The read API's routes.
fn router(state: ServeState) -> Router {
    Router::new()
        .route("/checkpoint", get(handlers::checkpoint))
        .route("/tile/{*path}", get(handlers::tile))
        .route("/proof/tx/{id}", get(handlers::transaction_proof))
        .route("/proof/state/{key}", get(handlers::state_proof))
        .fallback(handlers::not_found)
        .with_state(state)
}

/// Serves the read API on `listener` until shut down, with the default
/// bounds.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve(listener: TcpListener, state: ServeState) -> std::io::Result<RunningServer> {
    serve_with(listener, state, ServerConfig::default())
}

/// Serves the read API on `listener` until shut down.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve_with(
    listener: TcpListener,
    state: ServeState,
    config: ServerConfig,
) -> std::io::Result<RunningServer> {
    let limits = ConnectionLimits {
        header_read_timeout: config.header_read_timeout,
        max_connections: config.max_connections,
        max_head_bytes: Some(MAX_REQUEST_HEAD_BYTES),
    };
    serve_router(listener, router(state.configured(&config)), limits)
}
