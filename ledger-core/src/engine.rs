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
//!    (nonces, the application); the new state root; comparison of every
//!    root with the header.
//! 3. One atomic store batch with the block, its transaction index and
//!    receipts, the state-tree and history-tree nodes and the new head.
//!
//! Any mismatch or error before step 3 leaves the store exactly as it was
//! and names the first offending transaction or root.
//!
//! [`Ledger::apply_block_overlapped`] runs step 3 on a background thread:
//! the call returns once the block is executed and checked, and the next
//! block executes while the previous one commits (reads see its writes
//! through an in-memory overlay until the commit is done). Every other call
//! waits for that commit first, so queries only ever see durable blocks;
//! [`Ledger::flush`] waits for it explicitly. A failed background commit
//! makes every later call return its error: reopen the ledger. A proposer calls
//! [`Ledger::build_block`] to order, execute and fill in the roots.
//!
//! Queries answer with proofs that standalone functions check without a
//! store: [`verify_transaction_inclusion`], [`verify_block_in_history`] and
//! [`crate::state_tree::verify_state_proof`] (with
//! [`crate::execute::application_position`]).

use foldhash::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::codec::{DecodeError, EncodeError};
use crate::execute::{
    application_position, execute_transactions, nonce_position, BlockContext, ExecutionError,
    StateRead,
};
use crate::hash::Hash;
use crate::limits::BLOCK_FORMAT_VERSION;
use crate::machine::{Receipt, StateMachine};
use crate::merkle::{
    merkle_root, verify_inclusion, HistoryNodes, HistoryTree, InclusionProof, MerkleProofError,
    NodePosition,
};
use crate::state_tree::{
    add_pruning_to_batch, add_writes_to_batch, apply_updates, prove, Node, NodeCache, NodeKey,
    StateProof, StateTreeError, StateTreeReader, StateTreeWrites, StoredStateTree,
};
use crate::store::{Column, Durability, Store, StoreError, StoreRead, WriteBatch};
use crate::types::{Block, BlockHeader, PublicKey, Transaction};
use crate::verify::{SignatureVerifier, VerifierConfig, VerifyError};

/// Meta key of the committed head (the latest header).
const HEAD_KEY: &[u8] = b"head";

/// Default number of state versions kept readable (and provable): about a
/// day of blocks at one block per minute.
pub const DEFAULT_STATE_RETENTION: u64 = 1_440;

/// How a [`Ledger`] runs.
#[derive(Clone, Debug)]
pub struct LedgerConfig {
    /// The chain this ledger belongs to.
    pub chain_id: u64,
    /// State versions kept readable; older ones are pruned at commit.
    pub state_retention: u64,
    /// Durability of each block commit.
    pub durability: Durability,
    /// Signature verification settings.
    pub verifier: VerifierConfig,
    /// Memory for cached state-tree nodes.
    pub node_cache_bytes: usize,
    /// Head-state values cached for execution (0: none).
    pub value_cache_entries: usize,
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
            value_cache_entries: DEFAULT_VALUE_CACHE_ENTRIES,
        }
    }
}

