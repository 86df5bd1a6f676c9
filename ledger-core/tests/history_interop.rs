//! The history tree against an independent implementation of RFC 6962 /
//! c2sp.org/tlog-tiles, and against published known answers.
//!
//! The independent implementation is the `tlog_tiles` crate (cloudflare/azul,
//! a port of Go's `golang.org/x/mod/sumdb/tlog`, which C2SP's tlog-tiles
//! and Go's checksum database use): its record and node hashes, stored
//! hashes, tree hash, record (inclusion) proofs and tree (consistency)
//! proofs. For every tree size 1 ..= 300 and some large ones, over random
//! entries, both give the same root and the same stored subtree hashes, and
//! every inclusion and consistency proof is byte-for-byte the same, verifies
//! with the other side's verifier, and fails on both when tampered with.
//! (tlog has no consistency proof from the empty tree; ours is empty.)
//!
//! Known answers: the empty root `SHA-256("")`; the RFC 6962 tree over the
//! eight leaf inputs of `transparency-dev/merkle` (`testonly/constants.go`:
//! every node hash, every root, and the inclusion and consistency proof
//! vectors of `proof/verify_test.go`); and proofs served by a production
//! Certificate Transparency log (Google's argon2020, vendored in
//! `tlog_tiles`' tests: an audit path at tree size 961,984,011 and a
//! consistency proof from 3,654,490).
//!
//! Last, a ledger's own chain: every header's `history_root` is tlog's tree
//! hash over the encoded headers before it — the root hash a C2SP checkpoint
//! of that tree size carries — and the ledger's history proofs pass tlog's
//! checks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

mod common;

use ledger_core::merkle::{
    verify_consistency, verify_history_consistency, verify_history_inclusion, ConsistencyProof,
    HistoryTree, InclusionProof, MemoryHistoryNodes, MerkleHasher, NodePosition, Rfc6962Sha256,
    EMPTY_SHA256_ROOT,
};
use ledger_core::{Hash, MemStore};
use rand::{RngExt, SeedableRng};
use tlog_tiles::tlog;

fn theirs(hash: &Hash) -> tlog::Hash {
    tlog::Hash(hash.0)
}

fn ours(hash: &tlog::Hash) -> Hash {
    Hash(hash.0)
}

