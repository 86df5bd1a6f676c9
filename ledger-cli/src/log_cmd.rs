//! `ledger log`: tools of a checkpoint log (ledger-log).
//!
//! - `ledger log keygen --origin NAME --out FILE`: makes a log key (an
//!   Ed25519 note key named by the log's origin), writes the signer key to
//!   FILE (mode 0600, which must not exist) and prints the verifier key.
//! - `ledger log evidence --log-key VKEY FILE_A FILE_B [--json]`: checks
//!   whether two checkpoint notes are split-view evidence against the log
//!   key (both signed by it, same origin and size, different roots).
//!
//! Exit status of `evidence`: **0** the notes are evidence (printed: text,
//! or one JSON object); **1** they are not (the reason printed on stdout,
//! as text or as `{"kind":"not-evidence","reason":…}`); **2** they could
//! not be checked (a file unreadable or too large, a malformed key).

use std::io::{Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use ledger_core::checkpoint::{SignatureType, SignerKey, VerifierKey};
use ledger_core::MAX_NOTE_BYTES;
use ledger_log::evidence::json_string;
use ledger_log::SplitViewEvidence;

/// `ledger log …`.
#[derive(Subcommand, Debug)]
pub enum LogCommand {
    /// Makes a log key: writes the signer key to FILE (mode 0600, which
    /// must not exist) and prints the verifier key.
    Keygen {
        /// The log's origin (the key's name), say `ledger.example/log`.
        #[arg(long)]
        origin: String,
        /// Where to write the signer key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Checks whether two checkpoint notes are split-view evidence: exit 0
    /// if they are, 1 if not (the reason printed), 2 if they could not be
    /// checked.
    Evidence {
        /// The log's verifier key (vkey), as `keygen` prints it.
        #[arg(long)]
        log_key: String,
        /// The first checkpoint note.
        file_a: PathBuf,
        /// The second checkpoint note.
        file_b: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `ledger log` command; its exit status.
pub fn run(command: LogCommand) -> ExitCode {
    let result = match command {
        LogCommand::Keygen { origin, out } => keygen(&origin, &out),
        LogCommand::Evidence {
            log_key,
            file_a,
            file_b,
            json,
        } => evidence(&log_key, &file_a, &file_b, json),
    };
    result.unwrap_or_else(|message| {
        eprintln!("ledger: {message}");
        ExitCode::from(2)
    })
}

fn keygen(origin: &str, out: &Path) -> Result<ExitCode, String> {
    let seed: [u8; 32] = rand::random();
    let signer = SignerKey::new(origin, SignatureType::Ed25519, &seed)
        .map_err(|e| format!("invalid origin: {e}"))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    writeln!(file, "{}", signer.encode())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", out.display()))?;
    println!("{}", signer.verifier_key());
    Ok(ExitCode::SUCCESS)
}

/// Reads a note file: at most `MAX_NOTE_BYTES` (the note parser's limit).
fn read_note(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_NOTE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() > MAX_NOTE_BYTES {
        return Err(format!(
            "{}: larger than {MAX_NOTE_BYTES} bytes",
            path.display()
        ));
    }
    Ok(bytes)
}

fn evidence(log_key: &str, file_a: &Path, file_b: &Path, json: bool) -> Result<ExitCode, String> {
    let log_key =
        VerifierKey::parse(log_key.trim()).map_err(|e| format!("not a verifier key: {e}"))?;
    let (a, b) = (read_note(file_a)?, read_note(file_b)?);
    match SplitViewEvidence::new(&log_key, &a, &b) {
        Ok(evidence) if json => println!("{}", evidence.to_json()),
        Ok(evidence) => print!("{}", evidence.to_text()),
        Err(reason) if json => {
            println!(
                "{{\"kind\":\"not-evidence\",\"reason\":{}}}",
                json_string(&reason.to_string())
            );
            return Ok(ExitCode::FAILURE);
        }
        Err(reason) => {
            println!("not evidence: {reason}");
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}
