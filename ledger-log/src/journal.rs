//! The log's durable record of what it issued: every checkpoint it signed,
//! and every witness cosignature it received for one, in an append-only
//! journal of checksummed records in the log's directory.
//!
//! # Layout
//!
//! - `journal`: [`JOURNAL_MAGIC`], then records
//!   `kind (u8) ‖ length (u32, big-endian) ‖ payload ‖ SHA-256(kind ‖ length ‖ payload)`:
//!   - kind 1, a checkpoint: the note signed by the log key, as encoded;
//!   - kind 2, a cosignature: `size (u64) ‖ key ID (u32) ‖ name length
//!     (u16) ‖ key name ‖ signature bytes`, for the checkpoint of that size.
//! - `lock`: held (`flock`) by the process that owns the directory.
//!
//! Created with the magic, fsynced, and the directory fsynced. Each append
//! is one `write` and one `fdatasync` before the call returns: a checkpoint
//! is durable before it is handed to anyone (witnesses included). After a
//! failed write or sync the journal is poisoned and refuses further appends
//! (what reached the disk is unknown; reopening re-reads it).
//!
//! # Recovery
//!
//! Opening reads the journal record by record (never more than
//! [`MAX_RECORD_BYTES`] at once) up to its first incomplete record or bad
//! checksum — a torn tail, which can hold only an append that never
//! returned — truncates it there and syncs. A record with a valid checksum
//! whose content is wrong (not signed by the log key, another origin, a
//! size that does not grow, a cosignature of a size never issued) is
//! corruption: a typed error, never a panic. Only the newest
//! [`MAX_RETAINED_CHECKPOINTS`] checkpoints are kept in memory.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};

use ledger_core::checkpoint::{Checkpoint, Note, NoteSignature, VerifierKey};
use sha2::{Digest as _, Sha256};

use crate::{MAX_COSIGNATURES_PER_CHECKPOINT, MAX_RECORD_BYTES, MAX_RETAINED_CHECKPOINTS};

/// The first bytes of a journal.
pub const JOURNAL_MAGIC: &[u8] = b"ledger-log checkpoints v1\n";

const KIND_CHECKPOINT: u8 = 1;
const KIND_COSIGNATURE: u8 = 2;
const HEADER_BYTES: usize = 5;
const CHECKSUM_BYTES: usize = 32;

/// Why the journal could not be opened or appended to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// An I/O error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// Another process holds the directory.
    #[error("the log directory {0} is in use by another process")]
    Locked(PathBuf),
    /// The file is not a journal (wrong magic).
    #[error("{0} is not a checkpoint journal")]
    NotAJournal(PathBuf),
    /// A record with a valid checksum says something impossible.
    #[error("corrupt journal record at byte {offset}: {reason}")]
    Corrupt {
        /// Where the record starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record to append is larger than [`MAX_RECORD_BYTES`].
    #[error("a record of {bytes} bytes is larger than the limit of {MAX_RECORD_BYTES}")]
    RecordTooLarge {
        /// The payload's size.
        bytes: usize,
    },
    /// A checkpoint to append is not signed by the log key, is of another
    /// origin, or does not grow the tree; or a cosignature is for a size
    /// not retained.
    #[error("refused: {0}")]
    Refused(String),
    /// An earlier append failed; the journal takes no more.
    #[error("an earlier write failed; the journal takes no more records")]
    Poisoned,
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> JournalError {
    let context = context.into();
    move |source| JournalError::Io { context, source }
}

/// A checkpoint the log issued, with the cosignatures received for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Its note, with the log's signature only.
    pub note: Note,
    /// Cosignatures received, at most one per key (name and key ID), at
    /// most [`MAX_COSIGNATURES_PER_CHECKPOINT`].
    pub cosignatures: Vec<NoteSignature>,
}

impl StoredCheckpoint {
    /// The note with the log's signature and every cosignature.
    pub fn cosigned_note(&self) -> Note {
        let mut note = self.note.clone();
        for signature in &self.cosignatures {
            // Bounded by MAX_COSIGNATURES_PER_CHECKPOINT + 1 signatures, within
            // MAX_NOTE_SIGNATURES; a refusal would only drop a line.
            let _ = note.add_signature(signature.clone());
        }
        note
    }

