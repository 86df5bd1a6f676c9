//! [`CheckpointLog`]: issues checkpoints of a ledger's durable history,
//! stores them (and their cosignatures) before anyone sees them, submits
//! them to the policy's witnesses from its own tokio runtime, and answers
//! which is the newest checkpoint a quorum has cosigned.
//!
//! Lock order: the journal's mutex may be held while the history source is
//! read (issuance), never the other way round; so the node must not hold
//! its ledger's lock when it calls [`CheckpointLog::issue_if_due`]. The
//! witness tasks read proofs and append cosignatures on the runtime's
//! blocking threads, so block application never waits for a witness.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_core::checkpoint::{
    verify_checkpoint, Checkpoint, Note, Policy, SignatureType, SignerKey, VerifierKey,
};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::history::{HistoryError, HistorySource};
use crate::http::{UrlError, WitnessUrl};
use crate::journal::{CheckpointJournal, JournalError, StoredCheckpoint};
use crate::{
    DEFAULT_BACKOFF_MAX, DEFAULT_BACKOFF_MIN, DEFAULT_CHECKPOINT_EVERY_BLOCKS,
    DEFAULT_CHECKPOINT_INTERVAL, DEFAULT_ISSUANCE_POLL, DEFAULT_REQUEST_TIMEOUT,
};

/// When to issue: once `every_blocks` blocks are durable past the last
/// checkpoint, or once `interval` has passed since it (with at least one
/// new block), whichever comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IssuancePolicy {
    /// Blocks between checkpoints, at most (≥ 1).
    pub every_blocks: u64,
    /// Time between checkpoints, at most, while blocks arrive.
    pub interval: Duration,
}

impl Default for IssuancePolicy {
    /// [`DEFAULT_CHECKPOINT_EVERY_BLOCKS`] or [`DEFAULT_CHECKPOINT_INTERVAL`].
    fn default() -> Self {
        Self {
            every_blocks: DEFAULT_CHECKPOINT_EVERY_BLOCKS,
            interval: DEFAULT_CHECKPOINT_INTERVAL,
        }
    }
}

/// How the witness client behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The bound on one request, connect to last byte.
    pub request_timeout: Duration,
    /// The first retry delay.
    pub backoff_min: Duration,
    /// The longest retry delay.
    pub backoff_max: Duration,
    /// How often the background task checks issuance by time.
    pub issuance_poll: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            backoff_min: DEFAULT_BACKOFF_MIN,
            backoff_max: DEFAULT_BACKOFF_MAX,
            issuance_poll: DEFAULT_ISSUANCE_POLL,
        }
    }
}

/// A [`CheckpointLog`]'s configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogConfig {
    /// When to issue.
    pub issuance: IssuancePolicy,
    /// How to submit.
    pub client: ClientConfig,
}

/// Why the log could not start or issue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The log key is not an Ed25519 note key.
    #[error("the log key must be an Ed25519 note key (type 0x01), not {0:?}")]
    KeyType(SignatureType),
    /// The policy lists logs and not this one.
    #[error("the witness policy does not list this log's key")]
    NotInPolicy,
    /// A witness of the policy has no URL, or one not supported.
    #[error("witness {name:?}: {reason}")]
    WitnessUrl {
        /// The witness's name in the policy.
        name: String,
        /// Why its URL is not usable.
        reason: String,
    },
    /// `every_blocks` is 0.
    #[error("issuance every 0 blocks")]
    Issuance,
    /// The journal failed.
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    /// The history could not be read.
    #[error("history: {0}")]
    History(#[from] HistoryError),
    /// The checkpoint could not be built or signed.
    #[error("signing: {0}")]
    Sign(String),
    /// The policy file could not be read, is larger than
    /// `MAX_POLICY_BYTES`, or is not a tlog-policy.
    #[error("policy {path}: {reason}")]
    Policy {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The runtime could not start.
    #[error("starting the runtime: {0}")]
    Runtime(std::io::Error),
}

/// What the client knows of one witness.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WitnessStatus {
    /// Its name in the policy.
    pub name: String,
    /// Its submission URL.
    pub url: String,
    /// The size it last cosigned for us, as far as we know.
    pub cosigned_size: Option<u64>,
    /// The last HTTP status it answered.
    pub last_status: Option<u16>,
    /// The size of the last checkpoint it refused (4xx other than 408, 409,
    /// 429): not resubmitted; the next checkpoint is.
    pub refused_size: Option<u64>,
    /// The last failure, if the last attempt failed.
    pub last_error: Option<String>,
    /// Requests sent.
    pub requests: u64,
}

