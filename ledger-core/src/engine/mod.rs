//! The ledger engine: what a node embeds.
//!
//! [`Ledger`] joins a [`Store`] and an application's [`StateMachine`]. A
//! block goes through three steps:
//!
//! 1. [`Ledger::verify_block`] (stateless; a node may run it on the next
//!    block while the current one executes): chain id, every signature in
//!    parallel batches, transaction ids and the transaction root.
//! 2. [`Ledger::apply_block`]: height, parent, timestamp and history root
//!    against the chain head; execution of every transaction in order
//!    (nonces, the application, the block's budgets); the receipts root and
//!    the new state root; comparison of every root with the header.
//! 3. One atomic store batch with the block, its transaction index and
//!    receipts, the history-tree nodes and the new head. The block's state
//!    (its state-tree version) stays in memory and reaches the store in a
//!    background *state checkpoint* that merges many blocks (see
//!    `checkpointing`; opening replays the blocks after the last one).
//!
//! Any mismatch or error before step 3 leaves the store and the ledger
//! exactly as they were and names the first offending transaction or root;
//! [`LedgerError::is_block_invalid`] says whose fault it was.
//!
//! ## Heights: applied and durable
//! [`Ledger::apply_block`] returns once the block is durable (as
//! [`LedgerConfig::durability`] defines it). [`Ledger::apply_block_overlapped`]
//! runs step 3 on a background thread and returns once the block is
//! executed and checked: the block is *applied* (the next block must extend
//! it) but not yet *durable*; the next block executes while it commits.
//! [`Ledger::heights`] reports both, and a node must acknowledge a block to
//! anyone outside only once it is durable ([`Ledger::durable_head`]). A
//! crash loses at most the applied blocks above the durable height; every
//! query waits for the commit in flight, so queries only ever see durable
//! blocks. A failed background commit poisons the ledger: every later call
//! returns [`LedgerError::Poisoned`]; reopening recovers the durable head.
//!
//! ## Where things are
//! `open` (opening, recovery and its checks), `apply` (verifying, applying,
//! committing), `commit` (the overlapped commit thread), `layers` (the
//! state versions in memory), `checkpointing` and `state_checkpoint` (state
//! checkpoints, backpressure, replay),
//! `execute` (transactions against the state), `propose` (building a block),
//! `query` (reads with proofs, and their standalone verifiers), `audit`
//! (re-checking a stored ledger), `head_values` (the head-state cache),
//! `records` (stored record formats).

mod apply;
mod audit;
mod checkpointing;
mod commit;
mod error;
pub(crate) mod execute;
mod head_values;
mod open;
mod propose;
mod query;
pub(crate) mod records;
mod recovery;
pub(crate) mod state_checkpoint;
mod tiles;
mod witnessed;
mod witnessed_codec;

use std::sync::Arc;

use crate::cache::{CacheUsage, TwoGenerationCache};
use crate::hash::Hash;
use crate::machine::{Receipt, StateMachine};
use crate::merkle::HistoryTree;
use crate::state_tree::NodeCache;
use crate::store::{Durability, Store, StoreError};
use crate::types::{Block, BlockHeader};
use crate::verify::{SignatureVerifier, VerifierConfig};

pub use apply::verify_block;
pub use audit::{
    audit_store, AuditFinding, AuditProgress, AuditReport, FindingKind, MAX_AUDIT_FINDINGS,
};
#[doc(hidden)]
pub use error::error_chain;
pub use error::LedgerError;
pub use execute::{
    execute_transactions, BlockContext, ExecutedBlock, ExecutionError, InvalidTransactions,
    StateRead,
};
pub use query::{
    verify_block_in_history, verify_receipt_inclusion, verify_transaction_inclusion, StateRecord,
    TransactionRecord,
};
pub use records::{decode_stored_block, encode_stored_block, StoredRecordError};
pub use witnessed::{
    verify_witnessed, VerifiedRecord, WitnessedProof, WitnessedProofError, WitnessedRecord,
};
pub use witnessed_codec::WitnessedProofDecodeError;

use crate::state_tree::StateLayers;
use commit::{Committer, InFlight};
use head_values::HeadValues;
use query::BlockLeaves;
use state_checkpoint::{Checkpointer, PendingCheckpoint};

/// Default number of state versions kept readable (and provable): about a
/// day of blocks at one block per minute.
pub const DEFAULT_STATE_RETENTION: u64 = 1_440;

