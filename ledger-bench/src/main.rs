//! `ledger-bench`: the end-to-end benchmark of the ledger engine.
//!
//! It generates a reproducible workload (accounts, a genesis block that
//! funds or registers them, then blocks of signed `transfers` or
//! `provenance` transactions; see [`workload`]), built by a proposer ledger
//! in memory. Then it replays the encoded blocks as a validator:
//! decode → parallel signature verification → execution → state root →
//! one atomic commit per block (RocksDB with a synced write-ahead log by
//! default), and reports transactions per second, the per-stage breakdown,
//! commit latency and the pure signature-verification rate on the same
//! transactions, whose ratio says how close the engine is to the machine's
//! limit.
//!
//! The stages are pipelined: decoding and verification of block N+1 run on
//! their own thread (and their own rayon pool) while block N executes,
//! through a bounded channel, and block N-1 commits in the background while
//! block N executes; `--sequential` runs them one after the other.
//! `ledger-bench audit --path DIR` checks every record of a stored ledger
//! against a replay of its blocks (`Ledger::audit`).

mod allocations;
mod audit;
mod memory;
mod output;
mod rates;
mod recovery;
mod replay;
mod witnessed;
mod workload;

#[global_allocator]
static GLOBAL: allocations::CountingAllocator = allocations::CountingAllocator;

use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ledger_core::store::Store;
use ledger_core::{Block, Ledger, LedgerConfig};
use ledger_storage::{MemStore, RocksStore};
use replay::{replay, CheckpointDelta, Replay};
use workload::{ledger_config, BenchApp, WorkloadKind, WorkloadOptions};

/// Which store the validator commits to.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum StoreKind {
    /// RocksDB in a temporary directory (or `--path`), synced WAL.
    Rocks,
    /// In memory.
    Memory,
}

/// Command-line options. Every run with the same options and seed replays
/// the same bytes and ends at the same state root.
#[derive(Parser, Debug)]
#[command(version, about = "End-to-end benchmark of the ledger engine")]
struct Options {
    #[command(subcommand)]
    command: Option<Command>,
    /// Blocks of transfers after the genesis block.
    #[arg(long, default_value_t = 20)]
    blocks: u32,
    /// Transactions per block.
    #[arg(long, default_value_t = 10_000)]
    txs_per_block: u32,
    /// Accounts (each funded before the measured blocks, in setup blocks of
    /// at most 50,000 transactions).
    #[arg(long, default_value_t = 10_000)]
    accounts: u32,
    /// The application the transactions drive.
    #[arg(long, value_enum, default_value_t = WorkloadKind::Transfers)]
    workload: WorkloadKind,
    /// Payload bytes per transfer (default: a plain 41-byte transfer; more
    /// adds a memo).
    #[arg(long)]
    payload_bytes: Option<usize>,
    /// Share (0 to 1) of each block's transactions that the application
    /// rejects (overdrafts, pledges to unknown needs): included with a failed
    /// receipt. The verification stage's cost of bad signatures is measured
    /// on the same transactions with this share of signatures corrupted.
    #[arg(long, default_value_t = 0.0)]
    invalid_share: f64,
    /// Seed of the workload generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Store of the validator.
    #[arg(long, value_enum, default_value_t = StoreKind::Rocks)]
    store: StoreKind,
    /// Directory for the RocksDB store (default: a temporary directory).
    #[arg(long)]
    path: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Print one JSON object as the last line of standard output.
    #[arg(long)]
    json: bool,
    /// Run the stages one after the other instead of overlapping
    /// verification of the next block with execution of the current one.
    #[arg(long)]
    sequential: bool,
    /// Blocks after which the engine checkpoints the state (default: the
    /// engine's, 32).
    #[arg(long)]
    checkpoint_blocks: Option<u64>,
    /// Milliseconds after which the engine checkpoints the state, however
    /// few blocks (default: the engine's, 2000).
    #[arg(long)]
    checkpoint_ms: Option<u64>,
    /// Memory budget of the state versions not yet checkpointed, in MiB
    /// (default: the engine's, 1024); all of it holds the next block back
    /// until a checkpoint ends.
    #[arg(long)]
    state_memory_mib: Option<usize>,
    /// State versions held in memory, in MiB, that start a checkpoint
    /// (default: the engine's, a quarter of the memory budget).
    #[arg(long)]
    checkpoint_mib: Option<usize>,
    /// After the run, drop the ledger without a final state checkpoint (as
    /// a crash leaves the store: blocks up to the head, state up to the last
    /// checkpoint), reopen it from the same directory and report how long
    /// the replay of the blocks after the checkpoint took. RocksDB only; a
    /// `--checkpoint-blocks` larger than `--blocks` (and a long
    /// `--checkpoint-ms`) replays them all.
    #[arg(long)]
    crash_recovery: bool,
    /// Also issue a signed checkpoint every N blocks and have two witnesses
    /// (in this process, on loopback, durable state) cosign it, as a node
    /// does (`ledger-log`, `ledger-witness`): the throughput then includes
    /// issuance; compare with a run without.
    #[arg(long)]
    witnessed_every: Option<u64>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check every record of a stored ledger against a replay of its
    /// blocks (pass the `--workload` it was written with); with `--json`,
    /// one JSON object. Exits non-zero on any finding.
    Audit {
        /// The ledger's directory.
        #[arg(long)]
        path: PathBuf,
        /// Also time, in the same run, the yardstick the audit is measured
        /// against: re-verifying every block's signatures alone, plus one
        /// BLAKE3 pass over every stored record.
        #[arg(long)]
        yardstick: bool,
    },
}