/// Why the ledger refused a block or could not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The block bytes are malformed.
    #[error("block bytes: {0}")]
    Decode(#[from] DecodeError),
    /// A block could not be built within the limits.
    #[error("block: {0}")]
    Encode(#[from] EncodeError),
    /// The block is for another chain.
    #[error("block is for chain {found}, this ledger is chain {expected}")]
    WrongChain {
        /// This chain.
        expected: u64,
        /// The block's.
        found: u64,
    },
    /// Some signatures are invalid (every index listed).
    #[error("invalid signatures: {0}")]
    InvalidSignatures(#[from] VerifyError),
    /// The block is not the next height.
    #[error("block height {found}, expected {expected}")]
    WrongHeight {
        /// The next height.
        expected: u64,
        /// The block's.
        found: u64,
    },
    /// The parent hash is not the head's id.
    #[error("block parent {found}, the head is {expected}")]
    WrongParent {
        /// The head's id.
        expected: Hash,
        /// The block's parent.
        found: Hash,
    },
    /// The timestamp is before the parent's (timestamps never decrease).
    #[error("block timestamp {found} ms is before its parent's {parent} ms")]
    TimestampBeforeParent {
        /// The parent's timestamp.
        parent: u64,
        /// The block's.
        found: u64,
    },
    /// A root in the header differs from the one computed.
    #[error("{root} root mismatch: header has {header}, computed {computed}")]
    RootMismatch {
        /// Which root (`transaction`, `state`, `history`).
        root: &'static str,
        /// The header's.
        header: Hash,
        /// The computed one.
        computed: Hash,
    },
    /// A transaction is invalid (wrong chain, nonce, or a duplicate).
    #[error("{0}")]
    Execution(#[from] ExecutionError),
    /// The state tree failed (storage or corruption).
    #[error("state tree: {0}")]
    StateTree(#[from] StateTreeError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A history proof could not be built.
    #[error("history: {0}")]
    History(#[from] MerkleProofError),
    /// Stored data contradicts itself.
    #[error("ledger storage is inconsistent: {0}")]
    Corrupt(String),
    /// The height is pruned or not yet written.
    #[error("height {height} is not available (oldest {oldest}, head {head:?})")]
    HeightUnavailable {
        /// Asked for.
        height: u64,
        /// Oldest retained state version.
        oldest: u64,
        /// The head.
        head: Option<u64>,
    },
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
pub struct ApplyTimings {
    /// Executing the transactions (nonces, application, state reads).
    pub execute: std::time::Duration,
    /// Computing the new state tree version.
    pub state_root: std::time::Duration,
    /// Building the batch and committing it.
    pub commit: std::time::Duration,
}

/// What committing a block produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockOutcome {
    /// Where the time went.
    pub timings: ApplyTimings,
    /// The committed header.
    pub header: BlockHeader,
    /// The block id.
    pub id: Hash,
    /// One receipt per transaction.
    pub receipts: Vec<Receipt>,
    /// Bytes written to the store in the block's batch.
    pub bytes_written: usize,
}

/// A transaction with everything needed to check that it is in the ledger.
#[derive(Clone, Debug)]
pub struct TransactionRecord {
    /// The transaction.
    pub transaction: Transaction,
    /// Its receipt.
    pub receipt: Receipt,
    /// The header of its block.
    pub header: BlockHeader,
    /// Its inclusion in the block's transaction root.
    pub inclusion: InclusionProof,
}

/// A state value (or its absence) at a height, with its proof.
#[derive(Clone, Debug)]
pub struct StateRecord {
    /// The value, if present.
    pub value: Option<Bytes>,
    /// The proof against `header.state_root`.
    pub proof: StateProof,
    /// The header of the height it is read at.
    pub header: BlockHeader,
}

/// The committed head.
#[derive(Clone, Copy, Debug)]
struct Head {
    header: BlockHeader,
    id: Hash,
}

/// A block between staging and becoming the head.
struct Staged {
    header: BlockHeader,
    id: Hash,
    receipts: Vec<Receipt>,
    writes: StateTreeWrites,
    history: HistoryTree,
    timings: ApplyTimings,
    commit_start: std::time::Instant,
    bytes_written: usize,
}

/// A commit running on the commit thread, and the state-tree writes it
/// carries, which reads consult until it is done.
struct InFlight {
    pending: Arc<PendingState>,
    done: Option<std::sync::mpsc::Receiver<Result<(), StoreError>>>,
}

impl InFlight {
    /// Waits for the commit; the second call returns `Ok` at once.
    fn wait(&mut self) -> Result<(), StoreError> {
        match self.done.take() {
            None => Ok(()),
            Some(done) => done.recv().unwrap_or_else(|_| {
                Err(StoreError::Backend {
                    detail: "the commit thread stopped".into(),
                })
            }),
        }
    }
}

impl Drop for InFlight {
    /// A ledger dropped mid-commit finishes the commit first.
    fn drop(&mut self) {
        // Nobody is left to report an error to; reopening finds the last
        // durable block.
        let _ = self.wait();
    }
}

/// One commit for the commit thread: the batch, its durability, and where
/// to send the result.
type CommitJob = (
    WriteBatch,
    Durability,
    std::sync::mpsc::SyncSender<Result<(), StoreError>>,
);

/// The long-lived thread of the overlapped mode that commits batches in
/// the order it receives them (one thread for the ledger's life: a new
/// thread per block would pay its start-up and the store's per-thread state
/// every time).
struct Committer {
    jobs: Option<std::sync::mpsc::Sender<CommitJob>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Committer {
    fn start<S: Store + 'static>(store: Arc<S>) -> Result<Self, StoreError> {
        let (jobs, queue) = std::sync::mpsc::channel::<CommitJob>();
        let thread = std::thread::Builder::new()
            .name("ledger-commit".into())
            .spawn(move || {
                for (batch, durability, done) in queue {
                    // The receiver may be gone (a ledger dropped mid-commit
                    // does not wait for this result); the commit still ends.
                    let _ = done.send(store.commit(batch, durability));
                }
            })
            .map_err(|error| StoreError::Backend {
                detail: format!("cannot start the commit thread: {error}"),
            })?;
        Ok(Committer {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queues a commit; the receiver gets its result.
    fn submit(
        &self,
        batch: WriteBatch,
        durability: Durability,
    ) -> Result<std::sync::mpsc::Receiver<Result<(), StoreError>>, StoreError> {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send((batch, durability, done)).ok())
            .ok_or_else(|| StoreError::Backend {
                detail: "the commit thread stopped".into(),
            })?;
        Ok(result)
    }
}

impl Drop for Committer {
    /// Ends the thread after its last commit, so that the store is closed
    /// (and its lock released) when the ledger's drop returns.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            // A panic in the thread was already reported as a stopped
            // commit thread.
            let _ = thread.join();
        }
    }
}

/// One block's state-tree writes, indexed for reads.
struct PendingState {
    version: u64,
    nodes: HashMap<NodeKey, Node>,
    values: HashMap<Hash, Option<CachedValue>>,
}

impl PendingState {
    fn new(writes: &StateTreeWrites) -> Self {
        PendingState {
            version: writes.version,
            nodes: writes.nodes.iter().cloned().collect(),
            values: writes
                .values
                .iter()
                .map(|(position, value)| (*position, value.as_ref().map(CachedValue::new)))
                .collect(),
        }
    }
}

/// Values up to this many bytes (balances, nonces, small records) are kept
/// inline by the engine's caches: no allocation of their own, and no shared
/// reference count to touch (a cache miss) on every read.
const INLINE_VALUE_BYTES: usize = 32;

/// A state value as the engine's caches hold it.
#[derive(Clone, Debug)]
enum CachedValue {
    Inline {
        len: u8,
        bytes: [u8; INLINE_VALUE_BYTES],
    },
    Shared(Bytes),
}

impl CachedValue {
    fn new(value: &Bytes) -> Self {
        let mut bytes = [0u8; INLINE_VALUE_BYTES];
        match (bytes.get_mut(..value.len()), u8::try_from(value.len())) {
            (Some(head), Ok(len)) => {
                head.copy_from_slice(value);
                CachedValue::Inline { len, bytes }
            }
            _ => CachedValue::Shared(value.clone()),
        }
    }

    fn to_bytes(&self) -> Bytes {
        match self {
            CachedValue::Inline { len, bytes } => {
                Bytes::copy_from_slice(bytes.get(..usize::from(*len)).unwrap_or(&[]))
            }
            CachedValue::Shared(bytes) => bytes.clone(),
        }
    }
}

/// Reads the state tree through the writes of a block being committed.
struct PendingReader<'a, R: ?Sized> {
    pending: Option<&'a PendingState>,
    inner: &'a R,
}

impl<R: StateTreeReader + ?Sized> StateTreeReader for PendingReader<'_, R> {
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
        if let Some(node) = self.pending.and_then(|pending| pending.nodes.get(key)) {
            return Ok(Some(node.clone()));
        }
        self.inner.node(key)
    }

    fn value_at(&self, key_hash: &Hash, version: u64) -> Result<Option<Bytes>, StateTreeError> {
        if let Some(pending) = self.pending.filter(|pending| version >= pending.version) {
            if let Some(value) = pending.values.get(key_hash) {
                return Ok(value.as_ref().map(CachedValue::to_bytes));
            }
        }
        self.inner.value_at(key_hash, version)
    }
}

/// History nodes in the store.
struct StoredHistory<'a, S: ?Sized>(&'a S);

impl<S: StoreRead + ?Sized> HistoryNodes for StoredHistory<'_, S> {
    fn node(&self, position: NodePosition) -> Result<Option<Hash>, MerkleProofError> {
        let value = self
            .0
            .get(Column::History, &position.to_key())
            .map_err(|e| MerkleProofError::Storage(e.to_string()))?;
        match value {
            None => Ok(None),
            Some(bytes) => <[u8; 32]>::try_from(&bytes[..])
                .map(|hash| Some(Hash(hash)))
                .map_err(|_| MerkleProofError::Storage("history node is not 32 bytes".into())),
        }
    }
}

