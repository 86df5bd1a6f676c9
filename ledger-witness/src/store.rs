//! The witness's durable state: for each origin, the latest checkpoint it
//! co-signed, kept in a state directory so that after a crash it never
//! co-signs two different roots for one size nor rolls back to a smaller
//! size.
//!
//! # Layout and group commit
//!
//! - `snapshot`: the state at the start of a generation, written whole to
//!   `snapshot.tmp`, fsynced, renamed over `snapshot`, directory fsynced.
//! - `journal-<generation>`: one record per co-signed checkpoint since the
//!   snapshot, appended by a single writer thread. The writer takes every
//!   commit waiting in its queue (up to [`MAX_BATCH`], of different origins:
//!   an origin has at most one commit in flight, under its lock), appends
//!   them in one write and makes them durable with one `fdatasync` before it
//!   acknowledges any. A commit is acknowledged only once durable, and the
//!   witness answers 200 only after the acknowledgement.
//! - `lock`: held (`flock`) by the process that owns the directory.
//!
//! A record is `length (u32, big-endian) ‖ checkpoint text ‖
//! SHA-256(length ‖ text)`. On opening, the snapshot is read (every record
//! must be whole), then the journal up to its first incomplete or corrupt
//! record — a torn tail can only hold unacknowledged commits — and the state
//! is compacted into a new generation (a fresh snapshot and empty journal),
//! as it also is when a journal grows past [`MAX_JOURNAL_BYTES`]. A record
//! that would lower an origin's size is refused as corruption.
//!
//! After a failed write or fsync the store is poisoned: every later commit
//! fails (what reached the disk is unknown; a restart re-reads it).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use ledger_core::checkpoint::Checkpoint;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::consistency::TreeHash;

/// Most commits made durable by one `fdatasync`.
pub const MAX_BATCH: usize = 256;

/// Commits that may wait for the writer; further ones wait to enqueue.
pub const COMMIT_QUEUE: usize = 1024;

/// A journal longer than this is compacted into a new snapshot.
pub const MAX_JOURNAL_BYTES: u64 = 16 * 1024 * 1024;

/// The largest record's checkpoint text.
pub const MAX_RECORD_TEXT_BYTES: usize = 64 * 1024;

const SNAPSHOT_MAGIC: &[u8] = b"ledger-witness snapshot v1\n";
const CHECKSUM_BYTES: usize = 32;

/// Why the state could not be opened or a commit did not become durable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// Another process holds the state directory.
    #[error("the state directory {0} is in use by another process")]
    Locked(PathBuf),
    /// The snapshot or the journal is corrupt beyond a torn tail.
    #[error("corrupt state: {0}")]
    Corrupt(String),
    /// An earlier write failed; the store takes no more commits.
    #[error("the store failed earlier and takes no more commits")]
    Poisoned,
    /// The writer thread is gone.
    #[error("the store's writer has stopped")]
    Stopped,
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

/// An origin's latest co-signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Its tree size.
    pub size: u64,
    /// Its root hash.
    pub root: TreeHash,
    /// Its checkpoint text.
    pub text: String,
}

impl Stored {
    /// The stored form of a checkpoint.
    pub fn of(checkpoint: &Checkpoint) -> Self {
        Self {
            size: checkpoint.size(),
            root: *checkpoint.root_hash(),
            text: checkpoint.to_text(),
        }
    }
}

