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
mod workload;

#[global_allocator]
static GLOBAL: allocations::CountingAllocator = allocations::CountingAllocator;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use ledger_core::store::Store;
use ledger_core::verify::SignatureVerifier;
use ledger_core::Block;
use ledger_core::{verify_block, Ledger, VerifiedBlock};
use ledger_storage::{MemStore, RocksStore};
use workload::{ledger_config, BenchApp, WorkloadKind, WorkloadOptions, CHAIN_ID};

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
    /// Accounts (each funded in the genesis block).
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

/// Time and counts of the replay.
#[derive(Default)]
struct Replay {
    decode: Duration,
    verify: Duration,
    apply: Duration,
    execute: Duration,
    state_tree: Duration,
    commit: Duration,
    txs: u64,
    failed: u64,
    bytes_written: u64,
    /// CPU time of the measured part of the replay, all threads.
    cpu_seconds: Option<f64>,
    /// Heap allocations during the measured part of the replay, all threads.
    allocations: u64,
    seconds: f64,
    state_root: String,
    commit_latency_us: Option<Histogram<u64>>,
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
/// next one executes ([`Ledger::apply_block_overlapped`]).
fn replay<S: Store + 'static>(
    store: S,
    kind: WorkloadKind,
    blocks: &[Bytes],
    pipelined: bool,
) -> Result<Replay, String> {
    let mut ledger =
        Ledger::open(store, BenchApp::new(kind), ledger_config()).map_err(|e| e.to_string())?;
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
    let mut cpu_start = process_cpu_seconds();
    let mut allocations_start = allocations::allocations();
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
            let outcome = if pipelined {
                // The block commits in the background while the next one
                // executes; the previous block is durable now.
                ledger.apply_block_overlapped(prepared.verified)
            } else {
                ledger.apply_block(prepared.verified)
            }
            .map_err(|e| e.to_string())?;
            let done = Instant::now();
            // The genesis block funds accounts; the measured workload is
            // the transfers after it.
            if height == 0 {
                ledger.flush().map_err(|e| e.to_string())?;
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
                report.txs += u64::from(outcome.header.tx_count);
                report.failed += outcome.receipts.iter().filter(|r| !r.is_success()).count() as u64;
                report.bytes_written += outcome.bytes_written as u64;
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
            }
            report.state_root = outcome.header.state_root.to_hex();
            bar.inc(1);
        }
        ledger.flush().map_err(|e| e.to_string())?;
        if let Some(entered) = awaiting_durability {
            record_latency(&mut latency, entered.elapsed())?;
        }
        Ok(())
    })?;
    report.seconds += start.elapsed().as_secs_f64();
    report.cpu_seconds = cpu_start.zip(process_cpu_seconds()).map(|(a, b)| b - a);
    report.allocations = allocations::allocations().saturating_sub(allocations_start);
    bar.finish_and_clear();
    report.commit_latency_us = Some(latency);
    Ok(report)
}