/// Committed state at one version, read through the state tree's values.
struct CommittedState<'a, R: ?Sized> {
    reader: &'a R,
    version: Option<u64>,
    /// The head's values, when `version` is the head.
    cache: Option<&'a HeadValues>,
}

impl<R: StateTreeReader + ?Sized> StateRead for CommittedState<'_, R> {
    fn read(&self, position: &Hash) -> Result<Option<Bytes>, String> {
        let Some(version) = self.version else {
            return Ok(None);
        };
        if let Some(value) = self.cache.and_then(|cache| cache.get(position)) {
            return Ok(value);
        }
        let value = self
            .reader
            .value_at(position, version)
            .map_err(|e| e.to_string())?;
        if let Some(cache) = self.cache {
            cache.insert(*position, value.as_ref());
        }
        Ok(value)
    }
}

/// Default number of head-state values the engine caches: 262,144 (about
/// 30 MiB for small values such as balances and nonces).
pub const DEFAULT_VALUE_CACHE_ENTRIES: usize = 1 << 18;

const VALUE_SHARDS: usize = 16;

/// The latest committed value (or absence) of recently used positions.
/// Values are only ever those of the head version: the engine inserts a
/// block's writes once it is the head (after its commit succeeded, or while
/// it commits in the background, in which case a failed commit fails the
/// whole ledger), and reads fill it only at the head. Bounded by two
/// generations per shard.
struct HeadValues {
    shards: Vec<parking_lot::Mutex<ValueShard>>,
    generation_entries: usize,
}

#[derive(Default)]
struct ValueShard {
    hot: HashMap<Hash, Option<CachedValue>>,
    cold: HashMap<Hash, Option<CachedValue>>,
}

impl HeadValues {
    fn new(entries: usize) -> Self {
        HeadValues {
            shards: (0..VALUE_SHARDS)
                .map(|_| parking_lot::Mutex::new(ValueShard::default()))
                .collect(),
            generation_entries: entries / VALUE_SHARDS / 2,
        }
    }

