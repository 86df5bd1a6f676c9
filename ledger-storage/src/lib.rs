//! # ledger-storage
//!
//! Backends for `ledger_core::store::Store`:
//!
//! * `RocksStore` (feature `rocks`, on by default): RocksDB with one column
//!   family per ledger column, each tuned for how it is read (see
//!   `docs/STORAGE.md`). The default for nodes.
//! * [`MemStore`]: in memory, with the same semantics (atomic batches,
//!   snapshots); for tests, fuzzing and embedders that want no disk.
//!
//! Both pass one conformance suite (`conformance`, behind the `testing`
//! feature), which a downstream project can run against its own `Store`.
//!
//! This crate never interprets keys or values: it knows bytes in columns, not
//! blocks, transactions or proofs.

mod mem;
#[cfg(feature = "rocks")]
mod rocks;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod crash;

pub use mem::MemStore;
#[cfg(feature = "rocks")]
pub use rocks::{RocksConfig, RocksStore, DEFAULT_BLOCK_CACHE_BYTES};
