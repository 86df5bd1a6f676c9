//! # ledger-storage
//!
//! Backends for `ledger_core::store::Store`:
//!
//! * `RocksStore` (feature `rocks`, on by default): RocksDB with one column
//!   family per ledger column, each tuned for how it is read (see
//!   `docs/STORAGE.md`). The default for nodes.
//! * [`MemStore`] (re-exported from `ledger_core::store`, where it lives so
//!   that the engine's tests need no backend): in memory, with the same
//!   semantics (atomic batches, snapshots).
//!
//! Every backend passes one conformance suite (`conformance`, behind the
//! `testing` feature), which a downstream project can run against its own
//! `Store`.
//!
//! This crate never interprets keys or values: it knows bytes in columns, not
//! blocks, transactions or proofs.

#[cfg(feature = "rocks")]
mod rocks;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod crash;

pub use ledger_core::store::MemStore;
#[cfg(feature = "rocks")]
pub use rocks::{
    RocksConfig, RocksStore, BLOB_MIN_BYTES, DEFAULT_BLOCK_CACHE_BYTES, DEFAULT_MAX_WAL_BYTES,
};