/// Default budget of the head-state value cache: 64 MiB (about 400,000
/// small values such as balances and nonces; fewer large ones).
pub const DEFAULT_VALUE_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Default budget of the per-block proof cache that serves transaction and
/// receipt queries (a block's unpacked transactions and receipts and every
/// level of its two trees: about 3 MB for a block of 10,000 transfers):
/// 32 MiB.
pub const DEFAULT_BLOCK_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Default number of blocks after which the state is checkpointed.
pub const DEFAULT_CHECKPOINT_BLOCKS: u64 = 32;

/// Default time after which the state is checkpointed (if a block came).
pub const DEFAULT_CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Default budget of the state versions held in memory between
/// checkpoints: 1 GiB. A checkpoint starts once they hold a quarter of it,
/// and applying waits for checkpoints while they hold all of it.
pub const DEFAULT_STATE_MEMORY_BYTES: usize = 1024 * 1024 * 1024;

/// How a [`Ledger`] runs. Build it with [`LedgerConfig::new`] and change
/// the fields you need.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LedgerConfig {
    /// The chain this ledger belongs to.
    pub chain_id: u64,
    /// State versions kept readable; older ones are pruned at commit.
    pub state_retention: u64,
    /// Durability of each block commit.
    pub durability: Durability,
    /// Signature verification settings.
    pub verifier: VerifierConfig,
    /// Memory budget of cached state-tree nodes, in bytes.
    pub node_cache_bytes: usize,
    /// Memory budget of cached head-state values, in bytes (0: none).
    pub value_cache_bytes: usize,
    /// Memory budget of the per-block proof cache of queries, in bytes.
    pub block_cache_bytes: usize,
    /// A state checkpoint starts once this many blocks are held in memory
    /// (at least 1).
    pub checkpoint_blocks: u64,
    /// ... or once the oldest block held in memory is this old.
    pub checkpoint_interval: std::time::Duration,
    /// ... or once the blocks held in memory hold this many bytes
    /// (estimated, as [`CheckpointReport::memory_bytes`] reports them);
    /// `None`: a quarter of [`LedgerConfig::state_memory_bytes`].
    pub checkpoint_memory_bytes: Option<usize>,
    /// The memory budget of the blocks' state versions held in memory, in
    /// bytes (estimated). Before holding a block's version, applying (and
    /// the replay at open) waits for checkpoints until it fits beside the
    /// versions held: they never hold more than this, however slow the
    /// store is (a single version larger than the whole budget is held
    /// alone).
    pub state_memory_bytes: usize,
    /// Store every state version, not only checkpoint versions: each
    /// checkpoint writes the versions it covers one by one (in one atomic
    /// batch), so that the state at every retained height stays readable
    /// and provable after it leaves memory — at the cost of writing what a
    /// merged checkpoint would skip. Off by default.
    pub keep_every_version: bool,
}

impl LedgerConfig {
    /// Defaults for `chain_id`.
    pub fn new(chain_id: u64) -> Self {
        LedgerConfig {
            chain_id,
            state_retention: DEFAULT_STATE_RETENTION,
            durability: Durability::Synced,
            verifier: VerifierConfig::default(),
            node_cache_bytes: crate::state_tree::DEFAULT_NODE_CACHE_BYTES,
            value_cache_bytes: DEFAULT_VALUE_CACHE_BYTES,
            block_cache_bytes: DEFAULT_BLOCK_CACHE_BYTES,
            checkpoint_blocks: DEFAULT_CHECKPOINT_BLOCKS,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            checkpoint_memory_bytes: None,
            state_memory_bytes: DEFAULT_STATE_MEMORY_BYTES,
            keep_every_version: false,
        }
    }
}

/// The ledger's heights (`None`: no block yet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Heights {
    /// The last applied block: the next block must extend it. In the
    /// overlapped mode it may still be committing.
    pub applied: Option<u64>,
    /// The last block known durable: it survives a crash.
    pub durable: Option<u64>,
    /// The last block whose state is in the store (the last state
    /// checkpoint). Reopening replays the durable blocks after it.
    pub state_checkpoint: Option<u64>,
}

/// The state checkpoints and the versions held in memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointReport {
    /// The last state checkpoint.
    pub checkpoint: Option<u64>,
    /// State versions held in memory (after the checkpoint).
    pub versions_in_memory: usize,
    /// Their estimated bytes ([`LedgerConfig::state_memory_bytes`]).
    pub memory_bytes: usize,
    /// The most they held at once since the ledger was opened (the replay
    /// at open included).
    pub max_memory_bytes: usize,
    /// Checkpoints written since the ledger was opened.
    pub checkpoints_written: u64,
    /// Bytes they wrote.
    pub checkpoint_bytes_written: u64,
    /// Times applying a block waited for a checkpoint (memory was full).
    pub backpressure_waits: u64,
}

