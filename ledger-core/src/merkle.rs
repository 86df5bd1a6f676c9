//! blake3 Merkle trees, inclusion and consistency proofs. Not yet built: see issue 4.