/// A verifier on a pool of its own: on the shared one, the state tree's
/// parallel hashing of block N would queue behind the signature chunks of
/// block N+1 (the global pool if a pool cannot be built).
fn own_pool_verifier() -> SignatureVerifier {
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

/// Signatures per second of the verification stage alone, keys cached, on
/// the same transactions.
fn pure_verification_rate(blocks: &[Block]) -> Result<f64, String> {
    let verifier = SignatureVerifier::default();
    if let Some(first) = blocks.first() {
        verifier
            .verify_transactions(first.transactions())
            .map_err(|e| e.to_string())?;
    }
    let start = Instant::now();
    let mut signatures = 0usize;
    for block in blocks {
        verifier
            .verify_transactions(block.transactions())
            .map_err(|e| e.to_string())?;
        signatures += block.transactions().len();
    }
    Ok(signatures as f64 / start.elapsed().as_secs_f64())
}

/// Signatures per second of the verification stage on the same
/// transactions with `share` of each block's signatures corrupted: the stage
/// must name exactly those (what a node pays to screen bad transactions).
fn screening_rate(blocks: &[Block], share: f64) -> Result<f64, String> {
    let verifier = SignatureVerifier::default();
    let mut prepared = Vec::with_capacity(blocks.len());
    for block in blocks {
        let mut txs = block.transactions().to_vec();
        let count = (share * txs.len() as f64).round() as usize;
        let step = txs.len().checked_div(count).unwrap_or(usize::MAX);
        let mut corrupted = Vec::with_capacity(count);
        for index in (0..txs.len()).step_by(step.max(1)).take(count) {
            let tx = &mut txs[index];
            let mut signature = *tx.signature();
            signature.0[0] ^= 1;
            *tx = tx.clone().with_signature(signature);
            corrupted.push(index as u32);
        }
        prepared.push((txs, corrupted));
    }
    let start = Instant::now();
    let mut signatures = 0usize;
    for (txs, corrupted) in &prepared {
        let named = match verifier.verify_transactions(txs) {
            Ok(()) => Vec::new(),
            Err(ledger_core::VerifyError::InvalidSignatures { indices }) => indices,
            Err(other) => return Err(other.to_string()),
        };
        if &named != corrupted {
            return Err(format!(
                "verification named {} invalid signatures, {} were corrupted",
                named.len(),
                corrupted.len()
            ));
        }
        signatures += txs.len();
    }
    Ok(signatures as f64 / start.elapsed().as_secs_f64())
}

/// CPU time this process has used (all threads, user and system), from
/// `/proc/self/stat`; `None` where that is not available. Linux reports it
/// in ticks of `USER_HZ`, which is 100 on every architecture Linux
/// supports for user space.
fn process_cpu_seconds() -> Option<f64> {
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

fn run(options: &Options) -> Result<(), String> {
    if let Some(threads) = options.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| e.to_string())?;
    }
    if let Some(Command::Audit { path, yardstick }) = &options.command {
        return audit(path, *yardstick, options);
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
    let generated = workload::generate(&workload_options, || bar.inc(1))?;
    bar.finish_and_clear();
    let blocks = generated.blocks;
    let generate_time = start.elapsed();
    let workload_bytes: usize = blocks.iter().map(Bytes::len).sum();

    let (report, disk) = match options.store {
        StoreKind::Memory => (
            replay(
                MemStore::new(),
                options.workload,
                &blocks,
                !options.sequential,
            )?,
            None,
        ),
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
            let report = replay(store, options.workload, &blocks, !options.sequential)?;
            (report, Some(directory_bytes(&path)))
        }
    };
    let decoded: Vec<Block> = blocks
        .iter()
        .skip(1)
        .map(Block::decode)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let pure = pure_verification_rate(&decoded)?;
    let screening = if options.invalid_share > 0.0 {
        Some(screening_rate(&decoded, options.invalid_share)?)
    } else {
        None
    };
    let tx_per_sec = report.txs as f64 / report.seconds;
    let ratio = tx_per_sec / pure;
    let latency = report.commit_latency_us.as_ref();
    let quantile = |q: f64| latency.map(|h| h.value_at_quantile(q)).unwrap_or(0) as f64 / 1_000.0;

    let txs_per_block = options.txs_per_block;
    let average_tx = decoded
        .iter()
        .map(|block| block.encoded_len() as f64 / block.transactions().len().max(1) as f64)
        .sum::<f64>()
        / decoded.len().max(1) as f64;
    println!(
        "ledger-bench: {:?}, {} blocks × {txs_per_block} transactions (≈ {average_tx:.0} bytes each), \
         {} accounts, seed {}, store {:?}, {} threads",
        options.workload,
        options.blocks,
        options.accounts,
        options.seed,
        options.store,
        rayon::current_num_threads()
    );
    println!(
        "workload generated in {:.1} s ({:.1} MB of blocks)",
        generate_time.as_secs_f64(),
        workload_bytes as f64 / 1e6
    );
    println!(
        "end to end        {tx_per_sec:>10.0} tx/s  ({} txs in {:.3} s)",
        report.txs, report.seconds
    );
    println!("pure verification {pure:>10.0} sig/s  (same transactions, keys cached)");
    println!("ratio             {ratio:>10.2}  (end to end / pure verification)");
    if let Some(cpu) = report.cpu_seconds {
        let wall = report.seconds.max(1e-9);
        println!(
            "cpu               {:>10.1} µs per transaction ({cpu:.2} core-seconds; {:.2} cores busy on average)",
            1e6 * cpu / report.txs.max(1) as f64,
            cpu / wall
        );
    }
    let allocations_per_tx = report.allocations as f64 / report.txs.max(1) as f64;
    println!(
        "allocations       {allocations_per_tx:>10.1} per transaction (all stages, all threads)"
    );
    println!(
        "failed            {:>10}  transactions rejected by the application ({} planned)",
        report.failed, generated.invalid_txs
    );
    if let Some(screening) = screening {
        println!(
            "screening         {screening:>10.0} sig/s  (same transactions, {:.1}% of signatures corrupted and named)",
            100.0 * options.invalid_share
        );
    }
    let total = (report.decode + report.verify + report.apply)
        .as_secs_f64()
        .max(1e-9);
    for (stage, time) in [
        ("decode", report.decode),
        ("verify", report.verify),
        ("execute", report.execute),
        ("state root", report.state_tree),
        ("commit", report.commit),
    ] {
        println!(
            "  {stage:<15} {:>8.3} s  {:>5.1}%",
            time.as_secs_f64(),
            100.0 * time.as_secs_f64() / total
        );
    }
    println!(
        "block latency     p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        quantile(0.5),
        quantile(0.99),
        quantile(1.0)
    );
    println!(
        "bytes written     {:.1} MB in batches{}",
        report.bytes_written as f64 / 1e6,
        disk.map(|d| format!(", {:.1} MB on disk", d as f64 / 1e6))
            .unwrap_or_default()
    );
    println!("state root        {}", report.state_root);
    if options.json {
        println!(
            "{{\"workload\":\"{:?}\",\"txs\":{},\"failed\":{},\"seconds\":{:.6},\"tx_per_sec\":{:.1},\"pure_verify_sig_per_sec\":{:.1},\"ratio\":{:.4},\"screening_sig_per_sec\":{},\"cpu_seconds\":{},\"state_root\":\"{}\",\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\"bytes_written\":{},\"allocations_per_tx\":{:.2},\"decode_seconds\":{:.4},\"verify_seconds\":{:.4},\"execute_seconds\":{:.4},\"state_root_seconds\":{:.4},\"commit_seconds\":{:.4}}}",
            options.workload, report.txs, report.failed, report.seconds, tx_per_sec, pure, ratio,
            screening.map_or("null".to_string(), |rate| format!("{rate:.1}")),
            report.cpu_seconds.map_or("null".to_string(), |cpu| format!("{cpu:.3}")),
            report.state_root, quantile(0.5), quantile(0.99), quantile(1.0), report.bytes_written, allocations_per_tx,
            report.decode.as_secs_f64(), report.verify.as_secs_f64(), report.execute.as_secs_f64(),
            report.state_tree.as_secs_f64(), report.commit.as_secs_f64()
        );
    }
    Ok(())
}

