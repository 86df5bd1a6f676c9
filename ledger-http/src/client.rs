//! The client side: a request over a fresh HTTP/1.1 connection, or over a
//! kept one, with the response body read up to a bound. Callers put the
//! whole exchange under their own timeout (`tokio::time::timeout`) and map
//! [`ExchangeError`] into their own error type.

use axum::http::{HeaderMap, Request, Response};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Why an exchange got no (whole) answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// Resolving or connecting failed.
    #[error("connecting to {authority}: {source}")]
    Connect {
        /// The `host:port` connected to.
        authority: String,
        /// The error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed (handshake, connection closed mid-request).
    #[error("http: {0}")]
    Http(String),
    /// The response body is larger than the bound the caller gave.
    #[error("response body over {limit} bytes")]
    BodyTooLarge {
        /// The bound.
        limit: usize,
    },
}

/// A whole answer.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, at most the bound the caller gave.
    pub body: Bytes,
}

impl Reply {
    /// A header's value, if present and text.
    pub fn header(&self, name: impl axum::http::header::AsHeaderName) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

fn http(error: &dyn std::fmt::Display) -> ExchangeError {
    ExchangeError::Http(error.to_string())
}

/// Connects to `authority` (`host:port`, resolved; every address is
/// tried) and makes the HTTP/1.1 handshake. The connection is driven by a
/// task of its own, which ends when the server closes it or the returned
/// sender is dropped.
///
/// # Errors
/// [`ExchangeError::Connect`], or the handshake failed.
pub async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>, ExchangeError> {
    // The task ends with the connection; the next request on the sender
    // reports a closed one.
    Ok(open(authority).await?.0)
}

async fn open(
    authority: &str,
) -> Result<(SendRequest<Full<Bytes>>, JoinHandle<()>), ExchangeError> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|source| ExchangeError::Connect {
            authority: authority.to_owned(),
            source,
        })?;
    // Not fatal: only latency.
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| http(&e))?;
    let task = tokio::spawn(async move {
        // A connection error reaches the sender's next request.
        let _ = connection.await;
    });
    Ok((sender, task))
}

/// Sends `request` on a kept connection and reads the answer, its body up
/// to `max_body` bytes.
///
/// # Errors
/// The connection is closed, the exchange failed, or the body is over
/// `max_body`.
pub async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
    max_body: usize,
) -> Result<Reply, ExchangeError> {
    sender.ready().await.map_err(|e| http(&e))?;
    let response = sender.send_request(request).await.map_err(|e| http(&e))?;
    collect_bounded(response, max_body).await
}

/// Connects to `authority`, sends `request`, reads the answer (its body up
/// to `max_body` bytes) and closes the connection: one request per
/// connection, so a restarted server costs the next request nothing.
///
/// # Errors
/// See [`ExchangeError`].
pub async fn send_once(
    authority: &str,
    request: Request<Full<Bytes>>,
    max_body: usize,
) -> Result<Reply, ExchangeError> {
    let (mut sender, connection) = open(authority).await?;
    let reply = send(&mut sender, request, max_body).await;
    connection.abort();
    reply
}

/// Reads a response's status, headers and body, the body up to
/// `max_body` bytes.
///
/// # Errors
/// [`ExchangeError::BodyTooLarge`], or the body's read failed.
pub async fn collect_bounded(
    response: Response<Incoming>,
    max_body: usize,
) -> Result<Reply, ExchangeError> {
    let (parts, body) = response.into_parts();
    Ok(Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: collect_body(body, max_body).await?,
    })
}

/// Reads a whole body, a response's or a request's, up to `max_body`
/// bytes: past the bound it stops reading and fails, it never buffers more.
///
/// # Errors
/// [`ExchangeError::BodyTooLarge`], or [`ExchangeError::Http`] with the
/// body's own read error.
pub async fn collect_body<B>(body: B, max_body: usize) -> Result<Bytes, ExchangeError>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Limited::new(body, max_body)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                ExchangeError::BodyTooLarge { limit: max_body }
            } else {
                ExchangeError::Http(e.to_string())
            }
        })
}
