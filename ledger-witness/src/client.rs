//! A minimal `add-checkpoint` client over one HTTP/1.1 keep-alive
//! connection: what a log (or a test) needs to ask a witness for a
//! cosignature.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{header, Request};
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use ledger_http::ExchangeError;

/// The largest response body the client reads.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How long the client waits for a whole exchange.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Connecting failed.
    #[error("connecting: {0}")]
    Connect(#[from] std::io::Error),
    /// The HTTP exchange failed.
    #[error("http: {0}")]
    Http(String),
    /// No answer within [`CLIENT_TIMEOUT`].
    #[error("timed out")]
    Timeout,
}

/// A witness's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// A connection to a witness.
#[derive(Debug)]
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
}

impl Client {
    /// Connects to a witness.
    ///
    /// # Errors
    /// The connection or the HTTP handshake failed.
    pub async fn connect(addr: SocketAddr) -> Result<Self, ClientError> {
        let sender = ledger_http::connect(&addr.to_string())
            .await
            .map_err(ClientError::from)?;
        Ok(Self { sender })
    }

    /// Posts an `add-checkpoint` request body.
    ///
    /// # Errors
    /// The exchange failed or timed out.
    pub async fn add_checkpoint(&mut self, body: Vec<u8>) -> Result<Answer, ClientError> {
        tokio::time::timeout(CLIENT_TIMEOUT, self.exchange(body))
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    async fn exchange(&mut self, body: Vec<u8>) -> Result<Answer, ClientError> {
        let request = Request::post("/add-checkpoint")
            .header(header::HOST, "witness")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let reply = ledger_http::send(&mut self.sender, request, MAX_RESPONSE_BYTES).await?;
        Ok(Answer {
            status: reply.status,
            content_type: reply.header(header::CONTENT_TYPE),
            body: reply.body.to_vec(),
        })
    }
}

impl From<ExchangeError> for ClientError {
    fn from(error: ExchangeError) -> Self {
        match error {
            ExchangeError::Connect { source, .. } => ClientError::Connect(source),
            ExchangeError::Http(detail) => ClientError::Http(detail),
            other => ClientError::Http(other.to_string()),
        }
    }
}