fn path_of(hashes: &[tlog::Hash]) -> Vec<Hash> {
    hashes.iter().map(ours).collect()
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn h(hex: &str) -> Hash {
    Hash(unhex(hex).try_into().unwrap())
}

/// tlog's log: its stored hashes, in its own order (`stored_hash_index`).
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

/// The same entries in our history tree and in tlog's log.
#[derive(Default)]
struct Both {
    tree: HistoryTree,
    nodes: MemoryHistoryNodes,
    log: TlogLog,
    entries: Vec<Vec<u8>>,
    /// Our root at every size so far.
    roots: Vec<Hash>,
}

impl Both {
    fn new() -> Self {
        Both {
            roots: vec![HistoryTree::new().root()],
            ..Both::default()
        }
    }

    fn append(&mut self, entry: Vec<u8>) {
        let completed = self.tree.append(&entry);
        let stored = tlog::stored_hashes(self.log.size, &entry, &self.log).unwrap();
        assert_eq!(
            self.log.hashes.len() as u64,
            tlog::stored_hash_index(0, self.log.size)
        );
        self.log.hashes.extend(stored);
        self.log.size += 1;
        // Our stored perfect subtrees are tlog's stored hashes, at the same
        // (level, index) coordinates.
        for (position, hash) in &completed {
            let at = tlog::stored_hash_index(position.level, position.index);
            assert_eq!(self.log.hashes[at as usize], theirs(hash), "{position:?}");
        }
        self.nodes.insert_all(completed);
        self.entries.push(entry);
        self.roots.push(self.tree.root());
    }

    fn their_root(&self, size: u64) -> Hash {
        ours(&tlog::tree_hash(size, &self.log).unwrap())
    }

    /// Inclusion of entry `index` in the tree of `size`, both ways.
    fn check_inclusion(&self, index: u64, size: u64) {
        let root = self.roots[size as usize];
        let entry = &self.entries[index as usize];
        let record = tlog::record_hash(entry);
        let mine = HistoryTree::inclusion_proof(&self.nodes, index, size).unwrap();
        let their_path = tlog::prove_record(size, index, &self.log).unwrap();
        assert_eq!(mine.path(), path_of(&their_path), "index {index} of {size}");
        let mine_as_theirs: Vec<tlog::Hash> = mine.path().iter().map(theirs).collect();
        tlog::check_record(&mine_as_theirs, size, theirs(&root), index, record).unwrap();
        let their_proof = InclusionProof::new(index, size, path_of(&their_path)).unwrap();
        verify_history_inclusion(&root, size, entry, &their_proof).unwrap();
        // Tampered: another entry, or a flipped bit, fails on both sides.
        let mut other = entry.clone();
        other.push(0);
        assert!(verify_history_inclusion(&root, size, &other, &mine).is_err());
        assert!(tlog::check_record(
            &mine_as_theirs,
            size,
            theirs(&root),
            index,
            tlog::record_hash(&other)
        )
        .is_err());
        if let Some(first) = mine.path().first() {
            let mut path = mine.path().to_vec();
            path[0].0[7] ^= 0x20;
            let bad = InclusionProof::new(index, size, path).unwrap();
            assert!(verify_history_inclusion(&root, size, entry, &bad).is_err());
            let mut bad_theirs = mine_as_theirs.clone();
            bad_theirs[0] = theirs(&Hash({
                let mut b = first.0;
                b[7] ^= 0x20;
                b
            }));
            assert!(tlog::check_record(&bad_theirs, size, theirs(&root), index, record).is_err());
        }
    }

    /// Consistency of the tree of `old` with the one of `new`, both ways.
    fn check_consistency(&self, old: u64, new: u64) {
        let (old_root, new_root) = (self.roots[old as usize], self.roots[new as usize]);
        let mine = HistoryTree::consistency_proof(&self.nodes, old, new).unwrap();
        verify_history_consistency(old, &old_root, new, &new_root, &mine).unwrap();
        if old == 0 {
            assert!(mine.path().is_empty());
            return;
        }
        let their_path = tlog::prove_tree(new, old, &self.log).unwrap();
        assert_eq!(mine.path(), path_of(&their_path), "{old} → {new}");
        let mine_as_theirs: Vec<tlog::Hash> = mine.path().iter().map(theirs).collect();
        tlog::check_tree(
            &mine_as_theirs,
            new,
            theirs(&new_root),
            old,
            theirs(&old_root),
        )
        .unwrap();
        let their_proof = ConsistencyProof::new(old, new, path_of(&their_path)).unwrap();
        verify_history_consistency(old, &old_root, new, &new_root, &their_proof).unwrap();
        for k in 0..mine.path().len() {
            let mut path = mine.path().to_vec();
            path[k].0[31] ^= 1;
            let bad = ConsistencyProof::new(old, new, path.clone()).unwrap();
            assert!(verify_history_consistency(old, &old_root, new, &new_root, &bad).is_err());
            let bad_theirs: Vec<tlog::Hash> = path.iter().map(theirs).collect();
            assert!(
                tlog::check_tree(&bad_theirs, new, theirs(&new_root), old, theirs(&old_root))
                    .is_err()
            );
        }
    }
}

/// Random entries of 0 … 400 bytes (a block header is 190).
fn random_entries(count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let len = rng.random_range(0..=400usize);
            (0..len).map(|_| rng.random::<u8>()).collect()
        })
        .collect()
}

fn build(count: usize, seed: u64) -> Both {
    let mut both = Both::new();
    for entry in random_entries(count, seed) {
        both.append(entry);
    }
    both
}

#[test]
fn roots_agree_with_tlog_for_every_size_to_300() {
    let both = build(300, 1);
    assert_eq!(both.their_root(0), EMPTY_SHA256_ROOT);
    for size in 0..=300u64 {
        assert_eq!(
            both.roots[size as usize],
            both.their_root(size),
            "size {size}"
        );
        assert_eq!(
            HistoryTree::root_at(&both.nodes, size).unwrap(),
            both.roots[size as usize]
        );
    }
    let restored = HistoryTree::restore(300, &both.nodes).unwrap();
    assert_eq!(restored, both.tree);
}

