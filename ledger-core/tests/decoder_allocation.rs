//! Every decoder allocates in proportion to the bytes it is given, whatever
//! those bytes claim (`docs/FORMAT.md`, "Allocation in proportion to the
//! input"): a count is checked against the bytes that remain before
//! anything is reserved for it. Measured with a counting allocator (per
//! thread, so that parallel tests do not disturb each other) on valid
//! encodings, every prefix of them, seeded random bytes, and inputs crafted
//! to claim the largest counts with the fewest bytes. The old decoders
//! reserved 4 KB for a 3-byte receipt, 1.4 KB for a 5-byte state node and
//! 8 KB for a 330-byte state proof.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use ledger_core::merkle::{ConsistencyProof, InclusionProof};
use ledger_core::state_tree::{Node, NodeKey, StateProof};
use ledger_core::{Block, BlockHeader, Receipt, Transaction};
use rand::{RngExt, SeedableRng};

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: forwards to the system allocator, only counting this thread's
// bytes (thread-local access does not allocate for a `const` Cell).
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|bytes| bytes.set(bytes.get() + layout.size()));
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Most bytes a decoder may allocate for an input of `len` bytes: a small
/// constant for fixed parts, and at most 16 bytes of memory per input byte
/// (the densest case: an event of two empty fields is 4 bytes on the wire
/// and 64 in memory).
fn allowed(len: usize) -> usize {
    256 + 16 * len
}

type Decoder = (&'static str, Box<dyn Fn(&Bytes) -> bool>);

fn decoders() -> Vec<Decoder> {
    let mut list: Vec<Decoder> = vec![
        ("block", Box::new(|b| Block::decode(b).is_ok())),
        ("transaction", Box::new(|b| Transaction::decode(b).is_ok())),
        ("header", Box::new(|b| BlockHeader::decode(b).is_ok())),
        (
            "inclusion proof",
            Box::new(|b| InclusionProof::decode(b).is_ok()),
        ),
        (
            "consistency proof",
            Box::new(|b| ConsistencyProof::decode(b).is_ok()),
        ),
        ("state proof", Box::new(|b| StateProof::decode(b).is_ok())),
        ("receipt", Box::new(|b| Receipt::decode(b).is_some())),
        ("state node", Box::new(|b| Node::decode(b).is_ok())),
        ("state node key", Box::new(|b| NodeKey::decode(b).is_ok())),
    ];
    for (name, decode) in ledger_core::testing::record_decoders() {
        list.push((name, Box::new(move |b: &Bytes| decode(b))));
    }
    list
}

/// Inputs crafted to claim the most with the least: every count field at
/// its largest, followed by a few bytes.
fn greedy_inputs() -> Vec<Vec<u8>> {
    let mut inputs = Vec::new();
    // Receipt: success with 64 events, and a receipts record of 100,000.
    for tail in [0usize, 3, 16, 255] {
        let mut receipt = vec![0u8, 64, 0];
        receipt.extend(std::iter::repeat_n(0u8, tail));
        inputs.push(receipt);
        let mut record = 100_000u32.to_le_bytes().to_vec();
        record.extend(std::iter::repeat_n(0u8, tail));
        inputs.push(record);
        // A state node claiming 16 children; a state proof claiming 256
        // siblings, all flagged empty (the bitmap is 32 bytes).
        let mut node = vec![1u8, 0xff, 0xff, 0, 0];
        node.extend(std::iter::repeat_n(0u8, tail));
        inputs.push(node);
        let mut proof = vec![0u8, 0, 1];
        proof.extend(std::iter::repeat_n(0xffu8, 32.min(tail)));
        inputs.push(proof);
        // Proofs of 65 hashes; a block claiming 100,000 transactions.
        let mut inclusion = vec![0u8; 16];
        inclusion.push(65);
        inclusion.extend(std::iter::repeat_n(0u8, tail));
        inputs.push(inclusion);
        let mut header = BlockHeader {
            version: ledger_core::BLOCK_FORMAT_VERSION,
            chain_id: 1,
            height: 0,
            parent: ledger_core::Hash::ZERO,
            timestamp_ms: 0,
            tx_count: 0,
            tx_root: ledger_core::Hash::ZERO,
            receipts_root: ledger_core::Hash::ZERO,
            state_root: ledger_core::Hash::ZERO,
            history_root: ledger_core::Hash::ZERO,
        }
        .encode()
        .to_vec();
        header[58..62].copy_from_slice(&100_000u32.to_le_bytes());
        header.extend(std::iter::repeat_n(0u8, tail));
        inputs.push(header);
        // A stale list of many one-byte node keys.
        inputs.push([0u8, 0].repeat(1 + tail));
    }
    inputs
}

fn valid_inputs() -> Vec<Vec<u8>> {
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let tx = Transaction::sign(&key, 1, 0, &b"masks"[..]).unwrap();
    let header = BlockHeader::decode(&{
        let mut bytes = vec![0u8; ledger_core::HEADER_BYTES as usize];
        bytes[0..2].copy_from_slice(&ledger_core::BLOCK_FORMAT_VERSION.to_le_bytes());
        Bytes::from(bytes)
    })
    .unwrap();
    let mut with_one = header;
    with_one.tx_count = 1;
    let block = Block::new(with_one, vec![tx.clone()]).unwrap();
    let leaves: Vec<ledger_core::Hash> = (0..9u8)
        .map(|i| ledger_core::hash(ledger_core::Domain::TransactionId, &[i]))
        .collect();
    vec![
        tx.encode().to_vec(),
        block.encode().to_vec(),
        header.encode().to_vec(),
        InclusionProof::from_leaves(&leaves, 3)
            .unwrap()
            .encode()
            .to_vec(),
        ConsistencyProof::from_leaves(&leaves, 5)
            .unwrap()
            .encode()
            .to_vec(),
        Receipt::success().encode(),
    ]
}

fn allocated_by(decode: &dyn Fn(&Bytes) -> bool, input: &Bytes) -> usize {
    let before = ALLOCATED.with(Cell::get);
    let _ = decode(input);
    ALLOCATED.with(Cell::get) - before
}

#[test]
fn decoders_allocate_in_proportion_to_their_input() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xa110c);
    let mut inputs = greedy_inputs();
    for valid in valid_inputs() {
        for len in 0..=valid.len() {
            inputs.push(valid[..len].to_vec());
        }
    }
    for _ in 0..2_000 {
        let len = rng.random_range(0..300);
        inputs.push((0..len).map(|_| rng.random()).collect());
    }
    let inputs: Vec<Bytes> = inputs.into_iter().map(Bytes::from).collect();
    // The counter counts: decoding a valid block allocates its vector.
    let block = Bytes::from(valid_inputs().swap_remove(1));
    assert!(allocated_by(&|b: &Bytes| Block::decode(b).is_ok(), &block) > 0);
    for (name, decode) in decoders() {
        for input in &inputs {
            let allocated = allocated_by(decode.as_ref(), input);
            assert!(
                allocated <= allowed(input.len()),
                "{name}: {allocated} bytes allocated for an input of {} bytes: {:02x?}",
                input.len(),
                &input[..input.len().min(48)]
            );
        }
    }
}