/// One witness of the policy, as the submission tasks see it.
pub(crate) struct Witness {
    pub(crate) key: VerifierKey,
    pub(crate) url: WitnessUrl,
    pub(crate) status: Mutex<WitnessStatus>,
}

/// What the issuer and the submission tasks share.
pub(crate) struct Shared<H> {
    pub(crate) key: SignerKey,
    pub(crate) source: H,
    pub(crate) journal: Mutex<CheckpointJournal>,
    pub(crate) config: LogConfig,
    pub(crate) last_issued_at: Mutex<Instant>,
    /// The size of the newest stored checkpoint (0: none).
    pub(crate) latest: watch::Sender<u64>,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) witnesses: Vec<Arc<Witness>>,
    pub(crate) issue_error: Mutex<Option<String>>,
}

impl<H: HistorySource> Shared<H> {
    pub(crate) fn issue_if_due_at(&self, now: Instant) -> Result<Option<Checkpoint>, LogError> {
        let mut journal = self.journal.lock();
        let Some((size, root)) = self.source.tree_head()? else {
            return Ok(None);
        };
        let last = journal.latest().map_or(0, |c| c.checkpoint.size());
        if size <= last {
            return Ok(None);
        }
        let policy = self.config.issuance;
        let due = size - last >= policy.every_blocks
            || now.saturating_duration_since(*self.last_issued_at.lock()) >= policy.interval;
        if !due {
            return Ok(None);
        }
        let checkpoint = Checkpoint::new(self.key.name(), size, root)
            .map_err(|e| LogError::Sign(e.to_string()))?;
        let note = Note::sign(&checkpoint.to_text(), &self.key)
            .map_err(|e| LogError::Sign(e.to_string()))?;
        journal.append_checkpoint(&note)?;
        drop(journal);
        *self.last_issued_at.lock() = now;
        // Only now, durable, is it handed to the witnesses.
        self.latest.send_replace(size);
        Ok(Some(checkpoint))
    }
}

/// A log: issues, stores and gets witnessed checkpoints of a history.
/// Dropping it stops the background tasks (a request in flight is
/// abandoned; the witness's answer, if any, is lost, which a 409 repairs
/// on the next start).
pub struct CheckpointLog<H: HistorySource + 'static> {
    shared: Arc<Shared<H>>,
    policy: Policy,
    runtime: Option<tokio::runtime::Runtime>,
}

impl<H: HistorySource + 'static> std::fmt::Debug for CheckpointLog<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointLog")
            .field("origin", &self.shared.key.name())
            .finish_non_exhaustive()
    }
}

