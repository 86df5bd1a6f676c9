//! Signed notes (c2sp.org/signed-note): text, a blank line, and signature
//! lines `— <key name> base64(key ID ‖ signature)`; strict parsing,
//! encoding, signing and verification against a set of known keys.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::cosignature::verify_cosignature_v1;
use super::keys::{is_valid_key_name, SignatureType, SignerKey, VerifierKey};
use crate::limits::{MAX_NOTE_BYTES, MAX_NOTE_SIGNATURES};

/// What starts every signature line: an em dash (U+2014) and a space.
pub const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

/// What is wrong with one signature line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureLineFault {
    /// It does not start with an em dash and a space.
    MissingPrefix,
    /// There is no space between the key name and the signature.
    MissingSignature,
    /// The key name is empty or holds a Unicode space or `+`.
    InvalidKeyName,
    /// The signature is not canonical standard base64.
    BadBase64,
    /// The signature holds fewer than 5 bytes (a key ID and at least one
    /// signature byte).
    TooShort,
}

/// Why a note could not be parsed, built, signed or verified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is longer than [`MAX_NOTE_BYTES`].
    #[error("note of {len} bytes exceeds the limit of {MAX_NOTE_BYTES}")]
    TooLarge {
        /// Its length (or the length it would have), in bytes.
        len: usize,
    },
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8")]
    NotUtf8,
    /// The note holds an ASCII control character other than newline.
    #[error("control character at byte {offset}")]
    ControlCharacter {
        /// Its byte offset.
        offset: usize,
    },
    /// The text is empty or does not end in a newline.
    #[error("note text is empty or does not end in a newline")]
    TextNotTerminated,
    /// No blank line separates text from signatures.
    #[error("no blank line before the signatures")]
    NoSignatureBlock,
    /// The note has no signature lines.
    #[error("note has no signatures")]
    NoSignatures,
    /// The note has more than [`MAX_NOTE_SIGNATURES`] signature lines.
    #[error("more than {MAX_NOTE_SIGNATURES} signatures")]
    TooManySignatures,
    /// The signature block does not end in a newline.
    #[error("last signature line does not end in a newline")]
    UnterminatedSignatureLine,
    /// A signature line is malformed.
    #[error("signature line {index} is malformed: {fault:?}")]
    MalformedSignatureLine {
        /// Its position among the signature lines, from 0.
        index: usize,
        /// What is wrong with it.
        fault: SignatureLineFault,
    },
    /// A signature by a known key (name and key ID match) does not verify.
    #[error("signature by known key {name}+{key_id:08x} does not verify")]
    InvalidSignature {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
    },
    /// A cosignature by a known key carries a timestamp above 2^63 − 1.
    #[error("cosignature by {name}+{key_id:08x} has timestamp {timestamp} above 2^63-1")]
    TimestampOutOfRange {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
        /// The timestamp.
        timestamp: u64,
    },
    /// More than one of the given keys has this name and key ID.
    #[error("more than one known key is {name}+{key_id:08x}")]
    AmbiguousKey {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
    },
    /// No signature by any of the given keys is on the note.
    #[error("no signature by a known key")]
    NoVerifiedSignature,
    /// The key is of another signature type than the operation needs.
    #[error("key {name} is of type {found:?}, this needs {expected:?}")]
    WrongKeyType {
        /// The key name.
        name: String,
        /// The type the operation needs.
        expected: SignatureType,
        /// The key's type.
        found: SignatureType,
    },
    /// The text to cosign is not a checkpoint.
    #[error("cosigned text is not a checkpoint: {0}")]
    NotACheckpoint(Box<super::CheckpointBodyError>),
}

