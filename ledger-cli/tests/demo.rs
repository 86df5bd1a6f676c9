//! The demo end to end, on loopback, as a user runs it: `ledger demo init`
//! with free ports, then the commands it prints — two `ledger witness
//! serve`, `ledger serve` (fast blocks and issuance), and `ledger verify`
//! of a printed transaction id and of a demo account's balance. Then
//! witness 2 stops while blocks keep coming: the read API keeps serving the
//! last checkpoint both witnesses cosigned, and verify still passes
//! against it (and a transaction after it is not provable yet). SIGTERM
//! stops the node cleanly; a restart continues the chain (nonces read from
//! the ledger) and stops by itself after `--max-blocks`.
//!
//! Every wait has a deadline; child processes are killed on drop.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

/// A child process whose stdout lines are collected; killed on drop.
struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn spawn(args: &[String]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ledger"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Proc { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a line satisfies `found`; returns it.
    fn wait_line(&self, what: &str, found: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| found(l)) {
                return line;
            }
            assert!(Instant::now() < deadline, "no {what} in {:?}", self.lines());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The blocks printed so far: (height, first transaction id).
    fn blocks(&self) -> Vec<(u64, String)> {
        self.lines()
            .iter()
            .filter_map(|line| {
                let words: Vec<&str> = line.split(' ').collect();
                match words[..] {
                    ["block", height, "txs", _, "first-tx", id] => {
                        Some((height.parse().unwrap(), id.to_owned()))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    fn wait_height(&self, height: u64) {
        self.wait_line(&format!("block {height}"), |l| {
            l.starts_with(&format!("block {height} "))
        });
    }

    /// Waits (with the deadline) for the process to exit; its success.
    fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "still running: {:?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn run(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledger"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `GET /checkpoint`: the note if the status is 200.
fn checkpoint(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET /checkpoint HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// A checkpoint note's size and its number of signatures.
fn size_and_signatures(note: &str) -> (u64, usize) {
    let size = note.lines().nth(1).unwrap().parse().unwrap();
    let signatures = note.lines().filter(|l| l.starts_with("— ")).count();
    (size, signatures)
}

/// Waits until the read API serves a checkpoint signed by the log and
/// cosigned by both witnesses; its size.
fn wait_witnessed(addr: SocketAddr) -> u64 {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(note) = checkpoint(addr) {
            let (size, signatures) = size_and_signatures(&note);
            if signatures == 3 {
                return size;
            }
        }
        assert!(Instant::now() < deadline, "no witnessed checkpoint");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().skip(1).map(str::to_owned).collect()
}

#[test]
fn demo_log_two_witnesses_and_a_verifier() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let (node_addr, w1, w2) = (free_addr(), free_addr(), free_addr());
    let init = run(&[
        "demo".into(),
        "init".into(),
        "--dir".into(),
        demo.display().to_string(),
        "--log-listen".into(),
        node_addr.to_string(),
        "--witness".into(),
        w1.to_string(),
        "--witness".into(),
        w2.to_string(),
    ]);
    assert!(init.status.success(), "{init:?}");
    let commands: Vec<Vec<String>> = stdout(&init)
        .lines()
        .filter_map(|l| l.strip_prefix("  ledger "))
        .map(|l| words(&format!("ledger {l}")))
        .collect();
    assert_eq!(commands.len(), 4, "{}", stdout(&init));
    assert_eq!(commands[0][..2], ["witness", "serve"]);
    assert_eq!(commands[2][0], "serve");
    assert_eq!(commands[3][0], "verify");

    // A second init refuses to overwrite the files.
    let again = run(&[
        "demo".into(),
        "init".into(),
        "--dir".into(),
        demo.display().to_string(),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let witness1 = Proc::spawn(&commands[0]);
    let witness2 = Proc::spawn(&commands[1]);
    witness1.wait_line("witness 1 listening", |l| l.contains("listening on"));
    witness2.wait_line("witness 2 listening", |l| l.contains("listening on"));

    let mut serve = commands[2].clone();
    // A bound on the run; the test stops it with SIGTERM well before.
    serve.extend(
        [
            "--block-ms",
            "200",
            "--issue-every-blocks",
            "2",
            "--max-blocks",
            "100",
        ]
        .map(String::from),
    );
    let mut node = Proc::spawn(&serve);
    node.wait_line("listen address", |l| {
        l.ends_with(&format!("serving on http://{node_addr}"))
    });

    let size = wait_witnessed(node_addr);
    let (_, tx) = node
        .blocks()
        .into_iter()
        .find(|(height, _)| *height + 1 == size.min(3))
        .unwrap();
    let verify_state = commands[3].clone();
    let verify_tx = |tx: &str| {
        let mut args = verify_state.clone();
        let at = args.iter().position(|a| a == "--state").unwrap();
        args.truncate(at);
        args.extend(["--tx".to_owned(), tx.to_owned()]);
        run(&args)
    };
    let yes = verify_tx(&tx);
    assert!(yes.status.success(), "{}", stdout(&yes));
    assert!(stdout(&yes).starts_with(&format!("yes: transaction {tx}")));
    let yes = run(&verify_state);
    assert!(yes.status.success(), "{}", stdout(&yes));
    let cosigned = stdout(&yes);
    assert!(
        cosigned.contains("cosigned by w1, w2") || cosigned.contains("cosigned by w2, w1"),
        "{cosigned}"
    );

    // Witness 2 stops: no checkpoint reaches the quorum any more, the
    // node keeps producing and the read API keeps the last witnessed one.
    drop(witness2);
    std::thread::sleep(Duration::from_millis(300));
    let witnessed = wait_witnessed(node_addr);
    node.wait_height(witnessed + 5);
    assert_eq!(wait_witnessed(node_addr), witnessed);
    let yes = run(&verify_state);
    assert!(yes.status.success(), "{}", stdout(&yes));
    assert!(
        stdout(&yes).contains(&format!("after block {}", witnessed - 1)),
        "{}",
        stdout(&yes)
    );
    assert!(stdout(&yes).contains(&format!("of {witnessed} blocks")));
    // A transaction after the witnessed checkpoint is not provable yet.
    let (_, later) = node
        .blocks()
        .into_iter()
        .find(|(height, _)| *height == witnessed + 2)
        .unwrap();
    let no = verify_tx(&later);
    assert!(!no.status.success(), "{}", stdout(&no));

    node.terminate();
    assert!(node.wait_exit(), "{:?}", node.lines());
    let last = node.blocks().last().unwrap().0;
    assert!(
        node.lines().last().unwrap().starts_with("stopped after"),
        "{:?}",
        node.lines()
    );

    // A restart continues the chain and stops after --max-blocks.
    let mut serve = commands[2].clone();
    serve.extend(["--block-ms", "100", "--max-blocks", "2"].map(String::from));
    let mut node = Proc::spawn(&serve);
    assert!(node.wait_exit(), "{:?}", node.lines());
    let heights: Vec<u64> = node.blocks().iter().map(|b| b.0).collect();
    assert_eq!(heights, [last + 1, last + 2], "{:?}", node.lines());
    drop(witness1);
    assert!(started.elapsed() < Duration::from_secs(30));
}