    fn has_cosignature_of(&self, signature: &NoteSignature) -> bool {
        self.cosignatures
            .iter()
            .any(|s| s.name() == signature.name() && s.key_id() == signature.key_id())
    }
}

/// The open journal.
#[derive(Debug)]
pub struct CheckpointJournal {
    dir: PathBuf,
    file: File,
    log_key: VerifierKey,
    retained: VecDeque<StoredCheckpoint>,
    dropped_tail_bytes: u64,
    poisoned: bool,
    _lock: File,
}

fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(format!("syncing {}", dir.display())))
}

impl CheckpointJournal {
    /// Opens (creating if need be) the journal in `dir` of the log whose
    /// verifier key is `log_key`, recovering its checkpoints and dropping a
    /// torn tail.
    ///
    /// # Errors
    /// I/O errors, a directory in use, or corruption.
    pub fn open(dir: &Path, log_key: &VerifierKey) -> Result<Self, JournalError> {
        fs::create_dir_all(dir).map_err(io_error(format!("creating {}", dir.display())))?;
        let lock = File::create(dir.join("lock")).map_err(io_error("creating the lock file"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(JournalError::Locked(dir.to_owned())),
            Err(fs::TryLockError::Error(e)) => return Err(io_error("locking")(e)),
        }
        let path = dir.join("journal");
        if !path.exists() {
            let tmp = dir.join("journal.tmp");
            File::create(&tmp)
                .and_then(|mut f| f.write_all(JOURNAL_MAGIC).and_then(|()| f.sync_all()))
                .map_err(io_error("creating the journal"))?;
            fs::rename(&tmp, &path).map_err(io_error("renaming the journal"))?;
            sync_dir(dir)?;
        }
        let mut journal = Self {
            dir: dir.to_owned(),
            file: OpenOptions::new()
                .read(true)
                .append(true)
                .open(&path)
                .map_err(io_error("opening the journal"))?,
            log_key: log_key.clone(),
            retained: VecDeque::new(),
            dropped_tail_bytes: 0,
            poisoned: false,
            _lock: lock,
        };
        journal.recover(&path)?;
        Ok(journal)
    }

    fn recover(&mut self, path: &Path) -> Result<(), JournalError> {
        let file_len = self
            .file
            .metadata()
            .map_err(io_error("reading the journal's length"))?
            .len();
        let mut reader = BufReader::new(File::open(path).map_err(io_error("reading the journal"))?);
        let mut magic = vec![0; JOURNAL_MAGIC.len()];
        if reader.read_exact(&mut magic).is_err() || magic != JOURNAL_MAGIC {
            return Err(JournalError::NotAJournal(path.to_owned()));
        }
        let mut offset = JOURNAL_MAGIC.len() as u64;
        while let Some((kind, payload)) = read_record(&mut reader)? {
            self.apply(kind, &payload)
                .map_err(|reason| JournalError::Corrupt { offset, reason })?;
            offset += (HEADER_BYTES + payload.len() + CHECKSUM_BYTES) as u64;
        }
        if offset < file_len {
            self.dropped_tail_bytes = file_len - offset;
            self.file
                .set_len(offset)
                .and_then(|()| self.file.sync_all())
                .map_err(io_error("dropping the journal's torn tail"))?;
        }
        Ok(())
    }

    /// Applies a record read back (or about to be written); the reason it
    /// is impossible otherwise.
    fn apply(&mut self, kind: u8, payload: &[u8]) -> Result<(), String> {
        match kind {
            KIND_CHECKPOINT => {
                let (checkpoint, note) = self.check_checkpoint(payload)?;
                if self.retained.len() == MAX_RETAINED_CHECKPOINTS {
                    self.retained.pop_front();
                }
                self.retained.push_back(StoredCheckpoint {
                    checkpoint,
                    note,
                    cosignatures: Vec::new(),
                });
                Ok(())
            }
            KIND_COSIGNATURE => {
                let (size, signature) = decode_cosignature(payload)?;
                let latest = self.latest().map_or(0, |c| c.checkpoint.size());
                if self.retained.is_empty() || size > latest {
                    return Err(format!("a cosignature of size {size}, never issued"));
                }
                if let Some(stored) = self.get_mut(size) {
                    if !stored.has_cosignature_of(&signature)
                        && stored.cosignatures.len() < MAX_COSIGNATURES_PER_CHECKPOINT
                    {
                        stored.cosignatures.push(signature);
                    }
                }
                Ok(())
            }
            other => Err(format!("unknown record kind {other}")),
        }
    }

    fn check_checkpoint(&self, payload: &[u8]) -> Result<(Checkpoint, Note), String> {
        let note = Note::parse(payload).map_err(|e| format!("checkpoint note: {e}"))?;
        let verified = note
            .verify_known(std::slice::from_ref(&self.log_key))
            .map_err(|e| format!("checkpoint signature: {e}"))?;
        if !verified.iter().any(|v| v.key_index == 0) || note.signatures().len() != 1 {
            return Err("a checkpoint not signed (only) by the log key".into());
        }
        let checkpoint =
            Checkpoint::parse(note.text().as_bytes()).map_err(|e| format!("checkpoint: {e}"))?;
        if checkpoint.origin() != self.log_key.name() {
            return Err(format!("origin {:?} is not the log's", checkpoint.origin()));
        }
        if let Some(latest) = self.latest() {
            if checkpoint.size() <= latest.checkpoint.size() {
                return Err(format!(
                    "size {} after size {}",
                    checkpoint.size(),
                    latest.checkpoint.size()
                ));
            }
        }
        Ok((checkpoint, note))
    }

    /// Appends a checkpoint note signed by the log key; returns once it is
    /// durable.
    ///
    /// # Errors
    /// The note is refused (see [`JournalError::Refused`]), too large, or
    /// the write failed (now or before).
    pub fn append_checkpoint(&mut self, note: &Note) -> Result<(), JournalError> {
        let payload = note.encode().into_bytes();
        self.check_checkpoint(&payload)
            .map_err(JournalError::Refused)?;
        self.append(KIND_CHECKPOINT, &payload)
    }

    /// Appends a cosignature of the checkpoint of `size` (already verified
    /// by the caller with the witness's key); returns `false`, writing
    /// nothing, if that checkpoint already has one by the same key or is no
    /// longer retained, or has [`MAX_COSIGNATURES_PER_CHECKPOINT`].
    ///
    /// # Errors
    /// No checkpoint of that size was issued, or the write failed.
    pub fn append_cosignature(
        &mut self,
        size: u64,
        signature: &NoteSignature,
    ) -> Result<bool, JournalError> {
        let Some(stored) = self.get(size) else {
            return match self.latest() {
                Some(latest) if size < latest.checkpoint.size() => Ok(false),
                _ => Err(JournalError::Refused(format!(
                    "no checkpoint of size {size}"
                ))),
            };
        };
        if stored.has_cosignature_of(signature)
            || stored.cosignatures.len() >= MAX_COSIGNATURES_PER_CHECKPOINT
        {
            return Ok(false);
        }
        self.append(KIND_COSIGNATURE, &encode_cosignature(size, signature))?;
        Ok(true)
    }

    fn append(&mut self, kind: u8, payload: &[u8]) -> Result<(), JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        let record = encode_record(kind, payload)?;
        let written = self
            .file
            .write_all(&record)
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            self.poisoned = true;
            return Err(JournalError::Io {
                context: format!("appending to {}", self.dir.join("journal").display()),
                source,
            });
        }
        // Checked before the write: applying cannot fail now.
        self.apply(kind, payload).map_err(JournalError::Refused)
    }

    /// The newest checkpoint.
    pub fn latest(&self) -> Option<&StoredCheckpoint> {
        self.retained.back()
    }

    /// The retained checkpoint of `size`.
    pub fn get(&self, size: u64) -> Option<&StoredCheckpoint> {
        self.retained.iter().find(|c| c.checkpoint.size() == size)
    }

    fn get_mut(&mut self, size: u64) -> Option<&mut StoredCheckpoint> {
        self.retained
            .iter_mut()
            .find(|c| c.checkpoint.size() == size)
    }

    /// The retained checkpoints, oldest first.
    pub fn checkpoints(&self) -> impl DoubleEndedIterator<Item = &StoredCheckpoint> {
        self.retained.iter()
    }

    /// Bytes of torn tail dropped when the journal was opened.
    pub fn dropped_tail_bytes(&self) -> u64 {
        self.dropped_tail_bytes
    }
}

