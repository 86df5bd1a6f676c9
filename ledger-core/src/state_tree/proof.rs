//! State proofs: membership and non-membership of a key against a state
//! root, their canonical encoding, and the pure verification function.
//!
//! A proof lists the sibling hashes on the key's path from the root down,
//! and ends in a *terminal*: the empty subtree where the key would be, or
//! the one leaf that occupies the key's path there (the key's own leaf for
//! membership, another key's for absence).
//!
//! Encoding: terminal tag (u8: 0 empty, 1 leaf), for a leaf its position
//! (32) and value hash (32); the sibling count (u16 LE, at most
//! [`MAX_STATE_PROOF_SIBLINGS`]); a bitmap of `ceil(count / 8)` bytes whose
//! bit `i` (least significant first) marks sibling `i` as the empty subtree;
//! then the non-empty siblings, 32 bytes each. Padding bits are zero and an
//! empty subtree is never written out, so every proof has one encoding.

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use bytes::Bytes;

use super::{interior_hash, key_bit, leaf_hash, value_hash, EMPTY_SUBTREE, KEY_BITS};
use crate::codec::{DecodeError, Limit, Reader};
use crate::hash::Hash;

/// Most siblings a state proof can have: one per key bit.
pub const MAX_STATE_PROOF_SIBLINGS: usize = KEY_BITS;

/// Where a proof's path ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofTerminal {
    /// The key's path ends in an empty subtree: the key is absent.
    Empty,
    /// The key's path ends at this leaf.
    Leaf {
        /// The leaf's position.
        position: Hash,
        /// The hash of the leaf's value.
        value_hash: Hash,
    },
}

/// A membership or non-membership proof for one key.
///
/// Held as it is encoded — a bitmap of the empty siblings and the non-empty
/// ones — so that decoding allocates no more than the bytes it was given
/// (an empty sibling costs one bit on the wire, and would cost 32 bytes as
/// a hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateProof {
    /// Siblings in all (at most [`MAX_STATE_PROOF_SIBLINGS`]).
    count: u16,
    /// Bit `i` (least significant first) set: sibling `i` is empty.
    empty: [u8; MAX_STATE_PROOF_SIBLINGS / 8],
    /// The non-empty siblings, root down.
    full: Vec<Hash>,
    terminal: ProofTerminal,
}

