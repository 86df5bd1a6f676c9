//! Application decoders reserve memory in proportion to their input, never
//! an amount the input merely claims: a payload or stored record arrives
//! from outside, and a decoder that trusted a length or count before
//! checking it against the remaining bytes would let a few bytes reserve
//! megabytes. A counting global allocator (it applies to this whole test
//! binary, hence a file of its own) measures what each decoder allocates on
//! its thread, over garbage, truncated, over-claiming and valid inputs, and
//! the bound is `ALLOWANCE_BYTES + BYTES_PER_INPUT_BYTE × input length`.

#![allow(
    unsafe_code,
    reason = "a global allocator is an unsafe trait; this one only counts and forwards"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use ledger_apps::claims;
use ledger_apps::notary::{self, Anchor};
use ledger_apps::provenance::{self, CustodyStep, Need, Shipment, MAX_TEXT_BYTES};
use ledger_apps::transfers::{self, MAX_MEMO_BYTES};
use ledger_core::{Hash, PublicKey};

/// Bytes any decode may allocate whatever its input.
const ALLOWANCE_BYTES: usize = 64;
/// Bytes a decode may allocate per byte of input.
const BYTES_PER_INPUT_BYTE: usize = 4;

thread_local! {
    /// Bytes requested on this thread since the last [`allocated_by`].
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    // `try_with`: no panic if the thread is being torn down. A const
    // thread-local of a `Cell` needs no allocation to access.
    let _ = ALLOCATED.try_with(|total| total.set(total.get().saturating_add(bytes)));
}

/// Counts every byte requested, then forwards to the system allocator.
struct CountingAllocator;

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds `GlobalAlloc`'s contract; counting touches only a thread-local
// `Cell` and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract for `alloc`, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: the caller's contract for `realloc`, passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Bytes `decode` allocates on this thread while decoding `input` (the
/// decoded value is dropped inside, so only the decode itself counts).
fn allocated_by(decode: &dyn Fn(&[u8]) -> bool, input: &[u8]) -> usize {
    ALLOCATED.with(|total| total.set(0));
    std::hint::black_box(decode(std::hint::black_box(input)));
    ALLOCATED.with(Cell::get)
}

/// A decoder that says whether it accepted its input.
type Decoder = Box<dyn Fn(&[u8]) -> bool>;

/// Every application decoder, named.
fn decoders() -> Vec<(&'static str, Decoder)> {
    vec![
        (
            "transfers payload",
            Box::new(|b| transfers::Operation::decode(b).is_some()),
        ),
        (
            "provenance payload",
            Box::new(|b| provenance::Operation::decode(b).is_some()),
        ),
        ("need", Box::new(|b| Need::decode(b).is_some())),
        ("shipment", Box::new(|b| Shipment::decode(b).is_some())),
        (
            "custody step",
            Box::new(|b| CustodyStep::decode(b).is_some()),
        ),
        (
            "notary payload",
            Box::new(|b| notary::decode_payload(b).is_some()),
        ),
        ("anchor", Box::new(|b| Anchor::decode(b).is_some())),
        (
            "claims payload",
            Box::new(|b| claims::Operation::decode(b).is_some()),
        ),
        (
            "claims party",
            Box::new(|b| claims::Party::decode(b).is_some()),
        ),
        (
            "claims issuer",
            Box::new(|b| claims::Issuer::decode(b).is_some()),
        ),
        (
            "claims policy",
            Box::new(|b| claims::Policy::decode(b).is_some()),
        ),
        (
            "claims programme",
            Box::new(|b| claims::Programme::decode(b).is_some()),
        ),
        (
            "claims claim",
            Box::new(|b| claims::Claim::decode(b).is_some()),
        ),
        (
            "claims attestation",
            Box::new(|b| claims::Attestation::decode(b).is_some()),
        ),
    ]
}

