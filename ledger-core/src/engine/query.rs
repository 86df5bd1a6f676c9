//! Reads with proofs, and the standalone functions that check them without
//! a store.
//!
//! Every query waits for the commit in flight, so it sees durable blocks
//! only. What a query reads is checked against what commits to it (a
//! transaction against its index entry's id, a block's trees against its
//! header's roots, a state value against its leaf): a damaged store gives
//! [`LedgerError::Corrupt`], never a wrong answer presented as right.

use std::sync::Arc;

use bytes::Bytes;

use crate::cache::Weigh;
use crate::hash::Hash;
use crate::limits::HEADER_BYTES;
use crate::machine::{Receipt, StateMachine};
use crate::merkle::{
    verify_history_inclusion, verify_inclusion, ConsistencyProof, HistoryTree, InclusionProof,
    MerkleLevels, MerkleProofError,
};
use crate::state_tree::{
    application_position, nonce_position, prove, verify_state_proof, StateProof, StateProofError,
    StoredStateTree,
};
use crate::store::{Column, Store};
use crate::types::{Block, BlockHeader, PublicKey, Transaction};

use super::execute::StateRead;
use super::head_values::CommittedState;
use super::open::StoredHistory;
use super::records::{
    decode_height, decode_receipts, decode_stored_block, height_key, receipt_at,
    stored_block_header, transaction_span, unpack_block, unpack_receipts, TxLocation,
};
use super::witnessed::{WitnessedProof, WitnessedRecord};
use super::{Ledger, LedgerError};

/// A transaction with everything needed to check that it is in the ledger
/// and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionRecord {
    /// The transaction.
    pub transaction: Transaction,
    /// Its receipt.
    pub receipt: Receipt,
    /// The header of its block.
    pub header: BlockHeader,
    /// Its inclusion in the block's transaction root.
    pub inclusion: InclusionProof,
    /// Its receipt's inclusion in the block's receipts root.
    pub receipt_inclusion: InclusionProof,
}

impl TransactionRecord {
    /// Checks the transaction and its receipt against `trusted`, a header
    /// the verifier trusts (through a history proof from a checkpoint it
    /// trusts): both must be at the record's index of that block's trees.
    pub fn verify(&self, trusted: &BlockHeader) -> Result<(), MerkleProofError> {
        let id = self.transaction.id();
        verify_transaction_inclusion(trusted, &id, &self.inclusion)?;
        verify_receipt_inclusion(trusted, &id, &self.receipt, &self.receipt_inclusion)?;
        if self.receipt_inclusion.index != self.inclusion.index {
            return Err(MerkleProofError::IndexOutOfRange {
                index: self.receipt_inclusion.index,
                size: u64::from(trusted.tx_count),
            });
        }
        Ok(())
    }
}

/// A state value (or its absence) at a height, with its proof.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateRecord {
    /// The value, if present.
    pub value: Option<Bytes>,
    /// The proof against `header.state_root`.
    pub proof: StateProof,
    /// The header of the height it is read at.
    pub header: BlockHeader,
}

impl StateRecord {
    /// Checks that application key `key` has this record's value (or is
    /// absent) in the state whose root is `trusted_root` (a state root the
    /// verifier trusts, such as `header.state_root` of a trusted header).
    pub fn verify(&self, key: &[u8], trusted_root: &Hash) -> Result<(), StateProofError> {
        verify_state_proof(
            trusted_root,
            &application_position(key),
            self.value.as_deref(),
            &self.proof,
        )
    }
}

/// Checks that the transaction with id `tx_id` is at `proof.index` of the
/// block with `header` (against its transaction root and count).
pub fn verify_transaction_inclusion(
    header: &BlockHeader,
    tx_id: &Hash,
    proof: &InclusionProof,
) -> Result<(), MerkleProofError> {
    verify_inclusion(&header.tx_root, u64::from(header.tx_count), tx_id, proof)
}

