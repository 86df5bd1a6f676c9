//! The binary encoding of a [`WitnessedProof`]: canonical, bounded and
//! versioned, for an offline verifier (the body of a QR proof bundle).
//! Layout in `docs/FORMAT.md` ("Witnessed proofs"); in short, little-endian:
//!
//! ```text
//! u16 version (1) ‖ u8 kind (0 transaction, 1 state) ‖ header (HEADER_BYTES)
//! ‖ u32 len ‖ history inclusion proof
//! kind 0: u32 len ‖ transaction ‖ u32 len ‖ receipt
//!         ‖ u32 len ‖ transaction inclusion proof ‖ u32 len ‖ receipt inclusion proof
//! kind 1: u32 len ‖ key ‖ u8 0 (absent) | u8 1 ‖ u32 len ‖ value
//!         ‖ u32 len ‖ state proof
//! ```
//!
//! Every part is in its own canonical encoding, and every length is checked
//! against its named limit (`limits`) before the bytes it announces are
//! read; the input as a whole against [`MAX_WITNESSED_PROOF_BYTES`] first.
//! So `decode(encode(p)) == p`, `encode(decode(b)) == b` for every accepted
//! `b`, and no input makes the decoder panic or allocate more than the input.
//! Pure, like [`super::witnessed`]: it compiles to wasm.

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use bytes::Bytes;

use crate::codec::{DecodeError, EncodeError, Limit, Reader, Writer};
use crate::limits::{
    MAX_INCLUSION_PROOF_BYTES, MAX_RECEIPT_BYTES, MAX_STATE_KEY_BYTES, MAX_STATE_PROOF_BYTES,
    MAX_STATE_VALUE_BYTES, MAX_TX_BYTES, MAX_WITNESSED_PROOF_BYTES, WITNESSED_PROOF_FORMAT_VERSION,
};
use crate::machine::Receipt;
use crate::merkle::{InclusionProof, MerkleProofError, MAX_PROOF_HASHES};
use crate::state_tree::{StateProof, StateProofError, MAX_STATE_PROOF_SIBLINGS};
use crate::types::{BlockHeader, Transaction};

use super::query::{StateRecord, TransactionRecord};
use super::witnessed::{WitnessedProof, WitnessedRecord};

const KIND_TRANSACTION: u8 = 0;
const KIND_STATE: u8 = 1;
const VALUE_ABSENT: u8 = 0;
const VALUE_PRESENT: u8 = 1;

// The named limits are the largest encodings of their parts.
const _: () = assert!(MAX_INCLUSION_PROOF_BYTES as usize == 8 + 8 + 1 + MAX_PROOF_HASHES * 32);
const _: () = assert!(
    MAX_STATE_PROOF_BYTES as usize
        == 65 + 2 + MAX_STATE_PROOF_SIBLINGS / 8 + MAX_STATE_PROOF_SIBLINGS * 32
);

/// Why bytes are not a witnessed proof in the binary encoding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessedProofDecodeError {
    /// Framing: truncated, trailing bytes, a length over its limit, or the
    /// header (offsets from the start of the input).
    #[error("malformed witnessed proof")]
    Framing(#[from] DecodeError),
    /// A format version this build does not read.
    #[error(
        "witnessed proof format version {version} is not supported (this build reads {supported})"
    )]
    UnsupportedVersion {
        /// The version found.
        version: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// The record kind byte is neither 0 (transaction) nor 1 (state).
    #[error("unknown witnessed record kind {kind}")]
    UnknownKind {
        /// The byte found.
        kind: u8,
    },
    /// The value presence byte is neither 0 (absent) nor 1 (present).
    #[error("state value presence byte {tag} is neither 0 nor 1")]
    ValueTag {
        /// The byte found.
        tag: u8,
    },
    /// The transaction's bytes are not a canonical transaction.
    #[error("the transaction bytes are malformed")]
    Transaction(#[source] DecodeError),
    /// The receipt's bytes are not a canonical receipt.
    #[error("the receipt bytes are malformed")]
    Receipt,
    /// An inclusion proof's bytes are malformed.
    #[error("the {which} proof bytes are malformed")]
    InclusionProof {
        /// `history`, `transaction` or `receipt`.
        which: &'static str,
        /// Why.
        #[source]
        source: MerkleProofError,
    },
    /// The state proof's bytes are malformed.
    #[error("the state proof bytes are malformed")]
    StateProof(#[source] StateProofError),
}

fn put_field(out: &mut Vec<u8>, bytes: &[u8], what: Limit, max: u32) -> Result<(), EncodeError> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&len| len <= max)
        .ok_or(EncodeError::LimitExceeded {
            what,
            value: bytes.len() as u64,
            max: u64::from(max),
        })?;
    out.put_u32(len);
    out.put_slice(bytes);
    Ok(())
}