/// `ledger-bench audit`: every stored record checked; a finding is a
/// non-zero exit.
fn audit(path: &std::path::Path, yardstick: bool, options: &Options) -> Result<(), String> {
    let opening = Instant::now();
    let store = RocksStore::open(path).map_err(|e| ledger_core::error_chain(&e))?;
    eprintln!("store opened in {:.2} s", opening.elapsed().as_secs_f64());
    let app = BenchApp::new(options.workload);
    let start = Instant::now();
    let bar = progress(0, "audit");
    // When the replay ended and the column checks began.
    let mut replayed: Option<Instant> = None;
    let report = ledger_core::audit_store(
        &store,
        &app,
        &ledger_config(),
        &own_pool_verifier(),
        &mut |step| match step {
            ledger_core::AuditProgress::Replay { done, total } => {
                bar.set_length(total);
                bar.set_position(done);
            }
            ledger_core::AuditProgress::Column(column) => {
                replayed.get_or_insert_with(Instant::now);
                bar.set_message(format!("{column}"));
            }
            _ => {}
        },
    )
    .map_err(|e| ledger_core::error_chain(&e))?;
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let replay_seconds = replayed.map_or(seconds, |at| (at - start).as_secs_f64());
    let yardstick = if yardstick {
        Some(audit_yardstick(&store)?)
    } else {
        None
    };
    if options.json {
        println!(
            "{}",
            audit_json(&report, seconds, replay_seconds, yardstick)
        );
    } else {
        println!(
            "audit {}: {} blocks, {} transactions re-verified and re-executed, {} records \
             ({:.1} MB) checked in {seconds:.2} s ({replay_seconds:.2} s replaying the blocks, \
             {:.2} s comparing the other records)",
            if report.passed() { "passed" } else { "FAILED" },
            report.blocks,
            report.transactions,
            report.records,
            report.bytes as f64 / 1e6,
            seconds - replay_seconds,
        );
        if let Some(y) = yardstick {
            println!(
                "yardstick {:.2} s: signatures alone {:.2} s ({:.0} sig/s) + one BLAKE3 pass over \
                 the stored records {:.2} s; audit / yardstick = {:.2}",
                y.signatures + y.hashing,
                y.signatures,
                report.transactions as f64 / y.signatures,
                y.hashing,
                seconds / (y.signatures + y.hashing)
            );
        }
        for finding in report.findings.iter().take(50) {
            println!("  {finding}");
        }
        let more = report.findings.len().saturating_sub(50) as u64 + report.findings_dropped;
        if more > 0 {
            println!("  … and {more} more (--json lists them)");
        }
    }
    if report.passed() {
        return Ok(());
    }
    let genesis_refused = report.findings.iter().any(|finding| {
        finding.kind == ledger_core::FindingKind::InvalidBlock && finding.key == "0000000000000000"
    });
    if genesis_refused {
        // The application is not recorded in the store: replaying with
        // the other one fails at the genesis block.
        return Err(format!(
            "the genesis block does not replay: was the ledger written with --workload {}? \
             pass the same --workload to audit",
            match options.workload {
                WorkloadKind::Transfers => "provenance or claims",
                WorkloadKind::Provenance => "transfers or claims",
                WorkloadKind::Claims => "transfers or provenance",
            }
        ));
    }
    Err(format!(
        "the audit found {} problem(s)",
        report.findings.len() as u64 + report.findings_dropped
    ))
}

