//! Every status code of `add-checkpoint` at its trigger, on loopback, and
//! the interoperability of the cosignature returned.

// Helpers outside #[test] functions: a failure is a failing test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use ledger_core::checkpoint::{Note, Policy, SignatureType, SignerKey};
use ledger_core::verify_checkpoint;
use ledger_witness::client::{Answer, Client};
use ledger_witness::consistency::empty_tree_root;
use ledger_witness::{Config, ServerConfig, MAX_PROOF_HASHES, MAX_REQUEST_BYTES};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ORIGIN: &str = "log.test/a";

async fn post(client: &mut Client, body: Vec<u8>) -> Answer {
    client.add_checkpoint(body).await.unwrap()
}

fn assert_status(answer: &Answer, status: u16) {
    assert_eq!(
        answer.status,
        status,
        "body: {}",
        String::from_utf8_lossy(&answer.body)
    );
}

fn policy(log: &SignerKey) -> Policy {
    let text = format!(
        "log {}\nwitness w1 {}\nquorum w1\n",
        log.verifier_key(),
        witness_key().verifier_key()
    );
    Policy::parse(text.as_bytes()).unwrap()
}

#[tokio::test]
async fn success_and_interop() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(ORIGIN);
    let server = start(dir.path(), &[log.key.verifier_key()], unlimited()).await;
    let mut client = Client::connect(server.local_addr()).await.unwrap();
    log.grow_to(100);
    for (old, new) in [(0, 10), (10, 11), (11, 64), (64, 100), (100, 100)] {
        let answer = post(&mut client, log.body(old, new)).await;
        assert_status(&answer, 200);
        assert_eq!(
            answer.content_type.as_deref(),
            Some("text/plain; charset=utf-8")
        );
        let line = String::from_utf8(answer.body).unwrap();
        assert!(line.starts_with(&format!("\u{2014} {WITNESS} ")), "{line}");
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        // The client appends it to the checkpoint: it verifies under a
        // 1-of-1 witness policy.
        let mut cosigned = log.note(new);
        cosigned.extend_from_slice(line.as_bytes());
        let verified =
            verify_checkpoint(&cosigned, &log.key.verifier_key(), &policy(&log.key)).unwrap();
        assert_eq!(verified.checkpoint.size(), new);
        assert_eq!(verified.cosignatures.len(), 1);
        assert!(verified.cosignatures[0].timestamp > 0);
        // And an independent signed-note parser reads the line and the note.
        let theirs = signed_note::Signature::from_bytes(line.trim_end().as_bytes()).unwrap();
        assert_eq!(theirs.name(), WITNESS);
        assert_eq!(theirs.id(), witness_key().key_id());
        assert_eq!(theirs.signature().len(), 72);
        let note = signed_note::Note::from_bytes(&cosigned).unwrap();
        assert_eq!(note.text(), log.text(new).as_bytes());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn bad_request_400() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(ORIGIN);
    log.grow_to(10);
    let server = start(dir.path(), &[log.key.verifier_key()], unlimited()).await;
    let mut client = Client::connect(server.local_addr()).await.unwrap();
    let note = log.note(5);
    let text_only = log.text(5).into_bytes();
    let mut too_many = b"old 0\n".to_vec();
    for _ in 0..=MAX_PROOF_HASHES {
        too_many.extend_from_slice(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    }
    too_many.push(b'\n');
    too_many.extend_from_slice(&note);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("no old line", note.clone()),
        ("leading zero", [b"old 00\n\n".as_slice(), &note].concat()),
        (
            "bad proof line",
            [b"old 0\nxyz\n\n".as_slice(), &note].concat(),
        ),
        ("64 proof lines", too_many),
        ("not a note", body(0, vec![], text_only)),
        (
            "not a checkpoint",
            body(
                0,
                vec![],
                Note::sign("hello\n", &log.key)
                    .unwrap()
                    .encode()
                    .into_bytes(),
            ),
        ),
        // The old size above the checkpoint's (checked after the signature).
        ("old above size", body(6, vec![], note.clone())),
    ];
    for (what, body) in cases {
        let answer = post(&mut client, body).await;
        assert_eq!(answer.status, 400, "{what}");
    }
    // Nothing was co-signed: a first request from 0 still succeeds.
    assert_status(&post(&mut client, log.body(0, 5)).await, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn forbidden_403_and_not_found_404() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(ORIGIN);
    log.grow_to(10);
    let server = start(dir.path(), &[log.key.verifier_key()], unlimited()).await;
    let mut client = Client::connect(server.local_addr()).await.unwrap();

    // Signed only by another key of the same name: no trusted signature.
    let impostor = SignerKey::new(ORIGIN, SignatureType::Ed25519, &[0x99; 32]).unwrap();
    let forged = Note::sign(&log.text(5), &impostor).unwrap().encode();
    assert_status(
        &post(&mut client, body(0, vec![], forged.into_bytes())).await,
        403,
    );

    // A line with the trusted key's name and ID whose signature fails.
    let mut note = Note::parse(&log.note(5)).unwrap();
    let good = note.signatures()[0].clone();
    let mut bytes = good.signature().to_vec();
    bytes[0] ^= 1;
    let bad =
        ledger_core::checkpoint::NoteSignature::new(good.name(), good.key_id(), bytes).unwrap();
    let only_bad = Note::new(note.text(), vec![bad.clone()]).unwrap();
    assert_status(
        &post(&mut client, body(0, vec![], only_bad.encode().into_bytes())).await,
        403,
    );
    // ... even next to a good one (the note is malformed).
    let good_and_bad = Note::new(note.text(), vec![good, bad]).unwrap();
    assert_status(
        &post(
            &mut client,
            body(0, vec![], good_and_bad.encode().into_bytes()),
        )
        .await,
        403,
    );

    // Unknown origin: 404, before any signature check.
    let other = Log::new("log.test/unknown");
    assert_status(&post(&mut client, other.body(0, 0)).await, 404);

    // A good note with a signature by an unknown key is fine.
    let unrelated = SignerKey::new("other", SignatureType::Ed25519, &[1; 32]).unwrap();
    note.add_signature(unrelated.sign_note(note.text()).unwrap())
        .unwrap();
    assert_status(
        &post(&mut client, body(0, vec![], note.encode().into_bytes())).await,
        200,
    );
    server.shutdown().await;
}

#[tokio::test]
async fn conflict_409() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(ORIGIN);
    log.grow_to(20);
    let server = start(dir.path(), &[log.key.verifier_key()], unlimited()).await;
    let mut client = Client::connect(server.local_addr()).await.unwrap();
    // Never co-signed: the latest size is 0.
    let answer = post(&mut client, log.body(3, 8)).await;
    assert_status(&answer, 409);
    assert_eq!(answer.body, b"0\n");
    assert_eq!(answer.content_type.as_deref(), Some("text/x.tlog.size"));
    assert_status(&post(&mut client, log.body(0, 8)).await, 200);
    for old in [0, 3, 9] {
        let answer = post(&mut client, log.body(old, 12)).await;
        assert_status(&answer, 409);
        assert_eq!(answer.body, b"8\n");
        assert_eq!(answer.content_type.as_deref(), Some("text/x.tlog.size"));
    }
    assert_status(&post(&mut client, log.body(8, 12)).await, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn unprocessable_422() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(ORIGIN);
    log.grow_to(20);
    let server = start(dir.path(), &[log.key.verifier_key()], unlimited()).await;
    let mut client = Client::connect(server.local_addr()).await.unwrap();
    // Size 0 with another root than the empty tree's.
    let zero = Note::sign(
        &ledger_core::checkpoint::Checkpoint::new(ORIGIN, 0, [1; 32])
            .unwrap()
            .to_text(),
        &log.key,
    )
    .unwrap();
    assert_status(
        &post(&mut client, body(0, vec![], zero.encode().into_bytes())).await,
        422,
    );
    // From 0, a proof must be empty.
    assert_status(
        &post(&mut client, body(0, vec![[0; 32]], log.note(5))).await,
        422,
    );
    // The empty tree is fine.
    assert_eq!(log.tree.root(0), empty_tree_root());
    assert_status(&post(&mut client, log.body(0, 0)).await, 200);
    assert_status(&post(&mut client, log.body(0, 5)).await, 200);
    // A proof that does not verify, and a truncated one.
    let mut proof = log.tree.consistency_proof(5, 13);
    proof[0][0] ^= 1;
    assert_status(&post(&mut client, body(5, proof, log.note(13))).await, 422);
    let proof = log.tree.consistency_proof(5, 13);
    assert_status(
        &post(&mut client, body(5, proof[1..].to_vec(), log.note(13))).await,
        422,
    );
    // A fork: another tree of size 13 whose proof does not reach size 5's
    // root.
    let mut fork = Log::new(ORIGIN);
    fork.tree.push(b"forked");
    fork.grow_to(13);
    assert_status(&post(&mut client, fork.body(5, 13)).await, 422);
    // Same size, other root.
    assert_status(&post(&mut client, fork.body(5, 5)).await, 422);
    // Same size, same root: co-signed again.
    assert_status(&post(&mut client, log.body(5, 5)).await, 200);
    // The state did not move.
    assert_status(&post(&mut client, log.body(5, 13)).await, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn too_large_413() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(ORIGIN);
    log.grow_to(5);
    let server = start(dir.path(), &[log.key.verifier_key()], unlimited()).await;
    let mut client = Client::connect(server.local_addr()).await.unwrap();
    let mut big = log.body(0, 5);
    big.resize(MAX_REQUEST_BYTES + 1, b'x');
    assert_status(&post(&mut client, big).await, 413);
    // Just under the limit it is parsed (and refused as malformed).
    let mut client = Client::connect(server.local_addr()).await.unwrap();
    let mut at_limit = log.body(0, 5);
    at_limit.resize(MAX_REQUEST_BYTES, b'x');
    assert_status(&post(&mut client, at_limit).await, 400);
    // A chunked body without a length is cut at the limit too.
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let mut request =
        b"POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..(MAX_REQUEST_BYTES / 4096 + 2) {
        request.extend_from_slice(b"1000\r\n");
        request.extend(std::iter::repeat_n(b'y', 4096));
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    let mut response = vec![0; 64];
    let n = stream.read(&mut response).await.unwrap();
    assert!(response[..n].starts_with(b"HTTP/1.1 413"));
    server.shutdown().await;
}

#[tokio::test]
async fn rate_limited_429() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(ORIGIN);
    let other = Log::new("log.test/b");
    log.grow_to(10);
    let mut config = Config::default();
    config.rate.per_second = 0.01;
    config.rate.burst = 3.0;
    let server = start(
        dir.path(),
        &[log.key.verifier_key(), other.key.verifier_key()],
        config,
    )
    .await;
    let mut client = Client::connect(server.local_addr()).await.unwrap();
    for (old, new) in [(0, 1), (1, 2), (2, 3)] {
        assert_status(&post(&mut client, log.body(old, new)).await, 200);
    }
    let answer = post(&mut client, log.body(3, 4)).await;
    assert_status(&answer, 429);
    // Another origin has its own bucket.
    assert_status(&post(&mut client, other.body(0, 0)).await, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn request_timeout_408_and_wrong_method_405() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(ORIGIN);
    let server = start_with(
        dir.path(),
        &[log.key.verifier_key()],
        unlimited(),
        ServerConfig {
            header_read_timeout: Duration::from_millis(300),
            body_read_timeout: Duration::from_millis(300),
        },
    )
    .await;
    // A body announced and never sent.
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    stream
        .write_all(b"POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: 100\r\n\r\nold")
        .await
        .unwrap();
    let mut response = vec![0; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert!(
        response[..n].starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&response[..n])
    );
    // Headers never finished: the connection is closed.
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    stream
        .write_all(b"POST /add-checkpoint HTTP/1.1\r\n")
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut response))
        .await
        .unwrap()
        .unwrap_or(0);
    assert!(n == 0 || response[..n].starts_with(b"HTTP/1.1 408"));
    // GET is not add-checkpoint.
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    stream
        .write_all(b"GET /add-checkpoint HTTP/1.1\r\nHost: w\r\n\r\n")
        .await
        .unwrap();
    let n = stream.read(&mut response).await.unwrap();
    assert!(response[..n].starts_with(b"HTTP/1.1 405"));
    server.shutdown().await;
}