/// What opening the ledger replayed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Blocks after the last state checkpoint, replayed into memory.
    pub replayed_blocks: u64,
    /// Their transactions.
    pub replayed_transactions: u64,
    /// How long the replay took.
    pub duration: std::time::Duration,
    /// Of which executing the transactions.
    pub execute: std::time::Duration,
    /// Of which computing the state tree's versions.
    pub state_root: std::time::Duration,
}

/// What the ledger's caches hold, against their budgets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheReport {
    /// State-tree nodes ([`LedgerConfig::node_cache_bytes`]).
    pub nodes: CacheUsage,
    /// Head-state values ([`LedgerConfig::value_cache_bytes`]).
    pub values: CacheUsage,
    /// Per-block proof trees of queries ([`LedgerConfig::block_cache_bytes`]).
    pub blocks: CacheUsage,
    /// Decompressed public keys of the verifier
    /// ([`VerifierConfig::key_cache_entries`] × [`crate::verify::KeyCache::entry_bytes`]).
    pub keys: CacheUsage,
}

/// A block whose stateless checks passed: chain id, signatures, transaction
/// ids and transaction root.
#[derive(Clone, Debug)]
pub struct VerifiedBlock {
    block: Block,
    tx_ids: Vec<Hash>,
}

impl VerifiedBlock {
    /// The block.
    pub fn block(&self) -> &Block {
        &self.block
    }
    /// Its transaction ids, in order.
    pub fn tx_ids(&self) -> &[Hash] {
        &self.tx_ids
    }
}

/// Where the time of [`Ledger::apply_block`] went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyTimings {
    /// Executing the transactions (nonces, application, state reads).
    pub execute: std::time::Duration,
    /// Computing the new state tree version.
    pub state_root: std::time::Duration,
    /// Building the batch and committing it (in the overlapped mode:
    /// building it and handing it to the commit thread).
    pub commit: std::time::Duration,
    /// Whether execution read the keys the application hinted at ahead of
    /// the transactions, in parallel ([`crate::machine::StateMachine::read_hints`]):
    /// it does when most of the block before's reads missed the head-value
    /// cache.
    pub read_ahead: bool,
}

/// What applying a block produced.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockOutcome {
    /// Where the time went.
    pub timings: ApplyTimings,
    /// The applied header.
    pub header: BlockHeader,
    /// The block id.
    pub id: Hash,
    /// One receipt per transaction.
    pub receipts: Vec<Receipt>,
    /// Bytes written to the store in the block's batch.
    pub bytes_written: usize,
}

/// A block header and its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Head {
    header: BlockHeader,
    id: Hash,
}

impl Head {
    fn new(header: BlockHeader) -> Self {
        Head {
            id: header.id(),
            header,
        }
    }
}

/// The ledger: a store and a state machine. See the module documentation.
pub struct Ledger<S: Store, M: StateMachine> {
    /// Shared with the background commit thread of the overlapped mode.
    store: Arc<S>,
    /// The block whose commit runs in the background, if any.
    in_flight: parking_lot::Mutex<Option<InFlight>>,
    /// The commit thread, started by the first overlapped apply. Declared
    /// after `in_flight`, so that a drop waits for the last commit before
    /// it ends the thread.
    committer: Option<Committer>,
    /// Set when a background commit failed: the ledger's memory is then
    /// ahead of its store, and every call returns this error. Holds the
    /// durable head at the failure too.
    failed: parking_lot::Mutex<Option<(StoreError, Option<Head>)>>,
    /// Shared with the replay's execution thread at open.
    machine: Arc<M>,
    config: LedgerConfig,
    verifier: SignatureVerifier,
    /// Nodes of checkpointed versions (read from the store, or put there
    /// by the checkpoint that wrote them); versions in memory are read from
    /// `layers` first. Shared with the checkpoint thread.
    node_cache: Arc<NodeCache>,
    head_values: HeadValues,
    /// Whether the next block's execution reads the application's hinted
    /// keys ahead ([`execute::ReadAhead`]): set when most of the last
    /// block's committed reads missed `head_values` (a state larger than
    /// the cache), cleared when they did not. Speed only; the outcome is
    /// the same either way.
    read_ahead: std::sync::atomic::AtomicBool,
    /// Execution's block-sized maps, reused from block to block.
    execution_scratch: parking_lot::Mutex<execute::ExecutionScratch>,
    block_leaves: TwoGenerationCache<u64, Arc<BlockLeaves>>,
    /// The applied head.
    head: Option<Head>,
    history: HistoryTree,
    /// Every state version after the last checkpoint.
    layers: StateLayers,
    /// The last committed state checkpoint.
    state_checkpoint: Option<u64>,
    /// The state checkpoint being written, if any.
    checkpoint_in_flight: Option<PendingCheckpoint>,
    /// The checkpoint thread, started by the first checkpoint. Declared
    /// after `checkpoint_in_flight`, so that a drop waits for that
    /// checkpoint before it ends the thread.
    checkpointer: Option<Checkpointer>,
    /// When the oldest version in memory was applied.
    layers_since: std::time::Instant,
    checkpoint_report: CheckpointReport,
    recovery: RecoveryReport,
}