#[test]
fn every_inclusion_proof_to_300_agrees_with_tlog_both_ways() {
    let both = build(300, 2);
    for size in 1..=300u64 {
        for index in 0..size {
            both.check_inclusion(index, size);
        }
    }
}

#[test]
fn every_consistency_proof_to_300_agrees_with_tlog_both_ways() {
    let both = build(300, 3);
    for new in 1..=300u64 {
        for old in 0..=new {
            both.check_consistency(old, new);
        }
    }
}

#[test]
fn large_trees_agree_with_tlog() {
    let mut both = Both::new();
    let mut entries = random_entries(70_001, 4).into_iter();
    for size in [
        1_023u64, 1_024, 1_025, 4_097, 65_535, 65_536, 65_537, 70_001,
    ] {
        while both.tree.size() < size {
            both.append(entries.next().unwrap());
        }
        assert_eq!(
            both.roots[size as usize],
            both.their_root(size),
            "size {size}"
        );
        for index in [0, 1, size / 3, size / 2, size - 2, size - 1] {
            both.check_inclusion(index, size);
        }
        for old in [0, 1, 2, 1_000, 1_024, size / 2, size - 1, size] {
            both.check_consistency(old.min(size), size);
        }
    }
}

#[test]
fn history_proofs_are_not_blake3_proofs() {
    let both = build(40, 5);
    let proof = HistoryTree::consistency_proof(&both.nodes, 17, 40).unwrap();
    verify_history_consistency(17, &both.roots[17], 40, &both.roots[40], &proof).unwrap();
    assert!(verify_consistency(17, &both.roots[17], 40, &both.roots[40], &proof).is_err());
}

/// The eight leaf inputs of RFC 6962 test trees (transparency-dev/merkle,
/// `testonly/constants.go`; also the C++ certificate-transparency tests').
const LEAF_INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Roots of the trees over the first 1 … 8 of [`LEAF_INPUTS`].
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// Every perfect subtree of the 8-leaf tree, by level then index.
const NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

#[test]
fn rfc6962_known_answers() {
    assert_eq!(
        EMPTY_SHA256_ROOT,
        h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    assert_eq!(HistoryTree::new().root(), EMPTY_SHA256_ROOT);
    assert_eq!(Rfc6962Sha256::empty_root(), EMPTY_SHA256_ROOT);
    let mut tree = HistoryTree::new();
    let mut nodes = MemoryHistoryNodes::default();
    for (n, input) in LEAF_INPUTS.iter().enumerate() {
        nodes.insert_all(tree.append(&unhex(input)));
        assert_eq!(tree.root(), h(ROOTS[n]), "root of {} leaves", n + 1);
    }
    for (level, hashes) in NODES.iter().enumerate() {
        for (index, hash) in hashes.iter().enumerate() {
            let position = NodePosition {
                level: level as u8,
                index: index as u64,
            };
            assert_eq!(nodes.0[&position], h(hash), "{position:?}");
        }
    }
    assert_eq!(nodes.0.len(), 15, "exactly the perfect subtrees are stored");

    // transparency-dev/merkle, proof/verify_test.go: (leaf index, tree
    // size, path), indexes from 0 here.
    let inclusion: [(u64, u64, &[&str]); 5] = [
        (0, 1, &[]),
        (0, 8, &[NODES[0][1], NODES[1][1], NODES[2][1]]),
        (5, 8, &[NODES[0][4], NODES[1][3], NODES[2][0]]),
        (2, 3, &[NODES[1][0]]),
        (1, 5, &[NODES[0][0], NODES[1][1], NODES[0][4]]),
    ];
    for (index, size, path) in inclusion {
        let path: Vec<Hash> = path.iter().map(|x| h(x)).collect();
        let proof = HistoryTree::inclusion_proof(&nodes, index, size).unwrap();
        assert_eq!(proof.path(), path, "inclusion of {index} in {size}");
        let entry = unhex(LEAF_INPUTS[index as usize]);
        verify_history_inclusion(&h(ROOTS[size as usize - 1]), size, &entry, &proof).unwrap();
    }
    // (old size, new size, path).
    let consistency: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (1, 8, &[NODES[0][1], NODES[1][1], NODES[2][1]]),
        (6, 8, &[NODES[1][2], NODES[1][3], NODES[2][0]]),
        (2, 5, &[NODES[1][1], NODES[0][4]]),
        (6, 7, &[NODES[1][2], NODES[0][6], NODES[2][0]]),
    ];
    for (old, new, path) in consistency {
        let path: Vec<Hash> = path.iter().map(|x| h(x)).collect();
        let proof = HistoryTree::consistency_proof(&nodes, old, new).unwrap();
        assert_eq!(proof.path(), path, "consistency {old} → {new}");
        let (old_root, new_root) = (h(ROOTS[old as usize - 1]), h(ROOTS[new as usize - 1]));
        verify_history_consistency(old, &old_root, new, &new_root, &proof).unwrap();
    }
}

