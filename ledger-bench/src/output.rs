//! The run's report: text for a person, and with `--json` one JSON object
//! as the last line of standard output.

use ledger_core::Block;

use crate::memory::mib;
use crate::replay::{checkpoint_lag, Replay};
use crate::{Ending, Options};

/// Everything the report prints.
pub struct Run<'a> {
    pub options: &'a Options,
    /// The measured blocks (genesis left out).
    pub decoded: &'a [Block],
    pub generate_seconds: f64,
    pub workload_bytes: usize,
    pub invalid_txs: u64,
    pub report: &'a Replay,
    pub ending: &'a Ending,
    /// Signatures per second of verification alone.
    pub pure: f64,
    pub screening: Option<f64>,
}

/// One JSON object, built field by field.
#[derive(Default)]
struct Json(Vec<String>);

impl Json {
    fn raw(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        self.0.push(format!("\"{name}\":{value}"));
        self
    }
    fn text(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        self.raw(name, format!("\"{value}\""))
    }
    fn float(&mut self, name: &str, value: f64, decimals: usize) -> &mut Self {
        self.raw(name, format!("{value:.decimals$}"))
    }
    fn option<T: std::fmt::Display>(&mut self, name: &str, value: Option<T>) -> &mut Self {
        match value {
            Some(value) => self.raw(name, value),
            None => self.raw(name, "null"),
        }
    }
    fn finish(&self) -> String {
        format!("{{{}}}", self.0.join(","))
    }
}

/// An optional figure with fixed decimals, for [`Json::option`].
fn fixed(value: Option<f64>, decimals: usize) -> Option<String> {
    value.map(|value| format!("{value:.decimals$}"))
}

