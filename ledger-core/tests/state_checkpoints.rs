//! State checkpoints (issue 14): the state of recent blocks lives in
//! memory and reaches the store in background checkpoints of many blocks.
//!
//! - A model-based property test: random sequences of applies, forced
//!   checkpoints, simulated crashes (the fault-injecting store drops what
//!   was not synced), clean reopens and queries at random heights, compared
//!   with a reference ledger that keeps every height in its store. Every
//!   answer the ledger gives is byte-identical to the reference's; it
//!   refuses only heights between two stored checkpoints; a crash loses no
//!   acknowledged block; the audit passes after every reopen.
//! - A failed checkpoint poisons the ledger; reopening recovers from the
//!   last good checkpoint and the blocks after it.
//! - Backpressure: with a store that commits slowly, memory stays inside
//!   the budget and applying waits; a replay holds its versions inside it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use std::time::Duration;

use common::slow_store::{Slow, SlowStore};
use common::{app, build_chain, config, keys, public};
use ledger_core::store::Fault;
use ledger_core::testing::{account_key, proptest_config, ScriptedApp};
use ledger_core::{
    Block, Column, Durability, FaultyStore, Ledger, LedgerConfig, LedgerError, MemStore, Store,
    WriteBatch,
};
use proptest::prelude::*;

const BLOCKS: u64 = 12;

fn chain() -> &'static Vec<Block> {
    static CHAIN: std::sync::OnceLock<Vec<Block>> = std::sync::OnceLock::new();
    CHAIN.get_or_init(|| build_chain(MemStore::new(), BLOCKS, 4242).0)
}

/// Keeps every height: a checkpoint after every block, nothing pruned.
fn reference() -> &'static Ledger<MemStore, ScriptedApp> {
    static REFERENCE: std::sync::OnceLock<Ledger<MemStore, ScriptedApp>> =
        std::sync::OnceLock::new();
    REFERENCE.get_or_init(|| {
        let mut config = config();
        config.state_retention = 1_000;
        let mut ledger = Ledger::open(MemStore::new(), app(), config).unwrap();
        for block in chain() {
            let verified = ledger.verify_block(block.clone()).unwrap();
            ledger.apply_block(verified).unwrap();
            ledger.checkpoint_state().unwrap();
        }
        ledger
    })
}

#[derive(Clone, Debug)]
enum Op {
    Apply,
    Checkpoint,
    Crash,
    Reopen,
    Query { height: u64, account: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Apply),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Crash),
        1 => Just(Op::Reopen),
        4 => (0..BLOCKS, 0..common::ACCOUNTS).prop_map(|(height, account)| Op::Query { height, account }),
    ]
}

fn tested_config(
    checkpoint_blocks: u64,
    memory: usize,
    buffered: bool,
    every: bool,
) -> LedgerConfig {
    let mut config = config();
    config.keep_every_version = every;
    config.state_retention = 1_000;
    config.checkpoint_blocks = checkpoint_blocks;
    config.checkpoint_interval = Duration::MAX;
    config.state_memory_bytes = memory;
    config.durability = if buffered {
        Durability::Buffered
    } else {
        Durability::Synced
    };
    config
}

fn open(store: MemStore, config: &LedgerConfig) -> Ledger<FaultyStore, ScriptedApp> {
    let ledger = Ledger::open(FaultyStore::new(store), app(), config.clone()).unwrap();
    // What open replayed agrees with the reference.
    if let Some(height) = ledger.applied_height() {
        assert_eq!(
            ledger.applied_head(),
            Some(chain()[height as usize].header())
        );
    }
    let report = ledger.audit().unwrap();
    assert!(report.passed(), "{:#?}", report.findings);
    ledger
}

