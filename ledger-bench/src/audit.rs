//! `ledger-bench audit`: every record of a stored ledger checked against a
//! replay of its blocks, and the yardstick it is measured against.

use std::time::Instant;

use ledger_core::verify::SignatureVerifier;
use ledger_core::verify_block;
use ledger_storage::RocksStore;

use crate::progress;
use crate::replay::own_pool_verifier;
use crate::workload::{ledger_config, BenchApp, WorkloadKind};

/// `ledger-bench audit`: every stored record checked; a finding is a
/// non-zero exit.
pub fn audit(
    path: &std::path::Path,
    yardstick: bool,
    workload: WorkloadKind,
    json: bool,
) -> Result<(), String> {
    let opening = Instant::now();
    let store = RocksStore::open(path).map_err(|e| ledger_core::error_chain(&e))?;
    eprintln!("store opened in {:.2} s", opening.elapsed().as_secs_f64());
    let app = BenchApp::new(workload);
    let start = Instant::now();
    let bar = progress(0, "audit");
    // When the replay ended and the column checks began.
    let mut replayed: Option<Instant> = None;
    let report = ledger_core::audit_store(
        &store,
        &app,
        &ledger_config(),
        &own_pool_verifier(),
        &mut |step| match step {
            ledger_core::AuditProgress::Replay { done, total } => {
                bar.set_length(total);
                bar.set_position(done);
            }
            ledger_core::AuditProgress::Column(column) => {
                replayed.get_or_insert_with(Instant::now);
                bar.set_message(format!("{column}"));
            }
            _ => {}
        },
    )
    .map_err(|e| ledger_core::error_chain(&e))?;
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let replay_seconds = replayed.map_or(seconds, |at| (at - start).as_secs_f64());
    let yardstick = if yardstick {
        Some(audit_yardstick(&store)?)
    } else {
        None
    };
    if json {
        println!(
            "{}",
            audit_json(&report, seconds, replay_seconds, yardstick)
        );
    } else {
        println!(
            "audit {}: {} blocks, {} transactions re-verified and re-executed, {} records \
             ({:.1} MB) checked in {seconds:.2} s ({replay_seconds:.2} s replaying the blocks, \
             {:.2} s comparing the other records)",
            if report.passed() { "passed" } else { "FAILED" },
            report.blocks,
            report.transactions,
            report.records,
            report.bytes as f64 / 1e6,
            seconds - replay_seconds,
        );
        if let Some(y) = yardstick {
            println!(
                "yardstick {:.2} s: signatures alone {:.2} s ({:.0} sig/s) + one BLAKE3 pass over \
                 the stored records {:.2} s; audit / yardstick = {:.2}",
                y.signatures + y.hashing,
                y.signatures,
                report.transactions as f64 / y.signatures,
                y.hashing,
                seconds / (y.signatures + y.hashing)
            );
        }
        for finding in report.findings.iter().take(50) {
            println!("  {finding}");
        }
        let more = report.findings.len().saturating_sub(50) as u64 + report.findings_dropped;
        if more > 0 {
            println!("  … and {more} more (--json lists them)");
        }
    }
    if report.passed() {
        return Ok(());
    }
    let genesis_refused = report.findings.iter().any(|finding| {
        finding.kind == ledger_core::FindingKind::InvalidBlock && finding.key == "0000000000000000"
    });
    if genesis_refused {
        // The application is not recorded in the store: replaying with
        // the other one fails at the genesis block.
        return Err(format!(
            "the genesis block does not replay: was the ledger written with --workload {}? \
             pass the same --workload to audit",
            match workload {
                WorkloadKind::Transfers => "provenance or claims",
                WorkloadKind::Provenance => "transfers or claims",
                WorkloadKind::Claims => "transfers or provenance",
            }
        ));
    }
    Err(format!(
        "the audit found {} problem(s)",
        report.findings.len() as u64 + report.findings_dropped
    ))
}

/// The audit report as one JSON object.
/// What the audit is measured against, timed in the same run.
#[derive(Clone, Copy, Debug)]
struct Yardstick {
    /// Reading, decoding and verifying every block (signatures and
    /// transaction root), with a fresh verifier.
    signatures: f64,
    /// One BLAKE3 pass over every stored key and value.
    hashing: f64,
}

fn audit_yardstick(store: &RocksStore) -> Result<Yardstick, String> {
    use ledger_core::store::{Column, KeyRange, StoreRead};
    let verifier = SignatureVerifier::default();
    let start = Instant::now();
    for entry in store
        .scan(Column::Blocks, KeyRange::all())
        .map_err(|e| ledger_core::error_chain(&e))?
    {
        let (_, bytes) = entry.map_err(|e| ledger_core::error_chain(&e))?;
        let block = ledger_core::decode_stored_block(&bytes).map_err(|e| e.to_string())?;
        let chain_id = block.header().chain_id;
        verify_block(&verifier, chain_id, block).map_err(|e| ledger_core::error_chain(&e))?;
    }
    let signatures = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut hasher = blake3::Hasher::new();
    for column in Column::ALL {
        for entry in store
            .scan(column, KeyRange::all())
            .map_err(|e| ledger_core::error_chain(&e))?
        {
            let (key, value) = entry.map_err(|e| ledger_core::error_chain(&e))?;
            hasher.update(&key);
            hasher.update(&value);
        }
    }
    std::hint::black_box(hasher.finalize());
    Ok(Yardstick {
        signatures,
        hashing: start.elapsed().as_secs_f64(),
    })
}

fn audit_json(
    report: &ledger_core::AuditReport,
    seconds: f64,
    replay_seconds: f64,
    yardstick: Option<Yardstick>,
) -> String {
    let yardstick = yardstick.map_or(String::new(), |y| {
        format!(
            ",\"yardstick_signature_seconds\":{:.3},\"yardstick_hash_seconds\":{:.3}",
            y.signatures, y.hashing
        )
    });
    let findings: Vec<String> = report
        .findings
        .iter()
        .map(|finding| {
            format!(
                "{{\"column\":\"{}\",\"key\":\"{}\",\"kind\":\"{}\",\"detail\":{}}}",
                finding.column,
                finding.key,
                finding.kind.name(),
                json_string(&finding.detail)
            )
        })
        .collect();
    format!(
        "{{\"passed\":{},\"blocks\":{},\"transactions\":{},\"records\":{},\"bytes\":{},\"seconds\":{seconds:.3},\"replay_seconds\":{replay_seconds:.3},\"findings\":[{}],\"findings_dropped\":{}{yardstick}}}",
        report.passed(),
        report.blocks,
        report.transactions,
        report.records,
        report.bytes,
        findings.join(","),
        report.findings_dropped
    )
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
