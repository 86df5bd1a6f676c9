//! Where keys live in the state tree: 256-bit positions, one namespace for
//! the engine's nonces and one for application keys, so that no application
//! key can land on a nonce and light clients can prove both.

use crate::hash::{hash_parts, Domain, Hash};
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

#[cfg(test)]
mod tests {
    use super::*;

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
