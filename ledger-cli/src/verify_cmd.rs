//! `ledger verify`: fetch the latest witnessed checkpoint and one record's
//! witnessed proof from a ledger's read API (`ledger-serve`), and check
//! them offline against the log's key and a witness policy
//! ([`ledger_core::verify_witnessed`]), then that the record is the one
//! asked for. Prints `yes` with the record, or `no` and exactly why not.
//!
//! Exit status: 0 verified; 1 not verified (the proof or checkpoint failed,
//! or the server has no such record); 2 could not check (bad arguments,
//! unreadable policy, the server unreachable).

use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use ledger_core::checkpoint::{Policy, VerifierKey};
use ledger_core::hash::to_hex;
use ledger_core::{error_chain, verify_witnessed, VerifiedRecord, WitnessedProof, WitnessedRecord};
use ledger_serve::client::{Answer, BaseUrl};

/// `ledger verify`'s arguments.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The read API's base URL, `http://host:port`.
    #[arg(long)]
    url: String,
    /// The log's verifier key (vkey `name+id+base64`): the checkpoint's
    /// origin and signer.
    #[arg(long)]
    log_key: String,
    /// The witness policy file (c2sp.org/tlog-policy): witnesses and quorum.
    #[arg(long)]
    policy: PathBuf,
    /// A transaction id (64 hex digits): check the transaction and its receipt.
    #[arg(long, conflicts_with = "state", required_unless_present = "state")]
    tx: Option<String>,
    /// An application state key in hex: check its value (or absence).
    #[arg(long)]
    state: Option<String>,
    /// With `--state`: the block after which to read it (default: the last
    /// block in the checkpoint).
    #[arg(long, requires = "state")]
    height: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Why the check could not be made, or did not pass.
#[derive(Debug, thiserror::Error)]
enum VerifyFailure {
    #[error("{0}")]
    Usage(String),
    #[error("fetching {path}: {detail}")]
    Fetch { path: String, detail: String },
    #[error("{0}")]
    No(String),
}

/// Runs `ledger verify`.
pub fn run(args: &VerifyArgs) -> ExitCode {
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| VerifyFailure::Usage(format!("starting the runtime: {e}")))
        .and_then(|runtime| runtime.block_on(check(args)));
    match outcome {
        Ok((verified, _)) => {
            print_yes(&verified, args.json);
            ExitCode::SUCCESS
        }
        Err(failure) => {
            let code = match failure {
                VerifyFailure::No(_) => 1,
                _ => 2,
            };
            if args.json {
                let answer = serde_json::json!({ "verified": false, "why": failure.to_string() });
                println!("{answer}");
            } else {
                println!("no: {failure}");
            }
            ExitCode::from(code)
        }
    }
}

fn hex_arg(text: &str, what: &str) -> Result<String, VerifyFailure> {
    let valid = !text.is_empty()
        && text.len().is_multiple_of(2)
        && text.len() <= 512
        && text.bytes().all(|b| b.is_ascii_hexdigit());
    if valid {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(VerifyFailure::Usage(format!("{what} is not hex")))
    }
}

