//! What the server reads from: the ledger (behind [`LedgerReader`], shared
//! with the node that applies blocks) and the latest witnessed checkpoint
//! (behind [`CheckpointSource`], which the log side implements).

use std::sync::Arc;

use ledger_core::merkle::tiles::TileRequest;
use ledger_core::{Hash, Ledger, LedgerError, StateMachine, Store, WitnessedProof};
use parking_lot::RwLock;

/// The latest witnessed checkpoint: a C2SP signed note (checkpoint body,
/// the log's signature, witness cosignatures), as text. Implemented by the
/// log side, which issues checkpoints and gathers cosignatures.
pub trait CheckpointSource: Send + Sync {
    /// The latest checkpoint note, or `None` before the first one. Called
    /// once per request: it should be cheap (a clone under a lock).
    fn latest(&self) -> Option<String>;
}

/// The ledger reads the server makes; each is a blocking call, run on
/// tokio's blocking pool. Every one takes the tree size of the checkpoint
/// it answers for.
pub trait LedgerReader: Send + Sync + 'static {
    /// The contents of a tile or entry bundle of the history tree of
    /// `tree_size` blocks; `None` if the tile is not within it
    /// ([`Ledger::history_tile`]).
    fn history_tile(
        &self,
        tile: &TileRequest,
        tree_size: u64,
    ) -> Result<Option<Vec<u8>>, LedgerError>;

    /// A transaction's witnessed proof at `tree_size`
    /// ([`Ledger::witnessed_transaction_proof`]).
    fn transaction_proof(
        &self,
        id: &Hash,
        tree_size: u64,
    ) -> Result<Option<WitnessedProof>, LedgerError>;

    /// A key's witnessed state proof after block `height`, at `tree_size`
    /// ([`Ledger::witnessed_state_proof`]).
    fn state_proof(
        &self,
        key: &[u8],
        height: u64,
        tree_size: u64,
    ) -> Result<WitnessedProof, LedgerError>;
}

/// A ledger shared with the node that applies blocks: reads take the read
/// lock (the `Ledger`'s queries take `&self`), so they run beside each
/// other and wait only while a block is applied.
pub struct SharedLedger<S: Store, M: StateMachine> {
    ledger: Arc<RwLock<Ledger<S, M>>>,
}

impl<S: Store, M: StateMachine> SharedLedger<S, M> {
    /// Shares `ledger`.
    pub fn new(ledger: Arc<RwLock<Ledger<S, M>>>) -> Self {
        SharedLedger { ledger }
    }
}

impl<S, M> LedgerReader for SharedLedger<S, M>
where
    S: Store + Send + Sync + 'static,
    M: StateMachine + Send + Sync + 'static,
    Ledger<S, M>: Send + Sync,
{
    fn history_tile(
        &self,
        tile: &TileRequest,
        tree_size: u64,
    ) -> Result<Option<Vec<u8>>, LedgerError> {
        self.ledger.read().history_tile(tile, tree_size)
    }

    fn transaction_proof(
        &self,
        id: &Hash,
        tree_size: u64,
    ) -> Result<Option<WitnessedProof>, LedgerError> {
        self.ledger
            .read()
            .witnessed_transaction_proof(id, tree_size)
    }

    fn state_proof(
        &self,
        key: &[u8],
        height: u64,
        tree_size: u64,
    ) -> Result<WitnessedProof, LedgerError> {
        self.ledger
            .read()
            .witnessed_state_proof(key, height, tree_size)
    }
}
