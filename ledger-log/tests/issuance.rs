//! Issuance: a checkpoint every N blocks (and by time when blocks are
//! few), each the durable head's tree (size = blocks, root = the history
//! root), kept across reopening the directory, and a torn journal tail
//! dropped without losing what was durable.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::*;
use ledger_core::checkpoint::{verify_checkpoint, Policy};
use ledger_core::{verify_history_inclusion, Hash};
use ledger_log::{CheckpointLog, IssuancePolicy, LogConfig};

fn sizes(log: &CheckpointLog<Node>) -> Vec<u64> {
    log.issued().iter().map(|c| c.checkpoint.size()).collect()
}

#[test]
fn every_n_blocks_persisted_and_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let node = node();
    let no_witnesses = Policy::parse(b"quorum none\n").unwrap();
    let log = CheckpointLog::open(
        dir.path(),
        log_key(),
        no_witnesses.clone(),
        node.clone(),
        fast_config(3),
    )
    .unwrap();
    for _ in 0..10 {
        apply(&node);
        log.issue_if_due().unwrap();
    }
    assert_eq!(sizes(&log), [3, 6, 9]);
    // Each root is the history root header `size` commits to.
    for stored in log.issued() {
        let size = stored.checkpoint.size();
        let header = node.read().header_at(size).unwrap().unwrap();
        assert_eq!(stored.checkpoint.root_hash(), &header.history_root.0);
        assert_eq!(stored.checkpoint.origin(), ORIGIN);
        assert_eq!(stored.note.signatures().len(), 1);
    }
    // Forced: the whole tree (10 blocks), checked by the head's inclusion.
    let head = log.issue_now().unwrap().unwrap();
    assert_eq!(head.size(), 10);
    let ledger = node.read();
    let header = ledger.header_at(9).unwrap().unwrap();
    let proof = ledger.history_proof_at(9, 10).unwrap();
    verify_history_inclusion(&Hash(*head.root_hash()), 10, &header.encode(), &proof).unwrap();
    drop(ledger);
    assert!(
        log.issue_now().unwrap().is_none(),
        "no new block, no checkpoint"
    );
    // With no quorum line, the latest checkpoint is "witnessed" as it is.
    let note = log.latest_witnessed().unwrap();
    verify_checkpoint(note.as_bytes(), &log_vkey(), &no_witnesses).unwrap();
    drop(log);

    // Reopened: the same checkpoints; issuance continues from 10.
    let log = CheckpointLog::open(
        dir.path(),
        log_key(),
        no_witnesses.clone(),
        node.clone(),
        fast_config(3),
    )
    .unwrap();
    assert_eq!(sizes(&log), [3, 6, 9, 10]);
    for _ in 0..3 {
        apply(&node);
        log.issue_if_due().unwrap();
    }
    assert_eq!(sizes(&log), [3, 6, 9, 10, 13]);
    drop(log);

    // A torn tail (half a record after the last one) is dropped.
    let mut journal = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("journal"))
        .unwrap();
    journal.write_all(&[1, 0, 0, 1, 0, b'x', b'y']).unwrap();
    drop(journal);
    let log = CheckpointLog::open(
        dir.path(),
        log_key(),
        no_witnesses,
        node.clone(),
        fast_config(3),
    )
    .unwrap();
    assert_eq!(sizes(&log), [3, 6, 9, 10, 13]);
    apply(&node);
    assert_eq!(log.issue_now().unwrap().unwrap().size(), 14);
}

#[test]
fn by_time_when_blocks_are_few() {
    let dir = tempfile::tempdir().unwrap();
    let node = node();
    let mut config = fast_config(1_000);
    config.issuance = IssuancePolicy {
        every_blocks: 1_000,
        interval: Duration::from_millis(500),
    };
    let log = CheckpointLog::open(
        dir.path(),
        log_key(),
        Policy::parse(b"quorum none\n").unwrap(),
        node.clone(),
        config,
    )
    .unwrap();
    apply(&node);
    apply(&node);
    // The background task issues it once 500 ms have passed.
    assert!(wait_until(Duration::from_secs(10), || sizes(&log) == [2]));
    // Not before the interval: a block right after stays unissued a while.
    apply(&node);
    assert_eq!(log.issue_if_due().unwrap(), None);
    assert!(wait_until(Duration::from_secs(10), || sizes(&log) == [2, 3]));
    assert!(log.issue_error().is_none());
}

#[test]
fn bad_configurations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = node();
    let open = |policy: &[u8], config: LogConfig| {
        CheckpointLog::open(
            dir.path(),
            log_key(),
            Policy::parse(&[policy, &b"quorum none\n"[..]].concat()).unwrap(),
            node.clone(),
            config,
        )
        .map(drop)
    };
    let witness = witness_key(0).verifier_key();
    assert!(matches!(
        open(
            format!("witness w {witness}\n").as_bytes(),
            LogConfig::default()
        ),
        Err(ledger_log::LogError::WitnessUrl { .. })
    ));
    assert!(matches!(
        open(
            format!("witness w {witness} https://w.test\n").as_bytes(),
            LogConfig::default()
        ),
        Err(ledger_log::LogError::WitnessUrl { .. })
    ));
    let other = ledger_core::SignerKey::new(
        "other.test/log",
        ledger_core::SignatureType::Ed25519,
        &[1; 32],
    )
    .unwrap();
    assert!(matches!(
        open(
            format!("log {}\n", other.verifier_key()).as_bytes(),
            LogConfig::default()
        ),
        Err(ledger_log::LogError::NotInPolicy)
    ));
    let mut zero = LogConfig::default();
    zero.issuance.every_blocks = 0;
    assert!(matches!(
        open(b"", zero),
        Err(ledger_log::LogError::Issuance)
    ));
}
