//! The accept loop shared by the ledger's HTTP servers: axum routing over
//! HTTP/1.1 keep-alive connections served by hyper on tokio.
//!
//! **Invariants:** at most [`ConnectionLimits::max_connections`] connections
//! are open at once (the loop stops accepting, it does not refuse); a
//! client that does not send a whole request head within
//! [`ConnectionLimits::header_read_timeout`] is disconnected; a request
//! head larger than [`ConnectionLimits::max_head_bytes`] is refused by
//! hyper; after [`RunningServer::shutdown`] returns, no connection is open
//! and the server's `after` work (a witness draining its commits) is done.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

/// How long the loop waits after a failed `accept` (out of descriptors, a
/// connection reset before it was accepted) instead of spinning.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// The smallest request-head bound hyper accepts (it panics below it).
pub const MIN_HEAD_BYTES: usize = 8192;

/// The bounds every connection is served under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client has to send a request's head.
    pub header_read_timeout: Duration,
    /// Most connections at once.
    pub max_connections: usize,
    /// Largest request head (hyper's read buffer); `None` keeps hyper's
    /// default (about 400 KiB). Values below [`MIN_HEAD_BYTES`] are raised
    /// to it.
    pub max_head_bytes: Option<usize>,
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

    /// Stops accepting, closes every connection, runs the server's `after`
    /// work, and returns once all of that is done.
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

/// Serves `router` on `listener` until shut down. Must be called within a
/// tokio runtime.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve_router(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
) -> std::io::Result<RunningServer> {
    serve_router_then(listener, router, limits, std::future::ready(()))
}

/// [`serve_router`], and once shut down and every connection is closed,
/// `after` runs before [`RunningServer::shutdown`] returns.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve_router_then<F>(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    after: F,
) -> std::io::Result<RunningServer>
where
    F: Future<Output = ()> + Send + 'static,
{
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        accept_loop(listener, router, limits, stopped).await;
        after.await;
    });
    Ok(RunningServer { addr, stop, task })
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let limit = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    if let Some(bytes) = limits.max_head_bytes {
        builder.max_buf_size(bytes.max(MIN_HEAD_BYTES));
    }
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
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Small responses: do not wait for Nagle.
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
