//! Keys and signatures as they travel: raw bytes, not yet known to be
//! curve points. Whether a signature is valid is the verification stage's
//! business ([`crate::verify`]); whether a key from a payload may be
//! recorded is [`PublicKey::check_strict`]'s.

use ed25519_dalek::SigningKey;

/// Length of an ed25519 public key, in bytes.
pub const PUBLIC_KEY_BYTES: usize = 32;
/// Length of an ed25519 signature, in bytes.
pub const SIGNATURE_BYTES: usize = 64;

/// An ed25519 public key as it travels: 32 bytes, not yet known to be a curve
/// point. Signature verification decides whether it is acceptable.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; PUBLIC_KEY_BYTES]);

impl PublicKey {
    /// The public key of a signing key.
    pub fn from_signing_key(key: &SigningKey) -> Self {
        PublicKey(key.verifying_key().to_bytes())
    }

    /// Checks that these bytes are a key only its owner can sign for: the
    /// canonical encoding of a curve point in the prime-order subgroup.
    ///
    /// Signature verification follows ZIP-215, which must accept every
    /// encoding a peer might have signed with; but a key that an
    /// *application* records from a payload (a recipient, a custodian, a
    /// member) must be stricter. Under the cofactored rule a small-order key
    /// "signs" almost any message for anyone, a key with a torsion component
    /// is a second name for its owner's prime-order key, and a non-canonical
    /// encoding is a second spelling of another key. Applications call this
    /// before they store a key they did not get from a signature.
    ///
    /// The check costs a point decompression and a scalar multiplication
    /// (tens of microseconds); keys that passed are remembered in a small
    /// process-wide cache (8 MiB: about 100,000 keys, of which a working
    /// set of at least 50,000 stays cached), so a key checked
    /// again costs a hash lookup. The answer depends on the bytes alone, so
    /// the cache cannot change it.
    pub fn check_strict(&self) -> Result<(), KeyError> {
        if STRICT_KEYS.get(&self.0).is_some() {
            return Ok(());
        }
        self.check_strict_uncached()?;
        STRICT_KEYS.insert(self.0, Passed);
        Ok(())
    }

    fn check_strict_uncached(&self) -> Result<(), KeyError> {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        use curve25519_dalek::traits::IsIdentity;
        let point = CompressedEdwardsY(self.0)
            .decompress()
            .ok_or(KeyError::NotAPoint)?;
        if point.compress().0 != self.0 {
            return Err(KeyError::NotCanonical);
        }
        if point.mul_by_cofactor().is_identity() {
            return Err(KeyError::SmallOrder);
        }
        if !point.is_torsion_free() {
            return Err(KeyError::MixedOrder);
        }
        Ok(())
    }
}

/// Memory for the keys [`PublicKey::check_strict`] remembers as passed:
/// 8 MiB: about 100,000 keys at 83 bytes each, half of them in each of the
/// cache's two generations, so a working set of 50,000 parties stays
/// cached. At 1 MiB (6,000 keys a generation) the 10,000 donors of the
/// provenance benchmark missed often enough to double its CPU per
/// transaction: a miss costs a scalar multiplication (≈ 40 µs).
pub const STRICT_KEY_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// A key passed the strict check.
#[derive(Clone, Copy)]
struct Passed;

impl crate::cache::Weigh for Passed {
    fn heap_bytes(&self) -> usize {
        0
    }
}

static STRICT_KEYS: std::sync::LazyLock<crate::cache::TwoGenerationCache<[u8; 32], Passed>> =
    std::sync::LazyLock::new(|| crate::cache::TwoGenerationCache::new(STRICT_KEY_CACHE_BYTES));

/// Why [`PublicKey::check_strict`] refused a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes do not decode to a curve point.
    #[error("public key is not a curve point")]
    NotAPoint,
    /// The bytes decode, but are not the point's canonical encoding.
    #[error("public key is not canonically encoded")]
    NotCanonical,
    /// The point has small order (it lies in the 8-torsion subgroup):
    /// signatures by it verify for any message under the cofactored rule.
    #[error("public key has small order")]
    SmallOrder,
    /// The point has a torsion component: another name for a prime-order key.
    #[error("public key has a torsion component")]
    MixedOrder,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", crate::hash::to_hex(&self.0))
    }
}

/// An ed25519 signature as it travels: `R` (32 bytes) then `s` (32 bytes),
/// not yet checked in any way.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; SIGNATURE_BYTES]);

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({}…)", crate::hash::to_hex(&self.0[..8]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn strict_key_check() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        use curve25519_dalek::edwards::CompressedEdwardsY;
        // An honest key passes.
        assert_eq!(PublicKey::from_signing_key(&key(3)).check_strict(), Ok(()));
        // Every small-order point is refused (the identity included).
        for torsion in EIGHT_TORSION {
            let bytes = torsion.compress().0;
            assert_eq!(
                PublicKey(bytes).check_strict(),
                Err(KeyError::SmallOrder),
                "{bytes:?}"
            );
        }
        // An honest key plus a torsion point: a second name for its owner.
        let honest = CompressedEdwardsY(PublicKey::from_signing_key(&key(3)).0)
            .decompress()
            .unwrap();
        let mixed = (honest + EIGHT_TORSION[1]).compress().0;
        assert_eq!(PublicKey(mixed).check_strict(), Err(KeyError::MixedOrder));
        // y = p (non-canonical spelling of y = 0, a small-order point).
        let mut y_is_p = [0xffu8; 32];
        y_is_p[0] = 0xed;
        y_is_p[31] = 0x7f;
        assert_eq!(
            PublicKey(y_is_p).check_strict(),
            Err(KeyError::NotCanonical)
        );
        // y = p + 1: the identity's non-canonical spelling.
        let mut y_is_p1 = y_is_p;
        y_is_p1[0] = 0xee;
        assert_eq!(
            PublicKey(y_is_p1).check_strict(),
            Err(KeyError::NotCanonical)
        );
        // y = 2 is not on the curve.
        let mut two = [0u8; 32];
        two[0] = 2;
        assert_eq!(PublicKey(two).check_strict(), Err(KeyError::NotAPoint));
    }
}