fn encode_record(kind: u8, payload: &[u8]) -> Result<Vec<u8>, JournalError> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&len| len as usize <= MAX_RECORD_BYTES)
        .ok_or(JournalError::RecordTooLarge {
            bytes: payload.len(),
        })?;
    let mut record = Vec::with_capacity(HEADER_BYTES + payload.len() + CHECKSUM_BYTES);
    record.push(kind);
    record.extend_from_slice(&len.to_be_bytes());
    record.extend_from_slice(payload);
    let checksum = Sha256::digest(&record);
    record.extend_from_slice(&checksum);
    Ok(record)
}

/// Reads the next record: its kind and payload, or `None` at the end or at
/// an incomplete or corrupt record (a torn tail). Allocates at most
/// [`MAX_RECORD_BYTES`] plus the header and checksum.
fn read_record(reader: &mut impl io::Read) -> Result<Option<(u8, Vec<u8>)>, JournalError> {
    let mut header = [0u8; HEADER_BYTES];
    if !read_full(reader, &mut header)? {
        return Ok(None);
    }
    let [kind, l0, l1, l2, l3] = header;
    let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
    if len > MAX_RECORD_BYTES {
        return Ok(None);
    }
    let mut rest = vec![0u8; len + CHECKSUM_BYTES];
    if !read_full(reader, &mut rest)? {
        return Ok(None);
    }
    let (payload, checksum) = rest.split_at(len);
    let expected = Sha256::new()
        .chain_update(header)
        .chain_update(payload)
        .finalize();
    if expected.as_slice() != checksum {
        return Ok(None);
    }
    rest.truncate(len);
    Ok(Some((kind, rest)))
}

