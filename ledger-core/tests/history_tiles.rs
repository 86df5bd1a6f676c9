//! The history tree as c2sp.org/tlog-tiles against an independent
//! implementation (the `tlog_tiles` crate, a port of Go's
//! `golang.org/x/mod/sumdb/tlog`): for trees of many sizes over random
//! entries, every tile the specification says exists for the size
//! (`Tile::new_tiles`) is byte for byte tlog's `read_data` of it, its path is
//! tlog's path without the tile height (C2SP drops it), no other width or
//! index is served, and tlog's tile-reading proof code (`TileHashReader`,
//! which authenticates each tile against the tree hash) proves records and
//! trees from our tiles alone. Then a ledger's own tiles and entry bundles:
//! each bundle entry is the encoded header whose leaf hash is in the
//! level-0 tile.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::collections::HashMap;

use ledger_core::merkle::tiles::{tile_hashes, TileKind, TileRequest, TILE_WIDTH};
use ledger_core::merkle::{HistoryTree, MemoryHistoryNodes};
use ledger_core::testing::{key, sign, Op, ScriptedApp};
use ledger_core::{Ledger, LedgerConfig, MemStore, PublicKey};
use rand::{RngExt, SeedableRng};
use tlog_tiles::{tlog, Tile, TileHashReader, TileReader};

/// tlog's log over the same entries: its stored hashes.
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

/// Our tiles, served to tlog's `TileHashReader` by their C2SP path.
struct OurTiles<'a> {
    nodes: &'a MemoryHistoryNodes,
    size: u64,
}

fn request_of(tile: &Tile) -> TileRequest {
    TileRequest {
        kind: TileKind::Hashes {
            level: tile.level(),
        },
        index: tile.level_index(),
        width: u16::try_from(tile.width()).unwrap(),
    }
}

impl TileReader for OurTiles<'_> {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
        tiles
            .iter()
            .map(|tile| {
                tile_hashes(self.nodes, &request_of(tile), self.size)
                    .map_err(|_| tlog::Error::IndexesNotInTree)
            })
            .collect()
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {}
}

fn check_size(
    tree: &HistoryTree,
    nodes: &MemoryHistoryNodes,
    log: &TlogLog,
    rng: &mut rand_chacha::ChaCha8Rng,
) {
    let size = tree.size();
    let tiles = Tile::new_tiles(8, 0, size);
    let mut served = HashMap::new();
    for tile in &tiles {
        let ours = request_of(tile);
        assert_eq!(
            ours.path(),
            tile.path().replacen("tile/8/", "tile/", 1),
            "{tile:?}"
        );
        assert_eq!(TileRequest::parse(&ours.path()["tile/".len()..]), Ok(ours));
        let bytes = tile_hashes(nodes, &ours, size).unwrap();
        assert_eq!(bytes, tile.read_data(log).unwrap(), "size {size}: {tile:?}");
        served.insert(ours, bytes);
        // A partial tile one wider, or the full tile after it, is not
        // within the tree.
        if !ours.is_full() {
            let wider = TileRequest {
                width: ours.width + 1,
                ..ours
            };
            assert!(tile_hashes(nodes, &wider, size).is_err(), "{wider:?}");
            let next = TileRequest {
                index: ours.index + 1,
                width: TILE_WIDTH,
                ..ours
            };
            assert!(tile_hashes(nodes, &next, size).is_err(), "{next:?}");
        }
    }
    // tlog's tile reader authenticates our tiles against the tree hash and
    // proves from them alone.
    let tree_hash = tlog::Hash(tree.root().0);
    let reader = OurTiles { nodes, size };
    let hash_reader = TileHashReader::new(size, tree_hash, &reader);
    for _ in 0..4 {
        let n = rng.random_range(0..size);
        let proof = tlog::prove_record(size, n, &hash_reader).unwrap();
        let leaf = log.hashes[tlog::stored_hash_index(0, n) as usize];
        tlog::check_record(&proof, size, tree_hash, n, leaf).unwrap();
        let old = rng.random_range(1..=size);
        let old_hash = tlog::tree_hash(old, log).unwrap();
        let proof = tlog::prove_tree(size, old, &hash_reader).unwrap();
        tlog::check_tree(&proof, size, tree_hash, old, old_hash).unwrap();
    }
}

