//! Many concurrent requests of different sizes for one origin, some from a
//! fork of the log: the witness never rolls back and never co-signs two
//! roots for one size. And a restart reloads the state from disk.

// Helpers outside #[test] functions: a failure is a failing test.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ledger_witness::client::Client;
use ledger_witness::tree::MemoryTree;

const ORIGIN: &str = "log.test/concurrent";
const TASKS: usize = 16;
const REQUESTS_PER_TASK: usize = 40;
const SIZE: u64 = 400;
/// The fork shares the first leaves with the log.
const SHARED: u64 = 50;

#[derive(Debug)]
struct Event {
    sent: Instant,
    received: Instant,
    old: u64,
    new: u64,
    root: [u8; 32],
    status: u16,
    /// The latest size a 409 reported.
    latest: Option<u64>,
}

fn fork_of(log: &Log) -> Log {
    let mut tree = MemoryTree::new();
    for i in 0..SIZE {
        if i < SHARED {
            tree.push(format!("{ORIGIN} leaf {i}").as_bytes());
        } else {
            tree.push(format!("{ORIGIN} fork {i}").as_bytes());
        }
    }
    assert_eq!(tree.root(SHARED), log.tree.root(SHARED));
    Log {
        key: log.key.clone(),
        tree,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_never_roll_back_nor_sign_two_roots_for_one_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(ORIGIN);
    log.grow_to(SIZE);
    let fork = fork_of(&log);
    let logs = Arc::new([log, fork]);
    let server = start(dir.path(), &[logs[0].key.verifier_key()], unlimited()).await;
    let addr = server.local_addr();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let logs = Arc::clone(&logs);
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await.unwrap();
            let mut events = Vec::new();
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ (t as u64 + 1);
            let mut next = move |bound: u64| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed % bound
            };
            let mut latest: u64 = 0;
            for _ in 0..REQUESTS_PER_TASK {
                if Instant::now() > deadline {
                    break;
                }
                // A third of the tasks submit the fork; some requests repeat
                // the latest size, or go back below it.
                let log = &logs[usize::from(t % 3 == 0)];
                let new = match next(10) {
                    0 => latest,
                    1 => latest.saturating_sub(1 + next(5)),
                    _ => (latest + 1 + next(12)).min(SIZE),
                };
                let old = latest;
                let body = if new < old {
                    body(old, vec![], log.note(new))
                } else {
                    log.body(old, new)
                };
                let sent = Instant::now();
                let answer = client.add_checkpoint(body).await.unwrap();
                let received = Instant::now();
                let reported = (answer.status == 409).then(|| {
                    String::from_utf8(answer.body.clone())
                        .unwrap()
                        .trim_end()
                        .parse::<u64>()
                        .unwrap()
                });
                match answer.status {
                    200 => latest = new,
                    409 => latest = reported.unwrap(),
                    400 | 422 => {}
                    other => panic!("unexpected status {other}"),
                }
                events.push(Event {
                    sent,
                    received,
                    old,
                    new,
                    root: log.tree.root(new),
                    status: answer.status,
                    latest: reported,
                });
            }
            events
        }));
    }
    let mut events = Vec::new();
    for task in tasks {
        events.extend(task.await.unwrap());
    }
    let ok: Vec<&Event> = events.iter().filter(|e| e.status == 200).collect();
    assert!(ok.len() > TASKS, "only {} co-signed", ok.len());
    assert!(events.iter().any(|e| e.status == 409));

    // One root per co-signed size.
    let mut roots: BTreeMap<u64, [u8; 32]> = BTreeMap::new();
    for e in &ok {
        let root = roots.entry(e.new).or_insert(e.root);
        assert_eq!(*root, e.root, "two roots co-signed for size {}", e.new);
    }
    // Never rolled back: whatever was sent after a 200 for size s was
    // received saw a latest size of at least s.
    for done in &ok {
        for later in events.iter().filter(|e| e.sent > done.received) {
            match later.status {
                200 => assert!(later.old >= done.new, "{later:?} after {done:?}"),
                409 => assert!(
                    later.latest.unwrap() >= done.new,
                    "{later:?} after {done:?}"
                ),
                _ => {}
            }
        }
    }
    // The final state is the largest co-signed size, with its root.
    let (&max, &max_root) = roots.iter().next_back().unwrap();
    let mut client = Client::connect(addr).await.unwrap();
    let answer = client
        .add_checkpoint(body(0, vec![], logs[0].note(0)))
        .await
        .unwrap();
    assert_eq!(answer.status, 409);
    assert_eq!(answer.body, format!("{max}\n").into_bytes());
    let which = usize::from(logs[1].tree.root(max) == max_root && max > SHARED);
    let same = client
        .add_checkpoint(logs[which].body(max, max))
        .await
        .unwrap();
    assert_eq!(same.status, 200);
    server.shutdown().await;
    eprintln!(
        "{} requests, {} co-signed, {} conflicts, final size {max}",
        events.len(),
        ok.len(),
        events.iter().filter(|e| e.status == 409).count()
    );
}

#[tokio::test]
async fn restart_reloads_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(ORIGIN);
    let mut other = Log::new("log.test/other");
    log.grow_to(40);
    other.grow_to(5);
    let keys = [log.key.verifier_key(), other.key.verifier_key()];
    let server = start(dir.path(), &keys, unlimited()).await;
    let mut client = Client::connect(server.local_addr()).await.unwrap();
    for (old, new) in [(0, 10), (10, 30)] {
        assert_eq!(
            client
                .add_checkpoint(log.body(old, new))
                .await
                .unwrap()
                .status,
            200
        );
    }
    assert_eq!(
        client
            .add_checkpoint(other.body(0, 0))
            .await
            .unwrap()
            .status,
        200
    );
    server.shutdown().await;

    for _ in 0..2 {
        let server = start(dir.path(), &keys, unlimited()).await;
        let mut client = Client::connect(server.local_addr()).await.unwrap();
        let answer = client.add_checkpoint(log.body(0, 35)).await.unwrap();
        assert_eq!((answer.status, answer.body), (409, b"30\n".to_vec()));
        // A size-0 state is a state too: old 0 is right for it.
        let answer = client.add_checkpoint(other.body(3, 5)).await.unwrap();
        assert_eq!((answer.status, answer.body), (409, b"0\n".to_vec()));
        // Another root for size 30 is refused.
        let mut fork = Log::new(ORIGIN);
        fork.tree.push(b"fork");
        fork.grow_to(30);
        assert_eq!(
            client
                .add_checkpoint(fork.body(30, 30))
                .await
                .unwrap()
                .status,
            422
        );
        assert_eq!(
            client
                .add_checkpoint(log.body(30, 30))
                .await
                .unwrap()
                .status,
            200
        );
        server.shutdown().await;
    }
    let server = start(dir.path(), &keys, unlimited()).await;
    let mut client = Client::connect(server.local_addr()).await.unwrap();
    assert_eq!(
        client
            .add_checkpoint(log.body(30, 40))
            .await
            .unwrap()
            .status,
        200
    );
    server.shutdown().await;
    let witness = open(dir.path(), &keys, unlimited());
    assert_eq!(witness.latest(ORIGIN).await, Some((40, log.tree.root(40))));
}
