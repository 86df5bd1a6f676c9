//! Signed, witnessed checkpoints in the C2SP formats, for offline
//! verification: pure functions of bytes and keys (no I/O, no threads, no
//! storage, no clock), so that they compile as they are to an offline
//! verifier.
//!
//! - [c2sp.org/signed-note](https://c2sp.org/signed-note): [`Note`],
//!   [`NoteSignature`], keys ([`VerifierKey`], [`SignerKey`],
//!   [`key_id`]).
//! - [c2sp.org/tlog-checkpoint](https://c2sp.org/tlog-checkpoint): the
//!   note text of a log's tree head, [`Checkpoint`].
//! - [c2sp.org/tlog-cosignature](https://c2sp.org/tlog-cosignature):
//!   Ed25519 `cosignature/v1` witness cosignatures ([`SignerKey::cosign`],
//!   [`CosignatureV1`], [`cosignature_v1_message`]).
//! - [c2sp.org/tlog-policy](https://c2sp.org/tlog-policy): which logs and
//!   witnesses to trust and the quorum, [`Policy`].
//!
//! [`verify_checkpoint`] puts them together: one call says whether a note
//! is a checkpoint signed by the log and cosigned by a quorum of the
//! policy's witnesses, or exactly why not.
//!
//! Every parser is strict, bounded by the named limits of
//! [`crate::limits`] (`MAX_NOTE_BYTES`, `MAX_NOTE_SIGNATURES`,
//! `MAX_KEY_NAME_BYTES`, `MAX_POLICY_*`) checked before what they bound is
//! allocated, and returns a typed error on any input, never panicking.
//! Ed25519 verification is strict (see [`VerifierKey`]).

mod body;
mod cosignature;
mod keys;
mod note;
mod policy;

pub use body::{Checkpoint, CheckpointBodyError};
pub use cosignature::{
    cosignature_v1_message, CosignatureV1, COSIGNATURE_V1_BYTES, COSIGNATURE_V1_HEADER,
    MAX_COSIGNATURE_TIMESTAMP,
};
pub use keys::{is_valid_key_name, key_id, NoteKeyError, SignatureType, SignerKey, VerifierKey};
pub use note::{
    Note, NoteError, NoteSignature, SignatureLineFault, VerifiedSignature, SIGNATURE_LINE_PREFIX,
};
pub use policy::{
    Policy, PolicyError, PolicyErrorKind, PolicyGroup, PolicyLog, PolicyRef, PolicyWitness,
    QuorumFailure,
};

/// Why a checkpoint did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The bytes are not a well-formed signed note.
    #[error("malformed note: {0}")]
    MalformedNote(NoteError),
    /// The note text is not a well-formed checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(CheckpointBodyError),
    /// The log key is not an Ed25519 note key (type `0x01`).
    #[error("the log key is of type {0:?}, not an Ed25519 note key")]
    LogKeyType(SignatureType),
    /// The policy lists logs, and the log key is not one of them.
    #[error("log {0} is not in the policy")]
    LogNotInPolicy(String),
    /// The checkpoint's origin is not the log key's name.
    #[error("origin {origin:?} is not the log key's name {log:?}")]
    OriginMismatch {
        /// The checkpoint's origin line.
        origin: String,
        /// The log key's name.
        log: String,
    },
    /// The log's signature is on the note but does not verify.
    #[error("the log's signature does not verify")]
    BadLogSignature,
    /// The note carries no signature by the log key. Lines with the log's
    /// name and another key ID (another key, say before a rotation) are
    /// ignored, as signed-note requires; they are counted here.
    #[error("no signature by the log key ({other_key_ids} line(s) by another key of that name)")]
    MissingLogSignature {
        /// Signature lines with the log key's name and another key ID.
        other_key_ids: usize,
    },
    /// A cosignature by one of the policy's witnesses does not verify (or
    /// has a timestamp above 2^63 − 1): the whole note is rejected.
    #[error("the cosignature of witness {witness:?} does not verify")]
    BadWitnessSignature {
        /// The witness's name in the policy.
        witness: String,
    },
    /// Two of the keys (log and witnesses) share a key name and key ID that
    /// a signature line names, so the line's key is ambiguous.
    #[error("ambiguous key {name}+{key_id:08x}")]
    AmbiguousKey {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
    },
    /// The verified cosignatures do not meet the policy's quorum.
    #[error(
        "quorum not met: {} has {} of the {} needed (missing: {})",
        .0.name, .0.satisfied, .0.required, .0.missing.join(", ")
    )]
    QuorumNotMet(QuorumFailure),
}

