//! `notary`: anchor a document's hash with the signer and the block's
//! timestamp, forever; anyone can later look it up with a proof.
//!
//! Payload: the document's 32-byte hash (of whatever hash function the
//! document's owner uses; the ledger does not read documents). State: one
//! key per document, `b"notary:" ‖ document hash` → signer (32) ‖ timestamp
//! in milliseconds (u64 LE) ‖ height (u64 LE) ‖ anchoring transaction id
//! (32). The first anchor wins; anchoring an anchored hash fails, so a record
//! can never be rewritten.
//!
//! **Limits.** The payload is exactly [`PAYLOAD_BYTES`] bytes and an anchor
//! exactly [`ANCHOR_BYTES`]: both have fixed fields only, so their encoders
//! cannot fail, and `decode(encode(v)) == v`, `encode(decode(b)) == b`
//! (tested by proptest in `tests/payload_roundtrip.rs`, and fuzzed by
//! `fuzz/fuzz_targets/decode_notary_payload.rs`).
//!
//! **Keys.** The payload names no key. The signer an anchor records is the
//! transaction's sender, accepted by its signature under the ZIP-215 rule,
//! which also accepts small-order keys that "sign" anything. An anchor's
//! signer must mean someone, so a sender that is not a strict key
//! ([`PublicKey::check_strict`]: canonical, on the curve, prime order) is
//! refused with [`INVALID_KEY`] and nothing is anchored.

#![deny(clippy::indexing_slicing)]

use bytes::Bytes;
use ledger_core::machine::{Failure, StateAccess, StateMachine, TxContext};
use ledger_core::{Hash, PublicKey};

/// Bytes of a notary payload: the document's hash.
pub const PAYLOAD_BYTES: usize = 32;

/// The payload that anchors `document`.
pub fn encode_payload(document: &Hash) -> Bytes {
    Bytes::copy_from_slice(document.as_bytes())
}

/// Strict decoding of a payload: exactly [`PAYLOAD_BYTES`] bytes.
pub fn decode_payload(payload: &[u8]) -> Option<Hash> {
    <[u8; PAYLOAD_BYTES]>::try_from(payload).ok().map(Hash)
}

/// Failure code: the payload is not a 32-byte document hash.
pub const MALFORMED_PAYLOAD: u32 = 1;
/// Failure code: the document was anchored before.
pub const ALREADY_ANCHORED: u32 = 2;
/// Failure code: the sender is not a strict key (small order, a torsion
/// component, or not canonical), so it would not identify a signer.
pub const INVALID_KEY: u32 = 3;

/// An anchored document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// Who anchored it.
    pub signer: PublicKey,
    /// The block timestamp when it was anchored (ms since the epoch).
    pub timestamp_ms: u64,
    /// The block height when it was anchored.
    pub height: u64,
    /// The anchoring transaction.
    pub tx_id: Hash,
}

/// Bytes of a stored anchor.
pub const ANCHOR_BYTES: usize = 32 + 8 + 8 + 32;

impl Anchor {
    /// The stored encoding.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(ANCHOR_BYTES);
        out.extend_from_slice(&self.signer.0);
        out.extend_from_slice(&self.timestamp_ms.to_le_bytes());
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(self.tx_id.as_bytes());
        Bytes::from(out)
    }

    /// Strict decoding of a stored anchor.
    pub fn decode(bytes: &[u8]) -> Option<Anchor> {
        let bytes: &[u8; ANCHOR_BYTES] = bytes.try_into().ok()?;
        let (signer, rest) = bytes.split_first_chunk::<32>()?;
        let (timestamp, rest) = rest.split_first_chunk::<8>()?;
        let (height, rest) = rest.split_first_chunk::<8>()?;
        let tx_id: &[u8; 32] = rest.try_into().ok()?;
        Some(Anchor {
            signer: PublicKey(*signer),
            timestamp_ms: u64::from_le_bytes(*timestamp),
            height: u64::from_le_bytes(*height),
            tx_id: Hash(*tx_id),
        })
    }
}

/// The state key of a document's anchor.
pub fn anchor_key(document: &Hash) -> Vec<u8> {
    [b"notary:".as_slice(), document.as_bytes()].concat()
}

/// The notary application.
#[derive(Clone, Copy, Debug, Default)]
pub struct Notary;

impl StateMachine for Notary {
    fn execute(&self, context: &TxContext<'_>, state: &mut dyn StateAccess) -> Result<(), Failure> {
        let document = decode_payload(context.tx.payload())
            .ok_or_else(|| Failure::new(MALFORMED_PAYLOAD, "payload is not a 32-byte hash"))?;
        context.tx.sender().check_strict().map_err(|error| {
            Failure::new(INVALID_KEY, format!("the signer's key is refused: {error}"))
        })?;
        let key = anchor_key(&document);
        if state.get(&key)?.is_some() {
            return Err(Failure::new(ALREADY_ANCHORED, "document already anchored"));
        }
        let anchor = Anchor {
            signer: *context.tx.sender(),
            timestamp_ms: context.timestamp_ms,
            height: context.height,
            tx_id: context.tx_id,
        };
        state.put(&key, anchor.encode().into())?;
        state.emit(b"anchored", document.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_roundtrip() {
        let anchor = Anchor {
            signer: PublicKey([1; 32]),
            timestamp_ms: 5,
            height: 6,
            tx_id: Hash([7; 32]),
        };
        let bytes = anchor.encode();
        assert_eq!(Anchor::decode(&bytes), Some(anchor));
        assert_eq!(Anchor::decode(&bytes[1..]), None);
    }
}
