//! `ledger serve`: a demo node. It keeps a transfers ledger in RocksDB,
//! produces a block of random transfers between demo accounts every
//! `--block-ms`, issues checkpoints of its history to the policy's
//! witnesses (ledger-log's [`CheckpointLog`]) and serves the read API
//! (ledger-serve) with the newest checkpoint a quorum has cosigned.
//!
//! The demo accounts and the minter have fixed keys ([`demo_account`],
//! derived from a public seed: this is a demo, not a wallet). If the ledger
//! is empty, the genesis block mints [`GENESIS_BALANCE`] to each account;
//! on restart the accounts' nonces are read from the ledger.
//!
//! One line per block on stdout: `block <height> txs <n> first-tx <id>`
//! (the id a user can `ledger verify --tx`). It stops on SIGINT, SIGTERM or
//! after `--max-blocks` blocks: then it stops producing, shuts the server
//! and the log down and writes a state checkpoint, so that the next start
//! replays nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use ledger_apps::transfers::{Operation, Transfers};
use ledger_core::checkpoint::{NoteKeyError, SignerKey};
use ledger_core::{
    EncodeError, Ledger, LedgerConfig, LedgerError, PublicKey, StoreError, Transaction,
};
use ledger_log::{read_policy, CheckpointLog, IssuancePolicy, LogConfig, LogError};
use ledger_serve::{CheckpointSource, ServeState, SharedLedger};
use ledger_storage::RocksStore;
use parking_lot::RwLock;

/// The demo chain's id.
pub const DEMO_CHAIN: u64 = 7380;

/// What the genesis block mints to each demo account.
pub const GENESIS_BALANCE: u64 = 1_000_000_000;

/// The most demo accounts.
const MAX_ACCOUNTS: usize = 10_000;

/// The most transactions per block `--txs-per-block` allows.
const MAX_TXS_PER_BLOCK: usize = 10_000;

type DemoLedger = Ledger<RocksStore, Transfers>;
type Node = Arc<RwLock<DemoLedger>>;

/// `ledger serve`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The ledger's RocksDB directory (created if need be).
    #[arg(long)]
    store: PathBuf,
    /// The log's signer key (Ed25519 note key, as `ledger log keygen` or
    /// `ledger demo init` writes it); its name is the checkpoints' origin.
    #[arg(long)]
    log_key: PathBuf,
    /// The witness policy (c2sp.org/tlog-policy) with the witnesses' URLs.
    #[arg(long)]
    policy: PathBuf,
    /// The log's state directory: its checkpoint journal (created if need
    /// be).
    #[arg(long)]
    log_state: PathBuf,
    /// Where the read API listens (port 0: any free port; the address is
    /// printed).
    #[arg(long)]
    listen: SocketAddr,
    /// Milliseconds between blocks.
    #[arg(long, default_value_t = 1000)]
    block_ms: u64,
    /// Transfers per block.
    #[arg(long, default_value_t = 50)]
    txs_per_block: usize,
    /// Demo accounts (at least 2).
    #[arg(long, default_value_t = 20)]
    accounts: usize,
    /// Issue a checkpoint every this many blocks (or after the log's
    /// default interval, whichever comes first).
    #[arg(long, default_value_t = 4)]
    issue_every_blocks: u64,
    /// Stop after producing this many blocks.
    #[arg(long)]
    max_blocks: Option<u64>,
}

