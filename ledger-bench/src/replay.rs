//! The validator's replay of the generated blocks, timed stage by stage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use ledger_core::store::Store;
use ledger_core::verify::SignatureVerifier;
use ledger_core::{
    verify_block, Block, CheckpointReport, Heights, Ledger, LedgerConfig, VerifiedBlock,
};
use parking_lot::RwLock;

use crate::witnessed::{WitnessedLog, Witnessing};
use crate::workload::{BenchApp, WorkloadKind, CHAIN_ID};
use crate::{allocations, memory, progress};

/// Time and counts of the replay.
#[derive(Default)]
pub struct Replay {
    /// `--witnessed-every`: what the log and its witnesses did.
    pub witnessing: Option<Witnessing>,
    pub decode: Duration,
    pub verify: Duration,
    pub apply: Duration,
    pub execute: Duration,
    pub state_tree: Duration,
    pub commit: Duration,
    /// Measured blocks whose execution read the application's hinted keys
    /// ahead (the engine does when reads miss its head-value cache).
    pub read_ahead_blocks: u64,
    /// Measured blocks.
    pub blocks: u64,
    pub txs: u64,
    pub failed: u64,
    /// The blocks' own batches (block, ids, receipts, history, head).
    pub block_bytes: u64,
    /// CPU time of the measured part of the replay, all threads.
    pub cpu_seconds: Option<f64>,
    /// Heap allocations during the measured part of the replay, all threads.
    pub allocations: u64,
    pub seconds: f64,
    pub state_root: String,
    pub commit_latency_us: Option<Histogram<u64>>,
    /// When each measured block was applied (seconds from the measured
    /// start) and its transactions: the throughput of each quarter.
    pub block_done: Vec<(f64, u64)>,
    /// The ledger's heights when the measured replay ended.
    pub heights: Heights,
    /// Checkpoints during the measured replay (the setup blocks' state is
    /// checkpointed before it starts, and not counted).
    pub checkpoints: CheckpointDelta,
    /// The largest `applied - checkpoint` after a block.
    pub max_checkpoint_lag: u64,
    /// The most bytes the state versions in memory held after a block.
    pub max_layer_bytes: usize,
    /// Resident memory after the first quarter of the blocks (warmed up),
    /// after the last block, and the most seen after any block.
    pub rss_warm: Option<u64>,
    pub rss_end: Option<u64>,
    pub rss_max: Option<u64>,
    /// Peak resident memory of the measured replay (of the whole process
    /// where the peak cannot be reset).
    pub peak_rss: Option<u64>,
    pub peak_rss_reset: bool,
}

/// Checkpoint counters between two [`CheckpointReport`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckpointDelta {
    pub written: u64,
    pub bytes: u64,
    pub backpressure_waits: u64,
}

impl CheckpointDelta {
    pub fn between(before: &CheckpointReport, after: &CheckpointReport) -> Self {
        CheckpointDelta {
            written: after.checkpoints_written - before.checkpoints_written,
            bytes: after.checkpoint_bytes_written - before.checkpoint_bytes_written,
            backpressure_waits: after.backpressure_waits - before.backpressure_waits,
        }
    }
}

impl Replay {
    /// Transactions per second of the first and of the last quarter of the
    /// measured blocks (`None` under four blocks).
    pub fn quarter_rates(&self) -> Option<(f64, f64)> {
        let n = self.block_done.len();
        let q = n / 4;
        if q == 0 {
            return None;
        }
        let time_at = |i: usize| {
            if i == 0 {
                0.0
            } else {
                self.block_done[i - 1].0
            }
        };
        let rate = |from: usize, to: usize| {
            let txs: u64 = self.block_done[from..to].iter().map(|(_, txs)| txs).sum();
            txs as f64 / (time_at(to) - time_at(from)).max(1e-9)
        };
        Some((rate(0, q), rate(n - q, n)))
    }
}

/// A block that passed the stateless stage, with the stage's timings.
struct Prepared {
    verified: VerifiedBlock,
    decode: Duration,
    verify: Duration,
    /// When the block entered the pipeline (for its latency).
    entered: Instant,
}

/// Blocks verified ahead of execution: one block in flight, one queued.
const PIPELINE_DEPTH: usize = 2;

