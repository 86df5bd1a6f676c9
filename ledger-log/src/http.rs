//! A minimal HTTP/1.1 `POST` for the witness client: one request per
//! connection (so a restarted witness costs nothing but a reconnect), the
//! whole exchange under one timeout, the response body bounded.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header;
use hyper::Request;
use ledger_http::ExchangeError;

use crate::MAX_RESPONSE_BYTES;

/// A witness's submission prefix, parsed from the URL of its policy line:
/// `http://host[:port][/path]`. Requests go to `<path>/add-checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessUrl {
    host: String,
    port: u16,
    path: String,
}

/// Why a witness URL was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Only `http://` is supported (TLS belongs to a proxy in front).
    #[error("unsupported scheme in {0:?}: only http:// is supported")]
    Scheme(String),
    /// No host, a bad port, or bytes that are not printable ASCII.
    #[error("malformed URL {0:?}")]
    Malformed(String),
}

impl WitnessUrl {
    /// Parses a submission prefix.
    ///
    /// # Errors
    /// Not `http://host[:port][/path]`.
    pub fn parse(url: &[u8]) -> Result<Self, UrlError> {
        let text = String::from_utf8_lossy(url).into_owned();
        let malformed = || UrlError::Malformed(text.clone());
        if !url.iter().all(|b| b.is_ascii_graphic()) {
            return Err(malformed());
        }
        let rest = text
            .strip_prefix("http://")
            .ok_or_else(|| UrlError::Scheme(text.clone()))?;
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                (host, port.parse::<u16>().map_err(|_| malformed())?)
            }
            _ => (authority, 80),
        };
        if host.is_empty() || authority.contains('@') {
            return Err(malformed());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            path: path.trim_end_matches('/').to_owned(),
        })
    }

    fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl std::fmt::Display for WitnessUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}:{}{}", self.host, self.port, self.path)
    }
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, at most [`MAX_RESPONSE_BYTES`].
    pub body: Vec<u8>,
}

/// Why a request got no (whole) answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Connecting failed (refused, unreachable, name not resolved).
    #[error("connecting to {url}: {source}")]
    Connect {
        /// The witness.
        url: String,
        /// The error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed (connection closed mid-request...).
    #[error("http: {0}")]
    Http(String),
    /// The body is larger than [`MAX_RESPONSE_BYTES`].
    #[error("response body over {MAX_RESPONSE_BYTES} bytes")]
    BodyTooLarge,
    /// No whole answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Posts `body` to `<url>/add-checkpoint`; the whole exchange (connect,
/// send, read the bounded body) within `timeout`.
///
/// # Errors
/// See [`TransportError`].
pub async fn post_add_checkpoint(
    url: &WitnessUrl,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Response, TransportError> {
    tokio::time::timeout(timeout, exchange(url, body))
        .await
        .map_err(|_| TransportError::Timeout(timeout))?
}

async fn exchange(url: &WitnessUrl, body: Vec<u8>) -> Result<Response, TransportError> {
    let request = Request::post(format!("{}/add-checkpoint", url.path))
        .header(header::HOST, url.authority())
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| TransportError::Http(e.to_string()))?;
    let reply = ledger_http::send_once(&url.authority(), request, MAX_RESPONSE_BYTES)
        .await
        .map_err(|e| match e {
            ExchangeError::Connect { source, .. } => TransportError::Connect {
                url: url.to_string(),
                source,
            },
            ExchangeError::BodyTooLarge { .. } => TransportError::BodyTooLarge,
            ExchangeError::Http(detail) => TransportError::Http(detail),
            other => TransportError::Http(other.to_string()),
        })?;
    Ok(Response {
        status: reply.status,
        body: reply.body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let url = WitnessUrl::parse(b"http://127.0.0.1:8080/w/").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url.to_string(), "http://127.0.0.1:8080/w");
        let url = WitnessUrl::parse(b"http://witness.example").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url.authority(), "witness.example:80");
        assert!(matches!(
            WitnessUrl::parse(b"https://w.example/"),
            Err(UrlError::Scheme(_))
        ));
        for bad in [
            &b"http://"[..],
            b"http://h:99999",
            b"http://a b",
            b"http://u@h/",
        ] {
            assert!(
                matches!(WitnessUrl::parse(bad), Err(UrlError::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}