/// Checks that `receipt` is the receipt of the transaction `tx_id` at
/// `proof.index` of the block with `header` (against its receipts root).
pub fn verify_receipt_inclusion(
    header: &BlockHeader,
    tx_id: &Hash,
    receipt: &Receipt,
    proof: &InclusionProof,
) -> Result<(), MerkleProofError> {
    verify_inclusion(
        &header.receipts_root,
        u64::from(header.tx_count),
        &receipt.leaf(tx_id),
        proof,
    )
}

/// Checks that `block` (a header) is at its height in the history committed
/// by `trusted` (a later header): against `trusted.history_root` over the
/// `trusted.height` blocks before it, whose leaves are the blocks' encoded
/// headers (RFC 6962 hashing, so `trusted` may as well be a C2SP checkpoint
/// of that size, checked with [`verify_history_inclusion`]).
pub fn verify_block_in_history(
    trusted: &BlockHeader,
    block: &BlockHeader,
    proof: &InclusionProof,
) -> Result<(), MerkleProofError> {
    if proof.index != block.height {
        return Err(MerkleProofError::IndexOutOfRange {
            index: proof.index,
            size: block.height,
        });
    }
    verify_history_inclusion(
        &trusted.history_root,
        trusted.height,
        &block.encode(),
        proof,
    )
}

/// One block's receipts and, if the cache can hold it, its transactions,
/// unpacked, with every level of its transaction and receipts trees:
/// cached so that queries on one block cost O(log n) each and allocate
/// nothing after the first.
pub(super) struct BlockLeaves {
    /// The block's encoding (unpacked from its stored record); `None` for a
    /// block too large for the cache with it, which queries unpack again
    /// (the trees, the costly part, stay cached).
    block: Option<Bytes>,
    /// Its receipts record (unpacked).
    receipts: Bytes,
    transactions: MerkleLevels,
    receipt_levels: MerkleLevels,
}

impl Weigh for BlockLeaves {
    fn heap_bytes(&self) -> usize {
        self.block.as_ref().map_or(0, Bytes::len)
            + self.receipts.len()
            + self.transactions.hash_bytes()
            + self.receipt_levels.hash_bytes()
    }
}

impl<S: Store, M: StateMachine> Ledger<S, M> {
    /// The block at `height`.
    pub fn block_by_height(&self, height: u64) -> Result<Option<Block>, LedgerError> {
        self.settle()?;
        let key = height_key(height);
        match self.store.get(Column::Blocks, &key)? {
            None => Ok(None),
            Some(bytes) => decode_stored_block(&bytes)
                .map(Some)
                .map_err(|error| LedgerError::corrupt(Column::Blocks, &key, error.to_string())),
        }
    }

    /// The block with id `id`.
    pub fn block_by_id(&self, id: &Hash) -> Result<Option<Block>, LedgerError> {
        self.settle()?;
        let Some(height) = self.store.get(Column::BlockIds, id.as_bytes())? else {
            return Ok(None);
        };
        let height = decode_height(&height).ok_or_else(|| {
            LedgerError::corrupt(Column::BlockIds, id.as_bytes(), "not an 8-byte height")
        })?;
        let block = self.block_by_height(height)?;
        if let Some(block) = &block {
            if block.id() != *id {
                return Err(LedgerError::corrupt(
                    Column::BlockIds,
                    id.as_bytes(),
                    format!("points at block {height}, which has another id"),
                ));
            }
        }
        Ok(block)
    }

    /// The header of the stored block at `height`, decoding nothing else.
    pub fn header_at(&self, height: u64) -> Result<Option<BlockHeader>, LedgerError> {
        self.settle()?;
        let key = height_key(height);
        let Some(bytes) = self.store.get(Column::Blocks, &key)? else {
            return Ok(None);
        };
        let header =
            stored_block_header(&bytes).map(|head| BlockHeader::decode(&bytes.slice_ref(head)));
        match header {
            Some(Ok(header)) if header.height == height => Ok(Some(header)),
            _ => Err(LedgerError::corrupt(
                Column::Blocks,
                &key,
                "the stored block does not start with its header",
            )),
        }
    }

