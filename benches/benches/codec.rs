#![allow(
    clippy::expect_used,
    reason = "benchmark inputs are built valid; a failure means a broken bench"
)]
//! Encode and decode of a 10,000-transaction block, and the per-transaction
//! hashing (id and signing message) that every later stage needs.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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
    // The obvious alternative to a zero-copy decode over `Bytes`: a caller
    // holding a borrowed `&[u8]` (or a decoder that owns its payloads) pays
    // for a copy of the whole block first.
    group.bench_function("decode_from_borrowed_slice", |b| {
        b.iter(|| Block::decode(&Bytes::copy_from_slice(&bytes)).expect("valid block"))
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