proptest! {
    #![proptest_config(proptest_config(48, file!()))]

    #[test]
    fn checkpointed_ledger_answers_like_the_reference(
        ops in prop::collection::vec(op(), 1..60),
        checkpoint_blocks in 1u64..6,
        // 0: every apply waits for a checkpoint of everything before it.
        memory in prop_oneof![Just(0usize), Just(usize::MAX)],
        buffered in any::<bool>(),
        // Keep every version (no height ever refused), or merge.
        every in any::<bool>(),
    ) {
        let config = tested_config(checkpoint_blocks, memory, buffered, every);
        let mut ledger = open(MemStore::new(), &config);
        for op in ops {
            match op {
                Op::Apply => {
                    let next = ledger.applied_height().map_or(0, |h| h + 1);
                    if let Some(block) = chain().get(next as usize) {
                        let verified = ledger.verify_block(block.clone()).unwrap();
                        ledger.apply_block(verified).unwrap();
                        let heights = ledger.heights();
                        prop_assert_eq!(heights.applied, Some(next));
                        prop_assert!(heights.state_checkpoint <= heights.durable);
                    }
                }
                Op::Checkpoint => {
                    let checkpoint = ledger.checkpoint_state().unwrap();
                    prop_assert_eq!(checkpoint, ledger.applied_height());
                }
                Op::Crash => {
                    let acknowledged = ledger.durable_height();
                    let synced = ledger.store().crash();
                    drop(ledger);
                    ledger = open(synced, &config);
                    if !buffered {
                        // Synced commits: nothing acknowledged is lost.
                        prop_assert_eq!(ledger.applied_height(), acknowledged);
                    }
                    prop_assert!(ledger.applied_height() <= acknowledged);
                }
                Op::Reopen => {
                    let applied = ledger.applied_height();
                    ledger.flush().unwrap();
                    let contents = ledger.store().contents();
                    drop(ledger);
                    ledger = open(contents, &config);
                    prop_assert_eq!(ledger.applied_height(), applied);
                }
                Op::Query { height, account } => {
                    let key = account_key(&public(&keys()[account]));
                    let answer = ledger.state(&key, Some(height));
                    let checkpoint = ledger.heights().state_checkpoint;
                    match answer {
                        Ok(record) => {
                            let expected = reference().state(&key, Some(height)).unwrap();
                            prop_assert_eq!(record, expected);
                        }
                        Err(LedgerError::HeightUnavailable { .. }) => {
                            prop_assert!(ledger.applied_height().is_none_or(|head| height > head));
                        }
                        Err(LedgerError::StateNotKept { .. }) => {
                            // Only heights before the last checkpoint that
                            // are not checkpoints themselves, when merging.
                            prop_assert!(!every && checkpoint.is_some_and(|c| height < c));
                        }
                        Err(error) => prop_assert!(false, "height {}: {:?}", height, error),
                    }
                }
            }
        }
    }
}

/// Each trigger alone starts a checkpoint: blocks held, time since the
/// oldest, bytes held; with none reached there is none. (A checkpoint
/// started finishes when the ledger is dropped, with no final checkpoint,
/// so reopening the store tells whether one was started.)
#[test]
fn each_trigger_alone_starts_a_checkpoint() {
    let checkpoint_after_three_blocks = |tune: fn(&mut LedgerConfig)| {
        let mut config = config();
        config.checkpoint_blocks = u64::MAX;
        config.checkpoint_interval = Duration::MAX;
        config.checkpoint_memory_bytes = Some(usize::MAX);
        tune(&mut config);
        let store = MemStore::new();
        let mut ledger = Ledger::open(store.clone(), app(), config.clone()).unwrap();
        for block in &chain()[..3] {
            let verified = ledger.verify_block(block.clone()).unwrap();
            ledger.apply_block(verified).unwrap();
        }
        drop(ledger);
        let reopened = Ledger::open(store, app(), config).unwrap();
        assert_eq!(reopened.applied_head(), Some(chain()[2].header()));
        reopened.heights().state_checkpoint
    };
    assert_eq!(checkpoint_after_three_blocks(|_| {}), None, "no trigger");
    let by_blocks = checkpoint_after_three_blocks(|config| config.checkpoint_blocks = 2);
    assert!(by_blocks.is_some(), "two blocks held");
    let by_time =
        checkpoint_after_three_blocks(|config| config.checkpoint_interval = Duration::ZERO);
    assert!(by_time.is_some(), "held for no time");
    let by_bytes = checkpoint_after_three_blocks(|config| config.checkpoint_memory_bytes = Some(1));
    assert!(by_bytes.is_some(), "one byte held");
}

