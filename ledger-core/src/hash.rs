//! The ledger's hash function, blake3, split into domains. (The one
//! exception is the history tree, which hashes with SHA-256 as RFC 6962 and
//! C2SP checkpoints do: [`crate::merkle::hasher`].)
//!
//! Every hash the ledger computes belongs to exactly one [`Domain`], and the
//! domain is mixed in by blake3's `derive_key` mode with a context string of
//! its own. Two values of different kinds can therefore never share a hash,
//! even when their bytes are equal (a Merkle leaf cannot pose as an interior
//! node, a header cannot pose as a transaction). The table of domains is in
//! `docs/FORMAT.md`; it must list every variant of [`Domain`].
//!
//! `hash(domain, bytes)` equals `blake3::derive_key(domain.context(), bytes)`.
//! The context keys are computed once per process, so a domain costs nothing
//! per call compared to plain `blake3::hash`.

use std::fmt;
use std::sync::LazyLock;

use blake3::hazmat::{hash_derive_key_context, ContextKey, HasherExt};

/// Length of every hash in the ledger, in bytes.
pub const HASH_BYTES: usize = 32;

/// A 32-byte hash: a blake3 output (transaction ids, block ids, transaction,
/// receipts and state roots), or a SHA-256 one (the history tree's nodes and
/// root, [`crate::merkle::Rfc6962Sha256`]).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Hash(pub [u8; HASH_BYTES]);

impl Hash {
    /// The bytes as four big-endian words: comparing these in order is
    /// comparing the bytes lexicographically.
    #[inline]
    fn words(&self) -> [u64; 4] {
        let mut words = [0u64; 4];
        for (word, chunk) in words.iter_mut().zip(self.0.chunks_exact(8)) {
            // Every chunk of `chunks_exact(8)` is 8 bytes.
            *word = u64::from_be_bytes(chunk.try_into().unwrap_or([0; 8]));
        }
        words
    }
}

impl Ord for Hash {
    /// Lexicographic on the bytes (as if derived), a word at a time: state
    /// updates and stored keys are sorted by position, and the derived
    /// comparison is a `memcmp` call per comparison.
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.words().cmp(&other.words())
    }
}

impl PartialOrd for Hash {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::hash::Hash for Hash {
    /// Two 128-bit words instead of a 32-byte slice: the same bytes reach
    /// the hasher (so maps stay as collision-resistant as before), in two
    /// multiply-folds instead of the byte-slice path — state positions and
    /// transaction ids are map keys on execution's hottest path.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (low, high) = self.0.split_at(HASH_BYTES / 2);
        // Both halves are 16 bytes: HASH_BYTES is 32.
        let word = |half: &[u8]| u128::from_le_bytes(half.try_into().unwrap_or([0; 16]));
        state.write_u128(word(low));
        state.write_u128(word(high));
    }
}

impl Hash {
    /// The all-zero hash. It is the parent hash of the genesis block and is
    /// never the output of [`hash`] for any input that anybody can find.
    pub const ZERO: Hash = Hash([0u8; HASH_BYTES]);

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; HASH_BYTES] {
        &self.0
    }

    /// Lower-case hexadecimal, 64 characters.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }
}