    /// The transaction with id `id`, its receipt, its block header and the
    /// inclusion proofs of both against the header's roots. The block's
    /// unpacked records and trees are cached: after the first query on a
    /// block, a query decodes only its transaction and receipt.
    pub fn transaction(&self, id: &Hash) -> Result<Option<TransactionRecord>, LedgerError> {
        self.settle()?;
        let Some(entry) = self.store.get(Column::TxIndex, id.as_bytes())? else {
            return Ok(None);
        };
        let corrupt = |column, key: &[u8], detail: &str| LedgerError::corrupt(column, key, detail);
        let location = TxLocation::decode(&entry)
            .ok_or_else(|| corrupt(Column::TxIndex, id.as_bytes(), "malformed location"))?;
        let (leaves, block) = self
            .block_leaves(location.height)?
            .ok_or_else(|| corrupt(Column::TxIndex, id.as_bytes(), "its block is missing"))?;
        let transaction = transaction_span(&block, location.index)
            .and_then(|span| block.get(span))
            .and_then(|bytes| Transaction::decode(&block.slice_ref(bytes)).ok())
            .filter(|transaction| transaction.id() == *id)
            .ok_or_else(|| {
                corrupt(
                    Column::TxIndex,
                    id.as_bytes(),
                    "does not locate this transaction",
                )
            })?;
        let key = height_key(location.height);
        let receipt = receipt_at(&leaves.receipts, location.index)
            .ok_or_else(|| corrupt(Column::Receipts, &key, "malformed or too short"))?;
        let index = u64::from(location.index);
        let header = block
            .get(..HEADER_BYTES as usize)
            .map(|header| BlockHeader::decode(&block.slice_ref(header)))
            .and_then(Result::ok)
            .ok_or_else(|| corrupt(Column::Blocks, &key, "no header"))?;
        Ok(Some(TransactionRecord {
            transaction,
            receipt,
            header,
            inclusion: leaves.transactions.inclusion_proof(index)?,
            receipt_inclusion: leaves.receipt_levels.inclusion_proof(index)?,
        }))
    }

    /// The block at `height` unpacked, with its receipts and trees: from the
    /// cache, or read, built and checked against the header's roots; `None`
    /// if no block is stored there.
    fn block_leaves(&self, height: u64) -> Result<Option<(Arc<BlockLeaves>, Bytes)>, LedgerError> {
        let key = height_key(height);
        let read_block = || -> Result<Option<Bytes>, LedgerError> {
            let Some(stored) = self.store.get(Column::Blocks, &key)? else {
                return Ok(None);
            };
            unpack_block(&stored)
                .map(Some)
                .map_err(|error| LedgerError::corrupt(Column::Blocks, &key, error.to_string()))
        };
        if let Some(leaves) = self.block_leaves.get(&height) {
            let block = match &leaves.block {
                Some(block) => block.clone(),
                None => match read_block()? {
                    Some(block) => block,
                    None => return Ok(None),
                },
            };
            return Ok(Some((leaves, block)));
        }
        let Some(unpacked) = read_block()? else {
            return Ok(None);
        };
        let block = Block::decode(&unpacked)
            .map_err(|error| LedgerError::corrupt(Column::Blocks, &key, error.to_string()))?;
        let stored_receipts = self
            .store
            .get(Column::Receipts, &key)?
            .ok_or_else(|| LedgerError::corrupt(Column::Receipts, &key, "missing"))?;
        let receipts_record = unpack_receipts(&stored_receipts)
            .map_err(|error| LedgerError::corrupt(Column::Receipts, &key, error.to_string()))?;
        let receipts = decode_receipts(&receipts_record)
            .filter(|receipts| receipts.len() == block.transactions().len())
            .ok_or_else(|| LedgerError::corrupt(Column::Receipts, &key, "malformed"))?;
        let tx_ids = super::apply::transaction_ids(block.transactions());
        let transactions = MerkleLevels::build(&tx_ids);
        let receipt_levels = MerkleLevels::build(&super::apply::receipt_leaves(&tx_ids, &receipts));
        let header = block.header();
        if transactions.root() != header.tx_root {
            return Err(LedgerError::corrupt(
                Column::Blocks,
                &key,
                "transactions do not match the header's root",
            ));
        }
        if receipt_levels.root() != header.receipts_root {
            return Err(LedgerError::corrupt(
                Column::Receipts,
                &key,
                "receipts do not match the header's root",
            ));
        }
        let mut leaves = Arc::new(BlockLeaves {
            block: Some(unpacked.clone()),
            receipts: receipts_record,
            transactions,
            receipt_levels,
        });
        if !self.block_leaves.fits(&leaves) {
            // Too large with its transactions: cache the trees without them.
            if let Some(leaves) = Arc::get_mut(&mut leaves) {
                leaves.block = None;
            }
        }
        self.block_leaves.insert(height, Arc::clone(&leaves));
        Ok(Some((leaves, unpacked)))
    }