    fn shard(&self, position: &Hash) -> Option<&parking_lot::Mutex<ValueShard>> {
        self.shards
            .get(usize::from(position.0[0]) % VALUE_SHARDS)
            .filter(|_| self.generation_entries > 0)
    }

    fn get(&self, position: &Hash) -> Option<Option<Bytes>> {
        let mut shard = self.shard(position)?.lock();
        if let Some(value) = shard.hot.get(position) {
            return Some(value.as_ref().map(CachedValue::to_bytes));
        }
        let value = shard.cold.remove(position)?;
        let bytes = value.as_ref().map(CachedValue::to_bytes);
        shard.hot.insert(*position, value);
        Some(bytes)
    }

    fn insert(&self, position: Hash, value: Option<&Bytes>) {
        let Some(shard) = self.shard(&position) else {
            return;
        };
        let value = value.map(CachedValue::new);
        let mut shard = shard.lock();
        shard.hot.insert(position, value);
        if shard.hot.len() > self.generation_entries {
            shard.cold = std::mem::take(&mut shard.hot);
        }
    }
}

/// A block's receipts as one record: count (u32 LE), then each receipt's
/// length (u32 LE) and encoding.
fn encode_receipts(receipts: &[Receipt]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + receipts.len() * 8);
    out.extend_from_slice(&(receipts.len() as u32).to_le_bytes());
    for receipt in receipts {
        let encoded = receipt.encode();
        out.extend_from_slice(&(encoded.len() as u32).to_le_bytes());
        out.extend_from_slice(&encoded);
    }
    out
}

/// Strict decoding of [`encode_receipts`]'s output.
fn decode_receipts(bytes: &[u8]) -> Option<Vec<Receipt>> {
    let (count, mut rest) = bytes.split_first_chunk::<4>()?;
    let count = u32::from_le_bytes(*count);
    if count > crate::limits::MAX_TXS_PER_BLOCK || rest.len() < count as usize * 4 {
        return None;
    }
    let mut receipts = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (len, after) = rest.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        if after.len() < len {
            return None;
        }
        let (encoded, after) = after.split_at(len);
        receipts.push(Receipt::decode(encoded)?);
        rest = after;
    }
    rest.is_empty().then_some(receipts)
}

fn height_key(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

fn receipt_key(height: u64, index: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&height.to_be_bytes());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

/// Checks that the transaction with id `tx_id` is at `proof.index` of the
/// block with `header` (against its transaction root and count).
pub fn verify_transaction_inclusion(
    header: &BlockHeader,
    tx_id: &Hash,
    proof: &InclusionProof,
) -> Result<(), MerkleProofError> {
    verify_inclusion(&header.tx_root, u64::from(header.tx_count), tx_id, proof)
}

/// Checks that `block` (a header) is at its height in the history committed
/// by `trusted` (a later header): against `trusted.history_root` over the
/// `trusted.height` blocks before it.
pub fn verify_block_in_history(
    trusted: &BlockHeader,
    block: &BlockHeader,
    proof: &InclusionProof,
) -> Result<(), MerkleProofError> {
    if proof.index != block.height {
        return Err(MerkleProofError::IndexOutOfRange {
            index: proof.index,
            size: block.height,
        });
    }
    verify_inclusion(&trusted.history_root, trusted.height, &block.id(), proof)
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
    /// ahead of its store, and every call returns this error.
    failed: parking_lot::Mutex<Option<StoreError>>,
    machine: M,
    config: LedgerConfig,
    verifier: SignatureVerifier,
    node_cache: NodeCache,
    head_values: HeadValues,
    head: Option<Head>,
    history: HistoryTree,
}

impl<S: Store, M: StateMachine> std::fmt::Debug for Ledger<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("chain_id", &self.config.chain_id)
            .field("height", &self.height())
            .finish_non_exhaustive()
    }
}

impl<S: Store, M: StateMachine> Ledger<S, M> {
    /// Opens the ledger in `store`: recovers the committed head and checks
    /// that the stored state and history roots match it.
    pub fn open(store: S, machine: M, config: LedgerConfig) -> Result<Self, LedgerError> {
        let head = match store.get(Column::Meta, HEAD_KEY)? {
            None => None,
            Some(bytes) => {
                let header = BlockHeader::decode(&bytes)?;
                Some(Head {
                    id: header.id(),
                    header,
                })
            }
        };
        let history = match &head {
            None => HistoryTree::new(),
            Some(head) => HistoryTree::restore(head.header.height + 1, &StoredHistory(&store))?,
        };
        let ledger = Ledger {
            verifier: SignatureVerifier::new(config.verifier.clone()),
            node_cache: NodeCache::new(config.node_cache_bytes),
            head_values: HeadValues::new(config.value_cache_entries),
            store: Arc::new(store),
            in_flight: parking_lot::Mutex::new(None),
            committer: None,
            failed: parking_lot::Mutex::new(None),
            machine,
            config,
            head,
            history,
        };
        if let Some(head) = &ledger.head {
            if head.header.chain_id != ledger.config.chain_id {
                return Err(LedgerError::WrongChain {
                    expected: ledger.config.chain_id,
                    found: head.header.chain_id,
                });
            }
            let state_root = ledger.state_root_at(head.header.height)?;
            check_root("state", head.header.state_root, state_root)?;
            let history_root =
                HistoryTree::root_at(&StoredHistory(&*ledger.store), head.header.height)?;
            check_root("history", head.header.history_root, history_root)?;
        }
        Ok(ledger)
    }

