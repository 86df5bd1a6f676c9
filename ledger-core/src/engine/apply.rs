//! Verifying, applying and committing blocks.
//!
//! **Invariants:** a refused block leaves the store and the ledger exactly
//! as they were (every write goes into one batch, committed last, and the
//! ledger's memory changes only after the batch is committed or handed to
//! the commit thread); blocks commit in order, one at a time. A block's
//! batch holds the block's own records (block, id, transaction index,
//! receipts, history nodes, head), never state: the state of the blocks
//! after the last state checkpoint is in memory (`layers`) and reaches the
//! store in the next checkpoint (`checkpointing`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rayon::prelude::*;

use crate::hash::Hash;
use crate::machine::{Receipt, StateMachine};
use crate::merkle::{merkle_root, HistoryTree};
use crate::state_tree::{
    apply_updates, NodeKey, StateLayers, StateTreeError, StateTreeReader, StateTreeWrites,
    StoredStateTree, VerifyingReader,
};
use crate::store::{Column, Store, WriteBatch};
use crate::types::{Block, BlockHeader, Transaction};
use crate::verify::SignatureVerifier;

use super::commit::InFlight;
use super::execute::{
    execute_transactions, execute_with_scratch, BlockContext, InvalidTransactions, ReadAhead,
};
use super::head_values::CommittedState;
use super::records::{
    encode_receipts, height_key, pack_block, pack_receipts, TxLocation, HEAD_KEY,
};
use super::{ApplyTimings, BlockOutcome, Committer, Head, Ledger, LedgerError, VerifiedBlock};

/// A block between staging and becoming the head.
struct Staged {
    head: Head,
    receipts: Vec<Receipt>,
    writes: StateTreeWrites,
    history: HistoryTree,
    timings: ApplyTimings,
    commit_start: std::time::Instant,
    bytes_written: usize,
}

/// What executing transactions on the head state gives.
pub(super) struct Executed {
    pub(super) receipts: Vec<Receipt>,
    pub(super) skipped: Vec<u32>,
    pub(super) writes: StateTreeWrites,
    pub(super) timings: ApplyTimings,
}

/// The stateless checks, for use ahead of the ledger (a pipeline stage).
pub fn verify_block(
    verifier: &SignatureVerifier,
    chain_id: u64,
    block: Block,
) -> Result<VerifiedBlock, LedgerError> {
    let header = block.header();
    if header.chain_id != chain_id {
        return Err(LedgerError::WrongChain {
            expected: chain_id,
            found: header.chain_id,
        });
    }
    verifier.verify_transactions(block.transactions())?;
    let tx_ids = transaction_ids(block.transactions());
    check_root("transaction", header.tx_root, merkle_root(&tx_ids))?;
    Ok(VerifiedBlock { block, tx_ids })
}

/// Share of a block's committed reads (1 in this many) that must miss the
/// head-value cache for the next block to read its hinted keys ahead.
const READ_AHEAD_MISS_SHARE: u64 = 8;

/// Fewest misses in a block for the next to read ahead (a small block
/// decides nothing).
const READ_AHEAD_MIN_MISSES: u64 = 64;

/// True if enough of the head-value cache's lookups between two readings
/// of its counters missed for reading ahead to pay: a state larger than
/// the cache, read where it is cold.
fn reads_mostly_missed(hits_before: u64, misses_before: u64, hits: u64, misses: u64) -> bool {
    let misses = misses.saturating_sub(misses_before);
    let lookups = hits.saturating_sub(hits_before).saturating_add(misses);
    misses >= READ_AHEAD_MIN_MISSES && misses.saturating_mul(READ_AHEAD_MISS_SHARE) >= lookups
}

/// Every transaction's id, in parallel.
pub(super) fn transaction_ids(transactions: &[Transaction]) -> Vec<Hash> {
    transactions
        .par_iter()
        .with_min_len(256)
        .map(Transaction::id)
        .collect()
}

/// Every receipt's leaf of the receipts tree, in parallel.
pub(super) fn receipt_leaves(tx_ids: &[Hash], receipts: &[Receipt]) -> Vec<Hash> {
    tx_ids
        .par_iter()
        .zip(receipts.par_iter())
        .with_min_len(256)
        .map(|(id, receipt)| receipt.leaf(id))
        .collect()
}

pub(super) fn check_root(
    root: &'static str,
    header: Hash,
    computed: Hash,
) -> Result<(), LedgerError> {
    if header != computed {
        return Err(LedgerError::RootMismatch {
            root,
            header,
            computed,
        });
    }
    Ok(())
}