impl From<[u8; HASH_BYTES]> for Hash {
    fn from(bytes: [u8; HASH_BYTES]) -> Self {
        Hash(bytes)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Eight bytes identify a hash in logs and test failures; the full value
        // is available through `Display`.
        write!(f, "Hash({}…)", to_hex(&self.0[..8]))
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Lower-case hexadecimal of any byte string.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The purpose a hash serves. Each has its own blake3 `derive_key` context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Domain {
    /// A transaction's id, over its signed content.
    TransactionId,
    /// The 32-byte message that a transaction's ed25519 signature signs, over
    /// the same signed content as the id.
    TransactionSigning,
    /// A block's id, over its encoded header.
    BlockHeader,
    /// A leaf of a blake3 Merkle tree (the transaction and receipts trees;
    /// the history tree hashes with SHA-256 as RFC 6962 does,
    /// [`crate::merkle::Rfc6962Sha256`]).
    MerkleLeaf,
    /// An interior node of a blake3 Merkle tree, over its two children.
    MerkleNode,
    /// The position of an application key in the state tree.
    StateKey,
    /// A value stored in the state tree.
    StateValue,
    /// A leaf of the state tree, over its key position and value hash.
    StateLeaf,
    /// An interior node of the state tree, over its two children.
    StateNode,
    /// The random coefficients of a signature batch, over the batch.
    BatchVerification,
    /// A leaf of a block's receipts tree, over the transaction id and the
    /// encoded receipt.
    Receipt,
}

impl Domain {
    /// Every domain, in the order of the table in `docs/FORMAT.md`.
    pub const ALL: [Domain; 11] = [
        Domain::TransactionId,
        Domain::TransactionSigning,
        Domain::BlockHeader,
        Domain::MerkleLeaf,
        Domain::MerkleNode,
        Domain::StateKey,
        Domain::StateValue,
        Domain::StateLeaf,
        Domain::StateNode,
        Domain::BatchVerification,
        Domain::Receipt,
    ];

    /// The blake3 `derive_key` context string of this domain.
    ///
    /// These strings are part of the format: changing one changes every hash
    /// of that kind, and so every root.
    pub const fn context(self) -> &'static str {
        match self {
            Domain::TransactionId => "ledger-core v1 transaction id",
            Domain::TransactionSigning => "ledger-core v1 transaction signing message",
            Domain::BlockHeader => "ledger-core v1 block header",
            Domain::MerkleLeaf => "ledger-core v1 merkle leaf",
            Domain::MerkleNode => "ledger-core v1 merkle node",
            Domain::StateKey => "ledger-core v1 state key",
            Domain::StateValue => "ledger-core v1 state value",
            Domain::StateLeaf => "ledger-core v1 state leaf",
            Domain::StateNode => "ledger-core v1 state node",
            Domain::BatchVerification => "ledger-core v1 batch verification coefficients",
            Domain::Receipt => "ledger-core v2 receipt",
        }
    }

    const fn index(self) -> usize {
        match self {
            Domain::TransactionId => 0,
            Domain::TransactionSigning => 1,
            Domain::BlockHeader => 2,
            Domain::MerkleLeaf => 3,
            Domain::MerkleNode => 4,
            Domain::StateKey => 5,
            Domain::StateValue => 6,
            Domain::StateLeaf => 7,
            Domain::StateNode => 8,
            Domain::BatchVerification => 9,
            Domain::Receipt => 10,
        }
    }

    /// The pre-hashed context key of this domain, for callers that drive
    /// blake3's `hazmat` API themselves (batched Merkle hashing).
    pub fn context_key(self) -> &'static ContextKey {
        &CONTEXT_KEYS[self.index()]
    }

    /// A streaming hasher in this domain: feed it with `update`, read it with
    /// `finalize`. Equivalent to `blake3::Hasher::new_derive_key(context)`.
    pub fn hasher(self) -> blake3::Hasher {
        blake3::Hasher::new_from_context_key(self.context_key())
    }
}

static CONTEXT_KEYS: LazyLock<[ContextKey; Domain::ALL.len()]> =
    LazyLock::new(|| Domain::ALL.map(|domain| hash_derive_key_context(domain.context())));

/// Hashes `bytes` in `domain`: `blake3::derive_key(domain.context(), bytes)`.
pub fn hash(domain: Domain, bytes: &[u8]) -> Hash {
    let mut hasher = domain.hasher();
    hasher.update(bytes);
    Hash(*hasher.finalize().as_bytes())
}

/// Hashes the concatenation of `parts` in `domain`, without concatenating.
pub fn hash_parts(domain: Domain, parts: &[&[u8]]) -> Hash {
    let mut hasher = domain.hasher();
    for part in parts {
        hasher.update(part);
    }
    Hash(*hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::proptest_config;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(proptest_config(256, file!()))]

        /// The word-wise order is the bytes' order; equal hashes hash alike.
        #[test]
        fn order_is_lexicographic(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), at in 0usize..32) {
            prop_assert_eq!(Hash(a).cmp(&Hash(b)), a.cmp(&b));
            let mut c = a;
            c[at] = b[at];
            prop_assert_eq!(Hash(a).cmp(&Hash(c)), a.cmp(&c));
            use std::hash::BuildHasher;
            let state = foldhash::fast::FixedState::with_seed(7);
            prop_assert_eq!(state.hash_one(Hash(a)), state.hash_one(Hash(a.map(|x| x))));
        }
    }

    #[test]
    fn domain_hash_is_blake3_derive_key() {
        for domain in Domain::ALL {
            assert_eq!(
                hash(domain, b"masks, 200 boxes").0,
                blake3::derive_key(domain.context(), b"masks, 200 boxes")
            );
        }
    }

    #[test]
    fn domains_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for domain in Domain::ALL {
            assert_eq!(Domain::ALL[domain.index()], domain);
            assert!(seen.insert(hash(domain, b"same bytes")));
        }
    }

    #[test]
    fn parts_equal_concatenation() {
        assert_eq!(
            hash_parts(Domain::MerkleNode, &[b"left", b"right"]),
            hash(Domain::MerkleNode, b"leftright")
        );
    }

    #[test]
    fn hex_is_lower_case_and_full_length() {
        let h = Hash([0xab; 32]);
        assert_eq!(h.to_hex().len(), 64);
        assert!(h.to_hex().starts_with("abab"));
        assert_eq!(format!("{h}"), h.to_hex());
    }
}
