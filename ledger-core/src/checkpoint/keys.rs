//! Keys of signed notes (c2sp.org/signed-note): key names, key IDs, verifier
//! keys (`vkey`s) and signer keys.
//!
//! A verifier key is the text `<name>+<key ID as 8 lowercase hex>+<base64(type
//! ‖ public key)>`. A signer key is the same with the prefix `PRIVATE+KEY+`
//! and the 32-byte Ed25519 seed in place of the public key; signed-note does
//! not define it, it is the form of the Go reference implementation
//! (`golang.org/x/mod/sumdb/note`) that the ecosystem's tools read and write,
//! and its key ID is still that of the public key.
//!
//! Two signature types are supported: Ed25519 note signatures (type `0x01`,
//! what a log signs its checkpoints with) and Ed25519 cosignatures
//! (`cosignature/v1`, type `0x04`, what witnesses sign with). A key's type is
//! part of its key ID, so the same key pair under two types has two IDs.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::limits::MAX_KEY_NAME_BYTES;

/// The signature types of c2sp.org/signed-note this module implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureType {
    /// Ed25519 over the note text (type byte `0x01`): a log's checkpoint
    /// signature.
    Ed25519,
    /// Timestamped Ed25519 checkpoint cosignature, `cosignature/v1` of
    /// c2sp.org/tlog-cosignature (type byte `0x04`): a witness's signature.
    CosignatureV1,
}

impl SignatureType {
    /// The type's identifier byte, hashed into key IDs and leading the key
    /// material of a verifier key.
    pub const fn byte(self) -> u8 {
        match self {
            Self::Ed25519 => 0x01,
            Self::CosignatureV1 => 0x04,
        }
    }

    /// The type of an identifier byte, if it is one this module implements.
    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(Self::Ed25519),
            0x04 => Some(Self::CosignatureV1),
            _ => None,
        }
    }
}

/// Why a key name, verifier key or signer key was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteKeyError {
    /// The key name is empty, or holds a Unicode space or a `+`.
    #[error("key name is empty or contains a space or '+'")]
    InvalidName,
    /// The key name is longer than [`MAX_KEY_NAME_BYTES`].
    #[error("key name of {len} bytes exceeds the limit of {MAX_KEY_NAME_BYTES}")]
    NameTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The key is not `name+keyid+base64` (or `PRIVATE+KEY+name+keyid+base64`).
    #[error("key is not of the form name+keyid+base64")]
    Malformed,
    /// The key ID is not exactly 8 lowercase hexadecimal digits.
    #[error("key ID is not 8 lowercase hexadecimal digits")]
    BadKeyIdHex,
    /// The key material is not canonical standard base64.
    #[error("key material is not canonical standard base64")]
    BadBase64,
    /// The key material is empty.
    #[error("key material is empty")]
    EmptyKeyMaterial,
    /// The signature type byte is not one this module implements.
    #[error("signature type 0x{0:02x} is not supported")]
    UnsupportedSignatureType(u8),
    /// The key (after the type byte) is not 32 bytes.
    #[error("key of {len} bytes, expected 32")]
    BadKeyLength {
        /// Its length in bytes.
        len: usize,
    },
    /// The public key does not decode to a curve point.
    #[error("public key is not an Ed25519 curve point")]
    InvalidPublicKey,
    /// The public key is of small order (a "weak" key, which verifies
    /// forged signatures under lax rules).
    #[error("public key is of small order")]
    WeakPublicKey,
    /// The key ID written in the key is not the one its name, type and key
    /// give.
    #[error("key ID {stated:08x} does not match the computed {computed:08x}")]
    KeyIdMismatch {
        /// The key ID as written.
        stated: u32,
        /// The key ID computed from name, type and public key.
        computed: u32,
    },
}

/// Whether `name` may name a key: non-empty, without Unicode spaces and
/// without `+` (c2sp.org/signed-note, "Format").
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '+')
}

/// The key ID of an Ed25519 public key under a name and signature type: the
/// first four bytes, big-endian, of SHA-256(name ‖ `\n` ‖ type byte ‖ key).
pub fn key_id(name: &str, signature_type: SignatureType, public_key: &[u8; 32]) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update(b"\n")
        .chain_update([signature_type.byte()])
        .chain_update(public_key)
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn check_name(name: &str) -> Result<(), NoteKeyError> {
    if !is_valid_key_name(name) {
        return Err(NoteKeyError::InvalidName);
    }
    if name.len() > MAX_KEY_NAME_BYTES {
        return Err(NoteKeyError::NameTooLong { len: name.len() });
    }
    Ok(())
}

/// Splits `name+keyid+base64` (the base64 may itself hold `+`), checks the
/// name and the key ID's form, and decodes the type byte and 32-byte key.
fn split_key(text: &str) -> Result<(&str, u32, SignatureType, [u8; 32]), NoteKeyError> {
    let (name, rest) = text.split_once('+').ok_or(NoteKeyError::Malformed)?;
    let (hex, material) = rest.split_once('+').ok_or(NoteKeyError::Malformed)?;
    check_name(name)?;
    let stated = parse_key_id_hex(hex)?;
    let bytes = BASE64
        .decode(material)
        .map_err(|_| NoteKeyError::BadBase64)?;
    let (&type_byte, key) = bytes.split_first().ok_or(NoteKeyError::EmptyKeyMaterial)?;
    let signature_type = SignatureType::from_byte(type_byte)
        .ok_or(NoteKeyError::UnsupportedSignatureType(type_byte))?;
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| NoteKeyError::BadKeyLength { len: key.len() })?;
    Ok((name, stated, signature_type, key))
}

