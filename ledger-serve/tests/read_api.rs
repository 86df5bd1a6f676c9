//! The read API over loopback HTTP, against a ledger of `BLOCKS` transfer
//! blocks (MemStore, the transfers application) and a checkpoint of its
//! whole history signed by the log and cosigned by 2 of 3 witnesses:
//! - before a checkpoint exists, `/checkpoint` and tiles are 404;
//! - the checkpoint is served as given, `no-cache`;
//! - every tile tlog-tiles says exists for the size equals what the
//!   independent `tlog_tiles` crate computes over the same headers, entry
//!   bundles hold the encoded headers, and tlog's tile reader proves records
//!   from the fetched tiles; full tiles are `immutable`;
//! - tiles beyond the size are 404, malformed and oversized paths and
//!   queries 400 (431 for a head over the limit), other methods 405;
//! - transaction and state proofs, binary and JSON, verify with
//!   `verify_witnessed` and are for what was asked; unknown ones are 404.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::sync::Arc;

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use ledger_apps::transfers::{balance_key, Operation, Transfers};
use ledger_core::checkpoint::{Checkpoint, Note, Policy, SignatureType, SignerKey};
use ledger_core::hash::to_hex;
use ledger_core::{
    verify_witnessed, Hash, Ledger, LedgerConfig, MemStore, PublicKey, Transaction, WitnessedProof,
    WitnessedRecord,
};
use ledger_serve::client::{Answer, BaseUrl};
use ledger_serve::{serve, CheckpointSource, RunningServer, ServeState, SharedLedger};
use parking_lot::{Mutex, RwLock};
use tlog_tiles::{tlog, Tile, TileHashReader, TileReader};

const CHAIN: u64 = 11;
const ORIGIN: &str = "ledger.example/serve";
const BLOCKS: u64 = 260;

struct Latest(Mutex<Option<String>>);

impl CheckpointSource for Latest {
    fn latest(&self) -> Option<String> {
        self.0.lock().clone()
    }
}

/// tlog's log over the ledger's encoded headers.
#[derive(Default)]
struct TlogLog {
    hashes: Vec<tlog::Hash>,
    size: u64,
}

impl tlog::HashReader for TlogLog {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.hashes
                    .get(i as usize)
                    .copied()
                    .ok_or(tlog::Error::IndexesNotInTree)
            })
            .collect()
    }
}

struct World {
    server: RunningServer,
    base: BaseUrl,
    latest: Arc<Latest>,
    note: String,
    log: SignerKey,
    policy: Policy,
    tx_ids: Vec<Hash>,
    accounts: Vec<PublicKey>,
    headers: Vec<Bytes>,
    tlog: TlogLog,
}

/// Block 0 mints 1,000,000 to the treasury; block `h > 0` sends `h` to
/// account `h % 5`.
fn ledger() -> (Ledger<MemStore, Transfers>, Vec<Hash>, Vec<PublicKey>) {
    let treasury = SigningKey::from_bytes(&[1; 32]);
    let minter = PublicKey::from_signing_key(&treasury);
    let accounts: Vec<PublicKey> = (0..5u8)
        .map(|i| PublicKey::from_signing_key(&SigningKey::from_bytes(&[10 + i; 32])))
        .collect();
    let mut ledger = Ledger::open(MemStore::new(), Transfers { minter }, {
        // Proofs at any height, after checkpoints too.
        let mut config = LedgerConfig::new(CHAIN);
        config.keep_every_version = true;
        config
    })
    .unwrap();
    let mut ids = Vec::new();
    for height in 0..BLOCKS {
        let operation = if height == 0 {
            Operation::Mint {
                to: minter,
                amount: 1_000_000,
            }
        } else {
            Operation::Transfer {
                to: accounts[(height % 5) as usize],
                amount: height,
            }
        };
        let tx = Transaction::sign(&treasury, CHAIN, height, operation.encode().unwrap()).unwrap();
        ids.push(tx.id());
        let block = ledger.build_block(vec![tx], 1_000 * height).unwrap();
        ledger
            .apply_block(ledger.verify_block(block).unwrap())
            .unwrap();
    }
    (ledger, ids, accounts)
}

