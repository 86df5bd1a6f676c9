//! The HTTP side: `POST /add-checkpoint` routed by axum, its body bounded
//! and read under a timeout, served by `ledger-http`'s accept loop
//! (HTTP/1.1 keep-alive, a bounded number of connections, a header read
//! timeout, an orderly shutdown that also waits for the commits in
//! flight).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
pub use ledger_http::RunningServer;
use ledger_http::{serve_router_then, ConnectionLimits, ExchangeError};
use tokio::net::TcpListener;

use crate::witness::{Witness, WitnessError};
use crate::{BODY_READ_TIMEOUT, HEADER_READ_TIMEOUT, MAX_CONNECTIONS, MAX_REQUEST_BYTES};

/// The `Content-Type` of a 409 answer's body, the latest co-signed size.
pub const TLOG_SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The server's timeouts.
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// How long a client has to send a request's headers.
    pub header_read_timeout: Duration,
    /// How long a client has to send a request's body.
    pub body_read_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
        }
    }
}

#[derive(Clone)]
struct AppState {
    witness: Arc<Witness>,
    body_read_timeout: Duration,
}

/// The witness's routes.
fn router(witness: Arc<Witness>, config: ServerConfig) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .with_state(AppState {
            witness,
            body_read_timeout: config.body_read_timeout,
        })
}

async fn add_checkpoint(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match read_and_add(&app, &headers, body).await {
        Ok(line) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            line,
        )
            .into_response(),
        Err(error) => error_response(&error),
    }
}

async fn read_and_add(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<String, WitnessError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_REQUEST_BYTES as u64) {
        return Err(WitnessError::TooLarge);
    }
    let collected = tokio::time::timeout(
        app.body_read_timeout,
        ledger_http::collect_body(body, MAX_REQUEST_BYTES),
    )
    .await
    .map_err(|_| WitnessError::Timeout)?
    .map_err(|e| match e {
        ExchangeError::BodyTooLarge { .. } => WitnessError::TooLarge,
        ExchangeError::Http(detail) => WitnessError::Body(detail),
        other => WitnessError::Body(other.to_string()),
    })?;
    app.witness.add_checkpoint(&collected).await
}

/// The response to a refused or failed request: the status, and a body
/// as c2sp.org/tlog-witness requires (for 409, the latest size).
pub fn error_response(error: &WitnessError) -> Response {
    let status = error.status();
    match error {
        WitnessError::Conflict { latest } => (
            status,
            [(header::CONTENT_TYPE, TLOG_SIZE_CONTENT_TYPE)],
            format!("{latest}\n"),
        )
            .into_response(),
        WitnessError::RateLimited => (
            status,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/plain")),
                (header::RETRY_AFTER, HeaderValue::from_static("1")),
            ],
            format!("{error}\n"),
        )
            .into_response(),
        _ => (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{error}\n"),
        )
            .into_response(),
    }
}

/// Serves the witness on `listener` until shut down, with the default
/// timeouts.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve(listener: TcpListener, witness: Arc<Witness>) -> std::io::Result<RunningServer> {
    serve_with(listener, witness, ServerConfig::default())
}

/// Serves the witness on `listener` until shut down.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve_with(
    listener: TcpListener,
    witness: Arc<Witness>,
    config: ServerConfig,
) -> std::io::Result<RunningServer> {
    let limits = ConnectionLimits {
        header_read_timeout: config.header_read_timeout,
        max_connections: MAX_CONNECTIONS,
        max_head_bytes: None,
    };
    let router = router(Arc::clone(&witness), config);
    // After the last connection closes: wait for the commits in flight, so
    // that the server no longer holds the witness once shut down.
    serve_router_then(listener, router, limits, async move {
        witness.drain().await;
    })
}
