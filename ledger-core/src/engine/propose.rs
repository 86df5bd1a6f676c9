//! Building a block, for a proposer: from candidate transactions (a
//! mempool's, in the order it chose) to a block whose every root is filled
//! in, in one pass over the candidates.
//!
//! What is left out: transactions with an invalid signature, and those that
//! would make the block invalid — for another chain, with a nonce that is
//! not their sender's next (given the transactions before them in the
//! block), or repeating one already included — and the candidates past the
//! block's limits (`MAX_TXS_PER_BLOCK`, `MAX_BLOCK_BYTES`).
//!
//! What is kept: transactions the application refuses (or that break a
//! state or budget limit). Their sender signed them and they are valid, so
//! they are included as *failed*: they consume their nonce, change nothing
//! else, and their receipt proves the refusal — a rejected claim is as
//! provable as a paid one.

use crate::hash::Hash;
use crate::limits::{BLOCK_FORMAT_VERSION, HEADER_BYTES, MAX_BLOCK_BYTES, MAX_TXS_PER_BLOCK};
use crate::machine::StateMachine;
use crate::merkle::merkle_root;
use crate::store::Store;
use crate::types::{Block, BlockHeader, Transaction};
use crate::verify::VerifyError;

use super::apply::{receipt_leaves, transaction_ids};
use super::execute::InvalidTransactions;
use super::{Ledger, LedgerError};

impl<S: Store, M: StateMachine> Ledger<S, M> {
    /// Builds the next block from `candidates` (see the module
    /// documentation for what is left out and what is kept), executing them
    /// once, in the given order, and fills in every root. The block is not
    /// applied: apply it like any other.
    pub fn build_block(
        &self,
        candidates: Vec<Transaction>,
        timestamp_ms: u64,
    ) -> Result<Block, LedgerError> {
        self.failure()?;
        let (height, parent, parent_time) = self.expected_next();
        let mut transactions = fit_block_limits(candidates);
        if let Err(VerifyError::InvalidSignatures { indices }) =
            self.verifier.verify_transactions(&transactions)
        {
            remove_indices(&mut transactions, &indices);
        }
        let mut header = BlockHeader {
            version: BLOCK_FORMAT_VERSION,
            chain_id: self.config.chain_id,
            height,
            parent,
            timestamp_ms: timestamp_ms.max(parent_time),
            tx_count: 0,
            tx_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            state_root: Hash::ZERO,
            history_root: self.history.root(),
        };
        let mut tx_ids = transaction_ids(&transactions);
        let executed = self.execute(&header, &transactions, &tx_ids, InvalidTransactions::Skip)?;
        remove_indices(&mut transactions, &executed.skipped);
        remove_indices(&mut tx_ids, &executed.skipped);
        // Cannot truncate: `fit_block_limits` kept at most MAX_TXS_PER_BLOCK.
        header.tx_count = u32::try_from(transactions.len()).unwrap_or(u32::MAX);
        header.tx_root = merkle_root(&tx_ids);
        header.receipts_root = merkle_root(&receipt_leaves(&tx_ids, &executed.receipts));
        header.state_root = executed.writes.root_hash;
        Ok(Block::new(header, transactions)?)
    }
}

/// The longest prefix of `candidates` that fits one block.
fn fit_block_limits(mut candidates: Vec<Transaction>) -> Vec<Transaction> {
    let mut bytes = HEADER_BYTES as usize;
    let fits = candidates
        .iter()
        .take(MAX_TXS_PER_BLOCK as usize)
        .take_while(|tx| {
            bytes += tx.encoded_len();
            bytes <= MAX_BLOCK_BYTES as usize
        })
        .count();
    candidates.truncate(fits);
    candidates
}

/// Removes the items at `indices` (ascending) in one pass.
fn remove_indices<T>(items: &mut Vec<T>, indices: &[u32]) {
    if indices.is_empty() {
        return;
    }
    let mut index = 0u32;
    items.retain(|_| {
        let keep = indices.binary_search(&index).is_err();
        index += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_exactly_the_named_indices() {
        let mut items: Vec<u32> = (0..10).collect();
        remove_indices(&mut items, &[0, 3, 9]);
        assert_eq!(items, vec![1, 2, 4, 5, 6, 7, 8]);
        remove_indices(&mut items, &[]);
        assert_eq!(items.len(), 7);
    }
}
