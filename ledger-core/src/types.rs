//! The ledger's data: keys, signatures, transactions, block headers, blocks,
//! and their canonical encodings.
//!
//! Invariant: every [`Transaction`] and [`Block`] value that exists is within
//! the limits of [`crate::limits`], because the only ways to make one (the
//! checked constructors and the decoders) enforce them. Encoding therefore
//! cannot fail, and every encoding decodes back to the same value.

use bytes::Bytes;
use ed25519_dalek::{Signer, SigningKey};

pub use crate::keys::{KeyError, PublicKey, Signature, PUBLIC_KEY_BYTES, SIGNATURE_BYTES};

use crate::codec::{DecodeError, EncodeError, Limit, Reader, Writer};
use crate::hash::{Domain, Hash, HASH_BYTES};
use crate::limits::{
    BLOCK_FORMAT_VERSION, HEADER_BYTES, MAX_BLOCK_BYTES, MAX_PAYLOAD_BYTES, MAX_TXS_PER_BLOCK,
    MAX_TX_BYTES, TX_FIXED_BYTES,
};

/// A signed transaction: who sends it, in which chain, with which nonce, and
/// the application payload, which the engine does not interpret.
///
/// The signature covers the *signed content* (every field but the
/// signature), through the 32-byte [`Transaction::signing_message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    chain_id: u64,
    sender: PublicKey,
    nonce: u64,
    payload: Bytes,
    signature: Signature,
}

impl Transaction {
    /// Builds a transaction from its parts, checking the payload limit.
    /// The signature is not checked here: that is the verification stage's job.
    pub fn from_parts(
        chain_id: u64,
        sender: PublicKey,
        nonce: u64,
        payload: Bytes,
        signature: Signature,
    ) -> Result<Self, EncodeError> {
        check_payload_len(payload.len())?;
        Ok(Transaction {
            chain_id,
            sender,
            nonce,
            payload,
            signature,
        })
    }

    /// Builds and signs a transaction with `key`.
    pub fn sign(
        key: &SigningKey,
        chain_id: u64,
        nonce: u64,
        payload: impl Into<Bytes>,
    ) -> Result<Self, EncodeError> {
        let mut tx = Transaction::from_parts(
            chain_id,
            PublicKey::from_signing_key(key),
            nonce,
            payload.into(),
            Signature([0u8; SIGNATURE_BYTES]),
        )?;
        let message = tx.signing_message();
        tx.signature = Signature(key.sign(message.as_bytes()).to_bytes());
        Ok(tx)
    }

    /// The chain this transaction is valid in.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }
    /// The sender's public key.
    pub fn sender(&self) -> &PublicKey {
        &self.sender
    }
    /// The sender's sequence number.
    pub fn nonce(&self) -> u64 {
        self.nonce
    }
    /// The application payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }
    /// The signature over [`Transaction::signing_message`].
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Replaces the signature (tests and tools that forge or re-sign).
    pub fn with_signature(mut self, signature: Signature) -> Self {
        self.signature = signature;
        self
    }

    fn hash_signed_content(&self, domain: Domain) -> Hash {
        let mut hasher = domain.hasher();
        hasher.update(&self.chain_id.to_le_bytes());
        hasher.update(&self.sender.0);
        hasher.update(&self.nonce.to_le_bytes());
        hasher.update(&self.payload_len_u32().to_le_bytes());
        hasher.update(&self.payload);
        Hash(*hasher.finalize().as_bytes())
    }

    /// The transaction id: the signed content hashed in
    /// [`Domain::TransactionId`]. It never depends on the signature bytes, so
    /// no re-encoding of a signature can give a transaction a second id.
    pub fn id(&self) -> Hash {
        self.hash_signed_content(Domain::TransactionId)
    }

    /// The 32-byte message that the ed25519 signature signs: the signed
    /// content hashed in [`Domain::TransactionSigning`].
    pub fn signing_message(&self) -> Hash {
        self.hash_signed_content(Domain::TransactionSigning)
    }

    fn payload_len_u32(&self) -> u32 {
        // Cannot fail: every constructor checks the payload against
        // MAX_PAYLOAD_BYTES, which is below u32::MAX.
        u32::try_from(self.payload.len()).unwrap_or(u32::MAX)
    }

