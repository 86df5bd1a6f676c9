//! Parallel batch ed25519 verification (the verify stage). Not yet built: see issue 3.