async fn world() -> World {
    let (ledger, tx_ids, accounts) = ledger();
    let mut log_tree = TlogLog::default();
    let mut headers = Vec::new();
    for height in 0..BLOCKS {
        let entry = ledger.header_at(height).unwrap().unwrap().encode();
        let stored = tlog::stored_hashes(log_tree.size, &entry, &log_tree).unwrap();
        log_tree.hashes.extend(stored);
        log_tree.size += 1;
        headers.push(entry);
    }
    let root = tlog::tree_hash(BLOCKS, &log_tree).unwrap();
    let log = SignerKey::new(ORIGIN, SignatureType::Ed25519, &[0x4c; 32]).unwrap();
    let witnesses: Vec<SignerKey> = (0..3u8)
        .map(|i| {
            let name = format!("witness{i}.example");
            SignerKey::new(&name, SignatureType::CosignatureV1, &[0x57 + i; 32]).unwrap()
        })
        .collect();
    let policy = format!(
        "log {}\nwitness A {}\nwitness B {}\nwitness C {}\ngroup two 2 A B C\nquorum two\n",
        log.verifier_key(),
        witnesses[0].verifier_key(),
        witnesses[1].verifier_key(),
        witnesses[2].verifier_key()
    );
    let text = Checkpoint::new(ORIGIN, BLOCKS, root.0).unwrap().to_text();
    let mut note = Note::sign(&text, &log).unwrap();
    for witness in [&witnesses[0], &witnesses[2]] {
        note.add_signature(witness.cosign(&text, 1_700_000_000).unwrap())
            .unwrap();
    }
    let latest = Arc::new(Latest(Mutex::new(None)));
    let shared = SharedLedger::new(Arc::new(RwLock::new(ledger)));
    let state = ServeState::new(Arc::new(shared), latest.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = serve(listener, state).unwrap();
    let base = BaseUrl::parse(&format!("http://{}", server.local_addr())).unwrap();
    World {
        server,
        base,
        latest,
        note: note.encode(),
        log,
        policy: Policy::parse(policy.as_bytes()).unwrap(),
        tx_ids,
        accounts,
        headers,
        tlog: log_tree,
    }
}

impl World {
    async fn get(&self, path: &str) -> Answer {
        self.base.get(path, "*/*").await.unwrap()
    }

    async fn proof(&self, path: &str) -> WitnessedProof {
        let answer = self
            .base
            .get(path, "application/octet-stream")
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "{path}: {:?}", answer.body);
        assert_eq!(
            answer.content_type.as_deref(),
            Some("application/octet-stream")
        );
        let proof = WitnessedProof::decode(&answer.body).unwrap();
        verify_witnessed(
            &proof,
            self.note.as_bytes(),
            &self.log.verifier_key(),
            &self.policy,
        )
        .unwrap();
        proof
    }
}

/// Tiles fetched over HTTP for tlog's tile reader.
struct Fetched(std::collections::HashMap<String, Vec<u8>>);

impl TileReader for Fetched {
    fn height(&self) -> u8 {
        8
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .get(&t.path())
                    .cloned()
                    .ok_or(tlog::Error::IndexesNotInTree)
            })
            .collect()
    }
    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_api_end_to_end() {
    let world = world().await;

    // No checkpoint yet: nothing to serve, but malformed paths are still 400.
    assert_eq!(world.get("/checkpoint").await.status, 404);
    assert_eq!(world.get("/tile/0/000.p/1").await.status, 404);
    assert_eq!(world.get("/tile/0/0").await.status, 400);
    *world.latest.0.lock() = Some(world.note.clone());

    let answer = world.get("/checkpoint").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, world.note.as_bytes());
    assert_eq!(
        answer.content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(answer.cache_control.as_deref(), Some("no-cache"));

    check_tiles(&world).await;
    check_refusals(&world).await;
    check_proofs(&world).await;
    world.server.shutdown().await;
}