    /// Length of the canonical encoding, in bytes.
    pub fn encoded_len(&self) -> usize {
        TX_FIXED_BYTES as usize + self.payload.len()
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u64(self.chain_id);
        out.put_slice(&self.sender.0);
        out.put_u64(self.nonce);
        out.put_u32(self.payload_len_u32());
        out.put_slice(&self.payload);
        out.put_slice(&self.signature.0);
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_to(&mut out);
        Bytes::from(out)
    }

    /// Decodes exactly one transaction; the payload is a zero-copy slice of
    /// `input`. Rejects trailing bytes and any length over its limit.
    pub fn decode(input: &Bytes) -> Result<Self, DecodeError> {
        if input.len() > MAX_TX_BYTES as usize {
            return Err(DecodeError::LimitExceeded {
                offset: 0,
                what: Limit::TxBytes,
                value: input.len() as u64,
                max: u64::from(MAX_TX_BYTES),
            });
        }
        let mut reader = Reader::new(input);
        let tx = Transaction::read(&mut reader)?;
        reader.finish()?;
        Ok(tx)
    }

    /// Reads one transaction at the reader's position.
    pub fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let chain_id = reader.u64()?;
        let sender = PublicKey(reader.array()?);
        let nonce = reader.u64()?;
        let payload = reader.byte_string(Limit::PayloadBytes, MAX_PAYLOAD_BYTES)?;
        let signature = Signature(reader.array()?);
        Ok(Transaction {
            chain_id,
            sender,
            nonce,
            payload,
            signature,
        })
    }
}

fn check_payload_len(len: usize) -> Result<(), EncodeError> {
    if len > MAX_PAYLOAD_BYTES as usize {
        return Err(EncodeError::LimitExceeded {
            what: Limit::PayloadBytes,
            value: len as u64,
            max: u64::from(MAX_PAYLOAD_BYTES),
        });
    }
    Ok(())
}

/// A block header: everything a light client needs to check a proof.
///
/// Its encoding is fixed-size ([`HEADER_BYTES`]); the block id is its hash in
/// [`Domain::BlockHeader`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// Block format version; this build reads and writes [`BLOCK_FORMAT_VERSION`].
    pub version: u16,
    /// The chain this block belongs to; every transaction must carry it.
    pub chain_id: u64,
    /// Height in the chain; the genesis block is height 0.
    pub height: u64,
    /// Id of the previous block; [`Hash::ZERO`] for genesis.
    pub parent: Hash,
    /// Proposer's time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Number of transactions in the block.
    pub tx_count: u32,
    /// Merkle root over the ids of the block's transactions, in order.
    pub tx_root: Hash,
    /// Merkle root over the block's receipts, in order: one leaf per
    /// transaction, [`crate::machine::Receipt::leaf`] of its id and receipt,
    /// so that a failed transaction's outcome is as provable as a
    /// successful one's.
    pub receipts_root: Hash,
    /// Root of the state tree after the block's transactions.
    pub state_root: Hash,
    /// Root of the history tree over the encoded headers of all earlier
    /// blocks (heights `0..height`), hashed as RFC 6962 does (SHA-256): the
    /// root hash of a C2SP checkpoint of tree size `height`.
    pub history_root: Hash,
}