pub fn print(run: &Run<'_>) {
    let Run {
        options,
        decoded,
        report,
        ending,
        pure,
        ..
    } = *run;
    let txs = report.txs.max(1) as f64;
    let tx_per_sec = report.txs as f64 / report.seconds;
    let ratio = tx_per_sec / pure;
    let latency = report.commit_latency_us.as_ref();
    let quantile = |q: f64| latency.map(|h| h.value_at_quantile(q)).unwrap_or(0) as f64 / 1_000.0;
    let checkpoint_bytes = report.checkpoints.bytes + ending.final_checkpoint.bytes;
    let bytes_written = report.block_bytes + checkpoint_bytes;
    let quarters = report.quarter_rates();
    let lag = checkpoint_lag(&report.heights);
    let recovery = ending.recovery;

    let average_tx = decoded
        .iter()
        .map(|block| block.encoded_len() as f64 / block.transactions().len().max(1) as f64)
        .sum::<f64>()
        / decoded.len().max(1) as f64;
    println!(
        "ledger-bench: {:?}, {} blocks × {} transactions (≈ {average_tx:.0} bytes each), \
         {} accounts, seed {}, store {:?}, {} threads",
        options.workload,
        options.blocks,
        options.txs_per_block,
        options.accounts,
        options.seed,
        options.store,
        rayon::current_num_threads()
    );
    println!(
        "workload generated in {:.1} s ({:.1} MB of blocks)",
        run.generate_seconds,
        run.workload_bytes as f64 / 1e6
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
            1e6 * cpu / txs,
            cpu / wall
        );
    }
    let allocations_per_tx = report.allocations as f64 / txs;
    println!(
        "allocations       {allocations_per_tx:>10.1} per transaction (all stages, all threads)"
    );
    println!(
        "failed            {:>10}  transactions rejected by the application ({} planned)",
        report.failed, run.invalid_txs
    );
    if let Some(screening) = run.screening {
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
        "read ahead        {:>10}  of {} blocks executed after reading the application's hinted keys in parallel",
        report.read_ahead_blocks, report.blocks
    );
    println!(
        "block latency     p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        quantile(0.5),
        quantile(0.99),
        quantile(1.0)
    );
    println!(
        "bytes written     {:>10.0} per transaction: {:.0} in the blocks' batches + {:.0} in state checkpoints \
         ({:.1} MB in all{})",
        bytes_written as f64 / txs,
        report.block_bytes as f64 / txs,
        checkpoint_bytes as f64 / txs,
        bytes_written as f64 / 1e6,
        ending
            .disk_bytes
            .map(|d| format!(", {:.1} MB on disk", d as f64 / 1e6))
            .unwrap_or_default()
    );
    println!(
        "checkpoints       {:>10}  written during the run ({} backpressure waits); at the end: applied {:?}, \
         durable {:?}, checkpoint {:?}, lag {lag} blocks (most {}), state in memory up to {:.1} MiB",
        report.checkpoints.written,
        report.checkpoints.backpressure_waits,
        report.heights.applied,
        report.heights.durable,
        report.heights.state_checkpoint,
        report.max_checkpoint_lag,
        mib(report.max_layer_bytes as u64),
    );
    if let Some(seconds) = ending.final_checkpoint_seconds {
        println!(
            "final checkpoint  {seconds:>10.3} s  (every applied block, after the measured run; {:.1} MB)",
            ending.final_checkpoint.bytes as f64 / 1e6
        );
    }
    let show = |bytes: Option<u64>| bytes.map_or("?".to_string(), |b| format!("{:.0}", mib(b)));
    println!(
        "memory            RSS {} MiB after the first quarter, {} MiB at the end, {} MiB at most; peak {} MiB{}",
        show(report.rss_warm),
        show(report.rss_end),
        show(report.rss_max),
        show(report.peak_rss),
        if report.peak_rss_reset {
            " (of the measured replay)"
        } else {
            " (of the whole process)"
        }
    );
    if let Some((first, last)) = quarters {
        println!(
            "quarters          {first:>10.0} tx/s in the first, {last:.0} in the last ({:.2}×)",
            last / first
        );
    }
    if let Some(recovery) = recovery {
        println!(
            "crash recovery    {:>10.3} s  to reopen: {} blocks ({} transactions) replayed in {:.3} s, \
             {:.0} tx/s = {:.2}× the end-to-end rate (execute {:.3} s, state root {:.3} s), \
             on checkpoint {:?}; store opened in {:.3} s",
            recovery.seconds(),
            recovery.replayed_blocks,
            recovery.replayed_transactions,
            recovery.replay_seconds,
            recovery.replay_rate(),
            recovery.replay_rate() / tx_per_sec,
            recovery.replay_execute_seconds,
            recovery.replay_state_root_seconds,
            recovery.checkpoint_height,
            recovery.store_open_seconds
        );
        if let Some(cpu) = recovery.ledger_open_cpu_seconds {
            println!(
                "recovery cpu      {:>10.1} µs per replayed transaction (the whole process's {cpu:.2} core-seconds while the ledger opened, RocksDB's threads included; {:.2} cores busy on average)",
                cpu * 1e6 / (recovery.replayed_transactions.max(1) as f64),
                cpu / recovery.ledger_open_seconds.max(1e-9)
            );
        }
    }
    if let Some(witnessing) = &report.witnessing {
        println!(
            "witnessed         {:>10} checkpoints issued (latest size {:?}); latest cosigned by both witnesses: size {:?}",
            witnessing.issued, witnessing.issued_size, witnessing.witnessed_size
        );
    }
    println!("state root        {}", report.state_root);
    if !options.json {
        return;
    }
    let mut json = Json::default();
    json.text("workload", format!("{:?}", options.workload))
        .raw("txs", report.txs)
        .raw("failed", report.failed)
        .float("seconds", report.seconds, 6)
        .float("tx_per_sec", tx_per_sec, 1)
        .float("pure_verify_sig_per_sec", pure, 1)
        .float("ratio", ratio, 4)
        .option("screening_sig_per_sec", fixed(run.screening, 1))
        .option("cpu_seconds", fixed(report.cpu_seconds, 3))
        .text("state_root", &report.state_root)
        .float("p50_ms", quantile(0.5), 3)
        .float("p99_ms", quantile(0.99), 3)
        .float("max_ms", quantile(1.0), 3)
        .raw("bytes_written", bytes_written)
        .raw("block_bytes_written", report.block_bytes)
        .raw("checkpoint_bytes_written", checkpoint_bytes)
        .float("bytes_per_tx", bytes_written as f64 / txs, 1)
        .float("block_bytes_per_tx", report.block_bytes as f64 / txs, 1)
        .float("checkpoint_bytes_per_tx", checkpoint_bytes as f64 / txs, 1)
        .option("disk_bytes", ending.disk_bytes)
        .float("allocations_per_tx", allocations_per_tx, 2)
        .float("decode_seconds", report.decode.as_secs_f64(), 4)
        .float("verify_seconds", report.verify.as_secs_f64(), 4)
        .float("execute_seconds", report.execute.as_secs_f64(), 4)
        .float("state_root_seconds", report.state_tree.as_secs_f64(), 4)
        .float("commit_seconds", report.commit.as_secs_f64(), 4)
        .raw("read_ahead_blocks", report.read_ahead_blocks)
        .option("applied_height", report.heights.applied)
        .option("durable_height", report.heights.durable)
        .option("checkpoint_height", report.heights.state_checkpoint)
        .raw("checkpoint_lag", lag)
        .raw("max_checkpoint_lag", report.max_checkpoint_lag)
        .raw("checkpoints_written", report.checkpoints.written)
        .raw("backpressure_waits", report.checkpoints.backpressure_waits)
        .raw("max_state_memory_bytes", report.max_layer_bytes)
        .option(
            "final_checkpoint_seconds",
            fixed(ending.final_checkpoint_seconds, 4),
        )
        .option("peak_rss_bytes", report.peak_rss)
        .raw("peak_rss_of_replay", report.peak_rss_reset)
        .option("rss_warm_bytes", report.rss_warm)
        .option("rss_end_bytes", report.rss_end)
        .option("rss_max_bytes", report.rss_max)
        .option("first_quarter_tx_per_sec", fixed(quarters.map(|q| q.0), 1))
        .option("last_quarter_tx_per_sec", fixed(quarters.map(|q| q.1), 1))
        .option("recovery_seconds", fixed(recovery.map(|r| r.seconds()), 4))
        .option(
            "recovery_replay_seconds",
            fixed(recovery.map(|r| r.replay_seconds), 4),
        )
        .option(
            "recovery_execute_seconds",
            fixed(recovery.map(|r| r.replay_execute_seconds), 4),
        )
        .option(
            "recovery_state_root_seconds",
            fixed(recovery.map(|r| r.replay_state_root_seconds), 4),
        )
        .option("replayed_blocks", recovery.map(|r| r.replayed_blocks))
        .option(
            "recovery_ledger_open_cpu_seconds",
            fixed(recovery.and_then(|r| r.ledger_open_cpu_seconds), 4),
        )
        .option(
            "witnessed_checkpoints_issued",
            report.witnessing.map(|w| w.issued as u64),
        )
        .option(
            "witnessed_size",
            report.witnessing.and_then(|w| w.witnessed_size),
        )
        .option("replayed_txs", recovery.map(|r| r.replayed_transactions))
        .option(
            "replay_tx_per_sec",
            fixed(recovery.map(|r| r.replay_rate()), 1),
        )
        .option(
            "replay_vs_apply",
            fixed(recovery.map(|r| r.replay_rate() / tx_per_sec), 3),
        );
    println!("{}", json.finish());
}
