//! # ledger-core
//!
//! The storage-independent heart of the ledger engine: the data types and
//! their canonical codec, the hash domains, signature verification, Merkle
//! hashing and proofs, the [`Store`] trait that backends implement (with an
//! in-memory [`MemStore`]), and the [`Ledger`] engine that verifies,
//! executes, commits and proves blocks.
//!
//! `ledger-core` does no I/O of its own and knows nothing of RocksDB (the
//! `ledger-storage` crate has the RocksDB backend). Every function that
//! takes bytes from outside (blocks, transactions, proofs) returns a typed
//! error on bad input and never panics or allocates an amount the input
//! chose.
//!
//! ## Embedding a ledger
//!
//! An application is a [`StateMachine`]; the ledger runs it over a store:
//!
//! ```
//! use ed25519_dalek::SigningKey;
//! use ledger_core::{Failure, Ledger, LedgerConfig, MemStore, StateAccess, StateMachine, Transaction, TxContext};
//!
//! /// Records each payload under the sender's key: a one-line notary.
//! struct Notary;
//! impl StateMachine for Notary {
//!     fn execute(&self, tx: &TxContext<'_>, state: &mut dyn StateAccess) -> Result<(), Failure> {
//!         state.put(&tx.tx.sender().0, tx.tx.payload().clone().into())?;
//!         Ok(())
//!     }
//! }
//!
//! let mut ledger = Ledger::open(MemStore::new(), Notary, LedgerConfig::new(7))?;
//! let clinic = SigningKey::from_bytes(&[1; 32]);
//! let tx = Transaction::sign(&clinic, 7, 0, &b"received 200 boxes of masks"[..])?;
//! let block = ledger.build_block(vec![tx], 1_700_000_000_000)?; // a proposer
//! ledger.apply_block(ledger.verify_block(block)?)?; // every node; durable on return
//!
//! // Anyone holding a trusted header can check the answer without the node.
//! let record = ledger.state(&clinic.verifying_key().to_bytes(), None)?;
//! record.verify(&clinic.verifying_key().to_bytes(), &record.header.state_root)?;
//! assert_eq!(record.value.as_deref(), Some(&b"received 200 boxes of masks"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Signed checkpoints
//!
//! [`checkpoint`] reads and writes the C2SP formats of transparency logs —
//! signed notes, checkpoints, `cosignature/v1` witness cosignatures and
//! trust policies — and [`verify_checkpoint`] decides, offline, whether a
//! note is a checkpoint signed by the log and cosigned by a quorum of
//! witnesses, or exactly why not.
//!
//! [`verify_witnessed`] puts a checkpoint and a record together: one call
//! checks a [`WitnessedProof`] (a transaction with its receipt, or a state
//! value, its block header and the header's history proof, built by
//! [`Ledger::witnessed_transaction_proof`] or
//! [`Ledger::witnessed_state_proof`]) against a checkpoint note, the log key
//! and the witness policy, and says yes or which step failed.
//!
//! Queries answer with proofs that standalone functions check:
//! [`StateRecord::verify`], [`TransactionRecord::verify`],
//! [`verify_block_in_history`], [`verify_history_inclusion`],
//! [`verify_history_consistency`], [`verify_state_proof`],
//! [`verify_inclusion`], [`verify_consistency`].
//!
//! ## Where things are
//! [`types`] and [`codec`] (blocks and transactions as bytes), [`checkpoint`]
//! (signed, witnessed checkpoints in the C2SP formats), [`mod@hash`]
//! (domains), [`limits`] (every bound), [`verify`] (signatures),
//! [`merkle`] (transaction, receipts and history trees and their proofs),
//! [`state_tree`] (the authenticated state), [`machine`] (the application
//! interface), [`store`] (the storage interface, [`MemStore`],
//! [`FaultyStore`]), [`cache`] (byte-bounded caches); the engine's own
//! parts are private and re-exported here. `docs/ARCHITECTURE.md` is the
//! map.
//!
//! ## Limits
//! Every bound on what blocks, transactions and applications may do is a
//! named constant in [`limits`], checked before allocation and tested at
//! its boundary.
//!
//! ## Non-goals
//! It is not a node: networking, consensus, mempool policy and block
//! production timing belong to the embedding project.

pub mod cache;
pub mod checkpoint;
pub mod codec;
mod engine;
pub mod hash;
mod keys;
pub mod limits;
pub mod machine;
pub mod merkle;
pub mod state_tree;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;
pub mod value;
pub mod verify;

pub use checkpoint::{
    key_id, verify_checkpoint, Checkpoint, CheckpointBodyError, CheckpointError, CosignatureV1,
    Note, NoteError, NoteKeyError, NoteSignature, Policy, PolicyError, QuorumFailure,
    SignatureType, SignerKey, VerifiedCheckpoint, VerifierKey, WitnessCosignature,
};
pub use codec::{DecodeError, EncodeError, Limit};
pub use engine::{
    audit_store, decode_stored_block, encode_stored_block, error_chain, execute_transactions,
    verify_block, verify_block_in_history, verify_receipt_inclusion, verify_transaction_inclusion,
    verify_witnessed, ApplyTimings, AuditFinding, AuditProgress, AuditReport, BlockContext,
    BlockOutcome, CacheReport, CheckpointReport, ExecutedBlock, ExecutionError, FindingKind,
    Heights, InvalidTransactions, Ledger, LedgerConfig, LedgerError, RecoveryReport, StateRead,
    StateRecord, StoredRecordError, TransactionRecord, VerifiedBlock, VerifiedRecord,
    WitnessedProof, WitnessedProofDecodeError, WitnessedProofError, WitnessedRecord,
    DEFAULT_BLOCK_CACHE_BYTES, DEFAULT_CHECKPOINT_BLOCKS, DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_STATE_MEMORY_BYTES, DEFAULT_STATE_RETENTION, DEFAULT_VALUE_CACHE_BYTES,
    MAX_AUDIT_FINDINGS,
};
pub use hash::{hash, Domain, Hash};
pub use limits::{
    BLOCK_FORMAT_VERSION, HEADER_BYTES, MAX_BLOCK_BYTES, MAX_KEY_NAME_BYTES, MAX_NOTE_BYTES,
    MAX_NOTE_SIGNATURES, MAX_PAYLOAD_BYTES, MAX_POLICY_BYTES, MAX_POLICY_GROUPS, MAX_POLICY_LOGS,
    MAX_POLICY_WITNESSES, MAX_TXS_PER_BLOCK, MAX_TX_BYTES, MAX_WITNESSED_PROOF_BYTES,
    TX_FIXED_BYTES, WITNESSED_PROOF_FORMAT_VERSION,
};
pub use machine::{
    Event, Events, Failure, Receipt, StateAccess, StateAccessError, StateMachine, TxContext,
};
pub use merkle::{
    verify_consistency, verify_history_consistency, verify_history_inclusion, verify_inclusion,
    ConsistencyProof, InclusionProof, MerkleProofError,
};
pub use state_tree::{
    application_position, nonce_position, verify_state_proof, StateProof, StateProofError,
};
pub use store::{
    Column, Durability, FaultyStore, MemStore, Store, StoreError, StoreRead, WriteBatch,
};
pub use types::{Block, BlockHeader, KeyError, PublicKey, Signature, Transaction};
pub use value::{StateValue, INLINE_VALUE_BYTES};
pub use verify::{verify_single, SignatureVerifier, VerifyError};
