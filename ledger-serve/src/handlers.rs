//! The handlers: thin, each parses its request strictly, asks the ledger on
//! the blocking pool (bounded, under a timeout), and answers; every error
//! becomes its status code in one place, [`ServeError::status`].

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_core::checkpoint::{Checkpoint, Note};
use ledger_core::limits::MAX_STATE_KEY_BYTES;
use ledger_core::merkle::tiles::{TilePathError, TileRequest};
use ledger_core::{Hash, LedgerError, WitnessedProof};

use crate::server::ServeState;
use crate::source::LedgerReader;
use crate::MAX_QUERY_BYTES;

/// `Cache-Control` of full tiles and entry bundles: their contents never
/// change.
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of partial tiles: their contents never change either,
/// but the log may stop serving them once the full tile exists.
pub(crate) const PARTIAL: &str = "public, max-age=3600";
/// `Cache-Control` of the checkpoint and of proofs (at the latest
/// checkpoint's size): revalidate every time.
pub(crate) const MUTABLE: &str = "no-cache";

/// Why a request was not answered with its resource.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// No checkpoint has been issued yet (404).
    #[error("no checkpoint yet")]
    NoCheckpoint,
    /// The checkpoint source gave a note that does not parse (500).
    #[error("the latest checkpoint is malformed")]
    BadCheckpoint,
    /// A malformed tile path (400).
    #[error("{0}")]
    BadTilePath(#[from] TilePathError),
    /// A malformed id, key, or query (400).
    #[error("{0}")]
    BadRequest(&'static str),
    /// Nothing there within the latest checkpoint (404).
    #[error("{0}")]
    NotFound(String),
    /// Too many reads in flight (503, `Retry-After: 1`).
    #[error("too many requests in flight")]
    Busy,
    /// The read took too long (503).
    #[error("the read timed out")]
    Timeout,
    /// The ledger failed (500; the detail is not sent).
    #[error("internal error")]
    Internal(#[source] LedgerError),
    /// A read task failed or a proof did not encode (500).
    #[error("internal error")]
    Task,
}

impl ServeError {
    /// The status code it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ServeError::NoCheckpoint | ServeError::NotFound(_) => StatusCode::NOT_FOUND,
            ServeError::BadTilePath(_) | ServeError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServeError::Busy | ServeError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ServeError::BadCheckpoint | ServeError::Internal(_) | ServeError::Task => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn from_ledger(error: LedgerError) -> Self {
        match error {
            LedgerError::HeightUnavailable { .. } | LedgerError::StateNotKept { .. } => {
                ServeError::NotFound(error.to_string())
            }
            error => ServeError::Internal(error),
        }
    }
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status(),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{self}\n"),
        )
            .into_response();
        if matches!(self, ServeError::Busy) {
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The latest checkpoint's note text and tree size.
fn latest(app: &ServeState) -> Result<(String, u64), ServeError> {
    let note = app.checkpoints.latest().ok_or(ServeError::NoCheckpoint)?;
    let parsed = Note::parse(note.as_bytes()).map_err(|_| ServeError::BadCheckpoint)?;
    let checkpoint =
        Checkpoint::parse(parsed.text().as_bytes()).map_err(|_| ServeError::BadCheckpoint)?;
    Ok((note, checkpoint.size()))
}

/// Runs a ledger read on the blocking pool: at most
/// [`crate::MAX_IN_FLIGHT_READS`] at once (the permit is held by the read
/// itself, so one that outlives its timeout still counts), answered within
/// the read timeout.
async fn read_ledger<T, F>(app: &ServeState, read: F) -> Result<T, ServeError>
where
    T: Send + 'static,
    F: FnOnce(&dyn LedgerReader) -> Result<T, LedgerError> + Send + 'static,
{
    let permit = Arc::clone(&app.reads)
        .try_acquire_owned()
        .map_err(|_| ServeError::Busy)?;
    let reader = Arc::clone(&app.reader);
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        read(&*reader)
    });
    match tokio::time::timeout(app.read_timeout, task).await {
        Err(_) => Err(ServeError::Timeout),
        Ok(Err(_)) => Err(ServeError::Task),
        Ok(Ok(result)) => result.map_err(ServeError::from_ledger),
    }
}

pub(crate) async fn checkpoint(State(app): State<ServeState>) -> Result<Response, ServeError> {
    let (note, _) = latest(&app)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, MUTABLE),
        ],
        note,
    )
        .into_response())
}

