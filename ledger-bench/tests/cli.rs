//! The `ledger-bench` command as a user runs it, on small workloads: the JSON
//! line carries the documented fields; the same seed gives the same state
//! root pipelined or sequential, in memory or on RocksDB; the invalid share
//! shows up as failed receipts; a ledger kept with `--path` passes `audit`;
//! the checkpoint, memory and recovery figures are reported, and a crash
//! after the run replays the blocks after the last checkpoint; bad options
//! are refused with a message and a non-zero exit.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledger-bench"))
        .args(args)
        .output()
        .expect("the command runs")
}

/// The value of `"field":` in the JSON line (numbers, strings, null).
fn field(json: &str, name: &str) -> String {
    let key = format!("\"{name}\":");
    let start = json
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {json}"))
        + key.len();
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap();
    rest[..end].trim_matches('"').to_string()
}

/// Runs a small workload with `--json` and returns its last line.
fn json_run(extra: &[&str]) -> String {
    let mut args = vec!["--json"];
    // Defaults for what `extra` does not set.
    for (flag, value) in [
        ("--blocks", "3"),
        ("--txs-per-block", "300"),
        ("--accounts", "60"),
        ("--seed", "5"),
    ] {
        if !extra.contains(&flag) {
            args.extend_from_slice(&[flag, value]);
        }
    }
    args.extend_from_slice(extra);
    let output = run(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout.lines().last().unwrap().to_string()
}

#[test]
fn json_fields_and_the_same_root_in_every_mode() {
    let memory = json_run(&["--store", "memory"]);
    for name in [
        "txs",
        "seconds",
        "tx_per_sec",
        "pure_verify_sig_per_sec",
        "ratio",
        "state_root",
    ] {
        field(&memory, name);
    }
    assert_eq!(field(&memory, "txs"), "900");
    assert_eq!(field(&memory, "failed"), "0");
    let root = field(&memory, "state_root");
    assert_eq!(root.len(), 64);
    assert!(field(&memory, "ratio").parse::<f64>().unwrap() > 0.0);

    let sequential = json_run(&["--store", "memory", "--sequential"]);
    assert_eq!(field(&sequential, "state_root"), root);
    let rocks = json_run(&["--threads", "1"]);
    assert_eq!(field(&rocks, "state_root"), root);

    let other_seed = json_run(&["--store", "memory", "--seed", "6"]);
    assert_ne!(field(&other_seed, "state_root"), root);
}

#[test]
fn provenance_with_rejections_on_rocksdb_then_audit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let path = path.to_str().unwrap();
    let line = json_run(&[
        "--workload",
        "provenance",
        "--invalid-share",
        "0.1",
        "--path",
        path,
    ]);
    assert_eq!(field(&line, "failed"), "90");
    assert!(
        field(&line, "screening_sig_per_sec")
            .parse::<f64>()
            .unwrap()
            > 0.0
    );

    let audit = run(&["--workload", "provenance", "audit", "--path", path]);
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    assert!(String::from_utf8_lossy(&audit.stdout).contains("audit passed: 4 blocks"));

    // The yardstick, timed in the same run, in the JSON report.
    let measured = run(&[
        "--workload",
        "provenance",
        "--json",
        "audit",
        "--path",
        path,
        "--yardstick",
    ]);
    assert!(measured.status.success());
    let line = String::from_utf8_lossy(&measured.stdout);
    let line = line.lines().last().unwrap();
    for name in [
        "seconds",
        "replay_seconds",
        "yardstick_signature_seconds",
        "yardstick_hash_seconds",
    ] {
        assert!(
            field(line, name).parse::<f64>().unwrap() > 0.0,
            "{name}: {line}"
        );
    }

    // Audited as the other application, it fails and says what to pass.
    let wrong = run(&["audit", "--path", path]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("--workload provenance"));

    // One transaction-index entry deleted: the audit fails and names it.
    let removed = {
        use ledger_core::store::{Column, Durability, KeyRange, Store, StoreRead, WriteBatch};
        let store = ledger_storage::RocksStore::open(path).unwrap();
        let (key, _) = store
            .scan(Column::TxIndex, KeyRange::all())
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let mut batch = WriteBatch::new();
        batch.delete(Column::TxIndex, key.clone());
        store.commit(batch, Durability::Synced).unwrap();
        ledger_core::hash::to_hex(&key)
    };
    let tampered = run(&[
        "--workload",
        "provenance",
        "--json",
        "audit",
        "--path",
        path,
    ]);
    assert!(!tampered.status.success());
    let line = String::from_utf8_lossy(&tampered.stdout);
    let line = line.lines().last().unwrap();
    assert_eq!(field(line, "passed"), "false");
    assert!(
        line.contains(&format!(
            "\"column\":\"tx_index\",\"key\":\"{removed}\",\"kind\":\"missing\""
        )),
        "{line}"
    );
}

