//! Ed25519 checkpoint cosignatures, `cosignature/v1` of
//! c2sp.org/tlog-cosignature: a note signature of type `0x04` whose bytes
//! are `timestamp (u64, big-endian) ‖ Ed25519 signature (64 bytes)`, the
//! signature being over
//!
//! ```text
//! cosignature/v1
//! time <timestamp in decimal>
//! <the whole checkpoint text>
//! ```

use super::keys::{SignatureType, SignerKey, VerifierKey};
use super::note::{NoteError, NoteSignature};
use super::Checkpoint;

/// The header line of the signed message, the domain separation of
/// `cosignature/v1`.
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1";

/// The largest timestamp a cosignature may carry: 2^63 − 1.
pub const MAX_COSIGNATURE_TIMESTAMP: u64 = i64::MAX as u64;

/// Bytes of a `cosignature/v1` signature after the key ID: the timestamp
/// and the Ed25519 signature.
pub const COSIGNATURE_V1_BYTES: usize = 8 + 64;

/// A decoded `cosignature/v1` `timestamped_signature`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CosignatureV1 {
    /// When it was made, in POSIX seconds.
    pub timestamp: u64,
    /// The Ed25519 signature of [`cosignature_v1_message`].
    pub signature: [u8; 64],
}

impl CosignatureV1 {
    /// Decodes the 72 bytes that follow the key ID in the signature line;
    /// `None` if there are not exactly 72.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; COSIGNATURE_V1_BYTES] = bytes.try_into().ok()?;
        let (timestamp, signature) = bytes.split_at(8);
        Some(Self {
            timestamp: u64::from_be_bytes(timestamp.try_into().ok()?),
            signature: signature.try_into().ok()?,
        })
    }

    /// The 72 bytes that follow the key ID in the signature line.
    pub fn to_bytes(&self) -> [u8; COSIGNATURE_V1_BYTES] {
        let mut out = [0u8; COSIGNATURE_V1_BYTES];
        out[..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..].copy_from_slice(&self.signature);
        out
    }
}

/// The message a `cosignature/v1` signs: the header line, the timestamp
/// line, and the checkpoint text (final newline included, no signatures).
pub fn cosignature_v1_message(timestamp: u64, checkpoint_text: &str) -> Vec<u8> {
    format!("{COSIGNATURE_V1_HEADER}\ntime {timestamp}\n{checkpoint_text}").into_bytes()
}

/// Verifies a cosignature line's bytes by a `cosignature/v1` key over the
/// note text; its timestamp if it verifies.
pub(super) fn verify_cosignature_v1(
    key: &VerifierKey,
    text: &str,
    signature: &[u8],
) -> Result<u64, NoteError> {
    let cosignature =
        CosignatureV1::from_bytes(signature).ok_or_else(|| NoteError::InvalidSignature {
            name: key.name().to_owned(),
            key_id: key.key_id(),
        })?;
    if cosignature.timestamp > MAX_COSIGNATURE_TIMESTAMP {
        return Err(NoteError::TimestampOutOfRange {
            name: key.name().to_owned(),
            key_id: key.key_id(),
            timestamp: cosignature.timestamp,
        });
    }
    let message = cosignature_v1_message(cosignature.timestamp, text);
    if key.verify_ed25519(&message, &cosignature.signature) {
        Ok(cosignature.timestamp)
    } else {
        Err(NoteError::InvalidSignature {
            name: key.name().to_owned(),
            key_id: key.key_id(),
        })
    }
}

