//! The witness itself, independent of HTTP: checks an `add-checkpoint`
//! request as c2sp.org/tlog-witness requires, persists the new checkpoint
//! atomically with the check of the old size, and co-signs it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use ledger_core::checkpoint::{
    Checkpoint, CheckpointBodyError, Note, NoteError, SignatureType, SignerKey,
};
use tokio::sync::{Mutex, Semaphore};

use crate::consistency::{empty_tree_root, verify_consistency, ConsistencyError};
use crate::logs::LogKeys;
use crate::rate::{RateLimit, TokenBucket};
use crate::request::{AddCheckpointRequest, RequestError};
use crate::store::{Store, StoreError, Stored};
use crate::{DEFAULT_RATE_BURST, DEFAULT_RATE_PER_SECOND, MAX_IN_FLIGHT};

/// Why a request was refused, or failed; each maps to the HTTP status
/// c2sp.org/tlog-witness gives it ([`WitnessError::status`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// 400: the body is not an `add-checkpoint` request.
    #[error("malformed request: {0}")]
    Malformed(#[from] RequestError),
    /// 400: the checkpoint is not a well-formed signed note.
    #[error("malformed note: {0}")]
    MalformedNote(NoteError),
    /// 400: the note text is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(CheckpointBodyError),
    /// 400: the body could not be read.
    #[error("reading the body: {0}")]
    Body(String),
    /// 400: the old size is larger than the checkpoint's size.
    #[error("old size {old} is larger than the checkpoint size {size}")]
    OldSizeTooLarge {
        /// The request's old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// 403: no valid signature by a trusted key of the origin, or a
    /// signature line of a trusted key that does not verify.
    #[error("checkpoint not signed by a trusted key of its origin: {0}")]
    Forbidden(NoteError),
    /// 404: the origin is not a configured log.
    #[error("unknown origin {0:?}")]
    UnknownOrigin(String),
    /// 409: the old size is not the size the witness co-signed last.
    #[error("old size is not the latest co-signed size {latest}")]
    Conflict {
        /// The size of the latest co-signed checkpoint (0 if none).
        latest: u64,
    },
    /// 413: the body is larger than [`crate::MAX_REQUEST_BYTES`].
    #[error("request body too large")]
    TooLarge,
    /// 408: the body was not received within [`crate::BODY_READ_TIMEOUT`].
    #[error("request body not received in time")]
    Timeout,
    /// 422: a size-0 checkpoint whose root is not the empty tree's.
    #[error("a size-0 checkpoint must have the empty tree's root hash")]
    EmptyTreeRoot,
    /// 422: the consistency proof does not verify (or is not empty where it
    /// must be, or the roots differ at equal sizes).
    #[error("inconsistent: {0}")]
    Inconsistent(ConsistencyError),
    /// 429: the origin's rate limit is exceeded.
    #[error("rate limit exceeded for this origin")]
    RateLimited,
    /// 500: the state could not be made durable.
    #[error("state not persisted: {0}")]
    Store(#[from] StoreError),
    /// 500: the clock is before 1970 or the cosignature failed.
    #[error("could not co-sign: {0}")]
    Cosign(String),
}

impl WitnessError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_)
            | Self::MalformedNote(_)
            | Self::MalformedCheckpoint(_)
            | Self::Body(_)
            | Self::OldSizeTooLarge { .. } => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::UnknownOrigin(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::EmptyTreeRoot | Self::Inconsistent(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Store(_) | Self::Cosign(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Why a witness could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The witness key is not a `cosignature/v1` key (type `0x04`).
    #[error("the witness key must be a cosignature/v1 key (type 0x04), not {0:?}")]
    KeyType(SignatureType),
    /// The state could not be opened.
    #[error("opening the state: {0}")]
    Store(#[from] StoreError),
}

/// Tunables of a witness.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Each origin's rate limit.
    pub rate: RateLimit,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rate: RateLimit {
                per_second: DEFAULT_RATE_PER_SECOND,
                burst: DEFAULT_RATE_BURST,
            },
        }
    }
}

struct Origin {
    /// The latest co-signed checkpoint; its lock is held from the check of
    /// the old size until the new state is durable.
    latest: Mutex<Option<Stored>>,
    bucket: parking_lot::Mutex<TokenBucket>,
}

/// A witness: its key, the logs it co-signs for and their durable state.
pub struct Witness {
    key: SignerKey,
    logs: LogKeys,
    origins: HashMap<String, Origin>,
    store: Store,
    in_flight: Arc<Semaphore>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("key", &self.key)
            .field("origins", &self.origins.len())
            .finish_non_exhaustive()
    }
}

