//! A minimal GET client for the read API (`ledger verify`, tests): one
//! HTTP/1.1 connection per request, a bounded response body and a timeout
//! on the whole exchange.

use std::time::Duration;

use axum::http::{header, Request};
use bytes::Bytes;
use http_body_util::Full;
use ledger_http::ExchangeError;

/// The largest response body read: above the largest witnessed proof
/// ([`ledger_core::MAX_WITNESSED_PROOF_BYTES`]) and checkpoint note
/// ([`ledger_core::MAX_NOTE_BYTES`]) in any form (JSON doubles the bytes).
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

const _: () = assert!(MAX_RESPONSE_BYTES >= 2 * ledger_core::MAX_NOTE_BYTES);
const _: () = assert!(MAX_RESPONSE_BYTES >= 4 * ledger_core::MAX_WITNESSED_PROOF_BYTES as usize);

/// How long a whole exchange (connect, request, response) may take.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not `http://host:port[/prefix]`.
    #[error("not an http://host:port URL: {0}")]
    Url(String),
    /// Resolving or connecting failed.
    #[error("connecting: {0}")]
    Connect(#[from] std::io::Error),
    /// The HTTP exchange failed (or the body was over
    /// [`MAX_RESPONSE_BYTES`]).
    #[error("http: {0}")]
    Http(String),
    /// No answer within the timeout.
    #[error("timed out")]
    Timeout,
}

/// An answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The `Cache-Control`, if any.
    pub cache_control: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// A server's base URL: `http://host:port` with an optional path prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    authority: String,
    prefix: String,
}

impl BaseUrl {
    /// Parses `http://host:port[/prefix]` (no `https`: put a TLS proxy in
    /// front, or verify offline — the proofs need no trusted channel).
    ///
    /// # Errors
    /// [`ClientError::Url`].
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        let bad = || ClientError::Url(url.chars().take(200).collect());
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (authority, prefix) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let valid = !authority.is_empty()
            && authority.len() <= 255
            && authority.contains(':')
            && authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        if !valid || prefix.len() > 1024 || prefix.contains(['?', '#']) {
            return Err(bad());
        }
        Ok(BaseUrl {
            authority: authority.to_owned(),
            prefix: prefix.trim_end_matches('/').to_owned(),
        })
    }

    /// GETs `path` (starting with `/`) under the prefix, with `accept` as
    /// the `Accept` header.
    ///
    /// # Errors
    /// The exchange failed or timed out.
    pub async fn get(&self, path: &str, accept: &str) -> Result<Answer, ClientError> {
        self.get_with_timeout(path, accept, CLIENT_TIMEOUT).await
    }

    /// [`BaseUrl::get`] with another timeout.
    ///
    /// # Errors
    /// The exchange failed or timed out.
    pub async fn get_with_timeout(
        &self,
        path: &str,
        accept: &str,
        timeout: Duration,
    ) -> Result<Answer, ClientError> {
        tokio::time::timeout(timeout, self.exchange(path, accept))
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    async fn exchange(&self, path: &str, accept: &str) -> Result<Answer, ClientError> {
        let request = Request::get(format!("{}{path}", self.prefix))
            .header(header::HOST, &self.authority)
            .header(header::ACCEPT, accept)
            .body(Full::new(Bytes::new()))
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let reply = ledger_http::send_once(&self.authority, request, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                ExchangeError::Connect { source, .. } => ClientError::Connect(source),
                ExchangeError::Http(detail) => ClientError::Http(detail),
                other => ClientError::Http(other.to_string()),
            })?;
        Ok(Answer {
            status: reply.status,
            content_type: reply.header(header::CONTENT_TYPE),
            cache_control: reply.header(header::CACHE_CONTROL),
            body: reply.body,
        })
    }
}