/// A number field of the JSON line.
fn number(json: &str, name: &str) -> f64 {
    field(json, name)
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number in {json}"))
}

#[test]
fn checkpoint_memory_and_byte_figures() {
    // A checkpoint every block: the bytes per transaction are the blocks'
    // plus the checkpoints', every block's state is checkpointed by the end.
    let line = json_run(&["--checkpoint-blocks", "1"]);
    let block = number(&line, "block_bytes_per_tx");
    let checkpoint = number(&line, "checkpoint_bytes_per_tx");
    assert!(block > 0.0 && checkpoint > 0.0, "{line}");
    assert!((number(&line, "bytes_per_tx") - block - checkpoint).abs() < 0.2);
    assert_eq!(
        number(&line, "bytes_written"),
        number(&line, "block_bytes_written") + number(&line, "checkpoint_bytes_written")
    );
    assert_eq!(field(&line, "applied_height"), "3");
    assert_eq!(field(&line, "durable_height"), "3");
    assert!(number(&line, "checkpoint_height") <= 3.0);
    assert_eq!(
        number(&line, "checkpoint_lag"),
        3.0 - number(&line, "checkpoint_height")
    );
    // Checkpoints run in the background: one may still be in flight when
    // the run's figures are taken (the final checkpoint is counted in the
    // bytes, not here).
    assert!(number(&line, "checkpoints_written") >= 0.0);
    assert!(number(&line, "final_checkpoint_seconds") >= 0.0);
    field(&line, "backpressure_waits");
    for name in [
        "peak_rss_bytes",
        "rss_warm_bytes",
        "rss_end_bytes",
        "rss_max_bytes",
    ] {
        assert!(number(&line, name) > 1e6, "{name}: {line}");
    }
    // Under four blocks there are no quarters; no crash, no recovery.
    assert_eq!(field(&line, "first_quarter_tx_per_sec"), "null");
    assert_eq!(field(&line, "recovery_seconds"), "null");

    let quarters = json_run(&[
        "--store",
        "memory",
        "--blocks",
        "8",
        "--txs-per-block",
        "100",
    ]);
    assert!(number(&quarters, "first_quarter_tx_per_sec") > 0.0);
    assert!(number(&quarters, "last_quarter_tx_per_sec") > 0.0);
}

#[test]
fn crash_recovery_replays_the_blocks_after_the_checkpoint() {
    // No checkpoint during the run: the crash leaves every measured block
    // to replay, on the genesis checkpoint.
    let line = json_run(&[
        "--crash-recovery",
        "--checkpoint-blocks",
        "100",
        "--checkpoint-ms",
        "600000",
    ]);
    assert_eq!(field(&line, "checkpoint_height"), "0");
    assert_eq!(field(&line, "checkpoint_lag"), "3");
    assert_eq!(field(&line, "replayed_blocks"), "3");
    assert_eq!(field(&line, "replayed_txs"), "900");
    assert_eq!(field(&line, "final_checkpoint_seconds"), "null");
    assert!(number(&line, "recovery_seconds") > 0.0);
    assert!(number(&line, "replay_tx_per_sec") > 0.0);
    assert!(number(&line, "replay_vs_apply") > 0.0);

    let memory = run(&["--store", "memory", "--crash-recovery", "--blocks", "1"]);
    assert!(!memory.status.success());
    assert!(String::from_utf8_lossy(&memory.stderr).contains("--store rocks"));
}

#[test]
fn memo_payloads_reach_the_requested_size() {
    let plain = json_run(&["--store", "memory"]);
    let memo = json_run(&["--store", "memory", "--payload-bytes", "500"]);
    let written = |line: &str| field(line, "bytes_written").parse::<u64>().unwrap();
    // 900 transactions carry 459 more payload bytes each, stored with the
    // blocks (the transfers themselves differ: the memos use the same
    // random stream, so the state-tree bytes differ a little).
    assert!(written(&memo) >= written(&plain) + 900 * 400);
}

#[test]
fn bad_options_are_refused_with_a_message() {
    for args in [
        &["--invalid-share", "1.5"][..],
        &["--payload-bytes", "40"],
        &["--workload", "provenance", "--payload-bytes", "100"],
        &["--blocks", "0"],
        &["--accounts", "1"],
        &["--txs-per-block", "0"],
    ] {
        let output = run(args);
        assert!(!output.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("ledger-bench: --"), "{args:?}: {stderr}");
    }
}

#[test]
fn witnessed_checkpoints_are_issued_and_cosigned_during_the_run() {
    // A checkpoint after every durable block, two witnesses on loopback:
    // the last one (size 4: genesis and three blocks) is cosigned by both.
    // (How many are issued depends on how soon each block is durable.)
    let line = json_run(&["--store", "memory", "--witnessed-every", "1"]);
    assert!(
        number(&line, "witnessed_checkpoints_issued") >= 1.0,
        "{line}"
    );
    assert_eq!(field(&line, "witnessed_size"), "4");
}
