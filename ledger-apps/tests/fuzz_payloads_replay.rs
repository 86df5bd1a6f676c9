//! Replays the corpora of the payload fuzz targets (`decode_transfers_payload`,
//! `decode_provenance_payload`, `decode_notary_payload`, `decode_claims_payload`) and any crash
//! artifacts through the same oracle as the targets
//! (`ledger_apps::roundtrip`: whatever a decoder accepts re-encodes exactly),
//! so plain `cargo test` guards every input the fuzzer found interesting.
//! The seeds are a handful of valid and invalid payloads and records written
//! by `write_seeds` below; `LEDGER_BLESS=1` rewrites them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::path::{Path, PathBuf};

use bytes::Bytes;
use ledger_apps::claims;
use ledger_apps::notary::{self, Anchor};
use ledger_apps::provenance::{self, CustodyStep, Need, Shipment};
use ledger_apps::roundtrip::{
    check_claims_bytes, check_notary_bytes, check_provenance_bytes, check_transfers_bytes,
};
use ledger_apps::transfers;
use ledger_core::{Hash, PublicKey};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

const KEY: PublicKey = PublicKey([0x5a; 32]);
const ID: Hash = Hash([0x3c; 32]);

fn transfers_seeds() -> Seeds {
    let transfer = transfers::Operation::Transfer {
        to: KEY,
        amount: 250,
    };
    let memo = |memo: &'static [u8]| transfers::Operation::TransferWithMemo {
        to: KEY,
        amount: 7,
        memo: Bytes::from_static(memo),
    };
    let plain = transfer.encode().unwrap().to_vec();
    let with_memo = memo(b"invoice 2026-031").encode().unwrap().to_vec();
    vec![
        ("valid-transfer", plain.clone()),
        (
            "valid-mint",
            transfers::Operation::Mint {
                to: KEY,
                amount: u64::MAX,
            }
            .encode()
            .unwrap()
            .to_vec(),
        ),
        ("valid-memo-1-byte", memo(b"x").encode().unwrap().to_vec()),
        ("valid-memo", with_memo.clone()),
        // A memo transfer without memo: what the old encoder produced for
        // an empty memo, refused by the decoder.
        (
            "invalid-empty-memo",
            with_memo[..transfers::PAYLOAD_BYTES].to_vec(),
        ),
        ("invalid-truncated", plain[..plain.len() - 1].to_vec()),
        ("invalid-trailing-byte", [plain.as_slice(), &[0]].concat()),
        ("invalid-tag", [&[9u8][..], &plain[1..]].concat()),
    ]
}

fn provenance_seeds() -> Seeds {
    let register = provenance::Operation::RegisterOrganisation {
        organisation: KEY,
        name: "St. Mary's".into(),
    }
    .encode()
    .unwrap()
    .to_vec();
    let need = provenance::Operation::PublishNeed {
        item: "N95 masks (box of 50) — €".into(),
        quantity: 2_000,
        destination: "ward 4".into(),
    }
    .encode()
    .unwrap()
    .to_vec();
    let hand_over = provenance::Operation::HandOver {
        shipment: ID,
        to: KEY,
        quantity: 200,
    }
    .encode()
    .unwrap()
    .to_vec();
    // What the old encoder produced for a name of thirty euro signs: cut at
    // 64 bytes inside a character, so not UTF-8.
    let mut cut_name = vec![1u8];
    cut_name.extend_from_slice(&KEY.0);
    cut_name.push(64);
    cut_name.extend_from_slice(&"€".repeat(30).as_bytes()[..64]);
    let stored_need = Need {
        organisation: KEY,
        quantity: 2_000,
        pledged: 500,
        received: 199,
    };
    let shipment = Shipment {
        need: ID,
        shipped: 200,
        custodian: KEY,
        in_custody: 200,
        pending: Some((PublicKey([0x11; 32]), 200)),
        steps: 1,
        delivered: false,
    };
    let step = CustodyStep {
        from: KEY,
        to: PublicKey([0x11; 32]),
        handed_over: 200,
        accepted: 199,
        accepted_in: ID,
    };
    vec![
        ("valid-register", register.clone()),
        ("valid-need", need.clone()),
        ("valid-hand-over", hand_over),
        ("valid-stored-need", stored_need.encode().to_vec()),
        ("valid-stored-shipment", shipment.encode().to_vec()),
        ("valid-stored-custody-step", step.encode().to_vec()),
        ("invalid-cut-utf8-name", cut_name),
        ("invalid-text-over-limit", {
            let mut bytes = register[..33].to_vec();
            bytes.push(65);
            bytes.extend_from_slice(&[b'a'; 65]);
            bytes
        }),
        ("invalid-truncated-need", need[..need.len() - 1].to_vec()),
        (
            "invalid-trailing-byte",
            [register.as_slice(), &[0]].concat(),
        ),
    ]
}

fn notary_seeds() -> Seeds {
    let payload = notary::encode_payload(&ID).to_vec();
    let anchor = Anchor {
        signer: KEY,
        timestamp_ms: 1_772_409_600_000,
        height: 12,
        tx_id: ID,
    }
    .encode()
    .to_vec();
    vec![
        ("valid-payload", payload.clone()),
        ("valid-anchor", anchor.clone()),
        ("invalid-short-payload", payload[..31].to_vec()),
        ("invalid-long-payload", [payload.as_slice(), &[0]].concat()),
        ("invalid-short-anchor", anchor[..anchor.len() - 1].to_vec()),
    ]
}

