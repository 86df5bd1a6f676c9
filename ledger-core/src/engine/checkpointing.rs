//! When the state is checkpointed, backpressure, and recovery.
//!
//! After each applied block the engine starts a state checkpoint (on the
//! checkpoint thread, `state_checkpoint`) of every *durable* version in
//! memory once [`LedgerConfig::checkpoint_blocks`] blocks,
//! [`LedgerConfig::checkpoint_interval`] or
//! [`LedgerConfig::checkpoint_memory_bytes`] (by default a quarter of
//! [`LedgerConfig::state_memory_bytes`]) is reached, whichever comes first,
//! one at a time. Before
//! each block it collects a finished checkpoint (dropping the versions it
//! covers from memory) and, while the versions in memory hold the whole
//! budget, waits for checkpoints instead of growing; before holding a new
//! version it waits until that version fits inside the budget beside the
//! others (`make_room`). A failed checkpoint poisons the ledger like a
//! failed background commit.
//!
//! Opening replays the durable blocks after the last checkpoint into
//! memory (`recovery`).
//!
//! [`LedgerConfig::checkpoint_blocks`]: super::LedgerConfig::checkpoint_blocks
//! [`LedgerConfig::checkpoint_interval`]: super::LedgerConfig::checkpoint_interval
//! [`LedgerConfig::checkpoint_memory_bytes`]: super::LedgerConfig::checkpoint_memory_bytes
//! [`LedgerConfig::state_memory_bytes`]: super::LedgerConfig::state_memory_bytes

use std::sync::Arc;

use crate::machine::StateMachine;
use crate::state_tree::{StateTreeError, StateTreeWrites};
use crate::store::{Store, StoreError};

use super::state_checkpoint::{CheckpointJob, Checkpointer};
use super::{Head, Ledger, LedgerError};

/// A checkpoint's error as the store error a poisoned ledger reports: a
/// store error stays itself; anything else (a damaged stale list met while
/// pruning) is store corruption.
fn as_store_error(error: LedgerError) -> StoreError {
    match error {
        LedgerError::Store(error) | LedgerError::StateTree(StateTreeError::Storage(error)) => error,
        other => StoreError::Corruption {
            detail: super::error_chain(&other),
        },
    }
}

impl<S: Store, M: StateMachine> Ledger<S, M> {
    /// Before a block: collects a finished checkpoint, and waits for
    /// checkpoints while the versions in memory hold the whole budget.
    pub(super) fn before_apply(&mut self) -> Result<(), LedgerError> {
        self.failure()?;
        self.collect_checkpoint(false)?;
        if self.layers.bytes() < self.config.state_memory_bytes {
            return Ok(());
        }
        self.checkpoint_report.backpressure_waits += 1;
        self.collect_checkpoint(true)?;
        if self.layers.bytes() >= self.config.state_memory_bytes {
            // Make every applied block durable, then checkpoint them all.
            self.settle()?;
            self.start_checkpoint()?;
            self.collect_checkpoint(true)?;
        }
        Ok(())
    }

    /// Before holding a new version whose writes are estimated at
    /// `incoming` bytes: waits for checkpoints until it fits beside the
    /// versions held, within [`LedgerConfig::state_memory_bytes`], so that
    /// they never hold more than the budget. Every version held is durable
    /// here (the block that brings the new one waited for the commit before
    /// it), so a checkpoint of them all can always be started. A version
    /// larger than the whole budget is held alone.
    ///
    /// [`LedgerConfig::state_memory_bytes`]: super::LedgerConfig::state_memory_bytes
    pub(super) fn make_room(&mut self, incoming: usize) -> Result<(), LedgerError> {
        if self.fits_in_memory(incoming) {
            return Ok(());
        }
        self.checkpoint_report.backpressure_waits += 1;
        self.collect_checkpoint(true)?;
        if self.fits_in_memory(incoming) {
            return Ok(());
        }
        self.start_checkpoint()?;
        self.collect_checkpoint(true)?;
        // Every version held was durable: the checkpoint took them all.
        debug_assert!(self.fits_in_memory(incoming));
        Ok(())
    }

    /// Whether a version of `incoming` estimated bytes may be held now: it
    /// fits inside the memory budget beside the versions held, or none is
    /// held (a version larger than the whole budget is held alone).
    pub(super) fn fits_in_memory(&self, incoming: usize) -> bool {
        self.layers.is_empty()
            || self.layers.bytes().saturating_add(incoming) <= self.config.state_memory_bytes
    }

    /// After a block: starts a checkpoint if one is due.
    pub(super) fn after_apply(&mut self) -> Result<(), LedgerError> {
        self.collect_checkpoint(false)?;
        if self.checkpoint_in_flight.is_none() && self.checkpoint_due() {
            self.start_checkpoint()?;
        }
        Ok(())
    }