struct Commit {
    origin: String,
    stored: Stored,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The durable state, with its writer thread. Dropping it stops the
/// writer once its queue is empty, and waits for it.
pub struct Store {
    queue: Option<mpsc::Sender<Commit>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (creating if need be) the state directory, recovers its state
    /// and compacts it; the state, by origin, and the store.
    ///
    /// # Errors
    /// I/O errors, a directory in use by another process, or corruption.
    pub fn open(dir: &Path) -> Result<(BTreeMap<String, Stored>, Self), StoreError> {
        fs::create_dir_all(dir).map_err(io_error(format!("creating {}", dir.display())))?;
        let lock = File::create(dir.join("lock")).map_err(io_error("creating the lock file"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(StoreError::Locked(dir.to_owned())),
            Err(fs::TryLockError::Error(e)) => return Err(io_error("locking")(e)),
        }
        let (generation, mut state) = read_snapshot(dir)?;
        let journal_path = dir.join(format!("journal-{generation}"));
        if journal_path.exists() {
            let bytes = read_all(&journal_path)?;
            let mut at = 0;
            while let Some((stored, next)) = decode_record(&bytes, at)? {
                apply(&mut state, stored, "journal")?;
                at = next;
            }
        }
        let mut writer = Writer {
            dir: dir.to_owned(),
            generation,
            state,
            journal: None,
            journal_len: 0,
            poisoned: false,
            _lock: lock,
        };
        writer.compact()?;
        let state = writer.state.clone();
        let (queue, receiver) = mpsc::channel(COMMIT_QUEUE);
        let writer = std::thread::Builder::new()
            .name("witness-store".into())
            .spawn(move || writer.run(receiver))
            .map_err(io_error("starting the writer thread"))?;
        Ok((
            state,
            Self {
                queue: Some(queue),
                writer: Some(writer),
            },
        ))
    }

    /// Makes `stored` the origin's durable state; returns once it is on
    /// disk. Callers hold the origin's lock, so an origin has at most one
    /// commit in flight and commits of an origin are in order.
    ///
    /// # Errors
    /// The write or fsync failed (now or earlier), or the writer stopped.
    pub async fn commit(&self, origin: &str, stored: Stored) -> Result<(), StoreError> {
        let queue = self.queue.as_ref().ok_or(StoreError::Stopped)?;
        let (done, wait) = oneshot::channel();
        queue
            .send(Commit {
                origin: origin.to_owned(),
                stored,
                done,
            })
            .await
            .map_err(|_| StoreError::Stopped)?;
        wait.await.map_err(|_| StoreError::Stopped)?
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.queue = None;
        if let Some(writer) = self.writer.take() {
            // The writer ends when its queue is closed and empty; a panic in
            // it has already been reported.
            let _ = writer.join();
        }
    }
}

fn read_all(path: &Path) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_error(format!("reading {}", path.display())))?;
    Ok(bytes)
}

fn read_snapshot(dir: &Path) -> Result<(u64, BTreeMap<String, Stored>), StoreError> {
    let path = dir.join("snapshot");
    let mut state = BTreeMap::new();
    if !path.exists() {
        return Ok((0, state));
    }
    let bytes = read_all(&path)?;
    let corrupt = || StoreError::Corrupt("snapshot header".into());
    let rest = bytes.strip_prefix(SNAPSHOT_MAGIC).ok_or_else(corrupt)?;
    let generation = rest
        .get(..8)
        .and_then(|g| g.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(corrupt)?;
    let records = &rest[8..];
    let mut at = 0;
    while at < records.len() {
        let (stored, next) = decode_record(records, at)?
            .ok_or_else(|| StoreError::Corrupt("torn snapshot record".into()))?;
        apply(&mut state, stored, "snapshot")?;
        at = next;
    }
    Ok((generation, state))
}

/// Applies a recovered record; a record that lowers an origin's size, or
/// changes its root at the same size, is corruption.
fn apply(
    state: &mut BTreeMap<String, Stored>,
    (origin, stored): (String, Stored),
    file: &str,
) -> Result<(), StoreError> {
    if let Some(old) = state.get(&origin) {
        if stored.size < old.size || (stored.size == old.size && stored.root != old.root) {
            return Err(StoreError::Corrupt(format!(
                "{file}: {origin} goes from size {} back to {}",
                old.size, stored.size
            )));
        }
    }
    state.insert(origin, stored);
    Ok(())
}

fn encode_record(out: &mut Vec<u8>, stored: &Stored) {
    let text = stored.text.as_bytes();
    // Texts come from parsed checkpoints of requests no larger than
    // MAX_REQUEST_BYTES, far below u32::MAX.
    let len = u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(text);
    let mut hasher = Sha256::new();
    hasher.update(len);
    hasher.update(text);
    out.extend_from_slice(&hasher.finalize());
}

/// Decodes the record at `at`: the origin, its state and the next offset;
/// `None` at the end or at an incomplete or corrupt record (a torn tail).
#[allow(clippy::type_complexity)]
fn decode_record(bytes: &[u8], at: usize) -> Result<Option<((String, Stored), usize)>, StoreError> {
    let Some(len) = bytes.get(at..at + 4) else {
        return Ok(None);
    };
    let len_bytes: [u8; 4] = [len[0], len[1], len[2], len[3]];
    let len = u32::from_be_bytes(len_bytes) as usize;
    if len > MAX_RECORD_TEXT_BYTES {
        return Ok(None);
    }
    let end = at + 4 + len + CHECKSUM_BYTES;
    let Some(record) = bytes.get(at..end) else {
        return Ok(None);
    };
    let (body, checksum) = record.split_at(4 + len);
    if Sha256::digest(body).as_slice() != checksum {
        return Ok(None);
    }
    let checkpoint = Checkpoint::parse(&body[4..])
        .map_err(|e| StoreError::Corrupt(format!("a record with a valid checksum: {e}")))?;
    Ok(Some((
        (checkpoint.origin().to_owned(), Stored::of(&checkpoint)),
        end,
    )))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(format!("syncing {}", dir.display())))
}

