//! Where keys live in the state tree: 256-bit positions, one namespace for
//! the engine's nonces and one for application keys, so that no application
//! key can land on a nonce and light clients can prove both.

use std::sync::LazyLock;

use crate::hash::{hash_parts, Domain, Hash};
use crate::merkle::lanes;
use crate::types::PublicKey;

/// Namespace byte of the engine's per-sender nonces.
const NAMESPACE_NONCE: u8 = 0;
/// Namespace byte of application keys.
const NAMESPACE_APPLICATION: u8 = 1;

/// The position of an application key: `H_StateKey(0x01 ‖ key)`.
pub fn application_position(key: &[u8]) -> Hash {
    hash_parts(Domain::StateKey, &[&[NAMESPACE_APPLICATION], key])
}

/// The position of a sender's next nonce (`u64` little-endian; absent
/// means 0): `H_StateKey(0x00 ‖ public key)`.
pub fn nonce_position(sender: &PublicKey) -> Hash {
    hash_parts(Domain::StateKey, &[&[NAMESPACE_NONCE], &sender.0])
}

static STATE_KEY_WORDS: LazyLock<[u32; 8]> =
    LazyLock::new(|| lanes::key_words(Domain::StateKey.context_key()));

/// [`nonce_position`] of each sender, in bulk: every input (the namespace
/// byte and a 32-byte key) is one blake3 block, so they are compressed many
/// at a time ([`lanes::hash_each`]).
pub fn nonce_positions<'a>(senders: impl ExactSizeIterator<Item = &'a PublicKey>) -> Vec<Hash> {
    let keys: Vec<&[u8]> = senders.map(|sender| sender.0.as_slice()).collect();
    lanes::hash_each(&STATE_KEY_WORDS, &[NAMESPACE_NONCE], &keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_nonce_positions_equal_one_by_one() {
        let senders: Vec<PublicKey> = (0..=40u8)
            .map(|i| PublicKey([i.wrapping_mul(37); 32]))
            .collect();
        let bulk = nonce_positions(senders.iter());
        let single: Vec<Hash> = senders.iter().map(nonce_position).collect();
        assert_eq!(bulk, single);
        assert!(nonce_positions([].iter()).is_empty());
    }

    #[test]
    fn namespaces_keep_nonces_apart_from_application_keys() {
        let sender = PublicKey([9; 32]);
        assert_ne!(nonce_position(&sender), application_position(&sender.0));
        assert_eq!(
            application_position(b"k"),
            crate::hash::hash(Domain::StateKey, b"\x01k")
        );
    }
}