impl BlockHeader {
    /// Appends the canonical encoding ([`HEADER_BYTES`] bytes) to `out`.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u16(self.version);
        out.put_u64(self.chain_id);
        out.put_u64(self.height);
        out.put_slice(&self.parent.0);
        out.put_u64(self.timestamp_ms);
        out.put_u32(self.tx_count);
        out.put_slice(&self.tx_root.0);
        out.put_slice(&self.receipts_root.0);
        out.put_slice(&self.state_root.0);
        out.put_slice(&self.history_root.0);
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(HEADER_BYTES as usize);
        self.encode_to(&mut out);
        Bytes::from(out)
    }

    /// The block id: the encoded header hashed in [`Domain::BlockHeader`].
    pub fn id(&self) -> Hash {
        let mut out = Vec::with_capacity(HEADER_BYTES as usize);
        self.encode_to(&mut out);
        crate::hash::hash(Domain::BlockHeader, &out)
    }

    /// Decodes exactly one header.
    pub fn decode(input: &Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(input);
        let header = BlockHeader::read(&mut reader)?;
        reader.finish()?;
        Ok(header)
    }

    /// Reads one header at the reader's position; rejects unknown versions
    /// and transaction counts over [`MAX_TXS_PER_BLOCK`].
    pub fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.ensure(u64::from(HEADER_BYTES))?;
        let version_offset = reader.offset();
        let version = reader.u16()?;
        if version != BLOCK_FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                offset: version_offset,
                version,
                supported: BLOCK_FORMAT_VERSION,
            });
        }
        let chain_id = reader.u64()?;
        let height = reader.u64()?;
        let parent = Hash(reader.array::<HASH_BYTES>()?);
        let timestamp_ms = reader.u64()?;
        let count_offset = reader.offset();
        let tx_count = reader.u32()?;
        if tx_count > MAX_TXS_PER_BLOCK {
            return Err(DecodeError::LimitExceeded {
                offset: count_offset,
                what: Limit::TxsPerBlock,
                value: u64::from(tx_count),
                max: u64::from(MAX_TXS_PER_BLOCK),
            });
        }
        Ok(BlockHeader {
            version,
            chain_id,
            height,
            parent,
            timestamp_ms,
            tx_count,
            tx_root: Hash(reader.array()?),
            receipts_root: Hash(reader.array()?),
            state_root: Hash(reader.array()?),
            history_root: Hash(reader.array()?),
        })
    }
}

/// A block: a header and its transactions, in execution order.
///
/// Invariant: `header.tx_count == transactions.len()`, the count is at most
/// [`MAX_TXS_PER_BLOCK`] and the encoding is at most [`MAX_BLOCK_BYTES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    header: BlockHeader,
    transactions: Vec<Transaction>,
}

impl Block {
    /// Builds a block, checking the transaction count against the header and
    /// the limits, and the header's version.
    pub fn new(header: BlockHeader, transactions: Vec<Transaction>) -> Result<Self, EncodeError> {
        if header.version != BLOCK_FORMAT_VERSION {
            return Err(EncodeError::UnsupportedVersion {
                version: header.version,
                supported: BLOCK_FORMAT_VERSION,
            });
        }
        if header.tx_count as usize != transactions.len() {
            return Err(EncodeError::TxCountMismatch {
                header: header.tx_count,
                actual: transactions.len(),
            });
        }
        if header.tx_count > MAX_TXS_PER_BLOCK {
            return Err(EncodeError::LimitExceeded {
                what: Limit::TxsPerBlock,
                value: u64::from(header.tx_count),
                max: u64::from(MAX_TXS_PER_BLOCK),
            });
        }
        let block = Block {
            header,
            transactions,
        };
        let len = block.encoded_len();
        if len > MAX_BLOCK_BYTES as usize {
            return Err(EncodeError::LimitExceeded {
                what: Limit::BlockBytes,
                value: len as u64,
                max: u64::from(MAX_BLOCK_BYTES),
            });
        }
        Ok(block)
    }

    /// The header.
    pub fn header(&self) -> &BlockHeader {
        &self.header
    }
    /// The transactions, in execution order.
    pub fn transactions(&self) -> &[Transaction] {
        &self.transactions
    }
    /// The header and transactions.
    pub fn into_parts(self) -> (BlockHeader, Vec<Transaction>) {
        (self.header, self.transactions)
    }
    /// The block id (the header's hash).
    pub fn id(&self) -> Hash {
        self.header.id()
    }

    /// Length of the canonical encoding, in bytes.
    pub fn encoded_len(&self) -> usize {
        HEADER_BYTES as usize
            + self
                .transactions
                .iter()
                .map(Transaction::encoded_len)
                .sum::<usize>()
    }

