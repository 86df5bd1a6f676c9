//! A bounded concurrent cache of decompressed public keys, so that a key
//! that signs in every block is decompressed (a square root in the field,
//! as dear as a third of a signature check in a batch) once, not per
//! signature.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use foldhash::HashMap;
use parking_lot::Mutex;

/// Decompresses a public key as the rule reads it (non-canonical encodings
/// of the field element accepted).
pub(super) fn decompress_key(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    CompressedEdwardsY(*bytes).decompress()
}

/// A bounded concurrent cache of decompressed public keys (two generations
/// per shard, like the state tree's node cache: a key used in every block
/// stays, one unused for a generation is dropped).
pub struct KeyCache {
    shards: Vec<Mutex<KeyShard>>,
    generation_entries: usize,
}

#[derive(Default)]
struct KeyShard {
    hot: HashMap<[u8; 32], Option<EdwardsPoint>>,
    cold: HashMap<[u8; 32], Option<EdwardsPoint>>,
}

const KEY_SHARDS: usize = 16;

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("generation_entries", &self.generation_entries)
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// A cache of at most about `entries` keys (0 disables it).
    pub fn new(entries: usize) -> Self {
        KeyCache {
            shards: (0..KEY_SHARDS)
                .map(|_| Mutex::new(KeyShard::default()))
                .collect(),
            generation_entries: entries / KEY_SHARDS / 2,
        }
    }

    pub(super) fn get_or_decompress(&self, bytes: &[u8; 32]) -> Option<EdwardsPoint> {
        if self.generation_entries == 0 {
            return decompress_key(bytes);
        }
        let shard = &self.shards[usize::from(bytes[0]) % KEY_SHARDS];
        {
            let mut shard = shard.lock();
            if let Some(point) = shard.hot.get(bytes) {
                return *point;
            }
            if let Some(point) = shard.cold.remove(bytes) {
                shard.hot.insert(*bytes, point);
                return point;
            }
        }
        // Decompress outside the lock: it is the expensive part.
        let point = decompress_key(bytes);
        let mut shard = shard.lock();
        shard.hot.insert(*bytes, point);
        if shard.hot.len() > self.generation_entries {
            shard.cold = std::mem::take(&mut shard.hot);
        }
        point
    }

    /// Keys held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let shard = shard.lock();
                shard.hot.len() + shard.cold.len()
            })
            .sum()
    }

    /// True if no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
