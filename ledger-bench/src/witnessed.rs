//! `--witnessed-every N`: the run also issues a signed checkpoint every N
//! blocks (`ledger-log`) and submits it to two witnesses (`ledger-witness`,
//! in this process, on loopback, durable state in a temporary directory),
//! as a node does; the figures then include issuance, so the overhead is
//! the ratio of two runs (with and without).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_core::checkpoint::{Checkpoint, Note, SignatureType, SignerKey};
use ledger_core::{Ledger, Policy, StateMachine, Store};
use ledger_log::{CheckpointLog, IssuancePolicy, LogConfig};
use ledger_witness::{serve_with, Config, LogKeys, RunningServer, ServerConfig, Witness};
use parking_lot::RwLock;

/// The shared ledger the log reads.
pub type Shared<S, M> = Arc<RwLock<Ledger<S, M>>>;

/// The log and its witnesses.
pub struct WitnessedLog<S: Store, M: StateMachine + 'static> {
    log: Option<CheckpointLog<Shared<S, M>>>,
    witnesses: Vec<RunningServer>,
    runtime: tokio::runtime::Runtime,
    _dirs: Vec<tempfile::TempDir>,
}

/// What the log did during the run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Witnessing {
    /// Checkpoints issued.
    pub issued: usize,
    /// Tree size of the latest checkpoint both witnesses cosigned.
    pub witnessed_size: Option<u64>,
    /// Tree size of the latest issued checkpoint.
    pub issued_size: Option<u64>,
}

const WITNESSES: u8 = 2;

fn key(name: &str, kind: SignatureType, seed: u8) -> Result<SignerKey, String> {
    SignerKey::new(name, kind, &[seed; 32]).map_err(|e| e.to_string())
}

impl<S, M> WitnessedLog<S, M>
where
    S: Store,
    M: StateMachine + 'static,
    Ledger<S, M>: Send + Sync,
{
    /// Starts two witnesses on loopback and the log over `ledger`, issuing
    /// every `every_blocks` blocks.
    pub fn start(ledger: Shared<S, M>, every_blocks: u64) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let log_key = key("ledger.bench/log", SignatureType::Ed25519, 0x4c)?;
        let mut dirs = Vec::new();
        let mut witnesses = Vec::new();
        let mut policy = format!("log {}\n", log_key.verifier_key());
        let mut names = Vec::new();
        for i in 0..WITNESSES {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let witness_key = key(
                &format!("witness{i}.bench"),
                SignatureType::CosignatureV1,
                0x57 + i,
            )?;
            let mut config = Config::default();
            config.rate.per_second = 1e9;
            config.rate.burst = 1e9;
            let witness = Witness::open(
                witness_key.clone(),
                LogKeys::from_keys([log_key.verifier_key()]),
                dir.path(),
                config,
            )
            .map_err(|e| e.to_string())?;
            let server = runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .map_err(|e| e.to_string())?;
                serve_with(listener, Arc::new(witness), ServerConfig::default())
                    .map_err(|e| e.to_string())
            })?;
            policy.push_str(&format!(
                "witness w{i} {} http://{}\n",
                witness_key.verifier_key(),
                server.local_addr()
            ));
            names.push(format!("w{i}"));
            witnesses.push(server);
            dirs.push(dir);
        }
        policy.push_str(&format!(
            "group all {} {}\nquorum all\n",
            names.len(),
            names.join(" ")
        ));
        let policy = Policy::parse(policy.as_bytes()).map_err(|e| e.to_string())?;
        let log_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let config = LogConfig {
            issuance: IssuancePolicy {
                every_blocks,
                interval: Duration::from_secs(3600),
            },
            ..LogConfig::default()
        };
        let log = CheckpointLog::open(log_dir.path(), log_key, policy, ledger, config)
            .map_err(|e| e.to_string())?;
        dirs.push(log_dir);
        Ok(WitnessedLog {
            log: Some(log),
            witnesses,
            runtime,
            _dirs: dirs,
        })
    }

    /// After a block (the ledger's lock not held): issues if due.
    pub fn after_block(&self) -> Result<(), String> {
        if let Some(log) = &self.log {
            log.issue_if_due().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Waits (at most `limit`) until the latest issued checkpoint is
    /// witnessed, then stops the log and the witnesses.
    pub fn finish(mut self, limit: Duration) -> Witnessing {
        let mut report = Witnessing::default();
        if let Some(log) = self.log.take() {
            let size = |note: Option<String>| {
                note.and_then(|text| {
                    let note = Note::parse(text.as_bytes()).ok()?;
                    Checkpoint::parse(note.text().as_bytes())
                        .ok()
                        .map(|c| c.size())
                })
            };
            let issued = log.issued();
            report.issued = issued.len();
            report.issued_size = issued.last().map(|stored| stored.checkpoint.size());
            let deadline = Instant::now() + limit;
            loop {
                report.witnessed_size = size(log.latest_witnessed());
                if report.witnessed_size >= report.issued_size || Instant::now() >= deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            log.shutdown();
        }
        for server in self.witnesses.drain(..) {
            self.runtime.block_on(server.shutdown());
        }
        report
    }
}