    /// The proof that the block at `height` is in the history committed by
    /// the durable head (for `height` below the head's).
    pub fn history_proof(&self, height: u64) -> Result<InclusionProof, LedgerError> {
        self.settle()?;
        let head = self
            .applied_height()
            .ok_or(LedgerError::HeightUnavailable {
                height,
                oldest: 0,
                head: None,
            })?;
        Ok(HistoryTree::inclusion_proof(
            &StoredHistory(&*self.store),
            height,
            head,
        )?)
    }

    /// The proof that the block at `height` is in the history tree of
    /// `size` blocks (`height < size ≤` the durable head's height + 1): the
    /// tree header `size` commits to, and a C2SP checkpoint of tree size
    /// `size` names. [`verify_history_inclusion`] checks it.
    pub fn history_proof_at(&self, height: u64, size: u64) -> Result<InclusionProof, LedgerError> {
        self.settle()?;
        if size > self.history.size() {
            return Err(LedgerError::HeightUnavailable {
                height: size,
                oldest: 0,
                head: self.applied_height(),
            });
        }
        Ok(HistoryTree::inclusion_proof(
            &StoredHistory(&*self.store),
            height,
            size,
        )?)
    }

    /// The transaction with id `id` and its receipt, proved against its
    /// block header, and that header's inclusion in the history tree of
    /// `checkpoint_size` blocks: with a checkpoint of that size,
    /// [`verify_witnessed`] checks it. `None` if there is no such
    /// transaction.
    ///
    /// # Errors
    /// [`LedgerError::HeightUnavailable`] if the transaction's block is not
    /// below `checkpoint_size`, or `checkpoint_size` is above the durable
    /// head's height + 1; store errors.
    ///
    /// [`verify_witnessed`]: super::verify_witnessed
    pub fn witnessed_transaction_proof(
        &self,
        id: &Hash,
        checkpoint_size: u64,
    ) -> Result<Option<WitnessedProof>, LedgerError> {
        let Some(record) = self.transaction(id)? else {
            return Ok(None);
        };
        let history = self.witnessed_history(record.header.height, checkpoint_size)?;
        Ok(Some(WitnessedProof::new(
            WitnessedRecord::Transaction(record),
            history,
        )))
    }

    /// The value of application key `key` at `height` (or its absence),
    /// proved against that height's header, and the header's inclusion in
    /// the history tree of `checkpoint_size` blocks: with a checkpoint of
    /// that size, [`verify_witnessed`] checks it.
    ///
    /// # Errors
    /// [`LedgerError::HeightUnavailable`] if `height` is not below
    /// `checkpoint_size`, is pruned, or `checkpoint_size` is above the
    /// durable head's height + 1; store errors.
    ///
    /// [`verify_witnessed`]: super::verify_witnessed
    pub fn witnessed_state_proof(
        &self,
        key: &[u8],
        height: u64,
        checkpoint_size: u64,
    ) -> Result<WitnessedProof, LedgerError> {
        let history = self.witnessed_history(height, checkpoint_size)?;
        let record = self.state(key, Some(height))?;
        Ok(WitnessedProof::new(
            WitnessedRecord::State {
                key: Bytes::copy_from_slice(key),
                record,
            },
            history,
        ))
    }

