//! The HTTP side: axum routing over HTTP/1.1 keep-alive connections served
//! by hyper on tokio, with a bounded number of connections, a bounded
//! request head read under a timeout, bounded concurrent ledger reads, and
//! an orderly shutdown. GET only: the server reads no request bodies.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

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

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every connection, and returns once the
    /// accept loop has ended.
    pub async fn shutdown(self) {
        // The accept loop may have ended already; then nothing listens.
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Waits until the server stops (it only stops when shut down).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
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
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let state = state.configured(&config);
    let task = tokio::spawn(accept_loop(listener, state, config, stopped));
    Ok(RunningServer { addr, stop, task })
}

async fn accept_loop(
    listener: TcpListener,
    state: ServeState,
    config: ServerConfig,
    mut stop: watch::Receiver<bool>,
) {
    let router = router(state);
    let limit = Arc::new(Semaphore::new(config.max_connections));
    let mut connections = JoinSet::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            _ = stop.changed() => break,
            permit = Arc::clone(&limit).acquire_owned() => permit,
        };
        // The semaphore is never closed.
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors or a connection reset before accept:
                // back off a little rather than spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        connections.spawn(async move {
            let _permit = permit;
            // A connection error concerns that client only.
            let _ = connection.await;
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}