/// One signature line of a note: a key name, a key ID, and the signature
/// bytes that follow the key ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// A signature line of a key name, key ID and signature bytes.
    ///
    /// # Errors
    /// An invalid key name, or an empty signature.
    pub fn new(name: &str, key_id: u32, signature: Vec<u8>) -> Result<Self, NoteError> {
        let fault = if !is_valid_key_name(name) {
            Some(SignatureLineFault::InvalidKeyName)
        } else if signature.is_empty() {
            Some(SignatureLineFault::TooShort)
        } else {
            None
        };
        match fault {
            Some(fault) => Err(NoteError::MalformedSignatureLine { index: 0, fault }),
            None => Ok(Self {
                name: name.to_owned(),
                key_id,
                signature,
            }),
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key ID.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The signature line, newline included.
    pub fn line(&self) -> String {
        let mut bytes = Vec::with_capacity(4 + self.signature.len());
        bytes.extend_from_slice(&self.key_id.to_be_bytes());
        bytes.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(bytes)
        )
    }

    fn line_len(&self) -> usize {
        let base64_len = (4 + self.signature.len()).div_ceil(3) * 4;
        SIGNATURE_LINE_PREFIX.len() + self.name.len() + 1 + base64_len + 1
    }

    fn parse_line(index: usize, line: &str) -> Result<Self, NoteError> {
        let fail = |fault| NoteError::MalformedSignatureLine { index, fault };
        let rest = line
            .strip_prefix(SIGNATURE_LINE_PREFIX)
            .ok_or(fail(SignatureLineFault::MissingPrefix))?;
        let (name, encoded) = rest
            .split_once(' ')
            .ok_or(fail(SignatureLineFault::MissingSignature))?;
        if !is_valid_key_name(name) {
            return Err(fail(SignatureLineFault::InvalidKeyName));
        }
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| fail(SignatureLineFault::BadBase64))?;
        match bytes.as_slice() {
            [a, b, c, d, signature @ ..] if !signature.is_empty() => Ok(Self {
                name: name.to_owned(),
                key_id: u32::from_be_bytes([*a, *b, *c, *d]),
                signature: signature.to_vec(),
            }),
            _ => Err(fail(SignatureLineFault::TooShort)),
        }
    }
}

/// A signature on a note that verified under one of the known keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedSignature {
    /// Index of the key, in the slice of keys given to the verification.
    pub key_index: usize,
    /// The cosignature's timestamp (POSIX seconds), for `cosignature/v1`
    /// keys; `None` for plain Ed25519 note signatures.
    pub timestamp: Option<u64>,
}

/// A signed note: a text ending in a newline, and one or more signatures.
///
/// Every `Note` encodes to a note that [`Note::parse`] accepts: the limits
/// are checked when it is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// Checks the text rules shared by notes and checkpoint bodies: at most
/// [`MAX_NOTE_BYTES`], UTF-8, and no ASCII control character but newline.
pub(crate) fn check_note_bytes(bytes: &[u8]) -> Result<&str, NoteError> {
    if bytes.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge { len: bytes.len() });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| NoteError::NotUtf8)?;
    // UTF-8 continuation and lead bytes are >= 0x80: a byte below 0x20 is
    // always an ASCII control character.
    match bytes.iter().position(|&b| b < 0x20 && b != b'\n') {
        Some(offset) => Err(NoteError::ControlCharacter { offset }),
        None => Ok(text),
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    check_note_bytes(text.as_bytes())?;
    if text.ends_with('\n') {
        Ok(())
    } else {
        Err(NoteError::TextNotTerminated)
    }
}

impl Note {
    /// A note of a text and its signatures.
    ///
    /// # Errors
    /// A text that is not valid note text (UTF-8, no control character but
    /// newline, ending in a newline), no signatures, or a note beyond the
    /// limits.
    pub fn new(text: &str, signatures: Vec<NoteSignature>) -> Result<Self, NoteError> {
        check_text(text)?;
        if signatures.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let note = Self {
            text: text.to_owned(),
            signatures,
        };
        note.check_limits()?;
        Ok(note)
    }

    /// A note of `text` signed by `key`, an Ed25519 note key.
    ///
    /// # Errors
    /// As [`Note::new`] and [`SignerKey::sign_note`].
    pub fn sign(text: &str, key: &SignerKey) -> Result<Self, NoteError> {
        Self::new(text, vec![key.sign_note(text)?])
    }