pub(crate) async fn tile(
    State(app): State<ServeState>,
    Path(path): Path<String>,
) -> Result<Response, ServeError> {
    let tile = TileRequest::parse(&path)?;
    let (_, size) = latest(&app)?;
    let contents = read_ledger(&app, move |ledger| ledger.history_tile(&tile, size)).await?;
    let contents = contents.ok_or_else(|| {
        ServeError::NotFound(format!(
            "{} is not within the checkpoint's tree of {size} blocks",
            tile.path()
        ))
    })?;
    let cache = if tile.is_full() { IMMUTABLE } else { PARTIAL };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        contents,
    )
        .into_response())
}

/// A proof request's query: `format=json|binary`, `height=H` (state only).
#[derive(Default)]
struct ProofQuery {
    json: Option<bool>,
    height: Option<u64>,
}

fn parse_query(query: Option<&str>, allow_height: bool) -> Result<ProofQuery, ServeError> {
    let mut parsed = ProofQuery::default();
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(parsed);
    };
    if query.len() > MAX_QUERY_BYTES {
        return Err(ServeError::BadRequest("query string too long"));
    }
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("format", value)) if parsed.json.is_none() => {
                parsed.json = Some(match value {
                    "json" => true,
                    "binary" => false,
                    _ => return Err(ServeError::BadRequest("format is json or binary")),
                });
            }
            Some(("height", value)) if allow_height && parsed.height.is_none() => {
                let canonical = !value.is_empty()
                    && value.len() <= 20
                    && value.bytes().all(|b| b.is_ascii_digit())
                    && (value == "0" || !value.starts_with('0'));
                let height = value.parse::<u64>().ok().filter(|_| canonical);
                parsed.height =
                    Some(height.ok_or(ServeError::BadRequest("height is a decimal u64"))?);
            }
            _ => {
                return Err(ServeError::BadRequest(
                    "unknown or repeated query parameter",
                ))
            }
        }
    }
    Ok(parsed)
}

fn wants_json(query: &ProofQuery, headers: &HeaderMap) -> bool {
    query.json.unwrap_or_else(|| {
        headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.contains("application/json"))
    })
}

/// Lower- or upper-case hex of at most `max_bytes` bytes.
fn parse_hex(text: &str, max_bytes: usize) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() / 2 > max_bytes {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16);
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| match pair {
            [high, low] => Some(u8::try_from(digit(*high)? * 16 + digit(*low)?).ok()?),
            _ => None,
        })
        .collect()
}

fn proof_response(
    proof: &WitnessedProof,
    query: &ProofQuery,
    headers: &HeaderMap,
) -> Result<Response, ServeError> {
    let encoded = proof.encode().map_err(|_| ServeError::Task)?;
    if wants_json(query, headers) {
        let body = crate::json::witnessed_proof(proof, &encoded).to_string();
        Ok((
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, MUTABLE),
            ],
            body,
        )
            .into_response())
    } else {
        Ok((
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CACHE_CONTROL, MUTABLE),
            ],
            encoded,
        )
            .into_response())
    }
}

pub(crate) async fn transaction_proof(
    State(app): State<ServeState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    let id = parse_hex(&id, 32)
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .map(Hash)
        .ok_or(ServeError::BadRequest("a transaction id is 64 hex digits"))?;
    let query = parse_query(query.as_deref(), false)?;
    let (_, size) = latest(&app)?;
    let proof = read_ledger(&app, move |ledger| ledger.transaction_proof(&id, size)).await?;
    let proof = proof.ok_or_else(|| ServeError::NotFound(format!("no transaction {id}")))?;
    proof_response(&proof, &query, &headers)
}

pub(crate) async fn state_proof(
    State(app): State<ServeState>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    let key = parse_hex(&key, MAX_STATE_KEY_BYTES).ok_or(ServeError::BadRequest(
        "a state key is at most 256 bytes in hex",
    ))?;
    let query = parse_query(query.as_deref(), true)?;
    let (_, size) = latest(&app)?;
    let height = match (query.height, size.checked_sub(1)) {
        (Some(height), _) => height,
        (None, Some(last)) => last,
        (None, None) => return Err(ServeError::NotFound("the checkpoint is empty".into())),
    };
    let proof = read_ledger(&app, move |ledger| ledger.state_proof(&key, height, size)).await?;
    proof_response(&proof, &query, &headers)
}

pub(crate) async fn not_found() -> ServeError {
    ServeError::NotFound("no such resource".into())
}