    /// The history proof of block `height` in a checkpoint of `size`, or
    /// why the block is not in it.
    fn witnessed_history(&self, height: u64, size: u64) -> Result<InclusionProof, LedgerError> {
        if height >= size {
            return Err(LedgerError::HeightUnavailable {
                height,
                oldest: 0,
                head: size.checked_sub(1),
            });
        }
        self.history_proof_at(height, size)
    }

    /// The proof that the history tree of `old_size` blocks is a prefix of
    /// the one of `new_size` blocks, up to the blocks stored
    /// (`new_size ≤` the durable head's height + 1). A tree of `n` blocks is
    /// the one header `n` commits to (its `history_root`) and a C2SP
    /// checkpoint of tree size `n` names; [`verify_history_consistency`]
    /// checks the proof.
    ///
    /// [`verify_history_consistency`]: crate::merkle::verify_history_consistency
    pub fn history_consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, LedgerError> {
        self.settle()?;
        if new_size > self.history.size() {
            return Err(LedgerError::HeightUnavailable {
                height: new_size,
                oldest: 0,
                head: self.applied_height(),
            });
        }
        Ok(HistoryTree::consistency_proof(
            &StoredHistory(&*self.store),
            old_size,
            new_size,
        )?)
    }

    /// The value of application key `key` at `height` (the durable head if
    /// `None`) with its proof against that height's state root.
    pub fn state(&self, key: &[u8], height: Option<u64>) -> Result<StateRecord, LedgerError> {
        self.settle()?;
        let head = self.applied_height();
        let unavailable = |height: u64| LedgerError::HeightUnavailable {
            height,
            oldest: self.oldest_state_height(),
            head,
        };
        let height = match (height, head) {
            (Some(height), Some(head)) if height <= head => height,
            (None, Some(head)) => head,
            (height, _) => return Err(unavailable(height.unwrap_or(0))),
        };
        if height < self.oldest_state_height() {
            return Err(unavailable(height));
        }
        self.check_state_kept(height)?;
        let header = self
            .header_at(height)?
            .ok_or_else(|| LedgerError::corrupt(Column::Blocks, &height_key(height), "missing"))?;
        let stored = StoredStateTree::new(&*self.store);
        let cached = self.node_cache.reader(&stored);
        let (value, proof) = prove(
            &self.layers.reader(&cached),
            height,
            &application_position(key),
        )?;
        Ok(StateRecord {
            value,
            proof,
            header,
        })
    }

    /// Whether the state at `height` (at most the head) is kept: held in
    /// memory (after the last state checkpoint) or a stored checkpoint.
    fn check_state_kept(&self, height: u64) -> Result<(), LedgerError> {
        if self
            .state_checkpoint
            .is_none_or(|checkpoint| height >= checkpoint)
        {
            return Ok(());
        }
        match self
            .store
            .get(Column::StateCheckpoints, &height_key(height))?
        {
            Some(_) => Ok(()),
            None => Err(LedgerError::StateNotKept {
                height,
                checkpoint: self.state_checkpoint,
            }),
        }
    }

    /// The next nonce `sender` must use, after the applied head.
    pub fn nonce(&self, sender: &PublicKey) -> Result<u64, LedgerError> {
        self.settle()?;
        let stored = StoredStateTree::new(&*self.store);
        let layered = self.layers.reader(&stored);
        let state = CommittedState {
            reader: &layered,
            version: self.applied_height(),
            cache: Some(&self.head_values),
        };
        let position = nonce_position(sender);
        match state.read(&position)? {
            None => Ok(0),
            Some(bytes) => <[u8; 8]>::try_from(&bytes[..])
                .map(u64::from_le_bytes)
                .map_err(|_| {
                    LedgerError::corrupt(
                        Column::StateValues,
                        position.as_bytes(),
                        "nonce is not 8 bytes",
                    )
                }),
        }
    }
}
