//! `--crash-recovery`: after the run the ledger is dropped without a final
//! state checkpoint, as a crash would leave the store (every block up to
//! the head, the state up to the last checkpoint), then reopened from the
//! same RocksDB directory; opening replays the blocks after the checkpoint.

use std::path::Path;
use std::time::Instant;

use ledger_core::{Ledger, LedgerConfig};
use ledger_storage::RocksStore;

use crate::replay::process_cpu_seconds;
use crate::workload::{BenchApp, WorkloadKind};

/// What reopening after the crash took.
#[derive(Clone, Copy, Debug)]
pub struct Recovery {
    /// Opening the RocksDB store.
    pub store_open_seconds: f64,
    /// Opening the ledger: reading the head, replaying the blocks after the
    /// last checkpoint.
    pub ledger_open_seconds: f64,
    /// The replay alone, as the ledger reports it.
    pub replay_seconds: f64,
    /// Of which execution and the state tree.
    pub replay_execute_seconds: f64,
    pub replay_state_root_seconds: f64,
    pub replayed_blocks: u64,
    pub replayed_transactions: u64,
    /// Process CPU time (all threads) while the ledger opened: the
    /// replay's cores, not only its wall time. `None` where the process's
    /// CPU time cannot be read.
    pub ledger_open_cpu_seconds: Option<f64>,
    /// The last state checkpoint the reopened ledger found.
    pub checkpoint_height: Option<u64>,
}

impl Recovery {
    /// Everything from opening the store to a ledger ready for the next
    /// block.
    pub fn seconds(&self) -> f64 {
        self.store_open_seconds + self.ledger_open_seconds
    }

    /// Transactions per second of the replay.
    pub fn replay_rate(&self) -> f64 {
        self.replayed_transactions as f64 / self.replay_seconds.max(1e-9)
    }
}

/// Reopens the ledger at `path` and checks it comes back at the crashed
/// one's head and state root (`expected_height`, `expected_root` in hex).
pub fn reopen(
    path: &Path,
    kind: WorkloadKind,
    config: LedgerConfig,
    expected_height: Option<u64>,
    expected_root: &str,
) -> Result<Recovery, String> {
    let start = Instant::now();
    let store = RocksStore::open(path).map_err(|e| ledger_core::error_chain(&e))?;
    let store_open_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let cpu_start = process_cpu_seconds();
    let ledger = Ledger::open(store, BenchApp::new(kind), config)
        .map_err(|e| ledger_core::error_chain(&e))?;
    let ledger_open_seconds = start.elapsed().as_secs_f64();
    let ledger_open_cpu_seconds = cpu_start
        .zip(process_cpu_seconds())
        .map(|(before, after)| after - before);
    let heights = ledger.heights();
    if heights.applied != expected_height {
        return Err(format!(
            "reopened at height {:?}, the crashed ledger had applied {expected_height:?}",
            heights.applied
        ));
    }
    let root = ledger
        .applied_head()
        .map(|header| header.state_root.to_hex())
        .unwrap_or_default();
    if root != expected_root {
        return Err(format!(
            "reopened at state root {root}, the crashed ledger had {expected_root}"
        ));
    }
    let report = ledger.recovery_report();
    Ok(Recovery {
        store_open_seconds,
        ledger_open_seconds,
        replay_seconds: report.duration.as_secs_f64(),
        replay_execute_seconds: report.execute.as_secs_f64(),
        replay_state_root_seconds: report.state_root.as_secs_f64(),
        replayed_blocks: report.replayed_blocks,
        replayed_transactions: report.replayed_transactions,
        ledger_open_cpu_seconds,
        checkpoint_height: heights.state_checkpoint,
    })
}