/// Why the node failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The log key file does not hold a signer key.
    #[error("{path}: not a signer key: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        source: NoteKeyError,
    },
    /// The store could not be opened.
    #[error("opening the store: {0}")]
    Store(#[from] StoreError),
    /// The ledger failed.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// The checkpoint log failed.
    #[error("checkpoint log: {0}")]
    Log(#[from] LogError),
    /// A transaction could not be encoded.
    #[error("encoding a transaction: {0}")]
    Encode(#[from] EncodeError),
    /// A transfers operation could not be encoded.
    #[error("encoding an operation: {0}")]
    Payload(#[from] ledger_apps::EncodeError),
    /// The runtime, the listener or the signal handlers.
    #[error("starting the server: {0}")]
    Runtime(std::io::Error),
}

/// Demo account `i`'s key (`u32::MAX`: the minter), derived from a public
/// seed.
pub fn demo_account(i: u32) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..20].copy_from_slice(b"ledger demo account ");
    seed[28..].copy_from_slice(&i.to_le_bytes());
    SigningKey::from_bytes(&seed)
}

/// The demo minter's key.
pub fn demo_minter() -> SigningKey {
    demo_account(u32::MAX)
}

/// A small generator for the demo's random transfers (splitmix64).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` (n > 0) for a demo.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The read API's checkpoint: the newest witnessed one.
struct Witnessed(Arc<CheckpointLog<Node>>);

impl CheckpointSource for Witnessed {
    fn latest(&self) -> Option<String> {
        self.0.latest_witnessed()
    }
}

/// Runs `ledger serve` until a signal or `--max-blocks`.
pub fn run(args: &ServeArgs) -> Result<(), ServeError> {
    check_args(args)?;
    let key_text = std::fs::read_to_string(&args.log_key).map_err(|source| ServeError::Io {
        path: args.log_key.clone(),
        source,
    })?;
    let log_key = SignerKey::parse(key_text.trim()).map_err(|source| ServeError::Key {
        path: args.log_key.clone(),
        source,
    })?;
    let policy = read_policy(&args.policy)?;

    let minter = demo_minter();
    let app = Transfers {
        minter: PublicKey::from_signing_key(&minter),
    };
    let mut config = LedgerConfig::new(DEMO_CHAIN);
    // Every witnessed checkpoint's state stays provable.
    config.keep_every_version = true;
    let ledger = Ledger::open(RocksStore::open(&args.store)?, app, config)?;
    let node: Node = Arc::new(RwLock::new(ledger));

    let log_config = LogConfig {
        issuance: IssuancePolicy {
            every_blocks: args.issue_every_blocks,
            ..IssuancePolicy::default()
        },
        ..LogConfig::default()
    };
    let log = Arc::new(CheckpointLog::open(
        &args.log_state,
        log_key,
        policy,
        Arc::clone(&node),
        log_config,
    )?);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let stop = Arc::new(AtomicBool::new(false));
    let server = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(ServeError::Runtime)?;
        let state = ServeState::new(
            Arc::new(SharedLedger::new(Arc::clone(&node))),
            Arc::new(Witnessed(Arc::clone(&log))),
        );
        let server = ledger_serve::serve(listener, state).map_err(ServeError::Runtime)?;
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(ServeError::Runtime)?;
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            stop.store(true, Ordering::SeqCst);
        });
        Ok::<_, ServeError>(server)
    })?;
    println!(
        "ledger {} (log {}) serving on http://{}",
        args.store.display(),
        log.verifier_key(),
        server.local_addr()
    );

    let produced = produce(args, &node, &log, &stop);

    runtime.block_on(server.shutdown());
    drop(runtime);
    match Arc::try_unwrap(log) {
        Ok(log) => log.shutdown(),
        Err(log) => drop(log),
    }
    let checkpoint = node.write().checkpoint_state();
    let produced = produced?;
    let checkpoint = checkpoint?;
    println!(
        "stopped after {produced} blocks; state checkpoint at {}",
        checkpoint.map_or_else(|| "none".to_owned(), |h| h.to_string())
    );
    Ok(())
}

