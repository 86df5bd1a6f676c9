//! # ledger-core
//!
//! The storage-independent heart of the ledger engine: the data types and
//! their canonical codec, the hash domains, signature verification, Merkle
//! hashing and proofs, the [`store`] trait that backends implement, and the
//! engine that applies and commits blocks.
//!
//! `ledger-core` does no I/O of its own and knows nothing of RocksDB; storage
//! backends live in `ledger-storage`. Every function that takes bytes from
//! outside (blocks, transactions, proofs) returns a typed error on bad input
//! and never panics or allocates an amount the input chose.
//!
//! ## Example
//!
//! ```
//! use ed25519_dalek::SigningKey;
//! use ledger_core::{Block, BlockHeader, Hash, Transaction, BLOCK_FORMAT_VERSION};
//!
//! let donor = SigningKey::from_bytes(&[7u8; 32]);
//! let tx = Transaction::sign(&donor, 1, 0, &b"pledge: 200 boxes of masks"[..])?;
//! let header = BlockHeader {
//!     version: BLOCK_FORMAT_VERSION,
//!     chain_id: 1,
//!     height: 0,
//!     parent: Hash::ZERO,
//!     timestamp_ms: 1_700_000_000_000,
//!     tx_count: 1,
//!     tx_root: Hash::ZERO,
//!     state_root: Hash::ZERO,
//!     history_root: Hash::ZERO,
//! };
//! let block = Block::new(header, vec![tx])?;
//! let bytes = block.encode();
//! assert_eq!(Block::decode(&bytes)?, block);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Limits
//! Every bound on untrusted input is a named constant in [`limits`], checked
//! before allocation and tested at its boundary.
//!
//! ## Non-goals
//! It is not a node: networking, consensus, mempool policy and block
//! production timing belong to the embedding project.

pub mod cache;
pub mod codec;
mod engine;
pub mod hash;
pub mod limits;
pub mod machine;
pub mod merkle;
pub mod state_tree;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;
pub mod verify;

pub use codec::{DecodeError, EncodeError, Limit};
pub use engine::{
    execute_transactions, verify_block, verify_block_in_history, verify_receipt_inclusion,
    verify_transaction_inclusion, ApplyTimings, AuditError, AuditReport, BlockContext,
    BlockOutcome, CacheReport, ExecutedBlock, ExecutionError, Heights, InvalidTransactions, Ledger,
    LedgerConfig, LedgerError, StateRead, StateRecord, TransactionRecord, VerifiedBlock,
    DEFAULT_BLOCK_CACHE_BYTES, DEFAULT_STATE_RETENTION, DEFAULT_VALUE_CACHE_BYTES,
};
pub use hash::{hash, Domain, Hash};
pub use limits::{
    BLOCK_FORMAT_VERSION, HEADER_BYTES, MAX_BLOCK_BYTES, MAX_PAYLOAD_BYTES, MAX_TXS_PER_BLOCK,
    MAX_TX_BYTES, TX_FIXED_BYTES,
};
pub use machine::{
    Event, Events, Failure, Receipt, StateAccess, StateAccessError, StateMachine, TxContext,
};
pub use merkle::{
    verify_consistency, verify_inclusion, ConsistencyProof, InclusionProof, MerkleProofError,
};
pub use state_tree::{
    application_position, nonce_position, verify_state_proof, StateProof, StateProofError,
};
pub use store::{Column, Durability, FaultyStore, MemStore, Store, StoreError, StoreRead, WriteBatch};
pub use types::{Block, BlockHeader, KeyError, PublicKey, Signature, Transaction};
pub use verify::{verify_single, SignatureVerifier, VerifyError};
