//! Split-view evidence: two checkpoints signed by one log key, of one
//! origin and one tree size, with different root hashes. A log that signs
//! both has shown two histories to two audiences; the pair, each
//! signature checked, proves it to anyone with the log's verifier key.
//!
//! Only the log's signatures are checked; other lines (cosignatures) are
//! kept in the notes as they came, unverified.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger_core::checkpoint::{
    Checkpoint, CheckpointBodyError, Note, NoteError, SignatureType, VerifierKey,
};

/// Why two notes are not split-view evidence (the first reason found).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// The log key is not an Ed25519 note key.
    #[error("the log key is of type {0:?}, not an Ed25519 note key")]
    LogKeyType(SignatureType),
    /// A note is not a well-formed signed note.
    #[error("checkpoint {which}: malformed note: {error}")]
    MalformedNote {
        /// `A` or `B`.
        which: char,
        /// Why.
        error: NoteError,
    },
    /// A note's text is not a checkpoint.
    #[error("checkpoint {which}: malformed checkpoint: {error}")]
    MalformedCheckpoint {
        /// `A` or `B`.
        which: char,
        /// Why.
        error: CheckpointBodyError,
    },
    /// A note carries no signature by the log key, or one that does not
    /// verify.
    #[error("checkpoint {which} is not signed by the log key")]
    NotSigned {
        /// `A` or `B`.
        which: char,
    },
    /// A checkpoint's origin is not the log key's name.
    #[error("checkpoint {which} has origin {origin:?}, not the log key's name")]
    Origin {
        /// `A` or `B`.
        which: char,
        /// Its origin.
        origin: String,
    },
    /// The tree sizes differ (a smaller checkpoint inconsistent with a
    /// larger one is misbehaviour too, but needs a proof this type does not
    /// check).
    #[error("the tree sizes differ ({a} and {b})")]
    SizesDiffer {
        /// A's size.
        a: u64,
        /// B's size.
        b: u64,
    },
    /// Same size, same root: one view, not two.
    #[error("both checkpoints have the same root at size {size}: consistent")]
    SameRoot {
        /// The size.
        size: u64,
    },
}

/// Two verified checkpoints of one log, same origin and size, different
/// roots: proof that the log key signed a split view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitViewEvidence {
    log_key: VerifierKey,
    checkpoints: [Checkpoint; 2],
    notes: [Note; 2],
}

fn checked(
    log_key: &VerifierKey,
    which: char,
    bytes: &[u8],
) -> Result<(Checkpoint, Note), EvidenceError> {
    let note = Note::parse(bytes).map_err(|error| EvidenceError::MalformedNote { which, error })?;
    let verified = note
        .verify_known(std::slice::from_ref(log_key))
        .map_err(|_| EvidenceError::NotSigned { which })?;
    if !verified.iter().any(|v| v.key_index == 0) {
        return Err(EvidenceError::NotSigned { which });
    }
    let checkpoint = Checkpoint::parse(note.text().as_bytes())
        .map_err(|error| EvidenceError::MalformedCheckpoint { which, error })?;
    if checkpoint.origin() != log_key.name() {
        return Err(EvidenceError::Origin {
            which,
            origin: checkpoint.origin().to_owned(),
        });
    }
    Ok((checkpoint, note))
}

impl SplitViewEvidence {
    /// Checks two checkpoint notes against the log key: both signed by it,
    /// both of its origin, one size, two roots.
    ///
    /// # Errors
    /// Why they are not evidence.
    pub fn new(log_key: &VerifierKey, a: &[u8], b: &[u8]) -> Result<Self, EvidenceError> {
        if log_key.signature_type() != SignatureType::Ed25519 {
            return Err(EvidenceError::LogKeyType(log_key.signature_type()));
        }
        let (checkpoint_a, note_a) = checked(log_key, 'A', a)?;
        let (checkpoint_b, note_b) = checked(log_key, 'B', b)?;
        let (size_a, size_b) = (checkpoint_a.size(), checkpoint_b.size());
        if size_a != size_b {
            return Err(EvidenceError::SizesDiffer {
                a: size_a,
                b: size_b,
            });
        }
        if checkpoint_a.root_hash() == checkpoint_b.root_hash() {
            return Err(EvidenceError::SameRoot { size: size_a });
        }
        Ok(Self {
            log_key: log_key.clone(),
            checkpoints: [checkpoint_a, checkpoint_b],
            notes: [note_a, note_b],
        })
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        self.log_key.name()
    }

    /// The tree size both checkpoints claim.
    pub fn size(&self) -> u64 {
        self.checkpoints[0].size()
    }

    /// The two checkpoints, A then B.
    pub fn checkpoints(&self) -> &[Checkpoint; 2] {
        &self.checkpoints
    }

    /// The two notes, as given (A then B).
    pub fn notes(&self) -> &[Note; 2] {
        &self.notes
    }

    /// A human-readable report.
    pub fn to_text(&self) -> String {
        let [a, b] = &self.checkpoints;
        format!(
            "SPLIT VIEW: log {origin} signed two different trees of size {size}\n\
             log key: {key}\n\
             root A: {root_a}\n\
             root B: {root_b}\n\
             \n\
             checkpoint A:\n{note_a}\n\
             checkpoint B:\n{note_b}",
            origin = self.origin(),
            size = self.size(),
            key = self.log_key,
            root_a = BASE64.encode(a.root_hash()),
            root_b = BASE64.encode(b.root_hash()),
            note_a = self.notes[0].encode(),
            note_b = self.notes[1].encode(),
        )
    }

    /// A JSON object: `kind` (`"split-view"`), `origin`, `log_key`, `size`,
    /// `root_a`, `root_b` (base64) and `note_a`, `note_b` (the notes).
    pub fn to_json(&self) -> String {
        let [a, b] = &self.checkpoints;
        format!(
            "{{\"kind\":\"split-view\",\"origin\":{},\"log_key\":{},\"size\":{},\
             \"root_a\":{},\"root_b\":{},\"note_a\":{},\"note_b\":{}}}",
            json_string(self.origin()),
            json_string(&self.log_key.encode()),
            self.size(),
            json_string(&BASE64.encode(a.root_hash())),
            json_string(&BASE64.encode(b.root_hash())),
            json_string(&self.notes[0].encode()),
            json_string(&self.notes[1].encode()),
        )
    }
}

/// A JSON string literal (RFC 8259 escapes).
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