impl<S: Store, M: StateMachine> Ledger<S, M> {
    /// Stateless checks of a block: chain id, signatures (in parallel
    /// batches), transaction ids and root.
    pub fn verify_block(&self, block: Block) -> Result<VerifiedBlock, LedgerError> {
        verify_block(&self.verifier, self.config.chain_id, block)
    }

    /// Applies and commits a verified block. On any error nothing of the
    /// block is written and the ledger's head is unchanged (a state
    /// checkpoint of blocks applied before it, started to make room for its
    /// state in the memory budget, may have been written). Returns once the block is
    /// durable (as `config.durability` defines it): its record, not its
    /// state, which stays in memory until a background state checkpoint
    /// (see [`LedgerConfig::checkpoint_blocks`](super::LedgerConfig)).
    pub fn apply_block(&mut self, verified: VerifiedBlock) -> Result<BlockOutcome, LedgerError> {
        self.settle()?;
        self.before_apply()?;
        let (staged, batch) = self.stage(verified)?;
        self.make_room(StateLayers::estimate(&staged.writes))?;
        self.store.commit(batch, self.config.durability)?;
        let outcome = self.finish(staged);
        self.after_apply()?;
        Ok(outcome)
    }

    /// Applies a verified block and commits it on a background thread:
    /// returns once the block is executed and every root checked, while its
    /// one atomic batch is being written. The next call executes the next
    /// block during that commit and waits for it only before starting its
    /// own, so execution of block N+1 overlaps the commit of block N.
    ///
    /// When this returns, the block is *applied* but not yet durable:
    /// [`Ledger::durable_height`] says when it is (at the latest after the
    /// next apply, [`Ledger::flush`], any query, or dropping the ledger).
    /// Acknowledge it to the outside only then.
    ///
    /// A refused block changes nothing (as with [`Ledger::apply_block`]). If
    /// a background commit fails, this and every later call return
    /// [`LedgerError::Poisoned`] and the ledger must be reopened, which
    /// recovers the last durable block.
    pub fn apply_block_overlapped(
        &mut self,
        verified: VerifiedBlock,
    ) -> Result<BlockOutcome, LedgerError> {
        self.before_apply()?;
        let (staged, batch) = self.stage(verified)?;
        self.make_room(StateLayers::estimate(&staged.writes))?;
        let committer = match &mut self.committer {
            Some(committer) => committer,
            committer @ None => committer.insert(Committer::start(Arc::clone(&self.store))?),
        };
        let done = committer.submit(batch, self.config.durability)?;
        // `stage` waited for the previous commit: the head is durable.
        *self.in_flight.lock() = Some(InFlight::new(done, self.head));
        let outcome = self.finish(staged);
        self.after_apply()?;
        Ok(outcome)
    }

    /// Checks, executes and prepares a block and its batch without
    /// committing it or changing the ledger. Waits for a background commit
    /// only after execution (which reads through its overlay), before
    /// pruning reads the stored stale lists.
    fn stage(&mut self, verified: VerifiedBlock) -> Result<(Staged, WriteBatch), LedgerError> {
        self.failure()?;
        let VerifiedBlock { block, tx_ids } = verified;
        let header = *block.header();
        self.check_link(&header)?;
        // The block executes on this thread while its stored record is
        // compressed on a thread of its own (about 4 ms for 10,000
        // transfers). Not in rayon's pool: a `join` from outside the pool
        // would move execution into it, behind the next block's
        // verification.
        let pack = || pack_block(&block.encode());
        let (executed, stored_block) = std::thread::scope(|scope| {
            // A small block is packed here: a thread costs more.
            let packing = (block.encoded_len() >= PACK_ON_THREAD_BYTES)
                .then(|| {
                    std::thread::Builder::new()
                        .name("ledger-pack".into())
                        .spawn_scoped(scope, pack)
                        .ok()
                })
                .flatten();
            let executed = self.execute(
                &header,
                block.transactions(),
                &tx_ids,
                InvalidTransactions::Refuse,
            );
            // Packing does not panic, and a thread that cannot start leaves
            // the work to this one.
            let stored_block = packing
                .and_then(|packing| packing.join().ok())
                .unwrap_or_else(pack);
            (executed, stored_block)
        });
        let executed = executed?;
        let leaves = receipt_leaves(&tx_ids, &executed.receipts);
        let roots = check_root("receipts", header.receipts_root, merkle_root(&leaves))
            .and_then(|()| check_root("state", header.state_root, executed.writes.root_hash));
        if let Err(mismatch) = roots {
            // Before blaming the block: was what this node read true?
            self.check_state_reads(&header, block.transactions(), &tx_ids)?;
            return Err(mismatch);
        }
        let commit_start = std::time::Instant::now();

        let head = Head::new(header);
        let mut batch = WriteBatch::with_capacity(tx_ids.len() + 64);
        // Commits happen in block order.
        self.settle()?;
        add_block_to_batch(stored_block, &head, &tx_ids, &executed.receipts, &mut batch);
        // The history tree's leaf is the encoded header (as a C2SP log entry).
        let encoded_header = header.encode();
        let mut history = self.history.clone();
        for (position, hash) in history.append(&encoded_header) {
            batch.put(Column::History, position.to_key().to_vec(), hash.0.to_vec());
        }
        batch.put(Column::Meta, HEAD_KEY, encoded_header);
        let bytes_written = batch.payload_bytes();
        let staged = Staged {
            head,
            receipts: executed.receipts,
            writes: executed.writes,
            history,
            timings: executed.timings,
            commit_start,
            bytes_written,
        };
        Ok((staged, batch))
    }