    /// The committed head's height, if any block was committed.
    pub fn height(&self) -> Option<u64> {
        self.head.map(|head| head.header.height)
    }

    /// The committed head's header.
    pub fn head(&self) -> Option<&BlockHeader> {
        self.head.as_ref().map(|head| &head.header)
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The signature verifier (to verify ahead, or to measure).
    pub fn verifier(&self) -> &SignatureVerifier {
        &self.verifier
    }

    fn state_root_at(&self, version: u64) -> Result<Hash, LedgerError> {
        self.settle()?;
        let stored = StoredStateTree::new(&*self.store);
        let node = self
            .node_cache
            .reader(&stored)
            .node(&crate::state_tree::NodeKey::root(version))?
            .ok_or_else(|| LedgerError::Corrupt(format!("no state root for version {version}")))?;
        Ok(node.hash())
    }

    /// Stateless checks of a block: chain id, signatures (in parallel
    /// batches), transaction ids and root.
    pub fn verify_block(&self, block: Block) -> Result<VerifiedBlock, LedgerError> {
        verify_block(&self.verifier, self.config.chain_id, block)
    }

    fn expected_next(&self) -> (u64, Hash, u64) {
        match &self.head {
            None => (0, Hash::ZERO, 0),
            Some(head) => (head.header.height + 1, head.id, head.header.timestamp_ms),
        }
    }

    /// Applies and commits a verified block. On any error nothing is
    /// written and the ledger is unchanged. Returns once the block is
    /// durable (as `config.durability` defines it).
    pub fn apply_block(&mut self, verified: VerifiedBlock) -> Result<BlockOutcome, LedgerError> {
        self.settle()?;
        let (staged, batch) = self.stage(verified)?;
        self.store.commit(batch, self.config.durability)?;
        Ok(self.finish(staged))
    }

    /// Applies a verified block and commits it on a background thread:
    /// returns once the block is executed and every root checked, while its
    /// one atomic batch is being written. The next call to this method
    /// executes the next block during that commit and waits for it only
    /// before starting its own, so execution of block N+1 overlaps the
    /// commit of block N. When this returns, every block before this one is
    /// durable; this one is durable after the next apply, [`Ledger::flush`],
    /// any query, or dropping the ledger.
    ///
    /// A refused block changes nothing (as with [`Ledger::apply_block`]). If
    /// a background commit fails, this and every later call return the
    /// store's error and the ledger must be reopened, which recovers the
    /// last durable block.
    pub fn apply_block_overlapped(
        &mut self,
        verified: VerifiedBlock,
    ) -> Result<BlockOutcome, LedgerError>
    where
        S: 'static,
    {
        let (staged, batch) = self.stage(verified)?;
        let committer = match &mut self.committer {
            Some(committer) => committer,
            committer @ None => committer.insert(Committer::start(Arc::clone(&self.store))?),
        };
        let pending = Arc::new(PendingState::new(&staged.writes));
        let done = committer.submit(batch, self.config.durability)?;
        *self.in_flight.lock() = Some(InFlight {
            pending,
            done: Some(done),
        });
        Ok(self.finish(staged))
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
                *self.failed.lock() = Some(error);
            }
        }
        drop(in_flight);
        self.failure()
    }

    /// The error of a failed background commit, which every later call
    /// returns.
    fn failure(&self) -> Result<(), LedgerError> {
        match &*self.failed.lock() {
            Some(error) => Err(LedgerError::Store(error.clone())),
            None => Ok(()),
        }
    }

    /// Checks, executes and prepares a block and its batch without
    /// committing it or changing the ledger. Waits for a background commit only after
    /// execution (which reads through its overlay), before pruning reads
    /// the stored stale lists.
    fn stage(&mut self, verified: VerifiedBlock) -> Result<(Staged, WriteBatch), LedgerError> {
        self.failure()?;
        let VerifiedBlock { block, tx_ids } = verified;
        let header = *block.header();
        let (height, parent, parent_time) = self.expected_next();
        if header.height != height {
            return Err(LedgerError::WrongHeight {
                expected: height,
                found: header.height,
            });
        }
        if header.parent != parent {
            return Err(LedgerError::WrongParent {
                expected: parent,
                found: header.parent,
            });
        }
        if header.timestamp_ms < parent_time {
            return Err(LedgerError::TimestampBeforeParent {
                parent: parent_time,
                found: header.timestamp_ms,
            });
        }
        check_root("history", header.history_root, self.history.root())?;
        let (receipts, writes, timings) = self.execute(&header, block.transactions(), &tx_ids)?;
        check_root("state", header.state_root, writes.root_hash)?;
        let commit_start = std::time::Instant::now();

        let id = header.id();
        let mut batch = WriteBatch::with_capacity(writes.nodes.len() + 3 * tx_ids.len() + 16);
        add_writes_to_batch(&writes, &mut batch);
        // Commits happen in block order, and pruning must see every stale
        // list written so far.
        self.settle()?;
        if height >= self.config.state_retention {
            add_pruning_to_batch(
                &*self.store,
                height - self.config.state_retention,
                &mut batch,
            )?;
        }
        batch.put(Column::Blocks, height_key(height).to_vec(), block.encode());
        batch.put(Column::BlockIds, id.0.to_vec(), height_key(height).to_vec());
        for (index, tx_id) in tx_ids.iter().enumerate() {
            let key = receipt_key(height, index as u32);
            batch.put(Column::TxIndex, tx_id.0.to_vec(), key.to_vec());
        }
        // One record per block: a block's receipts are written together and
        // read rarely, and one put instead of one per transaction saves a
        // tenth of a 10,000-transfer block's commit.
        batch.put(
            Column::Receipts,
            height_key(height).to_vec(),
            encode_receipts(&receipts),
        );
        let mut history = self.history.clone();
        for (position, hash) in history.append(&id) {
            batch.put(Column::History, position.to_key().to_vec(), hash.0.to_vec());
        }
        batch.put(Column::Meta, HEAD_KEY, header.encode());
        let bytes_written = batch.payload_bytes();
        let staged = Staged {
            header,
            id,
            receipts,
            writes,
            history,
            timings,
            commit_start,
            bytes_written,
        };
        Ok((staged, batch))
    }

    /// Makes a staged block the head (its batch is committed or being
    /// committed) and fills the caches with its writes.
    fn finish(&mut self, staged: Staged) -> BlockOutcome {
        let Staged {
            header,
            id,
            receipts,
            writes,
            history,
            mut timings,
            commit_start,
            bytes_written,
        } = staged;
        self.node_cache.insert_writes(&writes);
        for (position, value) in &writes.values {
            self.head_values.insert(*position, value.as_ref());
        }
        self.history = history;
        self.head = Some(Head { header, id });
        timings.commit = commit_start.elapsed();
        BlockOutcome {
            timings,
            header,
            id,
            receipts,
            bytes_written,
        }
    }

    /// Executes transactions on the head state; returns receipts and the
    /// state tree writes of the new version.
    fn execute(
        &self,
        header: &BlockHeader,
        transactions: &[Transaction],
        tx_ids: &[Hash],
    ) -> Result<
        (
            Vec<Receipt>,
            crate::state_tree::StateTreeWrites,
            ApplyTimings,
        ),
        LedgerError,
    > {
        let start = std::time::Instant::now();
        let stored = StoredStateTree::new(&*self.store);
        // The writes of a block still being committed in the background.
        let pending = self
            .in_flight
            .lock()
            .as_ref()
            .map(|commit| Arc::clone(&commit.pending));
        let overlay = PendingReader {
            pending: pending.as_deref(),
            inner: &stored,
        };
        let reader = self.node_cache.reader(&overlay);
        let base = self.height();
        let committed = CommittedState {
            reader: &reader,
            version: base,
            cache: Some(&self.head_values),
        };
        let context = BlockContext {
            chain_id: self.config.chain_id,
            height: header.height,
            timestamp_ms: header.timestamp_ms,
        };
        let executed =
            execute_transactions(&self.machine, &committed, context, transactions, tx_ids)?;
        let executed_at = std::time::Instant::now();
        let writes = apply_updates(&reader, base, header.height, &executed.updates)?;
        let timings = ApplyTimings {
            execute: executed_at - start,
            state_root: executed_at.elapsed(),
            commit: std::time::Duration::ZERO,
        };
        Ok((executed.receipts, writes, timings))
    }

    /// Builds the next block from `candidates` for a proposer: drops
    /// transactions with invalid signatures, a wrong chain id, a wrong nonce
    /// or a duplicate (in that order of checking), executes the rest in the
    /// given order and fills in every root. The block is not committed:
    /// apply it like any other.
    pub fn build_block(
        &self,
        candidates: Vec<Transaction>,
        timestamp_ms: u64,
    ) -> Result<Block, LedgerError> {
        let (height, parent, parent_time) = self.expected_next();
        let mut transactions = candidates;
        if let Err(VerifyError::InvalidSignatures { indices }) =
            self.verifier.verify_transactions(&transactions)
        {
            remove_indices(&mut transactions, &indices);
        }
        transactions.retain(|tx| tx.chain_id() == self.config.chain_id);
        let mut header = BlockHeader {
            version: BLOCK_FORMAT_VERSION,
            chain_id: self.config.chain_id,
            height,
            parent,
            timestamp_ms: timestamp_ms.max(parent_time),
            tx_count: 0,
            tx_root: Hash::ZERO,
            state_root: Hash::ZERO,
            history_root: self.history.root(),
        };
        loop {
            let tx_ids: Vec<Hash> = transactions.iter().map(Transaction::id).collect();
            match self.execute(&header, &transactions, &tx_ids) {
                Ok((_, writes, _)) => {
                    header.tx_count = u32::try_from(transactions.len()).unwrap_or(u32::MAX);
                    header.tx_root = merkle_root(&tx_ids);
                    header.state_root = writes.root_hash;
                    return Ok(Block::new(header, transactions)?);
                }
                Err(LedgerError::Execution(
                    ExecutionError::WrongNonce { index, .. }
                    | ExecutionError::WrongChain { index, .. }
                    | ExecutionError::DuplicateTransaction { index, .. },
                )) => {
                    transactions.remove(index as usize);
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// The block at `height`.
    pub fn block_by_height(&self, height: u64) -> Result<Option<Block>, LedgerError> {
        self.settle()?;
        match self.store.get(Column::Blocks, &height_key(height))? {
            None => Ok(None),
            Some(bytes) => Ok(Some(Block::decode(&bytes)?)),
        }
    }

    /// The block with id `id`.
    pub fn block_by_id(&self, id: &Hash) -> Result<Option<Block>, LedgerError> {
        self.settle()?;
        match self.store.get(Column::BlockIds, id.as_bytes())? {
            None => Ok(None),
            Some(height) => {
                let height = <[u8; 8]>::try_from(&height[..])
                    .map(u64::from_be_bytes)
                    .map_err(|_| LedgerError::Corrupt("block id index is not 8 bytes".into()))?;
                self.block_by_height(height)
            }
        }
    }

    /// The transaction with id `id`, its receipt, its block header and its
    /// inclusion proof against the header's transaction root.
    pub fn transaction(&self, id: &Hash) -> Result<Option<TransactionRecord>, LedgerError> {
        self.settle()?;
        let Some(location) = self.store.get(Column::TxIndex, id.as_bytes())? else {
            return Ok(None);
        };
        let location: [u8; 12] = location[..]
            .try_into()
            .map_err(|_| LedgerError::Corrupt("transaction index entry is not 12 bytes".into()))?;
        let height = u64::from_be_bytes(location[..8].try_into().unwrap_or_default());
        let index = u32::from_be_bytes(location[8..].try_into().unwrap_or_default());
        let block = self
            .block_by_height(height)?
            .ok_or_else(|| LedgerError::Corrupt(format!("indexed block {height} is missing")))?;
        let transaction = block
            .transactions()
            .get(index as usize)
            .cloned()
            .ok_or_else(|| LedgerError::Corrupt("indexed transaction is missing".into()))?;
        let receipt = self
            .store
            .get(Column::Receipts, &height_key(height))?
            .and_then(|bytes| decode_receipts(&bytes))
            .and_then(|receipts| receipts.into_iter().nth(index as usize))
            .ok_or_else(|| LedgerError::Corrupt("receipt is missing or malformed".into()))?;
        let ids: Vec<Hash> = block.transactions().iter().map(Transaction::id).collect();
        let inclusion = InclusionProof::from_leaves(&ids, u64::from(index))?;
        Ok(Some(TransactionRecord {
            transaction,
            receipt,
            header: *block.header(),
            inclusion,
        }))
    }

    /// The proof that the block at `height` is in the history committed by
    /// the head (for `height` below the head's).
    pub fn history_proof(&self, height: u64) -> Result<InclusionProof, LedgerError> {
        self.settle()?;
        let head = self.head.as_ref().ok_or(LedgerError::HeightUnavailable {
            height,
            oldest: 0,
            head: None,
        })?;
        Ok(HistoryTree::inclusion_proof(
            &StoredHistory(&*self.store),
            height,
            head.header.height,
        )?)
    }

    /// The value of application key `key` at `height` (the head if `None`)
    /// with its proof against that height's state root.
    pub fn state(&self, key: &[u8], height: Option<u64>) -> Result<StateRecord, LedgerError> {
        self.settle()?;
        let head = self.height();
        let height = match (height, head) {
            (Some(height), Some(head)) if height <= head => height,
            (None, Some(head)) => head,
            (height, head) => {
                return Err(LedgerError::HeightUnavailable {
                    height: height.unwrap_or(0),
                    oldest: self.oldest_state_height(),
                    head,
                })
            }
        };
        if height < self.oldest_state_height() {
            return Err(LedgerError::HeightUnavailable {
                height,
                oldest: self.oldest_state_height(),
                head,
            });
        }
        let header = *self
            .block_by_height(height)?
            .ok_or_else(|| LedgerError::Corrupt(format!("block {height} is missing")))?
            .header();
        let stored = StoredStateTree::new(&*self.store);
        let (value, proof) = prove(
            &self.node_cache.reader(&stored),
            height,
            &application_position(key),
        )?;
        Ok(StateRecord {
            value,
            proof,
            header,
        })
    }

    /// The oldest height whose state is still readable.
    pub fn oldest_state_height(&self) -> u64 {
        self.height()
            .map(|head| head.saturating_sub(self.config.state_retention.saturating_sub(1)))
            .unwrap_or(0)
    }

    /// The next nonce `sender` must use.
    pub fn nonce(&self, sender: &PublicKey) -> Result<u64, LedgerError> {
        self.settle()?;
        let stored = StoredStateTree::new(&*self.store);
        let state = CommittedState {
            reader: &stored,
            version: self.height(),
            cache: Some(&self.head_values),
        };
        match state
            .read(&nonce_position(sender))
            .map_err(LedgerError::Corrupt)?
        {
            None => Ok(0),
            Some(bytes) => <[u8; 8]>::try_from(&bytes[..])
                .map(u64::from_le_bytes)
                .map_err(|_| LedgerError::Corrupt("stored nonce is not 8 bytes".into())),
        }
    }
}

/// What [`Ledger::audit`] checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Blocks re-verified.
    pub blocks: u64,
    /// Transactions re-verified and re-executed.
    pub transactions: u64,
}

/// The first inconsistency [`Ledger::audit`] found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit failed at height {height}: {problem}")]
pub struct AuditError {
    /// Where.
    pub height: u64,
    /// What.
    pub problem: String,
}

impl<S: Store, M: StateMachine> Ledger<S, M> {
    /// Re-verifies the whole stored ledger from genesis: every block's
    /// encoding, chain links, signatures and transaction root, the history
    /// root, and the state root by re-executing every transaction on a
    /// scratch in-memory state; receipts are compared with the stored ones,
    /// and retained stored state roots with the headers. Reports the first
    /// inconsistency.
    pub fn audit(&self) -> Result<AuditReport, AuditError> {
        let Some(head) = self.height() else {
            return Ok(AuditReport::default());
        };
        let mut report = AuditReport::default();
        let mut replay = crate::state_tree::MemoryStateTree::new();
        let mut history = HistoryTree::new();
        let mut parent = Hash::ZERO;
        let mut parent_time = 0u64;
        for height in 0..=head {
            let fail = |problem: String| AuditError { height, problem };
            let block = self
                .block_by_height(height)
                .map_err(|e| fail(e.to_string()))?
                .ok_or_else(|| fail("block is missing".into()))?;
            let header = *block.header();
            if header.height != height {
                return Err(fail(format!("header says height {}", header.height)));
            }
            if header.parent != parent {
                return Err(fail(
                    "parent hash does not link to the previous block".into(),
                ));
            }
            if header.timestamp_ms < parent_time {
                return Err(fail("timestamp goes backwards".into()));
            }
            check_root("history", header.history_root, history.root())
                .map_err(|e| fail(e.to_string()))?;
            let verified = verify_block(&self.verifier, self.config.chain_id, block)
                .map_err(|e| fail(e.to_string()))?;
            let context = BlockContext {
                chain_id: self.config.chain_id,
                height,
                timestamp_ms: header.timestamp_ms,
            };
            let committed = CommittedState {
                reader: &replay,
                version: height.checked_sub(1),
                cache: None,
            };
            let executed = execute_transactions(
                &self.machine,
                &committed,
                context,
                verified.block.transactions(),
                &verified.tx_ids,
            )
            .map_err(|e| fail(e.to_string()))?;
            let root = replay
                .update(height, &executed.updates)
                .map_err(|e| fail(e.to_string()))?;
            check_root("state", header.state_root, root).map_err(|e| fail(e.to_string()))?;
            if height >= self.oldest_state_height() {
                let stored = self
                    .state_root_at(height)
                    .map_err(|e| fail(e.to_string()))?;
                check_root("stored state", header.state_root, stored)
                    .map_err(|e| fail(e.to_string()))?;
            }
            let stored = self
                .store
                .get(Column::Receipts, &height_key(height))
                .map_err(|e| fail(e.to_string()))?
                .and_then(|bytes| decode_receipts(&bytes));
            if stored.as_ref() != Some(&executed.receipts) {
                return Err(fail("stored receipts differ from re-execution".to_string()));
            }
            // Keep the scratch state small: only the previous version is read.
            replay.prune(height);
            parent = header.id();
            parent_time = header.timestamp_ms;
            history.append(&parent);
            report.blocks += 1;
            report.transactions += u64::from(header.tx_count);
        }
        Ok(report)
    }
}

/// The stateless checks, for use ahead of the ledger (a pipeline stage).
pub fn verify_block(
    verifier: &SignatureVerifier,
    chain_id: u64,
    block: Block,
) -> Result<VerifiedBlock, LedgerError> {
    let header = block.header();
    if header.chain_id != chain_id {
        return Err(LedgerError::WrongChain {
            expected: chain_id,
            found: header.chain_id,
        });
    }
    verifier.verify_transactions(block.transactions())?;
    let tx_ids: Vec<Hash> = {
        use rayon::prelude::*;
        block
            .transactions()
            .par_iter()
            .with_min_len(256)
            .map(Transaction::id)
            .collect()
    };
    check_root("transaction", header.tx_root, merkle_root(&tx_ids))?;
    Ok(VerifiedBlock { block, tx_ids })
}

fn check_root(root: &'static str, header: Hash, computed: Hash) -> Result<(), LedgerError> {
    if header != computed {
        return Err(LedgerError::RootMismatch {
            root,
            header,
            computed,
        });
    }
    Ok(())
}

fn remove_indices<T>(items: &mut Vec<T>, indices: &[u32]) {
    let mut index = 0u32;
    items.retain(|_| {
        let keep = indices.binary_search(&index).is_err();
        index += 1;
        keep
    });
}