    fn check_limits(&self) -> Result<(), NoteError> {
        if self.signatures.len() > MAX_NOTE_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        let len = self.encoded_len();
        if len > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge { len });
        }
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        let lines: usize = self.signatures.iter().map(NoteSignature::line_len).sum();
        self.text.len() + 1 + lines
    }

    /// Parses a signed note, strictly: the limits, UTF-8 without control
    /// characters but newline, the text separated from the signatures by the
    /// last blank line, and every signature line well formed. Nothing is
    /// verified.
    ///
    /// # Errors
    /// The first rule the bytes break.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        let note = check_note_bytes(bytes)?;
        let split = note.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let (text, block) = (&note[..=split], &note[split + 2..]);
        if block.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let block = block
            .strip_suffix('\n')
            .ok_or(NoteError::UnterminatedSignatureLine)?;
        let mut signatures = Vec::new();
        for (index, line) in block.split('\n').enumerate() {
            if index == MAX_NOTE_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(NoteSignature::parse_line(index, line)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature line at the end, replacing any line with the same
    /// key name and key ID (a re-signature by the same key).
    ///
    /// # Errors
    /// The note would exceed the limits; it is then unchanged.
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        let mut next = self.clone();
        next.signatures
            .retain(|s| (s.name.as_str(), s.key_id) != (signature.name.as_str(), signature.key_id));
        next.signatures.push(signature);
        next.check_limits()?;
        *self = next;
        Ok(())
    }

    /// The note in its text form.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.encoded_len());
        out.push_str(&self.text);
        out.push('\n');
        for signature in &self.signatures {
            out.push_str(&signature.line());
        }
        out
    }

    /// Verifies every signature by a known key (same name and key ID as one
    /// of `keys`) and ignores the others, as signed-note requires: a
    /// signature that shares only its name or only its key ID with a known
    /// key is another key's. The answer may be empty.
    ///
    /// # Errors
    /// A signature by a known key that does not verify, or a cosignature
    /// timestamp out of range (the whole note is then rejected), or two of
    /// `keys` with the name and key ID of a signature.
    pub fn verify_known(&self, keys: &[VerifierKey]) -> Result<Vec<VerifiedSignature>, NoteError> {
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        for line in &self.signatures {
            let mut matching = keys
                .iter()
                .enumerate()
                .filter(|(_, k)| k.key_id() == line.key_id && k.name() == line.name);
            let Some((key_index, key)) = matching.next() else {
                continue;
            };
            if matching.next().is_some() {
                return Err(NoteError::AmbiguousKey {
                    name: line.name.clone(),
                    key_id: line.key_id,
                });
            }
            let timestamp = verify_line(key, &self.text, line)?;
            // A repeated line by the same key is checked but counted once.
            if !verified.iter().any(|v| v.key_index == key_index) {
                verified.push(VerifiedSignature {
                    key_index,
                    timestamp,
                });
            }
        }
        Ok(verified)
    }

    /// As [`Note::verify_known`], and at least one known key must have
    /// signed (c2sp.org/signed-note: a note without a verified signature by
    /// a known key is rejected).
    ///
    /// # Errors
    /// As [`Note::verify_known`], or [`NoteError::NoVerifiedSignature`].
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Vec<VerifiedSignature>, NoteError> {
        let verified = self.verify_known(keys)?;
        if verified.is_empty() {
            return Err(NoteError::NoVerifiedSignature);
        }
        Ok(verified)
    }
}

/// Verifies one signature line by its key; the cosignature timestamp if it
/// is a cosignature.
fn verify_line(
    key: &VerifierKey,
    text: &str,
    line: &NoteSignature,
) -> Result<Option<u64>, NoteError> {
    let invalid = || NoteError::InvalidSignature {
        name: line.name.clone(),
        key_id: line.key_id,
    };
    match key.signature_type() {
        SignatureType::Ed25519 => {
            let signature: &[u8; 64] = line
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| invalid())?;
            if key.verify_ed25519(text.as_bytes(), signature) {
                Ok(None)
            } else {
                Err(invalid())
            }
        }
        SignatureType::CosignatureV1 => verify_cosignature_v1(key, text, &line.signature).map(Some),
    }
}

impl SignerKey {
    /// The signature line of this Ed25519 note key over `text`.
    ///
    /// # Errors
    /// A key of another type, or `text` that is not valid note text.
    pub fn sign_note(&self, text: &str) -> Result<NoteSignature, NoteError> {
        if self.signature_type() != SignatureType::Ed25519 {
            return Err(NoteError::WrongKeyType {
                name: self.name().to_owned(),
                expected: SignatureType::Ed25519,
                found: self.signature_type(),
            });
        }
        check_text(text)?;
        Ok(NoteSignature {
            name: self.name().to_owned(),
            key_id: self.key_id(),
            signature: self.sign_ed25519(text.as_bytes()).to_vec(),
        })
    }
}

#[cfg(test)]
#[path = "note_tests.rs"]
mod tests;
