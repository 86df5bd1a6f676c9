//! A bounded concurrent cache of decompressed public keys, so that a key
//! that signs in every block is decompressed (a square root in the field,
//! as dear as a third of a signature check in a batch) once, not per
//! signature.

use crate::cache::{CacheUsage, TwoGenerationCache};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};

/// Decompresses a public key as the rule reads it (non-canonical encodings
/// of the field element accepted).
pub(super) fn decompress_key(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    CompressedEdwardsY(*bytes).decompress()
}

/// Key bytes to the point they decode to (`None`: not a point).
type KeyMap = TwoGenerationCache<[u8; 32], Option<EdwardsPoint>>;

/// A bounded concurrent cache of decompressed public keys: the crate's
/// byte-bounded two-generation cache ([`TwoGenerationCache`]), so a key used
/// in every block stays and one unused for a generation is dropped. Keys that
/// do not decode are cached too (as `None`), so a key repeated in an invalid
/// block is not decompressed again.
pub struct KeyCache {
    /// `None` when caching is off.
    cache: Option<KeyMap>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("capacity_bytes", &self.usage().capacity_bytes)
            .finish_non_exhaustive()
    }
}

impl crate::cache::Weigh for EdwardsPoint {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl KeyCache {
    /// What one key is charged: the cache's own charge (every entry has
    /// the same size, a point or none, with no heap bytes).
    pub fn entry_bytes() -> usize {
        KeyMap::charge(&None)
    }

    /// A cache of about `entries` keys, bounded in bytes at `entries` ×
    /// [`KeyCache::entry_bytes`] (0 disables it).
    pub fn new(entries: usize) -> Self {
        KeyCache {
            cache: (entries > 0)
                .then(|| TwoGenerationCache::new(entries.saturating_mul(Self::entry_bytes()))),
        }
    }

    pub(super) fn get_or_decompress(&self, bytes: &[u8; 32]) -> Option<EdwardsPoint> {
        let Some(cache) = &self.cache else {
            return decompress_key(bytes);
        };
        if let Some(point) = cache.get(bytes) {
            return point;
        }
        // Decompressed outside any lock: it is the expensive part.
        let point = decompress_key(bytes);
        cache.insert(*bytes, point);
        point
    }

    /// The budget, what is held and how well it serves.
    pub fn usage(&self) -> CacheUsage {
        self.cache
            .as_ref()
            .map_or_else(CacheUsage::default, TwoGenerationCache::usage)
    }

    /// Keys held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.usage().entries
    }

    /// True if no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_charged_the_same() {
        let point = Some(curve25519_dalek::constants::ED25519_BASEPOINT_POINT);
        assert_eq!(KeyCache::entry_bytes(), KeyMap::charge(&point));
        assert!(KeyCache::entry_bytes() > 32);
    }

    #[test]
    fn held_bytes_stay_within_the_budget() {
        let cache = KeyCache::new(100);
        for i in 0..10_000u32 {
            let mut key = [0u8; 32];
            key[..4].copy_from_slice(&i.to_le_bytes());
            let _ = cache.get_or_decompress(&key);
            let usage = cache.usage();
            assert!(usage.held_bytes <= usage.capacity_bytes, "{usage:?}");
        }
        assert!(!cache.is_empty());
        assert!(cache.len() <= 100);
        assert!(KeyCache::new(0).is_empty());
    }
}