fn progress(len: u64, label: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>9} [{bar:40}] {pos}/{len} blocks {elapsed} eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label);
    bar
}

/// The engine's configuration with the checkpoint options applied.
fn bench_config(options: &Options) -> LedgerConfig {
    let mut config = ledger_config();
    if let Some(blocks) = options.checkpoint_blocks {
        config.checkpoint_blocks = blocks;
    }
    if let Some(ms) = options.checkpoint_ms {
        config.checkpoint_interval = std::time::Duration::from_millis(ms);
    }
    if let Some(mib) = options.state_memory_mib {
        config.state_memory_bytes = mib.saturating_mul(1 << 20);
    }
    if let Some(mib) = options.checkpoint_mib {
        config.checkpoint_memory_bytes = Some(mib.saturating_mul(1 << 20));
    }
    config
}

/// How the run ended: a final state checkpoint (timed apart from the
/// replay), or a crash and the recovery from it.
#[derive(Default)]
struct Ending {
    final_checkpoint_seconds: Option<f64>,
    final_checkpoint: CheckpointDelta,
    recovery: Option<recovery::Recovery>,
    disk_bytes: Option<u64>,
}

/// Without `crash`: checkpoints every applied block, as a node does before a
/// planned shutdown, so that the bytes count the whole state. With it: drops
/// the ledger as it is (a checkpoint in flight finishes).
fn end<S: Store + 'static>(mut ledger: Ledger<S, BenchApp>, crash: bool) -> Result<Ending, String> {
    let mut ending = Ending::default();
    if !crash {
        let before = ledger.checkpoint_report();
        let start = Instant::now();
        ledger
            .checkpoint_state()
            .map_err(|e| ledger_core::error_chain(&e))?;
        ending.final_checkpoint_seconds = Some(start.elapsed().as_secs_f64());
        ending.final_checkpoint = CheckpointDelta::between(&before, &ledger.checkpoint_report());
    }
    drop(ledger);
    Ok(ending)
}

fn run(options: &Options) -> Result<(), String> {
    if let Some(threads) = options.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| e.to_string())?;
    }
    if let Some(Command::Audit { path, yardstick }) = &options.command {
        return audit::audit(path, *yardstick, options.workload, options.json);
    }
    if options.crash_recovery && matches!(options.store, StoreKind::Memory) {
        return Err("--crash-recovery reopens the store: it needs --store rocks".into());
    }

    let start = Instant::now();
    let workload_options = WorkloadOptions {
        kind: options.workload,
        accounts: options.accounts,
        txs_per_block: options.txs_per_block,
        blocks: options.blocks,
        payload_bytes: options.payload_bytes,
        invalid_share: options.invalid_share,
        seed: options.seed,
    };
    workload_options.check()?;
    let bar = progress(u64::from(options.blocks) + 1, "generate");
    let generated = workload::generate(&workload_options, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    let blocks = generated.blocks;
    let setup_blocks = generated.setup_blocks;
    let generate_time = start.elapsed();
    let workload_bytes: usize = blocks.iter().map(Bytes::len).sum();
    // What generating freed goes back to the OS now, not after the purge
    // delay, so that the measured run's RSS is the engine's own (a node has
    // no generation phase).
    ledger_alloc::release_free_memory();

    let config = bench_config(options);
    let pipelined = !options.sequential;
    let (report, ending): (Replay, Ending) = match options.store {
        StoreKind::Memory => {
            let (report, ledger) = replay(
                MemStore::new(),
                options.workload,
                &blocks,
                setup_blocks,
                pipelined,
                config,
                options.witnessed_every,
            )?;
            (report, end(ledger, false)?)
        }
        StoreKind::Rocks => {
            let temporary;
            let path = match &options.path {
                Some(path) => path.clone(),
                None => {
                    temporary = tempfile::tempdir().map_err(|e| e.to_string())?;
                    temporary.path().join("ledger")
                }
            };
            let store = RocksStore::open(&path).map_err(|e| e.to_string())?;
            let (report, ledger) = replay(
                store,
                options.workload,
                &blocks,
                setup_blocks,
                pipelined,
                config.clone(),
                options.witnessed_every,
            )?;
            let mut ending = end(ledger, options.crash_recovery)?;
            ending.disk_bytes = Some(directory_bytes(&path));
            if options.crash_recovery {
                ending.recovery = Some(recovery::reopen(
                    &path,
                    options.workload,
                    config,
                    report.heights.applied,
                    &report.state_root,
                )?);
            }
            (report, ending)
        }
    };
    let decoded: Vec<Block> = blocks
        .iter()
        .skip(setup_blocks)
        .map(Block::decode)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let pure = rates::pure_verification_rate(&decoded)?;
    let screening = if options.invalid_share > 0.0 {
        Some(rates::screening_rate(&decoded, options.invalid_share)?)
    } else {
        None
    };
    output::print(&output::Run {
        options,
        decoded: &decoded,
        generate_seconds: generate_time.as_secs_f64(),
        workload_bytes,
        invalid_txs: generated.invalid_txs,
        report: &report,
        ending: &ending,
        pure,
        screening,
    });
    Ok(())
}

fn directory_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| match entry.metadata() {
                    Ok(meta) if meta.is_dir() => directory_bytes(&entry.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    ledger_alloc::tune();
    let options = Options::parse();
    if let Err(message) = run(&options) {
        eprintln!("ledger-bench: {message}");
        std::process::exit(1);
    }
}
