//! A harness for crash tests with real processes: the test binary re-runs
//! itself as a child that commits in a loop and reports every commit that
//! returned; the parent kills it with SIGKILL at a random moment and learns
//! the last acknowledged number. Used by this crate's crash tests and by
//! the engine's; a downstream backend can use it the same way.
//!
//! Protocol on the child's standard output: an optional line ending in
//! `ready` (start of the kill window), then `committed <n>` after each
//! commit that returned.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The seed of a crash test: `LEDGER_CRASH_SEED` if set, else random. It is
/// printed so that a failure can be rerun.
pub fn crash_seed() -> u64 {
    let seed = std::env::var("LEDGER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand_seed);
    println!("crash test seed: {seed} (rerun with LEDGER_CRASH_SEED={seed})");
    seed
}

fn rand_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}

/// In the child: reports that the kill window opens.
pub fn report_ready() {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
}

/// In the child: reports that commit `n` returned.
pub fn report_committed(n: u64) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "committed {n}");
    let _ = out.flush();
}

/// Runs `entry_test` (a `#[test]` of the current binary that acts as the
/// child when `env_var` is set to `path`), waits for its `ready` line if
/// `wait_for_ready`, lets it run for `delay`, kills it with SIGKILL, and
/// returns the last commit number it acknowledged.
///
/// # Panics
/// If the child cannot be started or killed: the test cannot run then.
#[allow(clippy::expect_used, reason = "a harness failure is a failing test")]
pub fn run_child_and_kill(
    entry_test: &str,
    env_var: &str,
    path: &Path,
    wait_for_ready: bool,
    delay: Duration,
) -> Option<u64> {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([entry_test, "--exact", "--nocapture", "--test-threads=1"])
        .env(env_var, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child process");
    let stdout = child.stdout.take().expect("child stdout");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut acknowledged = None;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest may print its own text before ours on the first line.
            if line.ends_with("ready") {
                let _ = ready_tx.send(());
            }
            if let Some(n) = line
                .rsplit("committed ")
                .next()
                .filter(|_| line.contains("committed "))
            {
                acknowledged = n.trim().parse::<u64>().ok().or(acknowledged);
            }
        }
        acknowledged
    });
    if wait_for_ready {
        ready_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("child ready");
    }
    std::thread::sleep(delay);
    child.kill().expect("kill the child"); // SIGKILL on Unix
    child.wait().expect("reap the child");
    reader.join().expect("child output reader")
}