struct Writer {
    dir: PathBuf,
    generation: u64,
    state: BTreeMap<String, Stored>,
    journal: Option<File>,
    journal_len: u64,
    poisoned: bool,
    /// Held for the writer's life: the directory's flock.
    _lock: File,
}

impl Writer {
    /// Starts a new generation: the whole state in a new snapshot, and an
    /// empty journal; older journals are removed.
    fn compact(&mut self) -> Result<(), StoreError> {
        let generation = self.generation + 1;
        let mut bytes = SNAPSHOT_MAGIC.to_vec();
        bytes.extend_from_slice(&generation.to_be_bytes());
        for stored in self.state.values() {
            encode_record(&mut bytes, stored);
        }
        let journal_path = self.dir.join(format!("journal-{generation}"));
        let journal = File::create(&journal_path)
            .and_then(|f| f.sync_all().map(|()| f))
            .map_err(io_error("creating the journal"))?;
        let tmp = self.dir.join("snapshot.tmp");
        File::create(&tmp)
            .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
            .map_err(io_error("writing the snapshot"))?;
        sync_dir(&self.dir)?;
        fs::rename(&tmp, self.dir.join("snapshot")).map_err(io_error("renaming the snapshot"))?;
        sync_dir(&self.dir)?;
        // The snapshot of `generation` is durable: older journals are no
        // longer read.
        let entries = fs::read_dir(&self.dir).map_err(io_error("listing the state"))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("journal-") && *name != *format!("journal-{generation}") {
                fs::remove_file(entry.path()).map_err(io_error("removing an old journal"))?;
            }
        }
        self.generation = generation;
        self.journal = Some(journal);
        self.journal_len = 0;
        Ok(())
    }

    fn run(mut self, mut queue: mpsc::Receiver<Commit>) {
        let mut batch: Vec<Commit> = Vec::with_capacity(MAX_BATCH);
        let mut bytes = Vec::new();
        while let Some(first) = queue.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(commit) => batch.push(commit),
                    Err(_) => break,
                }
            }
            let result = self.write_batch(&batch, &mut bytes);
            for commit in batch.drain(..) {
                let reply = match &result {
                    Ok(()) => Ok(()),
                    Err(_) => Err(StoreError::Poisoned),
                };
                // A requester that went away no longer needs the answer.
                let _ = commit.done.send(reply);
            }
        }
    }

    fn write_batch(&mut self, batch: &[Commit], bytes: &mut Vec<u8>) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let result = self.append(batch, bytes);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn append(&mut self, batch: &[Commit], bytes: &mut Vec<u8>) -> Result<(), StoreError> {
        bytes.clear();
        for commit in batch {
            encode_record(bytes, &commit.stored);
        }
        let journal = self.journal.as_mut().ok_or(StoreError::Stopped)?;
        journal
            .write_all(bytes)
            .and_then(|()| journal.sync_data())
            .map_err(io_error("appending to the journal"))?;
        self.journal_len += bytes.len() as u64;
        for commit in batch {
            self.state
                .insert(commit.origin.clone(), commit.stored.clone());
        }
        if self.journal_len > MAX_JOURNAL_BYTES {
            self.compact()?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