/// A witness's verified cosignature.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WitnessCosignature {
    /// The witness's index in [`Policy::witnesses`].
    pub witness: usize,
    /// The witness's name in the policy.
    pub name: String,
    /// When it cosigned, in POSIX seconds (not checked against any clock:
    /// a caller with one may refuse timestamps in the future).
    pub timestamp: u64,
}

/// A checkpoint that verified: signed by the log, cosigned by a quorum.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The note it came in.
    pub note: Note,
    /// The policy's witnesses whose cosignatures verified, in the order of
    /// their lines.
    pub cosignatures: Vec<WitnessCosignature>,
    /// Signature lines by keys neither the log's nor the policy's witnesses'
    /// (ignored, as signed-note requires).
    pub ignored_signatures: usize,
}

/// Verifies a signed checkpoint: `note` must be a well-formed signed note
/// whose text is a checkpoint with the log key's name as origin, carrying a
/// valid signature by `log_key` (which must be among the policy's logs, if
/// it lists any) and valid `cosignature/v1` cosignatures by enough of the
/// policy's witnesses to meet its quorum. Every signature line by the log
/// key or a policy witness must verify; lines by other keys are ignored.
///
/// # Errors
/// Exactly why not, as a [`CheckpointError`].
pub fn verify_checkpoint(
    note: &[u8],
    log_key: &VerifierKey,
    policy: &Policy,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    if log_key.signature_type() != SignatureType::Ed25519 {
        return Err(CheckpointError::LogKeyType(log_key.signature_type()));
    }
    if !policy.logs().is_empty() && !policy.has_log(log_key) {
        return Err(CheckpointError::LogNotInPolicy(log_key.encode()));
    }
    let note = Note::parse(note).map_err(CheckpointError::MalformedNote)?;
    let checkpoint =
        Checkpoint::parse(note.text().as_bytes()).map_err(CheckpointError::MalformedCheckpoint)?;
    if checkpoint.origin() != log_key.name() {
        return Err(CheckpointError::OriginMismatch {
            origin: checkpoint.origin().to_owned(),
            log: log_key.name().to_owned(),
        });
    }
    // Key 0 is the log's, key i + 1 the witness i's.
    let keys: Vec<VerifierKey> = std::iter::once(log_key.clone())
        .chain(policy.witnesses().iter().map(|w| w.key.clone()))
        .collect();
    let verified = note.verify_known(&keys).map_err(|error| match error {
        NoteError::InvalidSignature { name, key_id }
        | NoteError::TimestampOutOfRange { name, key_id, .. } => {
            match keys
                .iter()
                .position(|k| k.name() == name && k.key_id() == key_id)
            {
                Some(0) | None => CheckpointError::BadLogSignature,
                Some(i) => CheckpointError::BadWitnessSignature {
                    witness: witness_name(policy, i - 1),
                },
            }
        }
        NoteError::AmbiguousKey { name, key_id } => CheckpointError::AmbiguousKey { name, key_id },
        other => CheckpointError::MalformedNote(other),
    })?;
    if !verified.iter().any(|v| v.key_index == 0) {
        let other_key_ids = note
            .signatures()
            .iter()
            .filter(|s| s.name() == log_key.name() && s.key_id() != log_key.key_id())
            .count();
        return Err(CheckpointError::MissingLogSignature { other_key_ids });
    }
    let mut cosigned = vec![false; policy.witnesses().len()];
    let mut cosignatures = Vec::new();
    for v in &verified {
        let (Some(witness), Some(timestamp)) = (v.key_index.checked_sub(1), v.timestamp) else {
            continue;
        };
        if let Some(flag) = cosigned.get_mut(witness) {
            *flag = true;
        }
        cosignatures.push(WitnessCosignature {
            witness,
            name: witness_name(policy, witness),
            timestamp,
        });
    }
    policy
        .evaluate(&cosigned)
        .map_err(CheckpointError::QuorumNotMet)?;
    // Lines by the log or a witness that verified were counted once each;
    // every other line names a key outside the policy.
    let known = note
        .signatures()
        .iter()
        .filter(|s| {
            keys.iter()
                .any(|k| k.name() == s.name() && k.key_id() == s.key_id())
        })
        .count();
    Ok(VerifiedCheckpoint {
        ignored_signatures: note.signatures().len() - known,
        checkpoint,
        note,
        cosignatures,
    })
}

fn witness_name(policy: &Policy, index: usize) -> String {
    policy
        .witnesses()
        .get(index)
        .map(|w| String::from_utf8_lossy(&w.name).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
