//! `ledger demo init --dir DIR`: the files of a demo of a log, two
//! witnesses and a verifier on loopback, and the commands that run it.
//!
//! In DIR: `log.key` (the log's Ed25519 note key, origin
//! [`DEMO_ORIGIN`]), `witness1.key` and `witness2.key` (cosignature/v1
//! keys), `logs` (the log's verifier key, for the witnesses) and `policy`
//! (c2sp.org/tlog-policy: the log, both witnesses with their `http://`
//! URLs, quorum: both). Existing files are never overwritten: init fails
//! before writing anything if one is there. Then it prints the commands:
//! one `ledger witness serve` per witness, `ledger serve`, and a
//! `ledger verify --state` of demo account 0's balance.

use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use ledger_apps::transfers::balance_key;
use ledger_core::checkpoint::{NoteKeyError, SignatureType, SignerKey};
use ledger_core::hash::to_hex;
use ledger_core::PublicKey;

use crate::serve_cmd::demo_account;

/// The demo log's origin.
pub const DEMO_ORIGIN: &str = "ledger.demo/log";

/// The most witnesses `demo init` sets up.
const MAX_WITNESSES: usize = 8;

/// `ledger demo …`.
#[derive(clap::Subcommand, Debug)]
pub enum DemoCommand {
    /// Makes the keys, the witnesses' logs file and the policy of a demo
    /// in DIR, and prints the commands that run it.
    Init(InitArgs),
}

/// `ledger demo init`'s arguments.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// The directory of the demo's files (created if need be).
    #[arg(long)]
    dir: PathBuf,
    /// Where the node's read API will listen.
    #[arg(long, default_value = "127.0.0.1:7380")]
    log_listen: SocketAddr,
    /// Where each witness will listen (one per witness; default two:
    /// 127.0.0.1:7381 and 127.0.0.1:7382). The quorum is all of them.
    #[arg(long = "witness")]
    witnesses: Vec<SocketAddr>,
}

/// Why `demo init` failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A file or the directory could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is already there.
    #[error("{0}: already exists (demo init never overwrites a file)")]
    Exists(PathBuf),
    /// A key could not be made.
    #[error("making a key: {0}")]
    Key(#[from] NoteKeyError),
    /// Too many witnesses, or the same address twice.
    #[error("{0}")]
    Usage(String),
}

/// The commands `demo init` prints, in order: the witnesses, the node, the
/// verifier.
pub fn commands(
    dir: &Path,
    log_listen: SocketAddr,
    witnesses: &[SocketAddr],
    log_vkey: &str,
) -> Vec<String> {
    let d = dir.display();
    let mut lines: Vec<String> = witnesses
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            let n = i + 1;
            format!(
                "ledger witness serve --key {d}/witness{n}.key --logs {d}/logs --state {d}/witness{n} --listen {addr}"
            )
        })
        .collect();
    lines.push(format!(
        "ledger serve --store {d}/ledger --log-key {d}/log.key --policy {d}/policy --log-state {d}/log --listen {log_listen}"
    ));
    let account = PublicKey::from_signing_key(&demo_account(0));
    lines.push(format!(
        "ledger verify --url http://{log_listen} --log-key {log_vkey} --policy {d}/policy --state {}",
        to_hex(&balance_key(&account))
    ));
    lines
}

/// Runs `ledger demo …`.
pub fn run(command: DemoCommand) -> Result<(), DemoError> {
    match command {
        DemoCommand::Init(args) => init(&args),
    }
}

fn init(args: &InitArgs) -> Result<(), DemoError> {
    let witnesses = if args.witnesses.is_empty() {
        vec![
            SocketAddr::from(([127, 0, 0, 1], 7381)),
            SocketAddr::from(([127, 0, 0, 1], 7382)),
        ]
    } else {
        args.witnesses.clone()
    };
    if witnesses.len() > MAX_WITNESSES {
        return Err(DemoError::Usage(format!(
            "at most {MAX_WITNESSES} witnesses"
        )));
    }
    let mut all = witnesses.clone();
    all.push(args.log_listen);
    all.sort();
    if all.windows(2).any(|w| w[0] == w[1]) {
        return Err(DemoError::Usage(
            "the node and the witnesses need different addresses".to_owned(),
        ));
    }
    let dir = &args.dir;
    std::fs::create_dir_all(dir).map_err(|source| DemoError::Io {
        path: dir.clone(),
        source,
    })?;
    let mut names = vec!["log.key".to_owned(), "logs".to_owned(), "policy".to_owned()];
    names.extend((1..=witnesses.len()).map(|n| format!("witness{n}.key")));
    for name in &names {
        let path = dir.join(name);
        if path.symlink_metadata().is_ok() {
            return Err(DemoError::Exists(path));
        }
    }

    let log = SignerKey::new(DEMO_ORIGIN, SignatureType::Ed25519, &rand::random())?;
    let log_vkey = log.verifier_key().to_string();
    let mut policy =
        format!("# The demo's witness policy (c2sp.org/tlog-policy).\nlog {log_vkey}\n");
    let mut group = Vec::new();
    let mut witness_keys = Vec::new();
    for (i, addr) in witnesses.iter().enumerate() {
        let n = i + 1;
        let key = SignerKey::new(
            &format!("witness{n}.ledger.demo"),
            SignatureType::CosignatureV1,
            &rand::random(),
        )?;
        policy.push_str(&format!(
            "witness w{n} {} http://{addr}\n",
            key.verifier_key()
        ));
        group.push(format!("w{n}"));
        witness_keys.push(key);
    }
    policy.push_str(&format!(
        "group all-witnesses all {}\nquorum all-witnesses\n",
        group.join(" ")
    ));

    write_new(&dir.join("log.key"), &format!("{}\n", log.encode()), 0o600)?;
    for (i, key) in witness_keys.iter().enumerate() {
        let path = dir.join(format!("witness{}.key", i + 1));
        write_new(&path, &format!("{}\n", key.encode()), 0o600)?;
    }
    write_new(
        &dir.join("logs"),
        &format!("# The logs the demo's witnesses cosign.\n{log_vkey}\n"),
        0o644,
    )?;
    write_new(&dir.join("policy"), &policy, 0o644)?;

    println!(
        "Demo files in {}: log.key ({DEMO_ORIGIN}), {}, logs, policy.",
        dir.display(),
        (1..=witnesses.len())
            .map(|n| format!("witness{n}.key"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("Run each of these in its own terminal, in this order:");
    for line in commands(dir, args.log_listen, &witnesses, &log_vkey) {
        println!("  {line}");
    }
    Ok(())
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), DemoError> {
    let io = |source| DemoError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                DemoError::Exists(path.to_owned())
            } else {
                io(e)
            }
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)
}