#[test]
fn a_failed_checkpoint_poisons_the_ledger_and_reopening_recovers() {
    let mut config = config();
    config.checkpoint_blocks = u64::MAX;
    config.checkpoint_interval = Duration::MAX;
    let mut ledger = Ledger::open(FaultyStore::default(), app(), config.clone()).unwrap();
    for block in &chain()[..3] {
        let verified = ledger.verify_block(block.clone()).unwrap();
        ledger.apply_block(verified).unwrap();
    }
    assert_eq!(ledger.checkpoint_state().unwrap(), Some(2));
    for block in &chain()[3..6] {
        let verified = ledger.verify_block(block.clone()).unwrap();
        ledger.apply_block(verified).unwrap();
    }
    // The next commit is the checkpoint's: it fails.
    ledger.store().fail_commits(Fault::Once(0));
    let error = ledger.checkpoint_state().unwrap_err();
    assert!(matches!(error, LedgerError::Poisoned(_)), "{error:?}");
    assert!(!error.is_block_invalid());
    let verified = ledger.verify_block(chain()[6].clone()).unwrap();
    assert!(matches!(
        ledger.apply_block(verified),
        Err(LedgerError::Poisoned(_))
    ));
    assert_eq!(ledger.durable_height(), Some(5));
    // Reopening finds the last good checkpoint (2) and replays 3..=5.
    let contents = ledger.store().contents();
    drop(ledger);
    let mut reopened = Ledger::open(FaultyStore::new(contents), app(), config).unwrap();
    assert_eq!(reopened.heights().state_checkpoint, Some(2));
    assert_eq!(reopened.recovery_report().replayed_blocks, 3);
    assert_eq!(reopened.applied_head(), Some(chain()[5].header()));
    assert!(reopened.audit().unwrap().passed());
    for block in &chain()[6..] {
        let verified = reopened.verify_block(block.clone()).unwrap();
        reopened.apply_block(verified).unwrap();
    }
    assert_eq!(reopened.applied_head(), reference().applied_head());
}

/// The store a crash leaves after `blocks` blocks whose state was
/// checkpointed only at `checkpoint` (the later blocks are durable only as
/// blocks), and the configuration that wrote it.
fn crashed_after(blocks: usize, checkpoint: usize) -> (MemStore, LedgerConfig) {
    let mut config = config();
    config.checkpoint_blocks = u64::MAX;
    config.checkpoint_interval = Duration::MAX;
    let mut ledger = Ledger::open(FaultyStore::default(), app(), config.clone()).unwrap();
    for (height, block) in chain()[..blocks].iter().enumerate() {
        let verified = ledger.verify_block(block.clone()).unwrap();
        ledger.apply_block(verified).unwrap();
        if height == checkpoint {
            assert_eq!(ledger.checkpoint_state().unwrap(), Some(height as u64));
        }
    }
    (ledger.store().contents(), config)
}

/// Reopens a store checkpointed at 2 with blocks 3..=5 to replay, the
/// stored block 4 replaced by `tamper`'s.
fn open_with_block_4(tamper: impl FnOnce(Block) -> Block) -> Result<(), LedgerError> {
    let (contents, config) = crashed_after(6, 2);
    let store = FaultyStore::new(contents);
    let mut batch = WriteBatch::new();
    batch.put(
        Column::Blocks,
        4u64.to_be_bytes().to_vec(),
        ledger_core::encode_stored_block(&tamper(chain()[4].clone())),
    );
    store.commit(batch, Durability::Synced).unwrap();
    let reopened = Ledger::open(store, app(), config)?;
    assert_eq!(reopened.recovery_report().replayed_blocks, 3);
    assert_eq!(reopened.applied_head(), Some(chain()[5].header()));
    Ok(())
}

#[test]
fn a_replay_that_fills_the_budget_checkpoints_as_it_goes() {
    // Ten blocks after the genesis checkpoint, durable only as blocks.
    let (contents, mut config) = crashed_after(11, 0);
    // A budget of nothing: the versions held are checkpointed before each
    // replayed version is held (which then stays alone in memory), and the
    // execution thread moves to each new checkpoint.
    config.state_memory_bytes = 0;
    let reopened = open(contents, &config);
    assert_eq!(reopened.recovery_report().replayed_blocks, 10);
    assert_eq!(reopened.heights().state_checkpoint, Some(9));
    assert_eq!(reopened.checkpoint_report().versions_in_memory, 1);
    for height in [10, 9, 8, 7] {
        for account in keys().iter().map(public) {
            let key = account_key(&account);
            assert_eq!(
                reopened.state(&key, Some(height)).unwrap(),
                reference().state(&key, Some(height)).unwrap(),
                "height {height}"
            );
        }
    }
}