    /// Height, parent, timestamp and history root against the head.
    fn check_link(&self, header: &BlockHeader) -> Result<(), LedgerError> {
        let (height, parent, parent_time) = self.expected_next();
        if header.height != height {
            return Err(LedgerError::WrongHeight {
                expected: height,
                found: header.height,
            });
        }
        if header.parent != parent {
            return Err(LedgerError::WrongParent {
                expected: parent,
                found: header.parent,
            });
        }
        if header.timestamp_ms < parent_time {
            return Err(LedgerError::TimestampBeforeParent {
                parent: parent_time,
                found: header.timestamp_ms,
            });
        }
        check_root("history", header.history_root, self.history.root())
    }

    /// Makes a staged block the head (its batch is committed or being
    /// committed) and fills the caches with its writes.
    fn finish(&mut self, staged: Staged) -> BlockOutcome {
        let Staged {
            head,
            receipts,
            writes,
            history,
            mut timings,
            commit_start,
            bytes_written,
        } = staged;
        self.hold_applied_version(writes);
        self.history = history;
        self.head = Some(head);
        timings.commit = commit_start.elapsed();
        BlockOutcome {
            timings,
            header: head.header,
            id: head.id,
            receipts,
            bytes_written,
        }
    }

    /// Executes transactions on the applied head's state; returns receipts
    /// and the state tree writes of the new version.
    pub(super) fn execute(
        &self,
        header: &BlockHeader,
        transactions: &[Transaction],
        tx_ids: &[Hash],
        invalid: InvalidTransactions,
    ) -> Result<Executed, LedgerError> {
        let start = std::time::Instant::now();
        let stored = StoredStateTree::new(&*self.store);
        let cached = self.node_cache.reader(&stored);
        let reader = self.layers.reader(&cached);
        let base = self.applied_height();
        let committed = CommittedState {
            reader: &reader,
            version: base,
            cache: Some(&self.head_values),
        };
        let context = BlockContext::new(self.config.chain_id, header.height, header.timestamp_ms);
        let read_ahead = if self.read_ahead.load(Ordering::Relaxed) {
            ReadAhead::Hinted
        } else {
            ReadAhead::Off
        };
        let before = self.head_values.usage();
        let executed = execute_with_scratch(
            &mut self.execution_scratch.lock(),
            &*self.machine,
            &committed,
            context,
            transactions,
            tx_ids,
            invalid,
            read_ahead,
        )?;
        let after = self.head_values.usage();
        self.read_ahead.store(
            reads_mostly_missed(before.hits, before.misses, after.hits, after.misses),
            Ordering::Relaxed,
        );
        let executed_at = std::time::Instant::now();
        let writes = apply_updates(&reader, base, header.height, &executed.updates)?;
        let timings = ApplyTimings {
            execute: executed_at - start,
            state_root: executed_at.elapsed(),
            commit: std::time::Duration::ZERO,
            read_ahead: read_ahead == ReadAhead::Hinted,
        };
        Ok(Executed {
            receipts: executed.receipts,
            skipped: executed.skipped,
            writes,
            timings,
        })
    }

