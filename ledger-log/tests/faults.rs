//! Witness faults: down (connection refused), slow (answers after the
//! client's timeout), restarted mid-request (the connection closed with
//! the request read and no answer), 503, garbage (a 200 without a valid
//! cosignature) and an oversized body (1 MiB). In each, the node keeps
//! applying blocks at full speed (apply never waits for a witness), no
//! checkpoint counts as witnessed, and once the fault ends — a real
//! witness on the same address — the witness catches up with the newest
//! checkpoint and it becomes witnessed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use ledger_core::checkpoint::verify_checkpoint;
use ledger_log::CheckpointLog;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Blocks applied while the fault lasts.
const FAULT_BLOCKS: u64 = 20;

/// How long the slow witness waits before answering (the client gives up
/// after 500 ms).
const SLOW_ANSWER: Duration = Duration::from_secs(3);

#[derive(Clone, Copy, Debug)]
enum Fault {
    Down,
    Slow,
    ClosedMidRequest,
    ServiceUnavailable,
    Garbage,
    Oversized,
}

/// Reads one request's head and body (bounded: 256 KiB, 2 s).
async fn read_request(stream: &mut TcpStream) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            if n == 0 || buffer.len() > 256 * 1024 {
                return;
            }
            buffer.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buffer).to_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buffer.len() >= end + 4 + length {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), read).await;
}

async fn misbehave(mut stream: TcpStream, fault: Fault) {
    read_request(&mut stream).await;
    let answer: Vec<u8> = match fault {
        Fault::Down | Fault::ClosedMidRequest => return,
        Fault::Slow => {
            tokio::time::sleep(SLOW_ANSWER).await;
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n".to_vec()
        }
        Fault::ServiceUnavailable => {
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n".to_vec()
        }
        Fault::Garbage => b"HTTP/1.1 200 OK\r\ncontent-length: 14\r\n\r\nhello garbage\n".to_vec(),
        Fault::Oversized => {
            let mut answer = b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n".to_vec();
            answer.resize(answer.len() + 1024 * 1024, b'a');
            answer
        }
    };
    let _ = stream.write_all(&answer).await;
}

/// A fake witness on `listener`; dropping (aborting) the task ends it and
/// every connection it serves.
async fn fake(listener: TcpListener, fault: Fault) {
    let mut connections = JoinSet::new();
    loop {
        if let Ok((stream, _)) = listener.accept().await {
            connections.spawn(misbehave(stream, fault));
        }
    }
}

fn fault_then_heal(fault: Fault) {
    let rt = runtime();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let fake = match fault {
        Fault::Down => {
            drop(listener);
            None
        }
        _ => Some(rt.spawn(fake(listener, fault))),
    };
    let policy = policy(&[(0, format!("http://{addr}"))], 1);
    let dir = tempfile::tempdir().unwrap();
    let node = node();
    let log = CheckpointLog::open(
        dir.path(),
        log_key(),
        policy.clone(),
        node.clone(),
        fast_config(2),
    )
    .unwrap();

    // The fault: blocks keep coming, checkpoints are issued, none witnessed.
    let mut slowest = Duration::ZERO;
    for _ in 0..FAULT_BLOCKS {
        slowest = slowest.max(apply(&node));
        log.issue_if_due().unwrap();
    }
    assert_eq!(log.latest_issued().unwrap().checkpoint.size(), FAULT_BLOCKS);
    assert!(
        wait_until(Duration::from_secs(10), || log.witness_status()[0].requests
            >= 2),
        "{fault:?}: {:?}",
        log.witness_status()
    );
    let status = log.witness_status().remove(0);
    assert!(status.last_error.is_some(), "{fault:?}: {status:?}");
    assert_eq!(status.cosigned_size, None);
    assert_eq!(log.latest_witnessed(), None, "{fault:?}");
    println!("{fault:?}: slowest apply {slowest:?}; witness: {status:?}");
    assert!(
        slowest < Duration::from_millis(400),
        "{fault:?}: apply took {slowest:?}"
    );

    // The fault ends: a real witness on the same address.
    if let Some(fake) = fake {
        fake.abort();
        let _ = rt.block_on(fake);
    }
    let witness_dir = tempfile::tempdir().unwrap();
    let server = rt.block_on(start_witness(witness_dir.path(), 0, addr));
    for _ in 0..2 {
        apply(&node);
        log.issue_if_due().unwrap();
    }
    let newest = FAULT_BLOCKS + 2;
    assert!(
        wait_until(Duration::from_secs(20), || log.witness_status()[0]
            .cosigned_size
            == Some(newest)),
        "{fault:?}: {:?}",
        log.witness_status()
    );
    let note = log.latest_witnessed().unwrap();
    let verified = verify_checkpoint(note.as_bytes(), &log_vkey(), &policy).unwrap();
    assert_eq!(verified.checkpoint.size(), newest, "{fault:?}");
    drop(log);
    rt.block_on(server.shutdown());
}

#[test]
fn witness_down() {
    fault_then_heal(Fault::Down);
}

#[test]
fn witness_slow() {
    fault_then_heal(Fault::Slow);
}

#[test]
fn witness_closes_mid_request() {
    fault_then_heal(Fault::ClosedMidRequest);
}

#[test]
fn witness_unavailable() {
    fault_then_heal(Fault::ServiceUnavailable);
}

#[test]
fn witness_answers_garbage() {
    fault_then_heal(Fault::Garbage);
}

#[test]
fn witness_answers_oversized_body() {
    fault_then_heal(Fault::Oversized);
}