/// Valid encodings of every decoder's values, at and near their limits.
fn valid_inputs() -> Vec<Vec<u8>> {
    let key = PublicKey([7; 32]);
    let text = "€".repeat(MAX_TEXT_BYTES / 3);
    let mut inputs: Vec<Vec<u8>> = vec![
        transfers::Operation::TransferWithMemo {
            to: key,
            amount: 5,
            memo: Bytes::from(vec![0xab; MAX_MEMO_BYTES]),
        }
        .encode()
        .unwrap()
        .to_vec(),
        transfers::Operation::Transfer { to: key, amount: 5 }
            .encode()
            .unwrap()
            .to_vec(),
        provenance::Operation::PublishNeed {
            item: text.clone(),
            quantity: 9,
            destination: text.clone(),
        }
        .encode()
        .unwrap()
        .to_vec(),
        provenance::Operation::RegisterOrganisation {
            organisation: key,
            name: text,
        }
        .encode()
        .unwrap()
        .to_vec(),
        notary::encode_payload(&Hash([3; 32])).to_vec(),
    ];
    let shipment = Shipment {
        need: Hash([1; 32]),
        shipped: 4,
        custodian: key,
        in_custody: 4,
        pending: Some((key, 4)),
        steps: 2,
        delivered: false,
    };
    inputs.push(shipment.encode().to_vec());
    // Policies at both ends of the condition limit, as payload and record.
    for count in [1u32, claims::MAX_POLICY_CONDITIONS as u32] {
        let conditions: std::collections::BTreeSet<u32> = (0..count).collect();
        inputs.push(
            claims::Operation::PublishPolicy {
                max_payout: 1,
                waiting_period_ms: 2,
                valid_from_ms: 3,
                valid_until_ms: 4,
                conditions: conditions.clone(),
            }
            .encode()
            .unwrap()
            .to_vec(),
        );
        let policy = claims::Policy {
            insurer: key,
            max_payout: 1,
            waiting_period_ms: 2,
            valid_from_ms: 3,
            valid_until_ms: 4,
            conditions,
        };
        inputs.push(policy.encode().unwrap().to_vec());
    }
    inputs
}

/// Garbage: seeded pseudo-random bytes of every length up to 300, and short
/// inputs that claim long texts (a provenance text length of 255 or 64
/// followed by a few bytes).
fn garbage_inputs() -> Vec<Vec<u8>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state.to_le_bytes()[0]
    };
    let mut inputs: Vec<Vec<u8>> = (0..=300)
        .map(|len| (0..len).map(|_| next()).collect())
        .collect();
    for claimed in [0xffu8, 64, 65] {
        let mut register = vec![1u8];
        register.extend_from_slice(&[7; 32]);
        register.extend_from_slice(&[claimed, b'a', b'b']);
        inputs.push(register);
        inputs.push(vec![2, claimed, b'a']);
        // A claims policy claiming `claimed` conditions, with few bytes.
        let mut policy = vec![3u8];
        policy.extend_from_slice(&[0; 32]);
        policy.extend_from_slice(&[claimed, 1, 0, 0, 0]);
        inputs.push(policy);
    }
    inputs
}

#[test]
fn decoders_allocate_in_proportion_to_their_input() {
    let mut inputs = garbage_inputs();
    for valid in valid_inputs() {
        // Every prefix of the short encodings; of the longest, prefixes
        // spread over its length (each decode copies up to its input).
        let step = (valid.len() / 512).max(1);
        inputs.extend(
            (0..=valid.len())
                .step_by(step)
                .map(|len| valid[..len].to_vec()),
        );
        inputs.push(valid);
    }
    let mut worst = (0.0f64, "", 0usize);
    for (name, decode) in decoders() {
        for input in &inputs {
            let allocated = allocated_by(decode.as_ref(), input);
            let bound = ALLOWANCE_BYTES + BYTES_PER_INPUT_BYTE * input.len();
            assert!(
                allocated <= bound,
                "{name} allocated {allocated} bytes for {} input bytes (bound {bound}): {:02x?}",
                input.len(),
                &input[..input.len().min(48)]
            );
            let ratio = allocated as f64 / bound as f64;
            if ratio > worst.0 {
                worst = (ratio, name, input.len());
            }
        }
    }
    println!(
        "worst: {} at {:.2} of the bound ({} input bytes)",
        worst.1, worst.0, worst.2
    );
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the measurement itself: a decoder that copies a long memo
    // must register, or every bound above would hold vacuously.
    let memo = transfers::Operation::TransferWithMemo {
        to: PublicKey([7; 32]),
        amount: 5,
        memo: Bytes::from(vec![0xab; 1_000]),
    }
    .encode()
    .unwrap();
    let allocated = allocated_by(&|b| transfers::Operation::decode(b).is_some(), &memo);
    assert!(allocated >= 1_000, "counted {allocated} bytes");
}
