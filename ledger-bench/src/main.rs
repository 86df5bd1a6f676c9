//! `ledger-bench`: generates a reproducible workload of signed blocks and
//! replays it through the ledger's stages, reporting transactions per second.
//!
//! Today it runs the stages that exist: decode (strict, zero-copy), signature
//! verification in parallel (ed25519-dalek single `verify_strict` until the
//! batch verify stage lands) and transaction ids. Execution, the state tree
//! and the atomic RocksDB commit join the pipeline as the engine is built.

use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use ed25519_dalek::SigningKey;
use indicatif::{ProgressBar, ProgressStyle};
use ledger_core::{Block, BlockHeader, Hash, Transaction, BLOCK_FORMAT_VERSION};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;

/// Command-line options. Every run with the same options and seed replays the
/// same bytes.
#[derive(Parser, Debug)]
#[command(version, about = "End-to-end benchmark of the ledger engine")]
struct Options {
    /// Blocks to generate and replay.
    #[arg(long, default_value_t = 20)]
    blocks: u32,
    /// Transactions per block.
    #[arg(long, default_value_t = 10_000)]
    txs_per_block: u32,
    /// Distinct sending accounts.
    #[arg(long, default_value_t = 10_000)]
    senders: u32,
    /// Application payload bytes per transaction.
    #[arg(long, default_value_t = 48)]
    payload_bytes: u32,
    /// Seed of the workload generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Chain id of the generated chain.
    #[arg(long, default_value_t = 1)]
    chain_id: u64,
    /// Print one JSON object as the last line of standard output.
    #[arg(long)]
    json: bool,
}

fn signing_keys(count: u32, rng: &mut ChaCha20Rng) -> Vec<SigningKey> {
    (0..count)
        .map(|_| SigningKey::from_bytes(&rng.random::<[u8; 32]>()))
        .collect()
}

/// Builds `options.blocks` encoded blocks of signed transactions.
fn generate(options: &Options, progress: &ProgressBar) -> Result<Vec<Bytes>, String> {
    let mut rng = ChaCha20Rng::seed_from_u64(options.seed);
    let keys = signing_keys(options.senders.max(1), &mut rng);
    let mut nonces = vec![0u64; keys.len()];
    let mut blocks = Vec::with_capacity(options.blocks as usize);
    let mut parent = Hash::ZERO;
    for height in 0..u64::from(options.blocks) {
        let plan: Vec<(usize, u64, Vec<u8>)> = (0..options.txs_per_block)
            .map(|_| {
                let sender = rng.random_range(0..keys.len());
                let nonce = nonces[sender];
                nonces[sender] += 1;
                let mut payload = vec![0u8; options.payload_bytes as usize];
                rng.fill(&mut payload[..]);
                (sender, nonce, payload)
            })
            .collect();
        let txs = plan
            .into_par_iter()
            .map(|(sender, nonce, payload)| {
                Transaction::sign(&keys[sender], options.chain_id, nonce, payload)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let header = BlockHeader {
            version: BLOCK_FORMAT_VERSION,
            chain_id: options.chain_id,
            height,
            parent,
            timestamp_ms: 1_767_225_600_000 + height * 1_000,
            tx_count: options.txs_per_block,
            tx_root: Hash::ZERO,
            state_root: Hash::ZERO,
            history_root: Hash::ZERO,
        };
        let block = Block::new(header, txs).map_err(|e| e.to_string())?;
        parent = block.id();
        blocks.push(block.encode());
        progress.inc(1);
    }
    Ok(blocks)
}

/// Time spent in each stage of the replay.
#[derive(Default, Debug)]
struct StageTimes {
    decode: Duration,
    verify: Duration,
    ids: Duration,
}

/// Replays encoded blocks: decode, verify every signature, compute ids.
/// Returns the stage times and a digest over all transaction ids.
fn replay(blocks: &[Bytes], progress: &ProgressBar) -> Result<(StageTimes, Hash, u64), String> {
    let mut times = StageTimes::default();
    let mut digest = ledger_core::Domain::MerkleLeaf.hasher();
    let mut txs = 0u64;
    for bytes in blocks {
        let start = Instant::now();
        let block = Block::decode(bytes).map_err(|e| e.to_string())?;
        times.decode += start.elapsed();

        let start = Instant::now();
        let bad = block
            .transactions()
            .par_iter()
            .filter(|tx| !signature_is_valid(tx))
            .count();
        times.verify += start.elapsed();
        if bad != 0 {
            return Err(format!(
                "block {} has {bad} invalid signatures",
                block.header().height
            ));
        }

        let start = Instant::now();
        let ids: Vec<Hash> = block.transactions().par_iter().map(|tx| tx.id()).collect();
        times.ids += start.elapsed();
        for id in &ids {
            digest.update(id.as_bytes());
        }
        txs += ids.len() as u64;
        progress.inc(1);
    }
    Ok((times, Hash(*digest.finalize().as_bytes()), txs))
}

fn signature_is_valid(tx: &Transaction) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&tx.sender().0) else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(&tx.signature().0);
    key.verify_strict(tx.signing_message().as_bytes(), &signature)
        .is_ok()
}

fn bar(len: u64, label: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>9} [{bar:40}] {pos}/{len} blocks {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label);
    bar
}

fn main() {
    let options = Options::parse();
    if let Err(message) = run(&options) {
        eprintln!("ledger-bench: {message}");
        std::process::exit(1);
    }
}

fn run(options: &Options) -> Result<(), String> {
    let progress = bar(u64::from(options.blocks), "generate");
    let start = Instant::now();
    let blocks = generate(options, &progress)?;
    progress.finish();
    let generate_time = start.elapsed();

    let progress = bar(u64::from(options.blocks), "replay");
    let start = Instant::now();
    let (times, digest, txs) = replay(&blocks, &progress)?;
    let seconds = start.elapsed().as_secs_f64();
    progress.finish();

    let bytes: usize = blocks.iter().map(Bytes::len).sum();
    let tx_per_sec = txs as f64 / seconds;
    println!();
    println!(
        "workload   {} blocks × {} txs, {} senders, {} B payloads, seed {}",
        options.blocks, options.txs_per_block, options.senders, options.payload_bytes, options.seed
    );
    println!(
        "generated  {:.2} s ({:.1} MB of blocks)",
        generate_time.as_secs_f64(),
        bytes as f64 / 1e6
    );
    println!(
        "replayed   {txs} txs in {seconds:.3} s: {tx_per_sec:.0} tx/s on {} threads",
        rayon::current_num_threads()
    );
    println!("  decode   {:>8.3} s", times.decode.as_secs_f64());
    println!(
        "  verify   {:>8.3} s  ({:.0} sig/s)",
        times.verify.as_secs_f64(),
        txs as f64 / times.verify.as_secs_f64()
    );
    println!("  ids      {:>8.3} s", times.ids.as_secs_f64());
    println!("tx digest  {digest}");
    println!("stages still to join the pipeline: execution, state tree, atomic RocksDB commit (engine issue)");
    if options.json {
        println!(
            "{{\"txs\":{txs},\"seconds\":{seconds:.6},\"tx_per_sec\":{tx_per_sec:.1},\"tx_digest\":\"{digest}\"}}"
        );
    }
    Ok(())
}