impl<S: Store, M: StateMachine> std::fmt::Debug for Ledger<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("chain_id", &self.config.chain_id)
            .field("applied_height", &self.applied_height())
            .finish_non_exhaustive()
    }
}

impl<S: Store, M: StateMachine> Ledger<S, M> {
    /// The last applied block's header: the one the next block must extend.
    /// In the overlapped mode it may not be durable yet.
    pub fn applied_head(&self) -> Option<&BlockHeader> {
        self.head.as_ref().map(|head| &head.header)
    }

    /// The last applied block's height.
    pub fn applied_height(&self) -> Option<u64> {
        self.head.map(|head| head.header.height)
    }

    /// The last block known durable (it survives a crash): what a node may
    /// acknowledge. Does not wait for a commit in flight.
    pub fn durable_head(&self) -> Option<BlockHeader> {
        let mut in_flight = self.in_flight.lock();
        if let Some((_, durable)) = &*self.failed.lock() {
            return durable.map(|head| head.header);
        }
        let Some(commit) = in_flight.as_mut() else {
            return self.head.map(|head| head.header);
        };
        match commit.poll() {
            None => commit.durable_before.map(|head| head.header),
            Some(Ok(())) => {
                in_flight.take();
                self.head.map(|head| head.header)
            }
            Some(Err(error)) => {
                let durable = commit.durable_before;
                in_flight.take();
                *self.failed.lock() = Some((error, durable));
                durable.map(|head| head.header)
            }
        }
    }

    /// The last durable block's height.
    pub fn durable_height(&self) -> Option<u64> {
        self.durable_head().map(|header| header.height)
    }

    /// Applied, durable and state-checkpoint heights.
    pub fn heights(&self) -> Heights {
        Heights {
            applied: self.applied_height(),
            durable: self.durable_height(),
            state_checkpoint: self.state_checkpoint,
        }
    }

    /// The state checkpoints and the versions held in memory.
    pub fn checkpoint_report(&self) -> CheckpointReport {
        CheckpointReport {
            checkpoint: self.state_checkpoint,
            versions_in_memory: self.layers.len(),
            memory_bytes: self.layers.bytes(),
            ..self.checkpoint_report
        }
    }

    /// What opening the ledger replayed.
    pub fn recovery_report(&self) -> RecoveryReport {
        self.recovery
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The signature verifier (to verify ahead, or to measure).
    pub fn verifier(&self) -> &SignatureVerifier {
        &self.verifier
    }

    /// The configuration the ledger runs with.
    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    /// What the caches hold against their budgets.
    pub fn cache_report(&self) -> CacheReport {
        CacheReport {
            nodes: self.node_cache.usage(),
            values: self.head_values.usage(),
            blocks: self.block_leaves.usage(),
            keys: self.verifier.key_cache().usage(),
        }
    }

    /// The oldest height whose state is still readable.
    pub fn oldest_state_height(&self) -> u64 {
        self.applied_height()
            .map(|head| head.saturating_sub(self.config.state_retention.saturating_sub(1)))
            .unwrap_or(0)
    }

    /// Waits until every applied block is durable; returns the error of a
    /// failed background commit (see [`Ledger::apply_block_overlapped`]).
    pub fn flush(&self) -> Result<(), LedgerError> {
        self.settle()
    }

    /// Waits for the background commit, if any, and reports a failure.
    fn settle(&self) -> Result<(), LedgerError> {
        let mut in_flight = self.in_flight.lock();
        if let Some(mut commit) = in_flight.take() {
            if let Err(error) = commit.wait() {
                *self.failed.lock() = Some((error, commit.durable_before));
            }
        }
        drop(in_flight);
        self.failure()
    }

    /// The error of a failed background commit, which every later call
    /// returns.
    fn failure(&self) -> Result<(), LedgerError> {
        match &*self.failed.lock() {
            Some((error, _)) => Err(LedgerError::Poisoned(error.clone())),
            None => Ok(()),
        }
    }

    fn expected_next(&self) -> (u64, Hash, u64) {
        match &self.head {
            None => (0, Hash::ZERO, 0),
            Some(head) => (head.header.height + 1, head.id, head.header.timestamp_ms),
        }
    }
}