/// Why a state proof does not prove the claim.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateProofError {
    /// More siblings than a key has bits.
    #[error("state proof has {count} siblings, more than {MAX_STATE_PROOF_SIBLINGS}")]
    TooDeep {
        /// Sibling count.
        count: usize,
    },
    /// The proof is not in canonical form (it could not come from a tree).
    #[error("state proof is not canonical: {0}")]
    NotCanonical(&'static str),
    /// The terminal contradicts the claim (wrong value, other key for a
    /// claimed member, or a leaf off the key's path).
    #[error("state proof terminal does not match the claim: {0}")]
    TerminalMismatch(&'static str),
    /// The recomputed root differs from the expected root.
    #[error("state proof gives root {computed}, expected {expected}")]
    RootMismatch {
        /// The root the proof leads to.
        computed: Hash,
        /// The root it was checked against.
        expected: Hash,
    },
    /// The proof bytes are malformed.
    #[error("state proof bytes: {0}")]
    Decode(#[from] DecodeError),
}

impl StateProof {
    /// A proof from its siblings (root down; at most one per key bit, which
    /// a walk of the tree cannot exceed) and its terminal.
    pub(crate) fn new(siblings: Vec<Hash>, terminal: ProofTerminal) -> Self {
        let mut empty = [0u8; MAX_STATE_PROOF_SIBLINGS / 8];
        let mut full = Vec::with_capacity(siblings.len());
        for (index, sibling) in siblings.iter().take(MAX_STATE_PROOF_SIBLINGS).enumerate() {
            if *sibling == EMPTY_SUBTREE {
                if let Some(byte) = empty.get_mut(index / 8) {
                    *byte |= 1 << (index % 8);
                }
            } else {
                full.push(*sibling);
            }
        }
        let count = siblings.len().min(MAX_STATE_PROOF_SIBLINGS);
        StateProof {
            count: u16::try_from(count).unwrap_or(u16::MAX),
            empty,
            full,
            terminal,
        }
    }

    /// Number of siblings: the depth of the path.
    pub fn depth(&self) -> usize {
        usize::from(self.count)
    }

    fn is_empty_sibling(&self, index: usize) -> bool {
        self.empty
            .get(index / 8)
            .is_some_and(|byte| byte & (1 << (index % 8)) != 0)
    }

    /// Sibling hashes from the root down (empty ones as [`EMPTY_SUBTREE`]).
    pub fn siblings(&self) -> Vec<Hash> {
        let mut full = self.full.iter();
        (0..self.depth())
            .map(|index| {
                if self.is_empty_sibling(index) {
                    EMPTY_SUBTREE
                } else {
                    full.next().copied().unwrap_or(EMPTY_SUBTREE)
                }
            })
            .collect()
    }

    /// Where the path ends.
    pub fn terminal(&self) -> &ProofTerminal {
        &self.terminal
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.encoded_len());
        match &self.terminal {
            ProofTerminal::Empty => out.push(0),
            ProofTerminal::Leaf {
                position,
                value_hash,
            } => {
                out.push(1);
                out.extend_from_slice(position.as_bytes());
                out.extend_from_slice(value_hash.as_bytes());
            }
        }
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(self.empty.get(..self.depth().div_ceil(8)).unwrap_or(&[]));
        for sibling in &self.full {
            out.extend_from_slice(sibling.as_bytes());
        }
        Bytes::from(out)
    }

    /// Length of the encoding in bytes.
    pub fn encoded_len(&self) -> usize {
        let terminal: usize = match self.terminal {
            ProofTerminal::Empty => 1,
            ProofTerminal::Leaf { .. } => 65,
        };
        terminal
            .saturating_add(2)
            .saturating_add(self.depth().div_ceil(8))
            .saturating_add(self.full.len().saturating_mul(32))
    }

    /// Strict decoding: the count is checked against its limit and the
    /// remaining bytes before anything is allocated.
    pub fn decode(input: &Bytes) -> Result<Self, StateProofError> {
        let mut reader = Reader::new(input);
        let terminal = match reader.array::<1>()? {
            [0] => ProofTerminal::Empty,
            [1] => ProofTerminal::Leaf {
                position: Hash(reader.array()?),
                value_hash: Hash(reader.array()?),
            },
            _ => return Err(StateProofError::NotCanonical("unknown terminal tag")),
        };
        let count_offset = reader.offset();
        let count = usize::from(reader.u16()?);
        if count > MAX_STATE_PROOF_SIBLINGS {
            return Err(DecodeError::LimitExceeded {
                offset: count_offset,
                what: Limit::ProofHashes,
                value: count as u64,
                max: MAX_STATE_PROOF_SIBLINGS as u64,
            }
            .into());
        }
        let bitmap_len = count.div_ceil(8);
        reader.ensure(bitmap_len as u64)?;
        let mut bitmap = [0u8; MAX_STATE_PROOF_SIBLINGS / 8];
        for byte in bitmap.iter_mut().take(bitmap_len) {
            *byte = reader.array::<1>()?[0];
        }
        let is_empty = |index: usize| {
            bitmap
                .get(index / 8)
                .is_some_and(|byte| byte & (1 << (index % 8)) != 0)
        };
        // Bits past `count` are padding and must be zero.
        if (count..bitmap_len.saturating_mul(8)).any(is_empty) {
            return Err(StateProofError::NotCanonical("non-zero bitmap padding"));
        }
        let full_count = (0..count).filter(|index| !is_empty(*index)).count();
        reader.ensure((full_count as u64).saturating_mul(32))?;
        let mut full = Vec::with_capacity(full_count);
        for _ in 0..full_count {
            let sibling = Hash(reader.array()?);
            if sibling == EMPTY_SUBTREE {
                return Err(StateProofError::NotCanonical(
                    "empty subtree written out instead of flagged",
                ));
            }
            full.push(sibling);
        }
        reader.finish()?;
        Ok(StateProof {
            count: u16::try_from(count).unwrap_or(u16::MAX),
            empty: bitmap,
            full,
            terminal,
        })
    }
}

/// Checks that `proof` shows `position` holding `value` (`Some`) or being
/// absent (`None`) in the state tree with root `root`. Pure: it needs no
/// store, and it never panics, whatever the proof holds.
pub fn verify_state_proof(
    root: &Hash,
    position: &Hash,
    value: Option<&[u8]>,
    proof: &StateProof,
) -> Result<(), StateProofError> {
    let depth = proof.depth();
    if depth > MAX_STATE_PROOF_SIBLINGS {
        return Err(StateProofError::TooDeep { count: depth });
    }
    let bottom = match (&proof.terminal, value) {
        (ProofTerminal::Empty, Some(_)) => {
            return Err(StateProofError::TerminalMismatch(
                "a value is claimed but the path ends empty",
            ))
        }
        (ProofTerminal::Empty, None) => EMPTY_SUBTREE,
        (
            ProofTerminal::Leaf {
                position: leaf_key,
                value_hash: leaf_value,
            },
            claimed,
        ) => {
            match claimed {
                Some(value) => {
                    if leaf_key != position {
                        return Err(StateProofError::TerminalMismatch(
                            "the leaf on the path holds another key",
                        ));
                    }
                    if value_hash(value) != *leaf_value {
                        return Err(StateProofError::TerminalMismatch(
                            "the leaf holds another value",
                        ));
                    }
                }
                None => {
                    if leaf_key == position {
                        return Err(StateProofError::TerminalMismatch(
                            "absence is claimed but the key's own leaf is on the path",
                        ));
                    }
                    // The other leaf must really sit on this key's path.
                    if (0..depth).any(|bit| key_bit(leaf_key, bit) != key_bit(position, bit)) {
                        return Err(StateProofError::TerminalMismatch(
                            "the leaf shown is not on the key's path",
                        ));
                    }
                }
            }
            leaf_hash(leaf_key, leaf_value)
        }
    };
    // A lone leaf or an empty subtree next to an empty sibling would have been
    // compressed into its parent: such a proof comes from no tree.
    if depth
        .checked_sub(1)
        .is_some_and(|deepest| proof.is_empty_sibling(deepest))
    {
        return Err(StateProofError::NotCanonical(
            "the deepest sibling is empty",
        ));
    }
    let mut current = bottom;
    let mut next_full = proof.full.len();
    for bit in (0..depth).rev() {
        let sibling = if proof.is_empty_sibling(bit) {
            EMPTY_SUBTREE
        } else {
            next_full = next_full
                .checked_sub(1)
                .ok_or(StateProofError::NotCanonical(
                    "fewer siblings than the bitmap says",
                ))?;
            proof.full.get(next_full).copied().unwrap_or(EMPTY_SUBTREE)
        };
        current = if key_bit(position, bit) {
            interior_hash(&sibling, &current)
        } else {
            interior_hash(&current, &sibling)
        };
    }
    if current != *root {
        return Err(StateProofError::RootMismatch {
            computed: current,
            expected: *root,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_roundtrips_with_empty_siblings() {
        let proof = StateProof::new(
            vec![Hash([1; 32]), EMPTY_SUBTREE, Hash([3; 32])],
            ProofTerminal::Leaf {
                position: Hash([4; 32]),
                value_hash: Hash([5; 32]),
            },
        );
        let bytes = proof.encode();
        assert_eq!(bytes.len(), proof.encoded_len());
        assert_eq!(bytes.len(), 65 + 2 + 1 + 64);
        assert_eq!(StateProof::decode(&bytes).unwrap(), proof);
        for len in 0..bytes.len() {
            assert!(StateProof::decode(&bytes.slice(..len)).is_err());
        }
    }

    #[test]
    fn decode_rejects_oversized_count_before_allocating() {
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&u16::MAX.to_le_bytes());
        assert!(matches!(
            StateProof::decode(&Bytes::from(bytes)),
            Err(StateProofError::Decode(DecodeError::LimitExceeded { .. }))
        ));
    }

    #[test]
    fn decode_rejects_padding_and_written_out_empty() {
        // One sibling flagged empty, padding bit 1 also set.
        let bytes = Bytes::from(vec![0u8, 1, 0, 0b11]);
        assert!(matches!(
            StateProof::decode(&bytes),
            Err(StateProofError::NotCanonical(_))
        ));
        let mut bytes = vec![0u8, 1, 0, 0];
        bytes.extend_from_slice(&[0u8; 32]);
        assert!(matches!(
            StateProof::decode(&Bytes::from(bytes)),
            Err(StateProofError::NotCanonical(_))
        ));
    }
}