fn parse_key_id_hex(hex: &str) -> Result<u32, NoteKeyError> {
    if hex.len() != 8 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(NoteKeyError::BadKeyIdHex);
    }
    u32::from_str_radix(hex, 16).map_err(|_| NoteKeyError::BadKeyIdHex)
}

fn check_key_id(stated: u32, computed: u32) -> Result<(), NoteKeyError> {
    if stated == computed {
        Ok(())
    } else {
        Err(NoteKeyError::KeyIdMismatch { stated, computed })
    }
}

/// A public key that verifies note signatures of one type under one name.
///
/// Its Ed25519 verification is strict (RFC 8032 with `s < ℓ`, the
/// cofactorless equation, and small-order keys and `R` refused: what
/// `ed25519_dalek::VerifyingKey::verify_strict` does); honest signers never
/// produce what it refuses beyond RFC 8032.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    signature_type: SignatureType,
    key: VerifyingKey,
}

impl VerifierKey {
    /// The verifier key of a name, type and 32-byte Ed25519 public key.
    ///
    /// # Errors
    /// An invalid or over-long name, a key that is not a curve point, or a
    /// small-order key.
    pub fn new(
        name: &str,
        signature_type: SignatureType,
        public_key: &[u8; 32],
    ) -> Result<Self, NoteKeyError> {
        check_name(name)?;
        let key =
            VerifyingKey::from_bytes(public_key).map_err(|_| NoteKeyError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(NoteKeyError::WeakPublicKey);
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, signature_type, public_key),
            signature_type,
            key,
        })
    }

    /// Parses a verifier key `name+keyid+base64(type ‖ public key)`.
    ///
    /// # Errors
    /// Any departure from the form, an unsupported type, a bad key, or a key
    /// ID that is not the one the name, type and key give.
    pub fn parse(vkey: &str) -> Result<Self, NoteKeyError> {
        let (name, stated, signature_type, public_key) = split_key(vkey)?;
        let key = Self::new(name, signature_type, &public_key)?;
        check_key_id(stated, key.key_id)?;
        Ok(key)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type.
    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The verifier key in its text form, `name+keyid+base64`.
    pub fn encode(&self) -> String {
        self.to_string()
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` by this
    /// key, under the strict rule.
    pub(crate) fn verify_ed25519(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.key.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = [0u8; 33];
        material[0] = self.signature_type.byte();
        material[1..].copy_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(material)
        )
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

/// A private key that signs notes of one type under one name.
///
/// Its `Debug` form shows the name and key ID only.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    key_id: u32,
    signature_type: SignatureType,
    key: SigningKey,
}

impl SignerKey {
    /// The signer key of a name, type and 32-byte Ed25519 seed (RFC 8032
    /// private key).
    ///
    /// # Errors
    /// An invalid or over-long name.
    pub fn new(
        name: &str,
        signature_type: SignatureType,
        seed: &[u8; 32],
    ) -> Result<Self, NoteKeyError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(seed);
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, signature_type, key.verifying_key().as_bytes()),
            signature_type,
            key,
        })
    }

    /// Parses a signer key `PRIVATE+KEY+name+keyid+base64(type ‖ seed)`,
    /// whose key ID is that of the public key.
    ///
    /// # Errors
    /// Any departure from the form, an unsupported type, or a key ID that is
    /// not the one the name, type and derived public key give.
    pub fn parse(skey: &str) -> Result<Self, NoteKeyError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteKeyError::Malformed)?;
        let (name, stated, signature_type, seed) = split_key(rest)?;
        let key = Self::new(name, signature_type, &seed)?;
        check_key_id(stated, key.key_id)?;
        Ok(key)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID (of the public key).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type.
    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    /// The matching verifier key.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            signature_type: self.signature_type,
            key: self.key.verifying_key(),
        }
    }

    /// The signer key in its text form, `PRIVATE+KEY+name+keyid+base64`.
    /// It holds the secret: keep it secret.
    pub fn encode(&self) -> String {
        let mut material = [0u8; 33];
        material[0] = self.signature_type.byte();
        material[1..].copy_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(material)
        )
    }

    /// The Ed25519 signature of `message` (deterministic, RFC 8032).
    pub(crate) fn sign_ed25519(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SignerKey({}+{:08x}, {:?})",
            self.name, self.key_id, self.signature_type
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// c2sp.org/signed-note, "Verifier keys", Example.
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

    #[test]
    fn spec_vkey_parses_and_its_key_id_is_the_hash_rule() {
        let key = VerifierKey::parse(SPEC_VKEY).unwrap();
        assert_eq!(key.name(), "example.com/foo");
        assert_eq!(key.key_id(), 0x530d_903a);
        assert_eq!(key.signature_type(), SignatureType::Ed25519);
        assert_eq!(
            key_id("example.com/foo", SignatureType::Ed25519, key.public_key()),
            0x530d_903a
        );
        assert_eq!(key.encode(), SPEC_VKEY);
    }

    #[test]
    fn go_reference_key_pair_known_answers() {
        // The Go reference implementation's test key pair
        // (golang.org/x/mod/sumdb/note), as the signed_note crate also uses.
        let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let signer = SignerKey::parse(skey).unwrap();
        assert_eq!(signer.key_id(), 0xc74f_20a3);
        assert_eq!(signer.encode(), skey);
        assert_eq!(signer.verifier_key().encode(), vkey);
        assert_eq!(VerifierKey::parse(vkey).unwrap(), signer.verifier_key());
        assert!(format!("{signer:?}").starts_with("SignerKey(PeterNeumann+c74f20a3"));
    }

    #[test]
    fn cosignature_v1_vkey_known_answer() {
        // A type-0x04 witness vkey from transparency-dev/formats' tests.
        let vkey = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";
        let key = VerifierKey::parse(vkey).unwrap();
        assert_eq!(key.signature_type(), SignatureType::CosignatureV1);
        assert_eq!(key.key_id(), 0xda77_ade7);
        assert_eq!(key.encode(), vkey);
        // The same public key as a type-0x01 key has another ID.
        let as_note_key = VerifierKey::new(key.name(), SignatureType::Ed25519, key.public_key());
        assert_ne!(as_note_key.unwrap().key_id(), key.key_id());
    }

    #[test]
    fn name_rules() {
        for bad in ["", "a b", "a+b", "a\tb", "a\u{a0}b", "a\u{2003}b", "a\nb"] {
            assert!(!is_valid_key_name(bad), "{bad:?}");
            assert_eq!(
                VerifierKey::new(bad, SignatureType::Ed25519, &[0x11; 32]).unwrap_err(),
                NoteKeyError::InvalidName
            );
        }
        assert!(is_valid_key_name("example.com/log-é"));
        let seed = [3; 32];
        let at_limit = "n".repeat(MAX_KEY_NAME_BYTES);
        assert!(SignerKey::new(&at_limit, SignatureType::Ed25519, &seed).is_ok());
        let over = "n".repeat(MAX_KEY_NAME_BYTES + 1);
        assert_eq!(
            SignerKey::new(&over, SignatureType::Ed25519, &seed).unwrap_err(),
            NoteKeyError::NameTooLong {
                len: MAX_KEY_NAME_BYTES + 1
            }
        );
    }

    #[test]
    fn malformed_vkeys_are_refused_with_their_reason() {
        use NoteKeyError as E;
        let cases: &[(&str, NoteKeyError)] = &[
            ("example.com/foo", E::Malformed),
            ("example.com/foo+530d903a", E::Malformed),
            (
                "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                E::InvalidName,
            ),
            (
                "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                E::BadKeyIdHex,
            ),
            (
                "example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                E::BadKeyIdHex,
            ),
            (
                "example.com/foo++30d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                E::BadKeyIdHex,
            ),
            (
                "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",
                E::BadBase64,
            ),
            ("example.com/foo+530d903a+AQ=", E::BadBase64),
            ("example.com/foo+530d903a+", E::EmptyKeyMaterial),
            (
                "example.com/foo+530d903a+AgEB",
                E::UnsupportedSignatureType(2),
            ),
            ("example.com/foo+530d903a+AQEB", E::BadKeyLength { len: 2 }),
            (
                "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                E::KeyIdMismatch {
                    stated: 0x530d_903b,
                    computed: 0x530d_903a,
                },
            ),
        ];
        for (vkey, want) in cases {
            assert_eq!(&VerifierKey::parse(vkey).unwrap_err(), want, "{vkey}");
        }
        // The identity point is of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            VerifierKey::new("n", SignatureType::Ed25519, &identity).unwrap_err(),
            E::WeakPublicKey
        );
        assert_eq!(
            SignerKey::parse("PRIVATE+KEY+PeterNeumann+c74f20a3").unwrap_err(),
            E::Malformed
        );
        assert_eq!(
            SignerKey::parse(SPEC_VKEY).unwrap_err(),
            E::Malformed,
            "a verifier key is not a signer key"
        );
    }

    #[test]
    fn signer_round_trips_and_signs_verifiably() {
        for signature_type in [SignatureType::Ed25519, SignatureType::CosignatureV1] {
            let signer = SignerKey::new("log.example/a", signature_type, &[9; 32]).unwrap();
            let parsed = SignerKey::parse(&signer.encode()).unwrap();
            assert_eq!(parsed.key_id(), signer.key_id());
            assert_eq!(parsed.signature_type(), signature_type);
            let vkey = signer.verifier_key();
            assert_eq!(VerifierKey::parse(&vkey.encode()).unwrap(), vkey);
            let signature = signer.sign_ed25519(b"message");
            assert!(vkey.verify_ed25519(b"message", &signature));
            assert!(!vkey.verify_ed25519(b"messagf", &signature));
        }
    }
}