async fn fetch(base: &BaseUrl, path: &str, accept: &str) -> Result<Answer, VerifyFailure> {
    let answer = base
        .get(path, accept)
        .await
        .map_err(|e| VerifyFailure::Fetch {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
    match answer.status {
        200 => Ok(answer),
        404 => Err(VerifyFailure::No(format!(
            "the server has no {path}: {}",
            String::from_utf8_lossy(&answer.body).trim()
        ))),
        status => Err(VerifyFailure::Fetch {
            path: path.to_owned(),
            detail: format!(
                "status {status}: {}",
                String::from_utf8_lossy(&answer.body).trim()
            ),
        }),
    }
}

async fn check(args: &VerifyArgs) -> Result<(VerifiedRecord, Bytes), VerifyFailure> {
    let log_key = VerifierKey::parse(args.log_key.trim())
        .map_err(|e| VerifyFailure::Usage(format!("--log-key: {e}")))?;
    let policy_bytes = std::fs::read(&args.policy)
        .map_err(|e| VerifyFailure::Usage(format!("{}: {e}", args.policy.display())))?;
    let policy = Policy::parse(&policy_bytes)
        .map_err(|e| VerifyFailure::Usage(format!("{}: {e}", args.policy.display())))?;
    let base = BaseUrl::parse(&args.url).map_err(|e| VerifyFailure::Usage(e.to_string()))?;
    let path = match (&args.tx, &args.state, args.height) {
        (Some(tx), _, _) => {
            let id = hex_arg(tx, "--tx")?;
            if id.len() != 64 {
                return Err(VerifyFailure::Usage("--tx is 64 hex digits".into()));
            }
            format!("/proof/tx/{id}")
        }
        (None, Some(key), None) => format!("/proof/state/{}", hex_arg(key, "--state")?),
        (None, Some(key), Some(h)) => {
            format!("/proof/state/{}?height={h}", hex_arg(key, "--state")?)
        }
        (None, None, _) => return Err(VerifyFailure::Usage("--tx or --state".into())),
    };
    let note = fetch(&base, "/checkpoint", "text/plain").await?.body;
    let proof_bytes = fetch(&base, &path, "application/octet-stream").await?.body;
    let proof = WitnessedProof::decode(&proof_bytes)
        .map_err(|e| VerifyFailure::No(format!("the proof is malformed: {}", error_chain(&e))))?;
    let verified = verify_witnessed(&proof, &note, &log_key, &policy)
        .map_err(|e| VerifyFailure::No(error_chain(&e)))?;
    check_asked_for(&verified.record, args)?;
    Ok((verified, note))
}

/// A valid proof of another record is no answer: the record must be the
/// transaction or key asked for (and at the height asked for).
fn check_asked_for(record: &WitnessedRecord, args: &VerifyArgs) -> Result<(), VerifyFailure> {
    let matches = match record {
        WitnessedRecord::Transaction(record) => args
            .tx
            .as_deref()
            .is_some_and(|tx| record.transaction.id().to_hex() == tx.to_ascii_lowercase()),
        WitnessedRecord::State { key, record } => {
            args.state
                .as_deref()
                .is_some_and(|asked| to_hex(key) == asked.to_ascii_lowercase())
                && args.height.is_none_or(|h| record.header.height == h)
        }
        _ => false,
    };
    if matches {
        Ok(())
    } else {
        Err(VerifyFailure::No(
            "the proof verifies but is for another record than the one asked for".into(),
        ))
    }
}

fn print_yes(verified: &VerifiedRecord, json: bool) {
    let checkpoint = &verified.checkpoint.checkpoint;
    let witnesses: Vec<&str> = verified
        .checkpoint
        .cosignatures
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if json {
        let mut out = serde_json::Map::new();
        out.insert("verified".into(), true.into());
        out.insert("origin".into(), checkpoint.origin().into());
        out.insert("tree_size".into(), checkpoint.size().into());
        out.insert("witnesses".into(), witnesses.into());
        out.insert(
            "header".into(),
            ledger_serve::json::header(&verified.header),
        );
        ledger_serve::json::record_fields(&verified.record, &mut out);
        println!("{}", serde_json::Value::Object(out));
        return;
    }
    let height = verified.header.height;
    match &verified.record {
        WitnessedRecord::Transaction(record) => {
            println!(
                "yes: transaction {} is in block {height}, receipt {:?}",
                record.transaction.id(),
                record.receipt
            );
        }
        WitnessedRecord::State { key, record } => {
            let value = record
                .value
                .as_deref()
                .map_or_else(|| "absent".to_owned(), to_hex);
            println!("yes: key {} after block {height} is {value}", to_hex(key));
        }
        _ => println!("yes: a record in block {height}"),
    }
    println!(
        "in checkpoint {} of {} blocks, cosigned by {}",
        checkpoint.origin(),
        checkpoint.size(),
        witnesses.join(", ")
    );
}