fn claims_seeds() -> Seeds {
    let attest = claims::Operation::Attest {
        member: KEY,
        condition: 100,
        event_date_ms: 1_772_409_600_000,
        details: ID,
        issuer: claims::IssuerKey([0x11; 32]),
        tag: claims::Tag([0x22; claims::TAG_BYTES]),
    }
    .encode()
    .unwrap()
    .to_vec();
    let policy = claims::Operation::PublishPolicy {
        max_payout: 1_000,
        waiting_period_ms: 604_800_000,
        valid_from_ms: 1_772_323_200_000,
        valid_until_ms: 1_803_859_200_000,
        conditions: [100, 200].into_iter().collect(),
    }
    .encode()
    .unwrap()
    .to_vec();
    let admit = claims::Operation::AdmitParty {
        role: claims::Role::Clinic,
        party: KEY,
        name: "St. Mary's".into(),
    }
    .encode()
    .unwrap()
    .to_vec();
    let file = claims::Operation::File {
        attestation: ID,
        policy: ID,
        amount: 800,
    }
    .encode()
    .unwrap()
    .to_vec();
    let claim = claims::Claim {
        policy: ID,
        attestation: ID,
        insurer: KEY,
        claimed: 800,
        status: claims::ClaimStatus::Paid {
            amount: 700,
            reference: ID,
        },
    }
    .encode()
    .to_vec();
    let mut unsorted = policy.clone();
    unsorted[34..38].copy_from_slice(&200u32.to_le_bytes());
    unsorted[38..42].copy_from_slice(&100u32.to_le_bytes());
    vec![
        ("valid-attest", attest.clone()),
        ("valid-policy", policy.clone()),
        ("valid-admit", admit.clone()),
        ("valid-file", file.clone()),
        ("valid-claim-record", claim.clone()),
        ("invalid-short-tag", attest[..attest.len() - 1].to_vec()),
        ("invalid-long-tag", [attest.as_slice(), &[0]].concat()),
        ("invalid-unsorted-conditions", unsorted),
        (
            "invalid-unknown-operation",
            [&[13u8][..], &file[1..]].concat(),
        ),
        (
            "invalid-short-claim-record",
            claim[..claim.len() - 33].to_vec(),
        ),
    ]
}

/// A target's oracle.
type Check = fn(&[u8]);
/// Named seeds of a target.
type Seeds = Vec<(&'static str, Vec<u8>)>;

/// A fuzz target: its name, its seeds and its oracle.
struct Target {
    name: &'static str,
    seeds: fn() -> Seeds,
    check: Check,
}

const TARGETS: [Target; 4] = [
    Target {
        name: "decode_transfers_payload",
        seeds: transfers_seeds,
        check: check_transfers_bytes,
    },
    Target {
        name: "decode_provenance_payload",
        seeds: provenance_seeds,
        check: check_provenance_bytes,
    },
    Target {
        name: "decode_notary_payload",
        seeds: notary_seeds,
        check: check_notary_bytes,
    },
    Target {
        name: "decode_claims_payload",
        seeds: claims_seeds,
        check: check_claims_bytes,
    },
];

fn write_seeds(target: &str, seeds: &[(&str, Vec<u8>)]) {
    let dir = fuzz_dir().join("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in seeds {
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    }
}

/// Runs `check` on every file of the target's corpus and artifacts.
fn replay(target: &str, check: Check) -> usize {
    let mut replayed = 0;
    for dir in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() {
                check(&std::fs::read(&path).unwrap());
                replayed += 1;
            }
        }
    }
    replayed
}

/// Whether a decoder of `target` accepts `bytes`.
fn accepted(target: &str, bytes: &[u8]) -> bool {
    match target {
        "decode_transfers_payload" => transfers::Operation::decode(bytes).is_some(),
        "decode_provenance_payload" => {
            provenance::Operation::decode(bytes).is_some()
                || Need::decode(bytes).is_some()
                || Shipment::decode(bytes).is_some()
                || CustodyStep::decode(bytes).is_some()
        }
        "decode_claims_payload" => {
            claims::Operation::decode(bytes).is_some()
                || claims::Party::decode(bytes).is_some()
                || claims::Issuer::decode(bytes).is_some()
                || claims::Policy::decode(bytes).is_some()
                || claims::Enrolment::decode(bytes).is_some()
                || claims::Attestation::decode(bytes).is_some()
                || claims::Claim::decode(bytes).is_some()
                || claims::Programme::decode(bytes).is_some()
                || claims::Appointment::decode(bytes).is_some()
        }
        _ => notary::decode_payload(bytes).is_some() || Anchor::decode(bytes).is_some(),
    }
}

/// The committed seeds are what `write_seeds` writes, each is accepted or
/// refused as its name says (so the corpus starts on both sides of every
/// decoder), and every corpus and artifact file passes the oracle.
#[test]
fn payload_corpora_replay() {
    for Target {
        name: target,
        seeds,
        check,
    } in TARGETS
    {
        let seeds = seeds();
        if std::env::var_os("LEDGER_BLESS").is_some() {
            write_seeds(target, &seeds);
        }
        for (name, bytes) in &seeds {
            let path = fuzz_dir()
                .join("corpus")
                .join(target)
                .join(format!("seed-{name}"));
            let stored = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("{}: {e}; run with LEDGER_BLESS=1", path.display()));
            assert_eq!(&stored, bytes, "{} is stale", path.display());
            assert_eq!(
                accepted(target, bytes),
                name.starts_with("valid"),
                "{target}/{name}"
            );
        }
        let replayed = replay(target, check);
        assert!(
            replayed >= seeds.len(),
            "{target} corpus has {replayed} files, fewer than its {} seeds",
            seeds.len()
        );
    }
}
