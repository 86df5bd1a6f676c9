//! The `ledger` command.
//!
//! `ledger witness serve --key FILE --logs FILE --state DIR --listen ADDR`
//! runs a c2sp.org/tlog-witness (`POST /add-checkpoint`) until SIGINT or
//! SIGTERM; `ledger witness keygen --name NAME --out FILE` makes a witness
//! key; `ledger verify --url URL --log-key VKEY --policy FILE (--tx ID |
//! --state KEY)` checks a record's witnessed proof from a read API
//! (`verify_cmd.rs`); `ledger serve` runs a demo node (`serve_cmd.rs`);
//! `ledger demo init --dir DIR` makes the files of a demo of a log, two
//! witnesses and a verifier (`demo_cmd.rs`).

mod demo_cmd;
mod log_cmd;
mod serve_cmd;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod verify_cmd;

use clap::{Parser, Subcommand};
use ledger_core::checkpoint::{NoteKeyError, SignatureType, SignerKey};
use ledger_witness::logs::LogsError;
use ledger_witness::rate::RateLimit;
use ledger_witness::{
    Config, LogKeys, OpenError, Witness, DEFAULT_RATE_BURST, DEFAULT_RATE_PER_SECOND,
};

#[derive(Parser, Debug)]
#[command(name = "ledger", about = "The ledger's command-line tools.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Transparency-log witness (c2sp.org/tlog-witness).
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// Checkpoint log tools: a log key, split-view evidence.
    #[command(subcommand)]
    Log(log_cmd::LogCommand),
    /// Checks a record's witnessed proof from a ledger's read API.
    Verify(verify_cmd::VerifyArgs),
    /// A demo node: random transfers in RocksDB, checkpoints to the
    /// policy's witnesses, the read API.
    Serve(serve_cmd::ServeArgs),
    /// Demo set-up: keys, a witness policy and the commands that run it.
    #[command(subcommand)]
    Demo(demo_cmd::DemoCommand),
}

#[derive(Subcommand, Debug)]
enum WitnessCommand {
    /// Serves `POST /add-checkpoint` until SIGINT or SIGTERM.
    Serve {
        /// The witness's cosignature/v1 signer key
        /// (`PRIVATE+KEY+<name>+<id>+<base64>`, as `keygen` writes).
        #[arg(long)]
        key: PathBuf,
        /// The logs file: one log verifier key (vkey) per line, named by the
        /// log's origin; `#` comments and blank lines ignored.
        #[arg(long)]
        logs: PathBuf,
        /// The state directory (created if need be).
        #[arg(long)]
        state: PathBuf,
        /// The address to listen on (port 0: any free port; the address is
        /// printed).
        #[arg(long)]
        listen: SocketAddr,
        /// Requests per second each origin may make, on average.
        #[arg(long, default_value_t = DEFAULT_RATE_PER_SECOND)]
        rate_per_second: f64,
        /// Requests each origin may make in a burst.
        #[arg(long, default_value_t = DEFAULT_RATE_BURST)]
        rate_burst: f64,
    },
    /// Makes a witness key: writes the signer key to FILE (mode 0600, which
    /// must not exist) and prints the verifier key.
    Keygen {
        /// The witness's name, say `witness.example/w1`.
        #[arg(long)]
        name: String,
        /// Where to write the signer key.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Why the command failed.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a signer key: {source}")]
    Key { path: PathBuf, source: NoteKeyError },
    #[error("{path}: {source}")]
    Logs { path: PathBuf, source: LogsError },
    #[error("{0}")]
    Open(#[from] OpenError),
    #[error("invalid key name: {0}")]
    Name(NoteKeyError),
    #[error("the rate limit must be positive and finite")]
    Rate,
    #[error("starting the runtime or listening: {0}")]
    Runtime(std::io::Error),
    #[error("{0}")]
    Serve(serve_cmd::ServeError),
    #[error("{0}")]
    Demo(demo_cmd::DemoError),
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Io {
        path: path.to_owned(),
        source,
    })
}

fn serve(
    key: &Path,
    logs: &Path,
    state: &Path,
    listen: SocketAddr,
    rate: RateLimit,
) -> Result<(), CliError> {
    if !(rate.per_second.is_finite() && rate.per_second > 0.0 && rate.burst >= 1.0) {
        return Err(CliError::Rate);
    }
    let key_text = String::from_utf8_lossy(&read(key)?).trim().to_owned();
    let signer = SignerKey::parse(&key_text).map_err(|source| CliError::Key {
        path: key.to_owned(),
        source,
    })?;
    let log_keys = LogKeys::parse(&read(logs)?).map_err(|source| CliError::Logs {
        path: logs.to_owned(),
        source,
    })?;
    let witness = Witness::open(signer, log_keys, state, Config { rate })?;
    let vkey = witness.key().verifier_key();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(CliError::Runtime)?;
        let server =
            ledger_witness::serve(listener, Arc::new(witness)).map_err(CliError::Runtime)?;
        println!("witness {vkey} listening on {}", server.local_addr());
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(CliError::Runtime)?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        server.shutdown().await;
        Ok(())
    })
}

fn keygen(name: &str, out: &Path) -> Result<(), CliError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let seed: [u8; 32] = rand::random();
    let signer =
        SignerKey::new(name, SignatureType::CosignatureV1, &seed).map_err(CliError::Name)?;
    let io = |source| CliError::Io {
        path: out.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(io)?;
    writeln!(file, "{}", signer.encode())
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    println!("{}", signer.verifier_key());
    Ok(())
}

/// The engine's allocations (the state tree's nodes, blocks, batches) go to
/// mimalloc, tuned by `ledger_alloc::tune`: docs/PERFORMANCE.md,
/// "Allocator", has the measurements.
#[global_allocator]
static ALLOCATOR: ledger_alloc::MiMalloc = ledger_alloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ledger_alloc::tune();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => return verify_cmd::run(&args),
        Command::Witness(WitnessCommand::Serve {
            key,
            logs,
            state,
            listen,
            rate_per_second,
            rate_burst,
        }) => serve(
            &key,
            &logs,
            &state,
            listen,
            RateLimit {
                per_second: rate_per_second,
                burst: rate_burst,
            },
        ),
        Command::Witness(WitnessCommand::Keygen { name, out }) => keygen(&name, &out),
        Command::Log(command) => return log_cmd::run(command),
        Command::Serve(args) => serve_cmd::run(&args).map_err(CliError::Serve),
        Command::Demo(command) => demo_cmd::run(command).map_err(CliError::Demo),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ledger: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
