//! A split view caught: a log whose history of 11 blocks is cosigned by
//! three witnesses, then a fork of the same log key that rewrites block 5
//! and signs a checkpoint of the same size. Every witness refuses it (422:
//! same size, another root — after a 409 told the fork's client their
//! size), a 2-of-3 policy rejects it and accepts the honest one, and the
//! two checkpoints are verified evidence of the split view.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use ledger_core::checkpoint::{verify_checkpoint, CheckpointError, Note};
use ledger_log::{CheckpointLog, EvidenceError, SplitViewEvidence};

const BLOCKS: u64 = 11;
const FORK_AT: u64 = 5;

#[test]
fn forked_checkpoint_is_refused_rejected_and_evidence() {
    let rt = runtime();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let servers: Vec<_> = (0..3u8)
        .map(|i| rt.block_on(start_witness(dirs[i as usize].path(), i, any)))
        .collect();
    let witnesses: Vec<(u8, String)> = servers
        .iter()
        .enumerate()
        .map(|(i, s)| (i as u8, format!("http://{}", s.local_addr())))
        .collect();
    // The policy as a node reads it: a tlog-policy file.
    let policy_dir = tempfile::tempdir().unwrap();
    let policy_file = policy_dir.path().join("policy");
    std::fs::write(&policy_file, policy_text(&witnesses, 2)).unwrap();
    let policy = ledger_log::read_policy(&policy_file).unwrap();
    assert_eq!(policy, common::policy(&witnesses, 2));
    std::fs::write(&policy_file, vec![b'#'; ledger_core::MAX_POLICY_BYTES + 1]).unwrap();
    assert!(matches!(
        ledger_log::read_policy(&policy_file),
        Err(ledger_log::LogError::Policy { .. })
    ));

    // The honest log: blocks 0..=10, one checkpoint of 11, three cosignatures.
    let honest_dir = tempfile::tempdir().unwrap();
    let honest = node();
    let log = CheckpointLog::open(
        honest_dir.path(),
        log_key(),
        policy.clone(),
        honest.clone(),
        fast_config(BLOCKS),
    )
    .unwrap();
    for _ in 0..BLOCKS {
        apply(&honest);
        log.issue_if_due().unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(20), || log
            .witness_status()
            .iter()
            .all(|w| w.cosigned_size == Some(BLOCKS))),
        "{:?}",
        log.witness_status()
    );
    let honest_note = log.latest_witnessed().unwrap();
    let verified = verify_checkpoint(honest_note.as_bytes(), &log_vkey(), &policy).unwrap();
    assert_eq!(verified.checkpoint.size(), BLOCKS);
    assert_eq!(verified.cosignatures.len(), 3);

    // The fork: the same blocks up to 4, other mints from block 5 on.
    let forked = node();
    for height in 0..BLOCKS {
        let amount = if height < FORK_AT {
            height + 1
        } else {
            1_000 + height
        };
        apply_with(&forked, amount);
    }
    let header = |node: &Node, height: u64| node.read().header_at(height).unwrap().unwrap();
    assert_eq!(header(&forked, FORK_AT - 1), header(&honest, FORK_AT - 1));
    let (fork_5, honest_5) = (header(&forked, FORK_AT), header(&honest, FORK_AT));
    assert_ne!(fork_5, honest_5, "block 5 rewritten");
    assert_eq!(
        fork_5.history_root, honest_5.history_root,
        "header 5's history commits to blocks 0..=4 only: shared"
    );
    let fork_dir = tempfile::tempdir().unwrap();
    let fork_log = CheckpointLog::open(
        fork_dir.path(),
        log_key(),
        policy.clone(),
        forked.clone(),
        fast_config(BLOCKS),
    )
    .unwrap();
    let fork_checkpoint = fork_log.issue_now().unwrap().unwrap();
    assert_eq!(fork_checkpoint.size(), BLOCKS);
    assert_ne!(fork_checkpoint.root_hash(), verified.checkpoint.root_hash());

    // Every witness: 409 (its size is 11, the fork's client thought 0),
    // then, asked from 11, 422 (same size, another root). Refused for good.
    assert!(
        wait_until(Duration::from_secs(20), || fork_log
            .witness_status()
            .iter()
            .all(|w| w.refused_size == Some(BLOCKS))),
        "{:?}",
        fork_log.witness_status()
    );
    for status in fork_log.witness_status() {
        assert_eq!(status.last_status, Some(422), "{status:?}");
        assert_eq!(status.cosigned_size, None);
        assert_eq!(status.requests, 2, "one 409, then the 422: {status:?}");
    }
    assert_eq!(fork_log.latest_witnessed(), None);

    // A 2-of-3 client: the forked checkpoint has no cosignature (quorum not
    // met); with the honest cosignature lines pasted on, they do not
    // verify. The honest one verifies.
    let fork_note = fork_log.latest_issued().unwrap().note.encode();
    assert!(matches!(
        verify_checkpoint(fork_note.as_bytes(), &log_vkey(), &policy),
        Err(CheckpointError::QuorumNotMet(_))
    ));
    let mut pasted = Note::parse(fork_note.as_bytes()).unwrap();
    let honest_parsed = Note::parse(honest_note.as_bytes()).unwrap();
    for cosignature in honest_parsed.signatures().iter().skip(1) {
        pasted.add_signature(cosignature.clone()).unwrap();
    }
    assert!(matches!(
        verify_checkpoint(pasted.encode().as_bytes(), &log_vkey(), &policy),
        Err(CheckpointError::BadWitnessSignature { .. })
    ));
    verify_checkpoint(honest_note.as_bytes(), &log_vkey(), &policy).unwrap();

    // The evidence: both signed by the log key, size 11, two roots.
    let evidence =
        SplitViewEvidence::new(&log_vkey(), honest_note.as_bytes(), fork_note.as_bytes()).unwrap();
    assert_eq!(evidence.size(), BLOCKS);
    assert_eq!(evidence.origin(), ORIGIN);
    let text = evidence.to_text();
    println!("{text}");
    assert!(text.starts_with(&format!(
        "SPLIT VIEW: log {ORIGIN} signed two different trees of size {BLOCKS}\n"
    )));
    assert!(text.contains(&honest_note) && text.contains(&fork_note));
    let json = evidence.to_json();
    assert!(json.starts_with("{\"kind\":\"split-view\",\"origin\":\"ledger.test/log\""));
    assert!(json.contains(&format!("\"size\":{BLOCKS},")));
    // And what is not evidence: one view twice, or two sizes.
    assert!(matches!(
        SplitViewEvidence::new(&log_vkey(), honest_note.as_bytes(), honest_note.as_bytes()),
        Err(EvidenceError::SameRoot { size: BLOCKS })
    ));

    drop(fork_log);
    drop(log);
    for server in servers {
        rt.block_on(server.shutdown());
    }
}