impl<H: HistorySource + 'static> CheckpointLog<H> {
    /// Opens the log's directory (recovering its journal), and starts the
    /// background tasks: one per witness of `policy`, and the issuance by
    /// time. `key` is the log's Ed25519 note key, its name the origin.
    ///
    /// # Errors
    /// A bad key, policy or witness URL, the journal, or the runtime.
    pub fn open(
        dir: &Path,
        key: SignerKey,
        policy: Policy,
        source: H,
        config: LogConfig,
    ) -> Result<Self, LogError> {
        if key.signature_type() != SignatureType::Ed25519 {
            return Err(LogError::KeyType(key.signature_type()));
        }
        let vkey = key.verifier_key();
        if !policy.logs().is_empty() && !policy.has_log(&vkey) {
            return Err(LogError::NotInPolicy);
        }
        if config.issuance.every_blocks == 0 {
            return Err(LogError::Issuance);
        }
        let witnesses = witnesses_of(&policy)?;
        let journal = CheckpointJournal::open(dir, &vkey)?;
        for witness in &witnesses {
            // What the journal says each witness cosigned last.
            let cosigned = journal.checkpoints().rev().find(|c| {
                c.cosignatures
                    .iter()
                    .any(|s| s.name() == witness.key.name() && s.key_id() == witness.key.key_id())
            });
            witness.status.lock().cosigned_size = cosigned.map(|c| c.checkpoint.size());
        }
        let latest = journal.latest().map_or(0, |c| c.checkpoint.size());
        let shared = Arc::new(Shared {
            key,
            source,
            journal: Mutex::new(journal),
            config,
            last_issued_at: Mutex::new(Instant::now()),
            latest: watch::Sender::new(latest),
            shutdown: watch::Sender::new(false),
            witnesses,
            issue_error: Mutex::new(None),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(8)
            .thread_name("ledger-log")
            .enable_all()
            .build()
            .map_err(LogError::Runtime)?;
        for witness in &shared.witnesses {
            runtime.spawn(crate::submit::run(Arc::clone(&shared), Arc::clone(witness)));
        }
        runtime.spawn(crate::submit::issue_by_time(Arc::clone(&shared)));
        Ok(Self {
            shared,
            policy,
            runtime: Some(runtime),
        })
    }

    /// Issues a checkpoint of the durable head if the issuance policy says
    /// it is due; returns it once it is durable (and handed to the
    /// witnesses). Call it after applying blocks, without holding the
    /// ledger's lock.
    ///
    /// # Errors
    /// The history could not be read, or the journal failed.
    pub fn issue_if_due(&self) -> Result<Option<Checkpoint>, LogError> {
        self.shared.issue_if_due_at(Instant::now())
    }

    /// Issues a checkpoint of the durable head now if the tree has grown
    /// since the last one.
    ///
    /// # Errors
    /// As [`CheckpointLog::issue_if_due`].
    pub fn issue_now(&self) -> Result<Option<Checkpoint>, LogError> {
        let far = Instant::now() + self.shared.config.issuance.interval;
        self.shared.issue_if_due_at(far)
    }

    /// The newest checkpoint issued, with the cosignatures received so far.
    pub fn latest_issued(&self) -> Option<StoredCheckpoint> {
        self.shared.journal.lock().latest().cloned()
    }

    /// The retained checkpoints, oldest first.
    pub fn issued(&self) -> Vec<StoredCheckpoint> {
        self.shared.journal.lock().checkpoints().cloned().collect()
    }

    /// The newest checkpoint cosigned by a quorum of the policy's
    /// witnesses, as the full note text (the log's signature and the
    /// cosignatures), which [`verify_checkpoint`] accepts under the policy.
    pub fn latest_witnessed(&self) -> Option<String> {
        let journal = self.shared.journal.lock();
        let vkey = self.shared.key.verifier_key();
        let found = journal.checkpoints().rev().find_map(|stored| {
            let text = stored.cosigned_note().encode();
            verify_checkpoint(text.as_bytes(), &vkey, &self.policy)
                .ok()
                .map(|_| text)
        });
        found
    }

    /// What the client knows of each witness, in the policy's order.
    pub fn witness_status(&self) -> Vec<WitnessStatus> {
        self.shared
            .witnesses
            .iter()
            .map(|w| w.status.lock().clone())
            .collect()
    }

    /// The last failure of the background issuance, if any.
    pub fn issue_error(&self) -> Option<String> {
        self.shared.issue_error.lock().clone()
    }

    /// The log's verifier key.
    pub fn verifier_key(&self) -> VerifierKey {
        self.shared.key.verifier_key()
    }

    /// Stops the background tasks and waits (at most a second) for them;
    /// from inside an async context it does not wait.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(runtime) = self.runtime.take() {
            // Inside another runtime blocking is not allowed: let the tasks
            // end on their own (each sees the shutdown signal).
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(Duration::from_secs(1));
            }
        }
    }
}

impl<H: HistorySource + 'static> Drop for CheckpointLog<H> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads a witness policy file (c2sp.org/tlog-policy text: `witness <name>
/// <vkey> <url>` lines, groups, a quorum), reading at most
/// `MAX_POLICY_BYTES` + 1 bytes.
///
/// # Errors
/// [`LogError::Policy`].
pub fn read_policy(path: &Path) -> Result<Policy, LogError> {
    use std::io::Read as _;
    let error = |reason: String| LogError::Policy {
        path: path.display().to_string(),
        reason,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(ledger_core::MAX_POLICY_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| error(e.to_string()))?;
    if bytes.len() > ledger_core::MAX_POLICY_BYTES {
        return Err(error(format!(
            "larger than {} bytes",
            ledger_core::MAX_POLICY_BYTES
        )));
    }
    Policy::parse(&bytes).map_err(|e| error(e.to_string()))
}

fn witnesses_of(policy: &Policy) -> Result<Vec<Arc<Witness>>, LogError> {
    policy
        .witnesses()
        .iter()
        .map(|w| {
            let name = String::from_utf8_lossy(&w.name).into_owned();
            let url = w
                .url
                .as_deref()
                .ok_or_else(|| UrlError::Malformed("no URL".into()))
                .and_then(WitnessUrl::parse)
                .map_err(|e| LogError::WitnessUrl {
                    name: name.clone(),
                    reason: e.to_string(),
                })?;
            Ok(Arc::new(Witness {
                key: w.key.clone(),
                status: Mutex::new(WitnessStatus {
                    name,
                    url: url.to_string(),
                    ..WitnessStatus::default()
                }),
                url,
            }))
        })
        .collect()
}
