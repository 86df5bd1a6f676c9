//! The logs a witness co-signs for, and their keys.
//!
//! The logs file holds one verifier key (`vkey`, c2sp.org/signed-note) per
//! line: `<origin>+<key ID>+<base64(0x01 ‖ Ed25519 public key)>`. The key
//! name is the log's origin, as tlog-checkpoint requires. Several lines may
//! name the same origin (a log with several keys, say across a rotation);
//! blank lines and lines starting with `#` are ignored.

use std::collections::BTreeMap;

use ledger_core::checkpoint::{NoteKeyError, SignatureType, VerifierKey};

use crate::{MAX_LOGS, MAX_LOGS_FILE_BYTES};

/// Why a logs file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogsError {
    /// The file is larger than [`MAX_LOGS_FILE_BYTES`].
    #[error("logs file larger than {MAX_LOGS_FILE_BYTES} bytes")]
    TooLarge,
    /// The file is not UTF-8.
    #[error("logs file is not UTF-8")]
    NotUtf8,
    /// A line is not a verifier key.
    #[error("line {line}: {error}")]
    BadKey {
        /// The line number, from 1.
        line: usize,
        /// Why.
        error: NoteKeyError,
    },
    /// A key is not an Ed25519 note key (type `0x01`).
    #[error("line {line}: a log key must be an Ed25519 note key (type 0x01)")]
    KeyType {
        /// The line number, from 1.
        line: usize,
    },
    /// A key is listed twice.
    #[error("line {line}: key listed twice")]
    Duplicate {
        /// The line number, from 1.
        line: usize,
    },
    /// More than [`MAX_LOGS`] keys, or none.
    #[error("a logs file lists between 1 and {MAX_LOGS} keys")]
    Count,
}

/// The configured logs: each origin's trusted keys.
#[derive(Clone, Debug, Default)]
pub struct LogKeys {
    by_origin: BTreeMap<String, Vec<VerifierKey>>,
}

impl LogKeys {
    /// Parses a logs file.
    ///
    /// # Errors
    /// The first rule it breaks.
    pub fn parse(bytes: &[u8]) -> Result<Self, LogsError> {
        if bytes.len() > MAX_LOGS_FILE_BYTES {
            return Err(LogsError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| LogsError::NotUtf8)?;
        let mut keys = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = VerifierKey::parse(line).map_err(|error| LogsError::BadKey {
                line: line_no,
                error,
            })?;
            if key.signature_type() != SignatureType::Ed25519 {
                return Err(LogsError::KeyType { line: line_no });
            }
            if keys.contains(&key) {
                return Err(LogsError::Duplicate { line: line_no });
            }
            if keys.len() == MAX_LOGS {
                return Err(LogsError::Count);
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(LogsError::Count);
        }
        Ok(Self::from_keys(keys))
    }

    /// The logs of these keys, each under its key name as origin.
    pub fn from_keys(keys: impl IntoIterator<Item = VerifierKey>) -> Self {
        let mut by_origin: BTreeMap<String, Vec<VerifierKey>> = BTreeMap::new();
        for key in keys {
            by_origin
                .entry(key.name().to_owned())
                .or_default()
                .push(key);
        }
        Self { by_origin }
    }

    /// The trusted keys of an origin; `None` for an unknown origin.
    pub fn keys(&self, origin: &str) -> Option<&[VerifierKey]> {
        self.by_origin.get(origin).map(Vec::as_slice)
    }

    /// The configured origins, in order.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.by_origin.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::checkpoint::SignerKey;

    #[test]
    fn parses_keys_by_origin() {
        let a1 = SignerKey::new("log.example/a", SignatureType::Ed25519, &[1; 32]).unwrap();
        let a2 = SignerKey::new("log.example/a", SignatureType::Ed25519, &[2; 32]).unwrap();
        let b = SignerKey::new("log.example/b", SignatureType::Ed25519, &[3; 32]).unwrap();
        let file = format!(
            "# logs\n{}\n\n  {}  \n{}\n",
            a1.verifier_key(),
            a2.verifier_key(),
            b.verifier_key()
        );
        let logs = LogKeys::parse(file.as_bytes()).unwrap();
        assert_eq!(logs.keys("log.example/a").unwrap().len(), 2);
        assert_eq!(logs.keys("log.example/b").unwrap().len(), 1);
        assert!(logs.keys("log.example/c").is_none());
        assert_eq!(
            logs.origins().collect::<Vec<_>>(),
            ["log.example/a", "log.example/b"]
        );
    }

    #[test]
    fn refuses_bad_files() {
        let a = SignerKey::new("log.example/a", SignatureType::Ed25519, &[1; 32]).unwrap();
        let w = SignerKey::new("w", SignatureType::CosignatureV1, &[1; 32]).unwrap();
        assert!(matches!(LogKeys::parse(b""), Err(LogsError::Count)));
        assert!(matches!(
            LogKeys::parse(b"nonsense\n"),
            Err(LogsError::BadKey { line: 1, .. })
        ));
        assert!(matches!(
            LogKeys::parse(w.verifier_key().encode().as_bytes()),
            Err(LogsError::KeyType { line: 1 })
        ));
        let twice = format!("{0}\n{0}\n", a.verifier_key());
        assert!(matches!(
            LogKeys::parse(twice.as_bytes()),
            Err(LogsError::Duplicate { line: 2 })
        ));
        assert!(matches!(LogKeys::parse(&[0xff]), Err(LogsError::NotUtf8)));
    }
}