async fn check_tiles(world: &World) {
    let mut fetched = std::collections::HashMap::new();
    for tile in Tile::new_tiles(8, 0, BLOCKS) {
        let path = tile.path().replacen("tile/8/", "/tile/", 1);
        let answer = world.get(&path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(
            answer.content_type.as_deref(),
            Some("application/octet-stream")
        );
        let full = tile.width() == 256;
        let cache = answer.cache_control.unwrap();
        assert_eq!(cache.contains("immutable"), full, "{path}: {cache}");
        assert_eq!(
            answer.body.to_vec(),
            tile.read_data(&world.tlog).unwrap(),
            "{path}"
        );
        fetched.insert(tile.path(), answer.body.to_vec());

        // The entry bundle beside each level-0 tile.
        if tile.level() == 0 {
            let path = path.replacen("/tile/0/", "/tile/entries/", 1);
            let answer = world.get(&path).await;
            assert_eq!(answer.status, 200, "{path}");
            let mut rest = &answer.body[..];
            let first = tile.level_index() * 256;
            for i in 0..u64::from(tile.width()) {
                let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let header = &world.headers[(first + i) as usize];
                assert_eq!(&rest[2..2 + len], &header[..]);
                rest = &rest[2 + len..];
            }
            assert!(rest.is_empty());
        }
    }
    assert!(
        fetched.contains_key("tile/8/0/000"),
        "a full tile was served"
    );
    let tree_hash = tlog::tree_hash(BLOCKS, &world.tlog).unwrap();
    let reader = Fetched(fetched);
    let hashes = TileHashReader::new(BLOCKS, tree_hash, &reader);
    for n in [0, 1, 255, 256, BLOCKS - 1] {
        let proof = tlog::prove_record(BLOCKS, n, &hashes).unwrap();
        let leaf = tlog::record_hash(&world.headers[n as usize]);
        tlog::check_record(&proof, BLOCKS, tree_hash, n, leaf).unwrap();
    }
}

async fn check_refusals(world: &World) {
    let long_key = "ab".repeat(300);
    let huge = "x".repeat(20_000);
    for (path, status) in [
        // Beyond the checkpoint's size (260: one full level-0 tile, a
        // partial one of 4, a partial level-1 tile of 1).
        ("/tile/0/001", 404),
        ("/tile/0/001.p/5", 404),
        ("/tile/1/000.p/2", 404),
        ("/tile/1/000", 404),
        ("/tile/2/000.p/1", 404),
        ("/tile/entries/001.p/5", 404),
        ("/tile/7/000.p/1", 404),
        // Malformed.
        ("/tile/0/0", 400),
        ("/tile/00/000", 400),
        ("/tile/64/000", 400),
        ("/tile/0/x000/001", 400),
        ("/tile/0/000.p/0", 400),
        ("/tile/0/000.p/256", 400),
        ("/tile/0/000.p/04", 400),
        ("/tile/entries/1", 400),
        ("/tile/data/000", 400),
        ("/tile/0/%30%30%30", 200),
        ("/proof/tx/zz", 400),
        ("/proof/tx/abcd", 400),
        (&format!("/proof/state/{long_key}"), 400),
        ("/proof/state/6b?height=01", 400),
        ("/proof/state/6b?height=-1", 400),
        ("/proof/state/6b?height=1&height=2", 400),
        ("/proof/state/6b?format=xml", 400),
        ("/proof/tx/00?x=1", 400),
        (
            &format!("/proof/state/6b?format=json&{}", "a".repeat(300)),
            400,
        ),
        (&format!("/tile/0/{}", "x001/".repeat(40)), 400),
        // Unknown records and resources.
        (&format!("/proof/tx/{}", "00".repeat(32)), 404),
        (&format!("/proof/state/6b?height={BLOCKS}"), 404),
        ("/nothing", 404),
        ("/tile", 404),
        ("/proof/tx/", 404),
    ] {
        assert_eq!(world.get(path).await.status, status, "{path}");
    }
    // A request head over the limit is refused by hyper.
    // (A closed connection is a refusal too.)
    if let Ok(answer) = world.base.get(&format!("/tile/{huge}"), "*/*").await {
        assert!(
            matches!(answer.status, 400 | 414 | 431),
            "{}",
            answer.status
        );
    }
    // GET only.
    let addr = world.server.local_addr();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream
        .write_all(b"POST /checkpoint HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    assert!(
        reply.starts_with(b"HTTP/1.1 405"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}

async fn check_proofs(world: &World) {
    for i in [0usize, 1, 17, (BLOCKS - 1) as usize] {
        let id = world.tx_ids[i];
        let proof = world.proof(&format!("/proof/tx/{id}")).await;
        let WitnessedRecord::Transaction(record) = &proof.record else {
            panic!("not a transaction record");
        };
        assert_eq!(record.transaction.id(), id);
        assert_eq!(record.header.height, i as u64);

        // JSON, by query and by Accept: the same proof.
        let encoded = to_hex(&proof.encode().unwrap());
        for (path, accept) in [
            (format!("/proof/tx/{id}?format=json"), "*/*"),
            (format!("/proof/tx/{id}"), "application/json"),
        ] {
            let answer = world.base.get(&path, accept).await.unwrap();
            assert_eq!(answer.status, 200);
            assert_eq!(answer.content_type.as_deref(), Some("application/json"));
            let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
            assert_eq!(json["kind"], "transaction");
            assert_eq!(json["transaction"]["id"], id.to_hex());
            assert_eq!(json["header"]["height"], i as u64);
            assert_eq!(json["encoded"], encoded);
        }
    }

    // Account 2 received every h ≡ 2 (mod 5) below the height read.
    let balance = |after: u64| -> u64 { (1..=after).filter(|h| h % 5 == 2).sum() };
    let key = balance_key(&world.accounts[2]);
    for (query, height) in [("".to_owned(), BLOCKS - 1), ("?height=7".to_owned(), 7)] {
        let proof = world
            .proof(&format!("/proof/state/{}{query}", to_hex(&key)))
            .await;
        let WitnessedRecord::State {
            key: proved,
            record,
        } = &proof.record
        else {
            panic!("not a state record");
        };
        assert_eq!(&proved[..], &key[..]);
        assert_eq!(record.header.height, height);
        let value = u64::from_le_bytes(record.value.as_deref().unwrap().try_into().unwrap());
        assert_eq!(value, balance(height));
    }
    // An absent key is proved absent.
    let proof = world.proof("/proof/state/6e6f626f6479").await;
    let WitnessedRecord::State { record, .. } = &proof.record else {
        panic!("not a state record");
    };
    assert_eq!(record.value, None);
}
