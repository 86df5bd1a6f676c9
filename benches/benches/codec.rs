#![allow(
    clippy::expect_used,
    reason = "benchmark inputs are built valid; a failure means a broken bench"
)]
//! Encode and decode of a 10,000-transaction block, and the per-transaction
//! hashing (id and signing message) that every later stage needs.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ledger_benches::{block_of, signed_transactions, BLOCK_TXS, SENDERS};
use ledger_core::Block;

fn codec(c: &mut Criterion) {
    let block = block_of(signed_transactions(BLOCK_TXS, SENDERS));
    let bytes = block.encode();
    let mut group = c.benchmark_group("codec_block_10k");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode", |b| b.iter(|| block.encode()));
    group.bench_function("decode", |b| {
        b.iter(|| Block::decode(&bytes).expect("valid block"))
    });
    // The obvious alternative to a zero-copy decode: copy the input first, as
    // a decoder over `&[u8]` that owns its payloads would have to.
    group.bench_function("decode_after_copy", |b| {
        b.iter_batched(
            || bytes.to_vec(),
            |copy| Block::decode(&Bytes::from(copy)).expect("valid block"),
            BatchSize::LargeInput,
        )
    });
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.bench_function("tx_ids", |b| {
        b.iter(|| {
            block
                .transactions()
                .iter()
                .map(|tx| tx.id())
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("tx_signing_messages", |b| {
        b.iter(|| {
            block
                .transactions()
                .iter()
                .map(|tx| tx.signing_message())
                .collect::<Vec<_>>()
        })
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