/// Google's argon2020 CT log (vendored by `tlog_tiles`' tests, from
/// `ct/v1/get-sth`, `get-proof-by-hash` and `get-sth-consistency`).
const ARGON_SIZE: u64 = 961_984_011;
const ARGON_ROOT: &str = "016c43de9f35d4dde6e164e29d64573ef0591df4fd211f60fd1e02ed228b3e25";
/// `SHA-256(0x00 ‖ leaf_input)` of entry 10,000.
const ARGON_LEAF_10000: &str = "9c2b3799f232761f71e022b243ebb6c6d9a9c66160800e4c2f2987c0d41294b8";
const ARGON_AUDIT_PATH: [&str; 30] = [
    "4f8e80989b2e38cfe01621a5529f8824979ba7ed59e6aadab45356ed4d09c8e4",
    "f498f515ea1d9f8dae45811f7df915e0717f1083c5439668f48c24c5b436ba19",
    "0f9dffd6808d79b178279f471e08a8a2f299c6b9ab29c56e095872dc8ce0f029",
    "c121438064abb1744f03ed5cf161e80050ac59e52ff0d0f23ff43f4a0b325726",
    "e75ebf45cc2c81dc1dcc79f5f2fd5d247a819201546cd86608858e1a3b0c25a1",
    "9da4c56366a32c582b82ce57525fb32586679e5264b0b1ac035558c292dfa9b6",
    "98a051268eaa6a8fb429d87fae11a46546c7500c4c86bb6b725ad3a486cd8c88",
    "0a8e2e78e144ee5a627cb8a8f788abc71b2fd7014c31a2b7b4fbb665090796ba",
    "c91832f34d0ae89318082d39b167ea17692f0a0dab893fe954cfa711ae95e7ed",
    "9f63b7f172590bcfd6a5bc22f47860562ce55327941d566f632401d7ad3b3117",
    "828ded023b8d7cd4828fcef2d91835c4eae80e49c637579a7f7720bf339b7fb4",
    "f03d0c8f7fc9ef24929c56f469f207617bfaae53a11029ec79b63a5ca8b5211f",
    "eab71ecf8e9953c339bcf89654c0147c97c0395d293cffe6721fe56336618ff3",
    "dabb48797acfbd2754c8773999a220480541d81cda29aba95b14808956b20c4e",
    "9e7896fc830540f379c70f14b07167ec2452b586e6d602eeecd35aea4911a894",
    "9913cf8bbb104b6d8c76e204caf70dcc2345a88b7a90bc183e434aad5b4872ef",
    "26f4e2bf3112352f701c8f1aa61e5aeee89e566b52fe9f4f722319e43e86c8ea",
    "513c9077e626d30638cc6faa2bcd3a6c1391c22d42495bc543f2a49e7aa8663f",
    "857383aea37e7dff94eb33ea450f9940ab3a8a6d5f3dcc487ab0d27cdc1f9611",
    "208e8613e598fc3ae96737c7ced2f0911e3aa37ef356434b0b23d895febccc0d",
    "77ad3d91659c3419656c0f096ff69de170155469d270b466b4ff05632afe0dc9",
    "ae2901b0fd06d208a85d1a411440f60b341d48bac63ef45dd1b11c6c4670d6b2",
    "19720495f9a746e59f6c0e33eee6d5fd4c25a524546d479e73ba0be470c39e1d",
    "a51d121ff3583fab3dfbc6b35b069e51703865eff758222031f879616eb0bdc1",
    "7f71ae00a615ac5f11060decd798ef03f62f57da009625adccffe29b03e14150",
    "5879fccc3c65560915fa54a59b368e75f481ad31e846be674f777beaad0a2961",
    "7f6b95d99c558142f32cf2ae65ca30458dd963b7d1957e7d88306357547c90d4",
    "3734158c9b2f4306e2ed64ad32bf6816487d55b1df2bb2c1ea8ed6c00ab0353b",
    "0b42edb417981d91e02fed37d8921c242dc24c1232cdafe1b1b98952025f9832",
    "df41f365bc13e0376a1d08b87fbf96446e8ce18c1519a2a019789c0ef4854fa9",
];
const ARGON_OLD_SIZE: u64 = 3_654_490;
const ARGON_OLD_ROOT: &str = "02e219e55eac0d48f5be7dd8d4af39a0e690ef2f852492adc914e5d5e7482814";
const ARGON_CONSISTENCY: [&str; 30] = [
    "f3449f6e3e9440475549909222087d34c3e3def081cdc735038f01d9cac94968",
    "15972b8001d493a9cd3ef88966af2410aea3086d5dd7ca49385138e590dcd534",
    "43aeeb7965e63c1a3551f9b005aa785e2f4f30f7c5754492c3758695165d1bb9",
    "789ec2ca14783f1cc1c4322c5a0ad5616d5e1546fd9dd81fe3ab459a2a95af10",
    "42b0f0a74eb61ab9b9598f0a76b845b01bae3631b3468c7625bf0f9952f9398c",
    "5cce1832330474b1ff5c96a6fd95b268fd78937726b0eb673ec396439e255b5b",
    "48688187e8ce4c671c5d4e3c673810f3c9517019ad078c33e284839ddbf64138",
    "5804bab71a8d2d82862f519d05da6a995e364d37e7e9c26cb83b2a2d7b9308d2",
    "4059914b4ae2ad403b64dde5c458c39dc57e135382ae7dcd501e110a9fb97f37",
    "1dd6e9ec8b765c135998d0c1a4237f28f77bbdf56ac60cf03a8b2a54868403d1",
    "9b1bc72f46626e505d0fb8fba486b58e57c1d204aa7c9ea85f4506a3b2f456c5",
    "ab9863cafa16e932ff3d3860722b690dc493ae7297da9d7e6aab1ca87d9eb910",
    "8d33960eab772078f635515e7b3c81cf6a1fa6bbbeced132c2a29401f15c94a2",
    "188467d30dc7a8976f53d8f55950fffde47a964d80693563cb38ec24d3fc53cf",
    "c79d8626fc46f357e7401ae03936e5975039b73f79fcb5cad00835361074af52",
    "ebfd0eaab71381cde8e5d0f93f29a6a02f7a941f722cf16e4c756f2f2f1f4869",
    "19ffa228b7dc5cee65e091059ac66f49d1b9ab5b847963df60baddb3aa668f3d",
    "0c6b9a728f8c73233701f45217aa97ed1c127adc1eda2798266c70e5ef6b571d",
    "dad409f55df6867629f9f7693fa4dc8e680998b78d54e30a334325d6493870d5",
    "dcf6a92be224c89afc23dc8012b026cee65ecf32cccec83e3df7910a0356f0d4",
    "b3ac6261e7a36fec2da8703e511259d88fd208fc885bc7283fa681d341496cc6",
    "cfd952a6675372be4ce59cca95ce043e1dd2ad2ca9285764e89505fd471c6995",
    "19720495f9a746e59f6c0e33eee6d5fd4c25a524546d479e73ba0be470c39e1d",
    "a51d121ff3583fab3dfbc6b35b069e51703865eff758222031f879616eb0bdc1",
    "7f71ae00a615ac5f11060decd798ef03f62f57da009625adccffe29b03e14150",
    "5879fccc3c65560915fa54a59b368e75f481ad31e846be674f777beaad0a2961",
    "7f6b95d99c558142f32cf2ae65ca30458dd963b7d1957e7d88306357547c90d4",
    "3734158c9b2f4306e2ed64ad32bf6816487d55b1df2bb2c1ea8ed6c00ab0353b",
    "0b42edb417981d91e02fed37d8921c242dc24c1232cdafe1b1b98952025f9832",
    "df41f365bc13e0376a1d08b87fbf96446e8ce18c1519a2a019789c0ef4854fa9",
];