    /// The canonical encoding: the header, then each transaction in order.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.header.encode_to(&mut out);
        for tx in &self.transactions {
            tx.encode_to(&mut out);
        }
        Bytes::from(out)
    }

    /// Decodes exactly one block. Payloads are zero-copy slices of `input`.
    ///
    /// The input length is checked against [`MAX_BLOCK_BYTES`] first, and the
    /// transaction count against both [`MAX_TXS_PER_BLOCK`] and the bytes that
    /// remain (every transaction takes at least [`TX_FIXED_BYTES`]) before the
    /// transaction vector is allocated.
    pub fn decode(input: &Bytes) -> Result<Self, DecodeError> {
        if input.len() > MAX_BLOCK_BYTES as usize {
            return Err(DecodeError::LimitExceeded {
                offset: 0,
                what: Limit::BlockBytes,
                value: input.len() as u64,
                max: u64::from(MAX_BLOCK_BYTES),
            });
        }
        let mut reader = Reader::new(input);
        let header = BlockHeader::read(&mut reader)?;
        reader.ensure(u64::from(header.tx_count) * u64::from(TX_FIXED_BYTES))?;
        let mut transactions = Vec::with_capacity(header.tx_count as usize);
        for _ in 0..header.tx_count {
            transactions.push(Transaction::read(&mut reader)?);
        }
        reader.finish()?;
        Ok(Block {
            header,
            transactions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn sample_header(tx_count: u32) -> BlockHeader {
        BlockHeader {
            version: BLOCK_FORMAT_VERSION,
            chain_id: 7,
            height: 3,
            parent: Hash([1; 32]),
            timestamp_ms: 1_700_000_000_000,
            tx_count,
            tx_root: Hash([2; 32]),
            receipts_root: Hash([5; 32]),
            state_root: Hash([3; 32]),
            history_root: Hash([4; 32]),
        }
    }

    #[test]
    fn header_encoding_has_documented_length() {
        assert_eq!(
            sample_header(0).encode().len(),
            HEADER_BYTES as usize,
            "docs/FORMAT.md gives the header as {HEADER_BYTES} bytes"
        );
    }

    #[test]
    fn id_ignores_signature_bytes() {
        let tx = Transaction::sign(&key(1), 7, 0, &b"pledge"[..]).unwrap();
        let id = tx.id();
        let forged = tx.clone().with_signature(Signature([9; 64]));
        assert_eq!(forged.id(), id);
        assert_ne!(
            tx.signing_message(),
            id,
            "id and signing message are separate domains"
        );
    }

    #[test]
    fn id_covers_every_signed_field() {
        let base = Transaction::sign(&key(1), 7, 0, &b"pledge"[..]).unwrap();
        let variants = [
            Transaction::sign(&key(1), 8, 0, &b"pledge"[..]).unwrap(),
            Transaction::sign(&key(2), 7, 0, &b"pledge"[..]).unwrap(),
            Transaction::sign(&key(1), 7, 1, &b"pledge"[..]).unwrap(),
            Transaction::sign(&key(1), 7, 0, &b"pledgf"[..]).unwrap(),
        ];
        for variant in variants {
            assert_ne!(variant.id(), base.id());
            assert_ne!(variant.signing_message(), base.signing_message());
        }
    }

    #[test]
    fn signature_verifies_with_dalek_over_signing_message() {
        let signing_key = key(5);
        let tx = Transaction::sign(&signing_key, 1, 2, &b"masks"[..]).unwrap();
        let signature = ed25519_dalek::Signature::from_bytes(&tx.signature().0);
        assert!(signing_key
            .verifying_key()
            .verify_strict(tx.signing_message().as_bytes(), &signature)
            .is_ok());
    }

    #[test]
    fn block_roundtrip_and_id() {
        let txs: Vec<_> = (0..3)
            .map(|n| Transaction::sign(&key(1), 7, n, vec![n as u8; n as usize]).unwrap())
            .collect();
        let block = Block::new(sample_header(3), txs).unwrap();
        let bytes = block.encode();
        assert_eq!(bytes.len(), block.encoded_len());
        let decoded = Block::decode(&bytes).unwrap();
        assert_eq!(decoded, block);
        assert_eq!(decoded.id(), block.header().id());
    }

    #[test]
    fn block_new_checks_count() {
        assert_eq!(
            Block::new(sample_header(1), vec![]),
            Err(EncodeError::TxCountMismatch {
                header: 1,
                actual: 0
            })
        );
    }

    #[test]
    fn payload_limit_on_construction() {
        let over = vec![0u8; MAX_PAYLOAD_BYTES as usize + 1];
        assert!(matches!(
            Transaction::sign(&key(1), 1, 0, over),
            Err(EncodeError::LimitExceeded {
                what: Limit::PayloadBytes,
                ..
            })
        ));
        let at = vec![0u8; MAX_PAYLOAD_BYTES as usize];
        assert!(Transaction::sign(&key(1), 1, 0, at).is_ok());
    }
}