    /// After a root mismatch: re-executes the block reading the state with
    /// every node checked against its parent's hash from the head's state
    /// root down, and every value against its leaf, bypassing the caches.
    /// If that finds the stored state inconsistent, or gives the header's
    /// roots, the node's own state was wrong: the error says so (the
    /// node's fault, not the block's). `Ok` means the block is at fault.
    fn check_state_reads(
        &self,
        header: &BlockHeader,
        transactions: &[Transaction],
        tx_ids: &[Hash],
    ) -> Result<(), LedgerError> {
        self.settle()?;
        let base = self.applied_height();
        let stored = StoredStateTree::new(&*self.store);
        let layered = self.layers.reader(&stored);
        let verifying =
            VerifyingReader::new(&layered, base, self.head.map(|h| h.header.state_root));
        let committed = CommittedState {
            reader: &verifying,
            version: base,
            cache: None,
        };
        let context = BlockContext::new(self.config.chain_id, header.height, header.timestamp_ms);
        let executed = execute_transactions(
            &*self.machine,
            &committed,
            context,
            transactions,
            tx_ids,
            InvalidTransactions::Refuse,
        )?;
        let writes = apply_updates(&verifying, base, header.height, &executed.updates)?;
        let receipts_root = merkle_root(&receipt_leaves(tx_ids, &executed.receipts));
        if writes.root_hash == header.state_root && receipts_root == header.receipts_root {
            return Err(LedgerError::StateTree(StateTreeError::Corrupt {
                detail: "the state this node read (store or cache) disagreed with its own \
                         state root; read afresh, the block is valid"
                    .into(),
            }));
        }
        Ok(())
    }

    /// The stored state root at `version`.
    pub(super) fn state_root_at(&self, version: u64) -> Result<Hash, LedgerError> {
        self.settle()?;
        let stored = StoredStateTree::new(&*self.store);
        let cached = self.node_cache.reader(&stored);
        let key = NodeKey::root(version);
        let node = self.layers.reader(&cached).node(&key)?.ok_or_else(|| {
            LedgerError::corrupt(Column::StateNodes, &key.encode(), "no state root")
        })?;
        Ok(node.hash())
    }
}

/// Blocks at least this long (encoded) are compressed on a thread of their
/// own while they execute; smaller ones on the applying thread.
const PACK_ON_THREAD_BYTES: usize = 64 * 1024;

/// The block's own records: the block (packed, as `stored_block`), its
/// id's height, every transaction's location, and its receipts as one
/// packed record.
fn add_block_to_batch(
    stored_block: Vec<u8>,
    head: &Head,
    tx_ids: &[Hash],
    receipts: &[Receipt],
    batch: &mut WriteBatch,
) {
    let height = head.header.height;
    batch.put(Column::Blocks, height_key(height).to_vec(), stored_block);
    batch.put(
        Column::BlockIds,
        head.id.0.to_vec(),
        height_key(height).to_vec(),
    );
    for (index, tx_id) in tx_ids.iter().enumerate() {
        // Cannot truncate: a block holds at most MAX_TXS_PER_BLOCK
        // transactions.
        let location = TxLocation {
            height,
            index: u32::try_from(index).unwrap_or(u32::MAX),
        };
        batch.put(
            Column::TxIndex,
            tx_id.0.to_vec(),
            location.encode().to_vec(),
        );
    }
    // One record per block: a block's receipts are written together and
    // read rarely, and one put instead of one per transaction saves a
    // tenth of a 10,000-transfer block's commit.
    batch.put(
        Column::Receipts,
        height_key(height).to_vec(),
        pack_receipts(&encode_receipts(receipts)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_ahead_starts_at_its_share_and_count_of_misses() {
        let min = READ_AHEAD_MIN_MISSES;
        let share = READ_AHEAD_MISS_SHARE;
        // Counters before the block: 1,000 hits and 500 misses.
        let decide =
            |hits: u64, misses: u64| reads_mostly_missed(1_000, 500, 1_000 + hits, 500 + misses);
        // Exactly the share of misses, at the least count: on.
        assert!(decide(min * share - min, min));
        // One hit more: below the share.
        assert!(!decide(min * share - min + 1, min));
        // All missed but one too few.
        assert!(!decide(0, min - 1));
        assert!(decide(0, min));
        // Nothing read.
        assert!(!decide(0, 0));
        // Counters that went backwards (a new cache) decide nothing.
        assert!(!reads_mostly_missed(10, 10, 0, 0));
    }
}