impl SignerKey {
    /// The `cosignature/v1` signature line of this witness key over a
    /// checkpoint text, made at `timestamp` (POSIX seconds).
    ///
    /// # Errors
    /// A key of another type, a timestamp above 2^63 − 1, or a text that is
    /// not a checkpoint.
    pub fn cosign(
        &self,
        checkpoint_text: &str,
        timestamp: u64,
    ) -> Result<NoteSignature, NoteError> {
        if self.signature_type() != SignatureType::CosignatureV1 {
            return Err(NoteError::WrongKeyType {
                name: self.name().to_owned(),
                expected: SignatureType::CosignatureV1,
                found: self.signature_type(),
            });
        }
        if timestamp > MAX_COSIGNATURE_TIMESTAMP {
            return Err(NoteError::TimestampOutOfRange {
                name: self.name().to_owned(),
                key_id: self.key_id(),
                timestamp,
            });
        }
        Checkpoint::parse(checkpoint_text.as_bytes())
            .map_err(|e| NoteError::NotACheckpoint(Box::new(e)))?;
        let signature = self.sign_ed25519(&cosignature_v1_message(timestamp, checkpoint_text));
        let bytes = CosignatureV1 {
            timestamp,
            signature,
        }
        .to_bytes();
        NoteSignature::new(self.name(), self.key_id(), bytes.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;

    use super::*;
    use crate::checkpoint::Note;

    const SOFA: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn spec_signed_message_example() {
        // c2sp.org/tlog-cosignature, "Ed25519 signed message".
        let want = "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(cosignature_v1_message(1_679_315_147, SOFA), want.as_bytes());
    }

    #[test]
    fn spec_example_cosignature_line_decodes() {
        // c2sp.org/tlog-cosignature's example note (the witness's public key
        // is not published, so only its structure is checked).
        let note = format!(
            "{SOFA}\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
        );
        let note = Note::parse(note.as_bytes()).unwrap();
        let line = &note.signatures()[1];
        assert_eq!(line.name(), "witness.example.com/w1");
        assert_eq!(line.key_id(), 0x8d66_cf3f);
        let cosignature = CosignatureV1::from_bytes(line.signature()).unwrap();
        assert_eq!(cosignature.timestamp, 1_679_315_147);
        assert_eq!(cosignature.to_bytes().as_slice(), line.signature());
        // transparency-dev/formats' timestamp vector.
        let bytes = BASE64
            .decode("ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==")
            .unwrap();
        assert_eq!(
            CosignatureV1::from_bytes(&bytes[4..]).unwrap().timestamp,
            1_727_964_367
        );
        assert_eq!(CosignatureV1::from_bytes(&bytes[5..]), None);
    }

    fn witness() -> SignerKey {
        SignerKey::new("witness.example/w1", SignatureType::CosignatureV1, &[4; 32]).unwrap()
    }

    #[test]
    fn cosign_then_verify_and_tamper() {
        let key = witness();
        let vkey = key.verifier_key();
        let line = key.cosign(SOFA, 1_700_000_000).unwrap();
        assert_eq!(line.key_id(), vkey.key_id());
        assert_eq!(
            verify_cosignature_v1(&vkey, SOFA, line.signature()),
            Ok(1_700_000_000)
        );
        // Another time, another text, another length: refused.
        let mut bytes = line.signature().to_vec();
        bytes[7] ^= 1;
        assert!(verify_cosignature_v1(&vkey, SOFA, &bytes).is_err());
        let other = SOFA.replace("20852163", "20852164");
        assert!(verify_cosignature_v1(&vkey, &other, line.signature()).is_err());
        assert!(verify_cosignature_v1(&vkey, SOFA, &line.signature()[1..]).is_err());
        // The Ed25519 signature alone is over the message, not the text.
        let plain = CosignatureV1::from_bytes(line.signature()).unwrap();
        assert!(vkey.verify_ed25519(
            &cosignature_v1_message(1_700_000_000, SOFA),
            &plain.signature
        ));
        assert!(!vkey.verify_ed25519(SOFA.as_bytes(), &plain.signature));
    }

    #[test]
    fn timestamp_boundary() {
        let key = witness();
        assert!(key.cosign(SOFA, MAX_COSIGNATURE_TIMESTAMP).is_ok());
        assert!(matches!(
            key.cosign(SOFA, MAX_COSIGNATURE_TIMESTAMP + 1),
            Err(NoteError::TimestampOutOfRange { .. })
        ));
        // A line claiming 2^63 is refused before its signature is looked at.
        let mut bytes = key.cosign(SOFA, 0).unwrap().signature().to_vec();
        bytes[..8].copy_from_slice(&(MAX_COSIGNATURE_TIMESTAMP + 1).to_be_bytes());
        assert!(matches!(
            verify_cosignature_v1(&key.verifier_key(), SOFA, &bytes),
            Err(NoteError::TimestampOutOfRange { .. })
        ));
    }

    #[test]
    fn cosign_refuses_wrong_type_and_non_checkpoints() {
        let log = SignerKey::new("log", SignatureType::Ed25519, &[4; 32]).unwrap();
        assert!(matches!(
            log.cosign(SOFA, 1),
            Err(NoteError::WrongKeyType { .. })
        ));
        assert!(matches!(
            witness().sign_note(SOFA),
            Err(NoteError::WrongKeyType { .. })
        ));
        assert!(matches!(
            witness().cosign("just text\n", 1),
            Err(NoteError::NotACheckpoint(_))
        ));
    }
}