#[test]
fn a_replay_holds_its_versions_inside_the_budget() {
    // Ten blocks to replay; what their versions take with no bound.
    let (contents, mut config) = crashed_after(11, 0);
    let unbounded = open(contents.clone(), &config)
        .checkpoint_report()
        .memory_bytes;
    // A third of that: the replay checkpoints on the way, and never holds
    // more than the budget.
    config.state_memory_bytes = unbounded / 3;
    let reopened = open(contents, &config);
    let report = reopened.checkpoint_report();
    assert_eq!(reopened.recovery_report().replayed_blocks, 10);
    assert!(report.checkpoint > Some(0), "{report:?}");
    assert!(report.versions_in_memory >= 1, "{report:?}");
    // At no moment of the replay, not only at its end.
    assert!(
        report.max_memory_bytes <= config.state_memory_bytes,
        "{} bytes held at most, budget {}",
        report.max_memory_bytes,
        config.state_memory_bytes
    );
    assert_eq!(reopened.applied_head(), Some(chain()[10].header()));
}

#[test]
fn replay_refuses_a_stored_block_whose_roots_differ_from_its_header() {
    // Untouched, the replay of 3..=5 succeeds.
    open_with_block_4(|block| block).unwrap();
    let is_block_4 = |error: &LedgerError| {
        matches!(error, LedgerError::Corrupt { column: Column::Blocks, key, .. }
            if *key == "0000000000000004")
    };
    let with_header = |change: fn(&mut ledger_core::BlockHeader)| {
        move |block: Block| {
            let (mut header, transactions) = block.into_parts();
            change(&mut header);
            Block::new(header, transactions).unwrap()
        }
    };
    // Another state root in the header: the state tree's check (the
    // opening thread) refuses it.
    let error = open_with_block_4(with_header(|header| {
        header.state_root = ledger_core::Hash([7; 32]);
    }))
    .unwrap_err();
    assert!(is_block_4(&error), "{error:?}");
    // Another receipts root: the execution thread refuses it.
    let error = open_with_block_4(with_header(|header| {
        header.receipts_root = ledger_core::Hash([7; 32]);
    }))
    .unwrap_err();
    assert!(is_block_4(&error), "{error:?}");
}

#[test]
fn slow_checkpoints_hold_memory_inside_the_budget() {
    // The budget: about two blocks' state (measured on a first run).
    let mut probe = Ledger::open(MemStore::new(), app(), config()).unwrap();
    let mut largest = 0;
    for block in chain() {
        let before = probe.checkpoint_report().memory_bytes;
        let verified = probe.verify_block(block.clone()).unwrap();
        probe.apply_block(verified).unwrap();
        largest = largest.max(probe.checkpoint_report().memory_bytes - before);
    }
    let budget = 2 * largest;
    let mut config = config();
    config.state_memory_bytes = budget;
    config.checkpoint_blocks = 1;
    config.checkpoint_interval = Duration::MAX;
    let store = SlowStore::new(
        MemStore::new(),
        Duration::from_millis(150),
        Slow::Checkpoints,
        usize::MAX,
    );
    let mut ledger = Ledger::open(store, app(), config).unwrap();
    for block in chain() {
        let verified = ledger.verify_block(block.clone()).unwrap();
        ledger.apply_block(verified).unwrap();
        let report = ledger.checkpoint_report();
        assert!(
            report.max_memory_bytes <= budget,
            "{} bytes held at most, budget {budget}",
            report.max_memory_bytes
        );
    }
    let report = ledger.checkpoint_report();
    assert!(report.backpressure_waits > 0, "{report:?}");
    assert!(report.checkpoints_written > 0, "{report:?}");
    assert_eq!(ledger.applied_head(), reference().applied_head());
}
