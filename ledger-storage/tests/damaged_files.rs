//! A damaged store directory is reported, never trusted. Bytes flipped in
//! the blob file that holds the blocks, or in a table file, make opening
//! the ledger or its audit fail with a typed error, or the audit report a
//! finding; nothing panics, and when everything still passes, every block
//! reads back exactly as written (the damaged bytes were never used).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::path::{Path, PathBuf};

use ledger_core::store::{StoreError, StoreRead};
use ledger_core::testing::{key, sign, Op, ScriptedApp};
use ledger_core::{Block, Ledger, LedgerConfig, LedgerError, PublicKey};
use ledger_storage::{RocksConfig, RocksStore, BLOB_MIN_BYTES};

const CHAIN: u64 = 47;
/// Accounts sending one transfer each per block: enough for a block to be
/// larger than `BLOB_MIN_BYTES`, so that blocks go to blob files.
const ACCOUNTS: u8 = 40;
const BLOCKS: u64 = 6;

fn app() -> ScriptedApp {
    ScriptedApp {
        minter: PublicKey::from_signing_key(&key(1)),
    }
}

/// Builds a ledger of `BLOCKS` blocks in `path`, flushed to table and blob
/// files, and returns its blocks.
fn build(path: &Path) -> Vec<Block> {
    let store = RocksStore::open_with(path, RocksConfig::default()).unwrap();
    let mut ledger = Ledger::open(store, app(), LedgerConfig::new(CHAIN)).unwrap();
    let accounts: Vec<_> = (2..2 + ACCOUNTS).map(key).collect();
    let mut blocks = Vec::new();
    for height in 0..BLOCKS {
        let txs: Vec<_> = accounts
            .iter()
            .enumerate()
            .map(|(i, account)| {
                if height == 0 {
                    let to = PublicKey::from_signing_key(account);
                    sign(&key(1), CHAIN, i as u64, &[Op::Mint { to, amount: 100 }])
                } else {
                    let to = PublicKey::from_signing_key(&accounts[(i + 1) % accounts.len()]);
                    sign(
                        account,
                        CHAIN,
                        height - 1,
                        &[Op::Transfer { to, amount: 1 }],
                    )
                }
            })
            .collect();
        let block = ledger.build_block(txs, height).unwrap();
        ledger
            .apply_block(ledger.verify_block(block.clone()).unwrap())
            .unwrap();
        blocks.push(block);
    }
    ledger.flush().unwrap();
    ledger.checkpoint_state().unwrap();
    ledger.store().flush().unwrap();
    // What the store holds (the engine compresses blocks) decides.
    let stored = ledger
        .store()
        .get(ledger_core::Column::Blocks, &1u64.to_be_bytes())
        .unwrap()
        .unwrap();
    assert!(
        stored.len() as u64 >= BLOB_MIN_BYTES,
        "stored blocks must be large enough for blob files ({} bytes)",
        stored.len()
    );
    blocks
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// True if `error`, or an error it was caused by, is a store corruption.
fn is_store_corruption(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if matches!(
            error.downcast_ref::<StoreError>(),
            Some(StoreError::Corruption { .. })
        ) {
            return true;
        }
        next = error.source();
    }
    false
}

/// What a damaged copy of the ledger does.
#[derive(Debug)]
enum Outcome {
    /// Opening failed.
    OpenFailed(LedgerError),
    /// The audit failed to read the store.
    AuditFailed(LedgerError),
    /// The audit read everything and reported findings.
    Findings,
    /// The audit passed, and every block read back equal to the original.
    Unharmed,
}

fn open_and_audit(path: &Path, blocks: &[Block]) -> Outcome {
    let store = match RocksStore::open_with(path, RocksConfig::default()) {
        Ok(store) => store,
        Err(error) => return Outcome::OpenFailed(LedgerError::Store(error)),
    };
    let ledger = match Ledger::open(store, app(), LedgerConfig::new(CHAIN)) {
        Ok(ledger) => ledger,
        Err(error) => return Outcome::OpenFailed(error),
    };
    match ledger.audit() {
        Err(error) => Outcome::AuditFailed(error),
        Ok(report) if !report.passed() => Outcome::Findings,
        Ok(_) => {
            for block in blocks {
                let stored = ledger.block_by_height(block.header().height);
                assert_eq!(
                    stored.as_ref().ok().and_then(Option::as_ref),
                    Some(block),
                    "an audit that passed must mean every block reads back unchanged \
                     (height {}: {stored:?})",
                    block.header().height
                );
            }
            Outcome::Unharmed
        }
    }
}

/// Flips every bit of the byte at `offset` in `file`.
fn flip(file: &Path, offset: usize) {
    let mut bytes = std::fs::read(file).unwrap();
    bytes[offset] ^= 0xff;
    std::fs::write(file, bytes).unwrap();
}

/// Offsets to damage in a file of `len` bytes: the header, the body and the
/// footer.
fn offsets(len: usize) -> [usize; 5] {
    [4, len / 4, len / 2, 3 * len / 4, len - 8]
}

/// Damages each file of a freshly built ledger whose name ends with
/// `suffix`, one byte at each of [`offsets`], each time in a fresh copy;
/// checks that every failure is a typed store corruption, and returns how
/// many damaged copies were caught, and how many files there were.
fn damage_each(suffix: &str) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original");
    let blocks = build(&original);
    let files = files_ending(&original, suffix);
    assert!(!files.is_empty(), "the flushed ledger has {suffix} files");
    let mut detected = 0;
    for (index, file) in files.iter().enumerate() {
        let len = std::fs::metadata(file).unwrap().len() as usize;
        for offset in offsets(len) {
            let copy = dir.path().join(format!("copy-{index}-{offset}"));
            copy_dir(&original, &copy);
            flip(&copy.join(file.file_name().unwrap()), offset);
            let outcome = open_and_audit(&copy, &blocks);
            eprintln!("{} at {offset} of {len}: {outcome:?}", file.display());
            match &outcome {
                Outcome::OpenFailed(error) | Outcome::AuditFailed(error) => {
                    assert!(
                        is_store_corruption(error),
                        "a damaged {suffix} file is a store corruption: {error:?}"
                    );
                    detected += 1;
                }
                Outcome::Findings => detected += 1,
                Outcome::Unharmed => {}
            }
            std::fs::remove_dir_all(&copy).unwrap();
        }
    }
    (detected, files.len())
}

#[test]
fn a_damaged_blob_file_is_reported() {
    let (detected, files) = damage_each(".blob");
    // Every byte of a blob file's records is covered by a checksum that
    // reading the block verifies, and the audit reads every block: at least
    // the three places in the body are found in each file.
    assert!(
        detected >= 3 * files,
        "the damage in the records of each blob file must be found ({detected} found)"
    );
}

#[test]
fn a_damaged_table_file_is_reported_or_harmless() {
    let (detected, files) = damage_each(".sst");
    // Every table block carries a checksum, verified when the block is read
    // (on open for index and metadata blocks, by the audit for data).
    assert!(
        detected > 0,
        "no damage to any of {files} table files was found"
    );
}