/// Replays `blocks` as a validator. With `pipelined`, decoding and signature
/// verification of the next block run on their own thread while the current
/// block executes, and each block's commit runs in the background while the
/// next one executes ([`Ledger::apply_block_overlapped`]). The first
/// `setup_blocks` (genesis: funding, registrations) are applied and their
/// state checkpointed before the measured part.
/// Returns the ledger as the replay left it: every block durable, the state
/// checkpointed up to `heights.state_checkpoint` (no final checkpoint).
pub fn replay<S: Store + 'static>(
    store: S,
    kind: WorkloadKind,
    blocks: &[Bytes],
    setup_blocks: usize,
    pipelined: bool,
    config: LedgerConfig,
    witnessed_every: Option<u64>,
) -> Result<(Replay, Ledger<S, BenchApp>), String> {
    let shared = Arc::new(RwLock::new(
        Ledger::open(store, BenchApp::new(kind), config).map_err(|e| e.to_string())?,
    ));
    // The signed, witnessed checkpoints of `--witnessed-every` (started
    // once the genesis block is in).
    let mut witnessed: Option<WitnessedLog<S, BenchApp>> = None;
    let mut report = Replay::default();
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).map_err(|e| e.to_string())?;
    let bar = progress(blocks.len() as u64, "replay");
    let (sender, receiver) = crossbeam_channel::bounded::<Result<Prepared, String>>(PIPELINE_DEPTH);
    let prepare = |verifier: &SignatureVerifier, bytes: &Bytes| -> Result<Prepared, String> {
        let entered = Instant::now();
        let block = Block::decode(bytes).map_err(|e| e.to_string())?;
        let decoded = Instant::now();
        let verified = verify_block(verifier, CHAIN_ID, block).map_err(|e| e.to_string())?;
        Ok(Prepared {
            verified,
            decode: decoded - entered,
            verify: decoded.elapsed(),
            entered,
        })
    };
    let start = Instant::now();
    let mut measured_start = start;
    let mut cpu_start = process_cpu_seconds();
    let mut allocations_start = allocations::allocations();
    let mut checkpoints_start = shared.read().checkpoint_report();
    let setup_blocks = setup_blocks.max(1);
    let warm_block = setup_blocks - 1 + (blocks.len().saturating_sub(setup_blocks) / 4).max(1);
    std::thread::scope(|scope| -> Result<(), String> {
        if pipelined {
            let sender = sender.clone();
            scope.spawn(move || {
                let verifier = own_pool_verifier();
                for bytes in blocks {
                    let prepared = prepare(&verifier, bytes);
                    let failed = prepared.is_err();
                    if sender.send(prepared).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let verifier = SignatureVerifier::default();
        let mut queued = blocks.iter();
        // In the pipelined loop a block is durable when the next one has
        // been applied: when it entered the pipeline, until then.
        let mut awaiting_durability: Option<Instant> = None;
        for height in 0..blocks.len() {
            let prepared = if pipelined {
                receiver.recv().map_err(|e| e.to_string())??
            } else {
                let bytes = queued.next().ok_or("ran out of blocks")?;
                prepare(&verifier, bytes)?
            };
            let applied_at = Instant::now();
            let mut ledger = shared.write();
            let outcome = if pipelined {
                // The block commits in the background while the next one
                // executes; the previous block is durable now.
                ledger.apply_block_overlapped(prepared.verified)
            } else {
                ledger.apply_block(prepared.verified)
            }
            .map_err(|e| e.to_string())?;
            let done = Instant::now();
            // The setup blocks fund accounts; the measured workload is the
            // transfers after them, on a checkpointed state (as the engine
            // before checkpoints had it in the store).
            if height + 1 < setup_blocks {
                drop(ledger);
            } else if height + 1 == setup_blocks {
                ledger.flush().map_err(|e| e.to_string())?;
                ledger.checkpoint_state().map_err(|e| e.to_string())?;
                checkpoints_start = ledger.checkpoint_report();
                drop(ledger);
                if let Some(every) = witnessed_every {
                    witnessed = Some(WitnessedLog::start(Arc::clone(&shared), every)?);
                }
                report.peak_rss_reset = memory::reset_peak();
                measured_start = Instant::now();
                report.seconds = -start.elapsed().as_secs_f64();
                cpu_start = process_cpu_seconds();
                allocations_start = allocations::allocations();
            } else {
                report.decode += prepared.decode;
                report.verify += prepared.verify;
                report.apply += done - applied_at;
                report.execute += outcome.timings.execute;
                report.state_tree += outcome.timings.state_root;
                report.commit += outcome.timings.commit;
                report.read_ahead_blocks += u64::from(outcome.timings.read_ahead);
                report.blocks += 1;
                let txs = u64::from(outcome.header.tx_count);
                report.txs += txs;
                report.failed += outcome.receipts.iter().filter(|r| !r.is_success()).count() as u64;
                report.block_bytes += outcome.bytes_written as u64;
                report
                    .block_done
                    .push(((done - measured_start).as_secs_f64(), txs));
                // Sequential: this block is durable now. Pipelined: the
                // previous one is.
                let durable = if pipelined {
                    awaiting_durability.replace(prepared.entered)
                } else {
                    Some(prepared.entered)
                };
                if let Some(entered) = durable {
                    record_latency(&mut latency, done - entered)?;
                }
                sample_state(&mut report, &ledger, height == warm_block);
                drop(ledger);
                if let Some(log) = &witnessed {
                    log.after_block()?;
                }
            }
            report.state_root = outcome.header.state_root.to_hex();
            bar.inc(1);
        }
        shared.read().flush().map_err(|e| e.to_string())?;
        if let Some(log) = &witnessed {
            // The last block is durable now: its checkpoint, if due.
            log.after_block()?;
        }
        if let Some(entered) = awaiting_durability {
            record_latency(&mut latency, entered.elapsed())?;
        }
        Ok(())
    })?;
    report.seconds += start.elapsed().as_secs_f64();
    if let Some(log) = witnessed.take() {
        // The last checkpoint has a few seconds to be cosigned (not timed).
        report.witnessing = Some(log.finish(Duration::from_secs(10)));
    }
    let ledger = Arc::try_unwrap(shared)
        .map_err(|_| "the ledger is still shared after the run".to_string())?
        .into_inner();
    report.cpu_seconds = cpu_start.zip(process_cpu_seconds()).map(|(a, b)| b - a);
    report.allocations = allocations::allocations().saturating_sub(allocations_start);
    report.rss_end = memory::resident_bytes();
    report.peak_rss = memory::peak_resident_bytes();
    report.heights = ledger.heights();
    report.checkpoints = CheckpointDelta::between(&checkpoints_start, &ledger.checkpoint_report());
    bar.finish_and_clear();
    report.commit_latency_us = Some(latency);
    Ok((report, ledger))
}

/// After a measured block: resident memory, checkpoint lag, and the bytes
/// of the state versions in memory.
fn sample_state<S: Store, M: ledger_core::StateMachine>(
    report: &mut Replay,
    ledger: &Ledger<S, M>,
    warm: bool,
) {
    let rss = memory::resident_bytes();
    if warm {
        report.rss_warm = rss;
    }
    report.rss_max = report.rss_max.max(rss);
    let heights = ledger.heights();
    let lag = checkpoint_lag(&heights);
    report.max_checkpoint_lag = report.max_checkpoint_lag.max(lag);
    report.max_layer_bytes = report
        .max_layer_bytes
        .max(ledger.checkpoint_report().memory_bytes);
}

/// Applied blocks whose state is not in the store yet.
pub fn checkpoint_lag(heights: &Heights) -> u64 {
    match (heights.applied, heights.state_checkpoint) {
        (Some(applied), Some(checkpoint)) => applied.saturating_sub(checkpoint),
        (Some(applied), None) => applied + 1,
        (None, _) => 0,
    }
}

/// A verifier on a pool of its own: on the shared one, the state tree's
/// parallel hashing of block N would queue behind the signature chunks of
/// block N+1 (the global pool if a pool cannot be built).
pub fn own_pool_verifier() -> SignatureVerifier {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .thread_name(|i| format!("verify-{i}"))
        .build()
        .map(std::sync::Arc::new);
    match pool {
        Ok(pool) => SignatureVerifier::default().with_pool(pool),
        Err(_) => SignatureVerifier::default(),
    }
}

/// Records one block's latency, in microseconds.
fn record_latency(latency: &mut Histogram<u64>, time: Duration) -> Result<(), String> {
    latency
        .record(time.as_micros().max(1) as u64)
        .map_err(|e| e.to_string())
}

/// CPU time this process has used (all threads, user and system), from
/// `/proc/self/stat`; `None` where that is not available. Linux reports it
/// in ticks of `USER_HZ`, which is 100 on every architecture Linux
/// supports for user space.
pub fn process_cpu_seconds() -> Option<f64> {
    cpu_seconds_of(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// User plus system time from a `/proc/PID/stat` line.
fn cpu_seconds_of(stat: &str) -> Option<f64> {
    const USER_HZ: f64 = 100.0;
    // The command name (field 2) may contain spaces; it ends at the last ')'.
    let after = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_from_a_stat_line() {
        // Fields 14 and 15 are utime and stime; the name may hold spaces
        // and parentheses.
        let line = "4242 (ledger (bench) x) R 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 3";
        assert_eq!(cpu_seconds_of(line), Some(3.0));
        assert_eq!(cpu_seconds_of("4242 (short) R 1 2"), None);
        assert_eq!(cpu_seconds_of(""), None);
        assert!(process_cpu_seconds().is_some_and(|seconds| seconds >= 0.0));
    }
}