/// Fills `buf`; `false` if the input ends first.
fn read_full(reader: &mut impl io::Read, buf: &mut [u8]) -> Result<bool, JournalError> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(io_error("reading the journal")(e)),
    }
}

fn encode_cosignature(size: u64, signature: &NoteSignature) -> Vec<u8> {
    let name = signature.name().as_bytes();
    let mut out = Vec::with_capacity(14 + name.len() + signature.signature().len());
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&signature.key_id().to_be_bytes());
    // Key names are at most MAX_KEY_NAME_BYTES, far below u16::MAX.
    out.extend_from_slice(&(name.len() as u16).to_be_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(signature.signature());
    out
}

fn decode_cosignature(payload: &[u8]) -> Result<(u64, NoteSignature), String> {
    let too_short = || "a cosignature record too short".to_owned();
    let size = payload.get(..8).ok_or_else(too_short)?;
    let key_id = payload.get(8..12).ok_or_else(too_short)?;
    let name_len = payload.get(12..14).ok_or_else(too_short)?;
    let name_len = u16::from_be_bytes([name_len[0], name_len[1]]) as usize;
    let name = payload.get(14..14 + name_len).ok_or_else(too_short)?;
    let signature = payload.get(14 + name_len..).ok_or_else(too_short)?;
    let name = std::str::from_utf8(name).map_err(|_| "a key name not UTF-8".to_owned())?;
    let mut size_bytes = [0u8; 8];
    size_bytes.copy_from_slice(size);
    let key_id = u32::from_be_bytes([key_id[0], key_id[1], key_id[2], key_id[3]]);
    let signature = NoteSignature::new(name, key_id, signature.to_vec())
        .map_err(|e| format!("a cosignature: {e}"))?;
    Ok((u64::from_be_bytes(size_bytes), signature))
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