#[test]
fn certificate_transparency_log_proofs_verify() {
    let root = h(ARGON_ROOT);
    let path: Vec<Hash> = ARGON_AUDIT_PATH.iter().map(|x| h(x)).collect();
    let proof = InclusionProof::new(10_000, ARGON_SIZE, path).unwrap();
    ledger_core::merkle::verify_inclusion_with::<Rfc6962Sha256>(
        &root,
        ARGON_SIZE,
        &h(ARGON_LEAF_10000),
        &proof,
    )
    .unwrap();
    assert!(ledger_core::merkle::verify_inclusion_with::<Rfc6962Sha256>(
        &root,
        ARGON_SIZE,
        &h(ARGON_ROOT),
        &proof
    )
    .is_err());
    let path: Vec<Hash> = ARGON_CONSISTENCY.iter().map(|x| h(x)).collect();
    let proof = ConsistencyProof::new(ARGON_OLD_SIZE, ARGON_SIZE, path).unwrap();
    let old_root = h(ARGON_OLD_ROOT);
    verify_history_consistency(ARGON_OLD_SIZE, &old_root, ARGON_SIZE, &root, &proof).unwrap();
    assert!(
        verify_history_consistency(ARGON_OLD_SIZE + 1, &old_root, ARGON_SIZE, &root, &proof)
            .is_err()
    );
}