/// The audit report as one JSON object.
/// What the audit is measured against, timed in the same run.
#[derive(Clone, Copy, Debug)]
struct Yardstick {
    /// Reading, decoding and verifying every block (signatures and
    /// transaction root), with a fresh verifier.
    signatures: f64,
    /// One BLAKE3 pass over every stored key and value.
    hashing: f64,
}

fn audit_yardstick(store: &RocksStore) -> Result<Yardstick, String> {
    use ledger_core::store::{Column, KeyRange, StoreRead};
    let verifier = SignatureVerifier::default();
    let start = Instant::now();
    for entry in store
        .scan(Column::Blocks, KeyRange::all())
        .map_err(|e| ledger_core::error_chain(&e))?
    {
        let (_, bytes) = entry.map_err(|e| ledger_core::error_chain(&e))?;
        let block = Block::decode(&bytes).map_err(|e| e.to_string())?;
        let chain_id = block.header().chain_id;
        verify_block(&verifier, chain_id, block).map_err(|e| ledger_core::error_chain(&e))?;
    }
    let signatures = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut hasher = blake3::Hasher::new();
    for column in Column::ALL {
        for entry in store
            .scan(column, KeyRange::all())
            .map_err(|e| ledger_core::error_chain(&e))?
        {
            let (key, value) = entry.map_err(|e| ledger_core::error_chain(&e))?;
            hasher.update(&key);
            hasher.update(&value);
        }
    }
    std::hint::black_box(hasher.finalize());
    Ok(Yardstick {
        signatures,
        hashing: start.elapsed().as_secs_f64(),
    })
}

fn audit_json(
    report: &ledger_core::AuditReport,
    seconds: f64,
    replay_seconds: f64,
    yardstick: Option<Yardstick>,
) -> String {
    let yardstick = yardstick.map_or(String::new(), |y| {
        format!(
            ",\"yardstick_signature_seconds\":{:.3},\"yardstick_hash_seconds\":{:.3}",
            y.signatures, y.hashing
        )
    });
    let findings: Vec<String> = report
        .findings
        .iter()
        .map(|finding| {
            format!(
                "{{\"column\":\"{}\",\"key\":\"{}\",\"kind\":\"{}\",\"detail\":{}}}",
                finding.column,
                finding.key,
                finding.kind.name(),
                json_string(&finding.detail)
            )
        })
        .collect();
    format!(
        "{{\"passed\":{},\"blocks\":{},\"transactions\":{},\"records\":{},\"bytes\":{},\"seconds\":{seconds:.3},\"replay_seconds\":{replay_seconds:.3},\"findings\":[{}],\"findings_dropped\":{}{yardstick}}}",
        report.passed(),
        report.blocks,
        report.transactions,
        report.records,
        report.bytes,
        findings.join(","),
        report.findings_dropped
    )
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() {
    let options = Options::parse();
    if let Err(message) = run(&options) {
        eprintln!("ledger-bench: {message}");
        std::process::exit(1);
    }
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
