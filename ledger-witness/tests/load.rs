//! Load test (ignored by default; `scripts/witness-load.sh` runs it):
//! add-checkpoint requests from many logs at once on loopback, with durable
//! (group-committed) state; prints the rate. Bounded in count and time.

// Helpers outside #[test] functions: a failure is a failing test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use ledger_witness::client::Client;

const LOGS: usize = 64;
const REQUESTS_PER_LOG: u64 = 200;
const TIME_LIMIT: Duration = Duration::from_secs(60);
const TARGET_PER_SECOND: f64 = 2000.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test: run by scripts/witness-load.sh"]
async fn add_checkpoint_load() {
    let dir =
        tempfile::tempdir_in(std::env::var_os("WITNESS_LOAD_DIR").unwrap_or(".".into())).unwrap();
    // Every request made beforehand: each log's checkpoints 1..=N, each
    // with the proof from the one before.
    let bodies: Vec<Vec<Vec<u8>>> = (0..LOGS)
        .map(|i| {
            let mut log = Log::new(&format!("log.test/load-{i}"));
            log.grow_to(REQUESTS_PER_LOG);
            (1..=REQUESTS_PER_LOG).map(|n| log.body(n - 1, n)).collect()
        })
        .collect();
    let keys: Vec<_> = (0..LOGS)
        .map(|i| log_key(&format!("log.test/load-{i}")).verifier_key())
        .collect();
    let server = start(dir.path(), &keys, unlimited()).await;
    let addr = server.local_addr();
    let start = Instant::now();
    let deadline = start + TIME_LIMIT;
    let mut tasks = Vec::new();
    for requests in bodies {
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await.unwrap();
            let mut done = 0u64;
            for body in requests {
                if Instant::now() > deadline {
                    break;
                }
                let answer = client.add_checkpoint(body).await.unwrap();
                assert_eq!(answer.status, 200);
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    let elapsed = start.elapsed();
    server.shutdown().await;
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "witness load: {total} add-checkpoint requests from {LOGS} logs in {elapsed:.2?}: \
         {rate:.0} requests/s (durable, group commit; target {TARGET_PER_SECOND})"
    );
    assert_eq!(
        total,
        LOGS as u64 * REQUESTS_PER_LOG,
        "stopped by the time limit"
    );
}