#[test]
fn ledger_history_roots_are_checkpoint_roots() {
    let (chain, ledger) = common::build_chain(MemStore::new(), 24, 9);
    let mut log = TlogLog::default();
    for block in &chain {
        let header = block.header();
        // Header h's history root is tlog's root over headers 0 .. h: the
        // root hash of a C2SP checkpoint of tree size h.
        assert_eq!(
            header.history_root,
            ours(&tlog::tree_hash(header.height, &log).unwrap()),
            "height {}",
            header.height
        );
        let stored = tlog::stored_hashes(log.size, &header.encode(), &log).unwrap();
        log.hashes.extend(stored);
        log.size += 1;
    }
    let head = *ledger.applied_head().unwrap();
    for block in &chain[..head.height as usize] {
        let height = block.header().height;
        let proof = ledger.history_proof(height).unwrap();
        let path: Vec<tlog::Hash> = proof.path().iter().map(theirs).collect();
        let record = tlog::record_hash(&block.header().encode());
        tlog::check_record(
            &path,
            head.height,
            theirs(&head.history_root),
            height,
            record,
        )
        .unwrap();
        ledger_core::verify_block_in_history(&head, block.header(), &proof).unwrap();
    }
    // Consistency between any two headers' histories, and up to the tree
    // the next header will commit to (head height + 1 blocks).
    let next_root = ours(&tlog::tree_hash(head.height + 1, &log).unwrap());
    for old in 1..=head.height {
        for new in [old, head.height, head.height + 1] {
            let proof = ledger.history_consistency_proof(old, new).unwrap();
            let old_root = chain[old as usize].header().history_root;
            let new_root = match chain.get(new as usize) {
                Some(block) => block.header().history_root,
                None => next_root,
            };
            let path: Vec<tlog::Hash> = proof.path().iter().map(theirs).collect();
            tlog::check_tree(&path, new, theirs(&new_root), old, theirs(&old_root)).unwrap();
            verify_history_consistency(old, &old_root, new, &new_root, &proof).unwrap();
        }
    }
    assert!(ledger
        .history_consistency_proof(1, head.height + 2)
        .is_err());
}