#[test]
fn tiles_are_tlogs_for_every_size() {
    let seed = 0x711e5;
    println!("seed {seed}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut tree = HistoryTree::new();
    let mut nodes = MemoryHistoryNodes::default();
    let mut log = TlogLog::default();
    let checked: Vec<u64> = (1..=300)
        .chain([511, 512, 513, 65_535, 65_536, 65_537, 70_000])
        .collect();
    for size in 1..=70_000u64 {
        let entry: Vec<u8> = (0..rng.random_range(1..40)).map(|_| rng.random()).collect();
        nodes.insert_all(tree.append(&entry));
        let stored = tlog::stored_hashes(log.size, &entry, &log).unwrap();
        log.hashes.extend(stored);
        log.size += 1;
        assert_eq!(tree.size(), size);
        if checked.contains(&size) {
            check_size(&tree, &nodes, &log, &mut rng);
        }
    }
}

#[test]
fn ledger_tiles_and_entry_bundles() {
    const CHAIN: u64 = 3;
    const BLOCKS: u64 = 300;
    let app = ScriptedApp {
        minter: PublicKey::from_signing_key(&key(1)),
    };
    let mut ledger = Ledger::open(MemStore::new(), app, LedgerConfig::new(CHAIN)).unwrap();
    for height in 0..BLOCKS {
        let op = Op::Put {
            key: b"k".to_vec(),
            value: height.to_le_bytes().to_vec(),
        };
        let tx = sign(&key(2), CHAIN, height, &[op]);
        let block = ledger.build_block(vec![tx], height).unwrap();
        ledger
            .apply_block(ledger.verify_block(block).unwrap())
            .unwrap();
    }
    let entries = |index, width| TileRequest {
        kind: TileKind::Entries,
        index,
        width,
    };
    let hashes = |level, index, width| TileRequest {
        kind: TileKind::Hashes { level },
        index,
        width,
    };
    for size in [1, 255, 256, 257, 299, BLOCKS] {
        let full = size / 256;
        let partial = u16::try_from(size % 256).unwrap();
        let mut tiles = vec![];
        if full == 1 {
            tiles.push((entries(0, 256), hashes(0, 0, 256)));
            // The level-1 tile of one hash: the root of the first 256.
            let level1 = ledger.history_tile(&hashes(1, 0, 1), size).unwrap();
            let root256 = ledger.header_at(256).unwrap().unwrap().history_root.0;
            assert_eq!(level1, Some(root256.to_vec()));
        }
        if partial > 0 {
            tiles.push((entries(full, partial), hashes(0, full, partial)));
        }
        for (bundle, tile) in tiles {
            let bundle_bytes = ledger.history_tile(&bundle, size).unwrap().unwrap();
            let tile_bytes = ledger.history_tile(&tile, size).unwrap().unwrap();
            let mut rest = &bundle_bytes[..];
            for (height, leaf) in (bundle.index * 256..).zip(tile_bytes.chunks(32)) {
                let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let entry = &rest[2..2 + len];
                let header = ledger.header_at(height).unwrap().unwrap();
                assert_eq!(entry, &header.encode()[..]);
                assert_eq!(leaf, tlog::record_hash(entry).0);
                rest = &rest[2 + len..];
            }
            assert!(rest.is_empty());
        }
        // Beyond the size: not served.
        let over = if partial < 255 { partial + 1 } else { 256 };
        assert_eq!(
            ledger.history_tile(&entries(full, over), size).unwrap(),
            None
        );
        assert_eq!(
            ledger.history_tile(&hashes(0, full, over), size).unwrap(),
            None
        );
    }
    // A tree size above the stored blocks is refused.
    assert!(ledger.history_tile(&hashes(0, 0, 1), BLOCKS + 1).is_err());
}