fn check_args(args: &ServeArgs) -> Result<(), ServeError> {
    if !(2..=MAX_ACCOUNTS).contains(&args.accounts) {
        return Err(ServeError::Usage(format!(
            "--accounts must be 2 to {MAX_ACCOUNTS}"
        )));
    }
    if !(1..=MAX_TXS_PER_BLOCK).contains(&args.txs_per_block) {
        return Err(ServeError::Usage(format!(
            "--txs-per-block must be 1 to {MAX_TXS_PER_BLOCK}"
        )));
    }
    if args.issue_every_blocks == 0 {
        return Err(ServeError::Usage(
            "--issue-every-blocks must be at least 1".to_owned(),
        ));
    }
    if args.block_ms == 0 {
        return Err(ServeError::Usage(
            "--block-ms must be at least 1".to_owned(),
        ));
    }
    Ok(())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Produces blocks until `stop` or `--max-blocks`; how many it produced.
fn produce(
    args: &ServeArgs,
    node: &Node,
    log: &CheckpointLog<Node>,
    stop: &AtomicBool,
) -> Result<u64, ServeError> {
    let accounts: Vec<SigningKey> = (0..args.accounts)
        .map(|i| demo_account(u32::try_from(i).unwrap_or(u32::MAX - 1)))
        .collect();
    let publics: Vec<PublicKey> = accounts.iter().map(PublicKey::from_signing_key).collect();
    let mut random = Random(u64::from_le_bytes(rand::random()));
    let mut produced = 0u64;
    let period = Duration::from_millis(args.block_ms);
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) && args.max_blocks.is_none_or(|max| produced < max) {
        let line = {
            let mut ledger = node.write();
            let transactions = if ledger.applied_height().is_none() {
                genesis(&publics)?
            } else {
                transfers(&ledger, args, &accounts, &publics, &mut random)?
            };
            let block = ledger.build_block(transactions, now_ms())?;
            let first = block
                .transactions()
                .first()
                .map_or_else(|| "none".to_owned(), |tx| tx.id().to_hex());
            let verified = ledger.verify_block(block)?;
            let outcome = ledger.apply_block(verified)?;
            format!(
                "block {} txs {} first-tx {first}",
                outcome.header.height, outcome.header.tx_count
            )
        };
        println!("{line}");
        log.issue_if_due()?;
        produced += 1;
        next += period;
        // Sleep until the next block, waking to see a signal.
        while !stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            if now >= next {
                break;
            }
            std::thread::sleep((next - now).min(Duration::from_millis(50)));
        }
        next = next.max(Instant::now());
    }
    Ok(produced)
}

/// The genesis block's transactions: the minter mints to every account.
fn genesis(publics: &[PublicKey]) -> Result<Vec<Transaction>, ServeError> {
    let minter = demo_minter();
    publics
        .iter()
        .zip(0u64..)
        .map(|(to, nonce)| {
            let op = Operation::Mint {
                to: *to,
                amount: GENESIS_BALANCE,
            };
            Ok(Transaction::sign(&minter, DEMO_CHAIN, nonce, op.encode()?)?)
        })
        .collect()
}

/// A block's random transfers: each from a random account (its nonces from
/// the ledger) to another, of 1 to 100.
fn transfers(
    ledger: &DemoLedger,
    args: &ServeArgs,
    accounts: &[SigningKey],
    publics: &[PublicKey],
    random: &mut Random,
) -> Result<Vec<Transaction>, ServeError> {
    let mut nonces = publics
        .iter()
        .map(|p| ledger.nonce(p))
        .collect::<Result<Vec<u64>, _>>()?;
    let n = accounts.len() as u64;
    let mut transactions = Vec::with_capacity(args.txs_per_block);
    for _ in 0..args.txs_per_block {
        let from = random.below(n) as usize;
        let to = (from + 1 + random.below(n - 1) as usize) % accounts.len();
        let op = Operation::Transfer {
            to: publics[to],
            amount: 1 + random.below(100),
        };
        transactions.push(Transaction::sign(
            &accounts[from],
            DEMO_CHAIN,
            nonces[from],
            op.encode()?,
        )?);
        nonces[from] += 1;
    }
    Ok(transactions)
}