    fn checkpoint_due(&self) -> bool {
        let held = self.layers.len() as u64;
        held > 0
            && (held >= self.config.checkpoint_blocks.max(1)
                || self.layers_since.elapsed() >= self.config.checkpoint_interval
                || self.layers.bytes() >= self.checkpoint_memory_bytes())
    }

    /// The bytes held in memory that start a checkpoint.
    fn checkpoint_memory_bytes(&self) -> usize {
        self.config
            .checkpoint_memory_bytes
            .unwrap_or(self.config.state_memory_bytes / 4)
    }

    /// Writes a state checkpoint of every applied block now (making them
    /// durable first) and waits for it; returns the checkpoint height.
    /// Nodes may call it before a planned shutdown, so that the next open
    /// replays nothing.
    pub fn checkpoint_state(&mut self) -> Result<Option<u64>, LedgerError> {
        self.settle()?;
        self.collect_checkpoint(true)?;
        self.start_checkpoint()?;
        self.collect_checkpoint(true)?;
        Ok(self.state_checkpoint)
    }

    /// A checkpoint of `versions` on top of the last one.
    pub(super) fn checkpoint_job(&self, versions: Vec<Arc<StateTreeWrites>>) -> CheckpointJob {
        CheckpointJob {
            versions,
            base: self.state_checkpoint,
            retention: self.config.state_retention,
            every_version: self.config.keep_every_version,
        }
    }

    /// Holds an applied block's version in memory, the new head, and fills
    /// the head-value cache with its values (the two on their own cores).
    pub(super) fn hold_applied_version(&mut self, writes: StateTreeWrites) {
        self.hold(writes, true);
    }

    /// Holds a replayed block's version in memory, at open. Its nodes are
    /// read from the layers until a checkpoint puts them in the node cache.
    ///
    /// The replay leaves the head-value cache alone: it is empty then, which
    /// the cache's invariant allows (it holds only values of the head, not
    /// all of them), and the first reads at the head fill it. The replay's
    /// own execution reads its map of the replayed writes instead.
    pub(super) fn hold_version(&mut self, writes: StateTreeWrites) {
        self.hold(writes, false);
    }

    fn hold(&mut self, writes: StateTreeWrites, fill_head_values: bool) {
        if self.layers.is_empty() {
            self.layers_since = std::time::Instant::now();
        }
        let writes = Arc::new(writes);
        let (head_values, layers) = (&self.head_values, &mut self.layers);
        if fill_head_values {
            rayon::join(
                || {
                    for (position, value) in &writes.values {
                        head_values.insert(*position, value.as_ref());
                    }
                },
                || layers.push(Arc::clone(&writes)),
            );
        } else {
            layers.push(writes);
        }
        let report = &mut self.checkpoint_report;
        report.max_memory_bytes = report.max_memory_bytes.max(self.layers.bytes());
    }

    /// Starts a checkpoint of every durable version in memory, if any.
    fn start_checkpoint(&mut self) -> Result<(), LedgerError> {
        let Some(durable) = self.durable_height() else {
            return Ok(());
        };
        let versions = self.layers.through(durable);
        if versions.is_empty() {
            return Ok(());
        }
        let job = self.checkpoint_job(versions);
        let checkpointer = match &mut self.checkpointer {
            Some(checkpointer) => checkpointer,
            none @ None => none.insert(Checkpointer::start(
                Arc::clone(&self.store),
                Arc::clone(&self.node_cache),
            )?),
        };
        self.checkpoint_in_flight = Some(checkpointer.submit(job)?);
        Ok(())
    }

    /// Collects the checkpoint in flight if it ended (or, with `wait`, once
    /// it ends): drops the versions it covers, or poisons the ledger.
    fn collect_checkpoint(&mut self, wait: bool) -> Result<(), LedgerError> {
        let Some(pending) = &mut self.checkpoint_in_flight else {
            return Ok(());
        };
        let result = if wait { pending.wait() } else { pending.poll() };
        let Some(result) = result else {
            return Ok(());
        };
        self.checkpoint_in_flight = None;
        match result {
            Ok(done) => {
                self.layers.drop_through(done.version);
                self.state_checkpoint = Some(done.version);
                self.layers_since = std::time::Instant::now();
                self.checkpoint_report.checkpoints_written += 1;
                self.checkpoint_report.checkpoint_bytes_written += done.bytes as u64;
                Ok(())
            }
            Err(error) => {
                let error = as_store_error(error);
                let durable = self.durable_head();
                *self.failed.lock() = Some((error.clone(), durable.map(Head::new)));
                Err(LedgerError::Poisoned(error))
            }
        }
    }
}