impl WitnessedProof {
    /// The canonical binary encoding (`docs/FORMAT.md`).
    ///
    /// # Errors
    /// [`EncodeError::LimitExceeded`] if a part was set beyond its limit
    /// (a key or value longer than the state allows); proofs the
    /// [`Ledger`](super::Ledger) builds always encode.
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let mut out = Vec::with_capacity(1024);
        out.put_u16(WITNESSED_PROOF_FORMAT_VERSION);
        let kind = match &self.record {
            WitnessedRecord::Transaction(_) => KIND_TRANSACTION,
            WitnessedRecord::State { .. } => KIND_STATE,
        };
        out.push(kind);
        self.record.header().encode_to(&mut out);
        let proof_bytes = (Limit::ProofBytes, MAX_INCLUSION_PROOF_BYTES);
        put_field(
            &mut out,
            &self.history.encode(),
            proof_bytes.0,
            proof_bytes.1,
        )?;
        match &self.record {
            WitnessedRecord::Transaction(record) => {
                let transaction = record.transaction.encode();
                put_field(&mut out, &transaction, Limit::TxBytes, MAX_TX_BYTES)?;
                let receipt = record.receipt.encode();
                put_field(&mut out, &receipt, Limit::ReceiptBytes, MAX_RECEIPT_BYTES)?;
                for proof in [&record.inclusion, &record.receipt_inclusion] {
                    put_field(&mut out, &proof.encode(), proof_bytes.0, proof_bytes.1)?;
                }
            }
            WitnessedRecord::State { key, record } => {
                let key_max = MAX_STATE_KEY_BYTES as u32;
                put_field(&mut out, key, Limit::StateKeyBytes, key_max)?;
                match &record.value {
                    None => out.push(VALUE_ABSENT),
                    Some(value) => {
                        out.push(VALUE_PRESENT);
                        let value_max = MAX_STATE_VALUE_BYTES as u32;
                        put_field(&mut out, value, Limit::StateValueBytes, value_max)?;
                    }
                }
                let proof = record.proof.encode();
                put_field(&mut out, &proof, Limit::ProofBytes, MAX_STATE_PROOF_BYTES)?;
            }
        }
        if out.len() > MAX_WITNESSED_PROOF_BYTES as usize {
            return Err(EncodeError::LimitExceeded {
                what: Limit::WitnessedProofBytes,
                value: out.len() as u64,
                max: u64::from(MAX_WITNESSED_PROOF_BYTES),
            });
        }
        Ok(Bytes::from(out))
    }

    /// Strict decoding of [`WitnessedProof::encode`]'s output: the input's
    /// length first, then each length against its limit before its bytes;
    /// every part in its canonical encoding; no trailing bytes. Decoded
    /// parts are zero-copy slices of `input` where the parts allow.
    ///
    /// # Errors
    /// What was wrong, as a [`WitnessedProofDecodeError`]. Never panics.
    pub fn decode(input: &Bytes) -> Result<Self, WitnessedProofDecodeError> {
        if input.len() > MAX_WITNESSED_PROOF_BYTES as usize {
            return Err(DecodeError::LimitExceeded {
                offset: 0,
                what: Limit::WitnessedProofBytes,
                value: input.len() as u64,
                max: u64::from(MAX_WITNESSED_PROOF_BYTES),
            }
            .into());
        }
        let mut reader = Reader::new(input);
        let version = reader.u16()?;
        if version != WITNESSED_PROOF_FORMAT_VERSION {
            return Err(WitnessedProofDecodeError::UnsupportedVersion {
                version,
                supported: WITNESSED_PROOF_FORMAT_VERSION,
            });
        }
        let [kind] = reader.array::<1>()?;
        if kind != KIND_TRANSACTION && kind != KIND_STATE {
            return Err(WitnessedProofDecodeError::UnknownKind { kind });
        }
        let header = BlockHeader::read(&mut reader)?;
        let history = inclusion_proof(&mut reader, "history")?;
        let record = if kind == KIND_TRANSACTION {
            transaction_record(&mut reader, header)?
        } else {
            state_record(&mut reader, header)?
        };
        reader.finish()?;
        Ok(WitnessedProof::new(record, history))
    }
}

fn inclusion_proof(
    reader: &mut Reader<'_>,
    which: &'static str,
) -> Result<InclusionProof, WitnessedProofDecodeError> {
    let bytes = reader.byte_string(Limit::ProofBytes, MAX_INCLUSION_PROOF_BYTES)?;
    InclusionProof::decode(&bytes)
        .map_err(|source| WitnessedProofDecodeError::InclusionProof { which, source })
}

fn transaction_record(
    reader: &mut Reader<'_>,
    header: BlockHeader,
) -> Result<WitnessedRecord, WitnessedProofDecodeError> {
    let transaction = reader.byte_string(Limit::TxBytes, MAX_TX_BYTES)?;
    let transaction =
        Transaction::decode(&transaction).map_err(WitnessedProofDecodeError::Transaction)?;
    let receipt = reader.byte_string(Limit::ReceiptBytes, MAX_RECEIPT_BYTES)?;
    let receipt = Receipt::decode(&receipt).ok_or(WitnessedProofDecodeError::Receipt)?;
    let inclusion = inclusion_proof(reader, "transaction")?;
    let receipt_inclusion = inclusion_proof(reader, "receipt")?;
    Ok(WitnessedRecord::Transaction(TransactionRecord {
        transaction,
        receipt,
        header,
        inclusion,
        receipt_inclusion,
    }))
}

fn state_record(
    reader: &mut Reader<'_>,
    header: BlockHeader,
) -> Result<WitnessedRecord, WitnessedProofDecodeError> {
    let key = reader.byte_string(Limit::StateKeyBytes, MAX_STATE_KEY_BYTES as u32)?;
    let value = match reader.array::<1>()? {
        [VALUE_ABSENT] => None,
        [VALUE_PRESENT] => {
            Some(reader.byte_string(Limit::StateValueBytes, MAX_STATE_VALUE_BYTES as u32)?)
        }
        [tag] => return Err(WitnessedProofDecodeError::ValueTag { tag }),
    };
    let proof = reader.byte_string(Limit::ProofBytes, MAX_STATE_PROOF_BYTES)?;
    let proof = StateProof::decode(&proof).map_err(WitnessedProofDecodeError::StateProof)?;
    Ok(WitnessedRecord::State {
        key,
        record: StateRecord {
            value,
            proof,
            header,
        },
    })
}