impl Witness {
    /// A witness signing with `key` for the `logs`, its state in
    /// `state_dir` (created if need be, recovered if present).
    ///
    /// # Errors
    /// A key of the wrong type, or a state that cannot be opened.
    pub fn open(
        key: SignerKey,
        logs: LogKeys,
        state_dir: &Path,
        config: Config,
    ) -> Result<Self, OpenError> {
        if key.signature_type() != SignatureType::CosignatureV1 {
            return Err(OpenError::KeyType(key.signature_type()));
        }
        let (mut state, store) = Store::open(state_dir)?;
        let now = Instant::now();
        let origins = logs
            .origins()
            .map(|origin| {
                let entry = Origin {
                    latest: Mutex::new(state.remove(origin)),
                    bucket: parking_lot::Mutex::new(TokenBucket::new(config.rate, now)),
                };
                (origin.to_owned(), entry)
            })
            .collect();
        Ok(Self {
            key,
            logs,
            origins,
            store,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    /// The witness's signer key.
    pub fn key(&self) -> &SignerKey {
        &self.key
    }

    /// The size and root of the latest checkpoint co-signed for `origin`.
    pub async fn latest(&self, origin: &str) -> Option<(u64, [u8; 32])> {
        let latest = self.origins.get(origin)?.latest.lock().await;
        latest.as_ref().map(|s| (s.size, s.root))
    }

    /// Handles an `add-checkpoint` request body; the response body (the
    /// cosignature line) on success.
    ///
    /// The check of the old size, the consistency check and the durable
    /// commit run in a task of their own under the origin's lock, so that a
    /// caller that goes away (a closed connection) cannot leave them half
    /// done.
    ///
    /// # Errors
    /// Why not, as a [`WitnessError`] (with its HTTP status).
    pub async fn add_checkpoint(self: &Arc<Self>, body: &[u8]) -> Result<String, WitnessError> {
        let request = AddCheckpointRequest::parse(body)?;
        let note = Note::parse(&request.note).map_err(WitnessError::MalformedNote)?;
        let checkpoint =
            Checkpoint::parse(note.text().as_bytes()).map_err(WitnessError::MalformedCheckpoint)?;
        let origin = checkpoint.origin().to_owned();
        let (Some(keys), Some(entry)) = (self.logs.keys(&origin), self.origins.get(&origin)) else {
            return Err(WitnessError::UnknownOrigin(origin));
        };
        if !entry.bucket.lock().try_take(Instant::now()) {
            return Err(WitnessError::RateLimited);
        }
        // Lines by unknown keys are ignored; one by a trusted key must be
        // there, and every line by a trusted key must verify.
        note.verify(keys).map_err(WitnessError::Forbidden)?;
        if request.old_size > checkpoint.size() {
            return Err(WitnessError::OldSizeTooLarge {
                old: request.old_size,
                size: checkpoint.size(),
            });
        }
        let permit = Arc::clone(&self.in_flight)
            .acquire_owned()
            .await
            .map_err(|_| WitnessError::Store(StoreError::Stopped))?;
        let witness = Arc::clone(self);
        let commit = tokio::spawn(async move {
            let result = witness.check_and_commit(&request, &checkpoint).await;
            // The witness before the permit: once `drain` has every permit,
            // no task holds the witness.
            drop(witness);
            drop(permit);
            result
        });
        commit
            .await
            .map_err(|e| WitnessError::Cosign(format!("commit task failed: {e}")))??;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| WitnessError::Cosign("the clock is before 1970".into()))?
            .as_secs();
        let line = self
            .key
            .cosign(note.text(), timestamp.max(1))
            .map_err(|e| WitnessError::Cosign(e.to_string()))?
            .line();
        Ok(line)
    }

    /// Under the origin's lock: the old size against the latest co-signed
    /// size, the consistency proof, and the durable commit.
    async fn check_and_commit(
        &self,
        request: &AddCheckpointRequest,
        checkpoint: &Checkpoint,
    ) -> Result<(), WitnessError> {
        let entry = self
            .origins
            .get(checkpoint.origin())
            .ok_or_else(|| WitnessError::UnknownOrigin(checkpoint.origin().to_owned()))?;
        let mut latest = entry.latest.lock().await;
        let latest_size = latest.as_ref().map_or(0, |s| s.size);
        if request.old_size != latest_size {
            return Err(WitnessError::Conflict {
                latest: latest_size,
            });
        }
        if checkpoint.size() == 0 && *checkpoint.root_hash() != empty_tree_root() {
            return Err(WitnessError::EmptyTreeRoot);
        }
        // Nothing co-signed yet is the empty tree (size 0), consistent with
        // any tree; the proof from it must be empty.
        let old_root = latest.as_ref().map_or_else(empty_tree_root, |s| s.root);
        verify_consistency(
            request.old_size,
            checkpoint.size(),
            &old_root,
            checkpoint.root_hash(),
            &request.proof,
        )
        .map_err(WitnessError::Inconsistent)?;
        let unchanged = latest
            .as_ref()
            .is_some_and(|s| s.size == checkpoint.size() && &s.root == checkpoint.root_hash());
        if !unchanged {
            let stored = Stored::of(checkpoint);
            self.store
                .commit(checkpoint.origin(), stored.clone())
                .await?;
            *latest = Some(stored);
        }
        Ok(())
    }

    /// Waits until no commit is in flight and takes no more: for an orderly
    /// shutdown.
    pub async fn drain(&self) {
        let permits = u32::try_from(MAX_IN_FLIGHT).unwrap_or(u32::MAX);
        if let Ok(all) = self.in_flight.acquire_many(permits).await {
            all.forget();
        }
        self.in_flight.close();
    }
}
