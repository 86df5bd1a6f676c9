//! The round-trip law for every core type with an encoding, both ways: for
//! every value that can exist, `decode(encode(v)) == v`; for every byte
//! string a decoder accepts, `encode(decode(b)) == b` (one encoding per
//! value). Generators reach the limits: receipts with 64 events and events
//! of 1,024 bytes, failure messages of multi-byte UTF-8 around 256 bytes,
//! proofs of 0 to 65 hashes, state proofs of up to 256 siblings, state
//! nodes of 1 to 16 children, node keys of 0 to 64 nibbles. Blocks and
//! transactions are covered the same way in `codec_properties.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failing test"
)]

use std::sync::Arc;

use bytes::Bytes;
use ledger_core::limits::{MAX_EVENTS_PER_TX, MAX_EVENT_BYTES, MAX_FAILURE_MESSAGE_BYTES};
use ledger_core::merkle::{ConsistencyProof, InclusionProof, MAX_PROOF_HASHES};
use ledger_core::state_tree::{
    Child, InternalNode, MemoryStateTree, NibblePath, Node, NodeKey, Slots, StateProof, StateUpdate,
};
use ledger_core::testing::proptest_config;
use ledger_core::{BlockHeader, Event, Events, Failure, Hash, Receipt, BLOCK_FORMAT_VERSION};
use proptest::prelude::*;

fn arb_hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

/// Text of 1- to 4-byte characters, some past the failure message cap.
fn arb_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![Just('a'), Just('é'), Just('€'), Just('𝄞')],
        0..120,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn arb_event() -> impl Strategy<Value = Event> {
    (0..=MAX_EVENT_BYTES, 0..=MAX_EVENT_BYTES).prop_map(|(topic, total)| {
        let topic = topic.min(total);
        Event::new(
            Bytes::from(vec![b't'; topic]),
            Bytes::from(vec![b'd'; total - topic]),
        )
        .unwrap()
    })
}

fn arb_receipt() -> impl Strategy<Value = Receipt> {
    prop_oneof![
        prop::collection::vec(arb_event(), 0..=MAX_EVENTS_PER_TX).prop_map(|events| {
            Receipt::Success {
                events: Events::new(events).unwrap(),
            }
        }),
        (any::<u32>(), arb_text())
            .prop_map(|(code, text)| Receipt::Failed(Failure::new(code, text))),
    ]
}

fn arb_path() -> impl Strategy<Value = Vec<Hash>> {
    prop::collection::vec(arb_hash(), 0..=MAX_PROOF_HASHES)
}

fn arb_child() -> impl Strategy<Value = Child> {
    prop_oneof![
        (any::<u64>(), arb_hash()).prop_map(|(version, hash)| Child::Internal { version, hash }),
        (arb_hash(), any::<u64>(), arb_hash())
            .prop_map(|(position, version, value)| Child::leaf(position, version, &value)),
    ]
}

/// Internal nodes that can exist: at least two leaves beneath (two
/// children, or one internal child).
fn arb_node() -> impl Strategy<Value = Node> {
    prop_oneof![
        Just(Node::Empty),
        (arb_hash(), any::<u64>(), arb_hash())
            .prop_map(|(p, v, h)| Node::LeafRoot(Child::leaf(p, v, &h))),
        prop::collection::vec(prop::option::of(arb_child()), 16).prop_filter_map(
            "fewer than two leaves beneath",
            |slots| {
                let slots: Slots = slots.try_into().ok()?;
                let present: Vec<_> = slots.iter().flatten().collect();
                let enough = present.len() >= 2 || present.iter().any(|c| !c.is_leaf());
                enough.then(|| Node::Internal(Arc::new(InternalNode::from_slots(&slots))))
            },
        ),
    ]
}

fn arb_node_key() -> impl Strategy<Value = NodeKey> {
    (any::<u64>(), prop::collection::vec(0u8..16, 0..=64)).prop_map(|(version, nibbles)| {
        let path = nibbles
            .into_iter()
            .fold(NibblePath::ROOT, |path, nibble| path.child(nibble));
        NodeKey { version, path }
    })
}

/// Proofs as the tree makes them: of members and of absent keys, in trees
/// of 0 to 300 keys.
fn arb_state_proof() -> impl Strategy<Value = StateProof> {
    (0u32..300, any::<u32>()).prop_map(|(keys, probe)| {
        let mut tree = MemoryStateTree::new();
        let mut updates: Vec<StateUpdate> = (0..keys)
            .map(|i| StateUpdate {
                position: ledger_core::application_position(&i.to_le_bytes()),
                value: Some(Bytes::from_static(b"v").into()),
            })
            .collect();
        updates.sort_by_key(|u| u.position);
        tree.update(0, &updates).unwrap();
        let position = ledger_core::application_position(&(probe % (keys + 5)).to_le_bytes());
        tree.prove(0, &position).unwrap().1
    })
}

fn arb_header() -> impl Strategy<Value = BlockHeader> {
    (
        any::<(u64, u64, u64, u32)>(),
        prop::array::uniform5(arb_hash()),
    )
        .prop_map(
            |(
                (chain_id, height, timestamp_ms, tx_count),
                [parent, tx, receipts, state, history],
            )| {
                BlockHeader {
                    version: BLOCK_FORMAT_VERSION,
                    chain_id,
                    height,
                    parent,
                    timestamp_ms,
                    tx_count: tx_count % (ledger_core::MAX_TXS_PER_BLOCK + 1),
                    tx_root: tx,
                    receipts_root: receipts,
                    state_root: state,
                    history_root: history,
                }
            },
        )
}

/// Bytes near a valid encoding: cut, extended, or with a byte changed.
fn mutations(bytes: &[u8], seed: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let len = bytes.len();
    let at = if len == 0 { 0 } else { (seed as usize) % len };
    out.push(bytes[..at].to_vec());
    let mut extended = bytes.to_vec();
    extended.push(seed as u8);
    out.push(extended);
    if len > 0 {
        let mut changed = bytes.to_vec();
        changed[at] ^= 1 << (seed % 8);
        out.push(changed);
    }
    out
}

proptest! {
    #![proptest_config(proptest_config(256, file!()))]

    #[test]
    fn receipts(receipt in arb_receipt(), seed in any::<u64>()) {
        let bytes = receipt.encode();
        prop_assert_eq!(Receipt::decode(&bytes), Some(receipt.clone()));
        if let Receipt::Failed(failure) = &receipt {
            prop_assert!(failure.message().len() <= MAX_FAILURE_MESSAGE_BYTES);
        }
        for near in mutations(&bytes, seed) {
            if let Some(decoded) = Receipt::decode(&near) {
                prop_assert_eq!(decoded.encode(), near);
            }
        }
    }

    #[test]
    fn inclusion_proofs(index in any::<u64>(), size in any::<u64>(), path in arb_path(), seed in any::<u64>()) {
        let proof = InclusionProof::new(index, size, path).unwrap();
        let bytes = proof.encode();
        prop_assert_eq!(&InclusionProof::decode(&bytes).unwrap(), &proof);
        for near in mutations(&bytes, seed) {
            if let Ok(decoded) = InclusionProof::decode(&Bytes::from(near.clone())) {
                prop_assert_eq!(decoded.encode().to_vec(), near);
            }
        }
    }

    #[test]
    fn consistency_proofs(old in any::<u64>(), new in any::<u64>(), path in arb_path(), seed in any::<u64>()) {
        let proof = ConsistencyProof::new(old, new, path).unwrap();
        let bytes = proof.encode();
        prop_assert_eq!(&ConsistencyProof::decode(&bytes).unwrap(), &proof);
        for near in mutations(&bytes, seed) {
            if let Ok(decoded) = ConsistencyProof::decode(&Bytes::from(near.clone())) {
                prop_assert_eq!(decoded.encode().to_vec(), near);
            }
        }
    }

    #[test]
    fn state_proofs(proof in arb_state_proof(), seed in any::<u64>()) {
        let bytes = proof.encode();
        prop_assert_eq!(bytes.len(), proof.encoded_len());
        prop_assert_eq!(&StateProof::decode(&bytes).unwrap(), &proof);
        for near in mutations(&bytes, seed) {
            if let Ok(decoded) = StateProof::decode(&Bytes::from(near.clone())) {
                prop_assert_eq!(decoded.encode().to_vec(), near);
            }
        }
    }

    #[test]
    fn state_nodes(node in arb_node(), seed in any::<u64>()) {
        let bytes = node.encode();
        prop_assert_eq!(&Node::decode(&bytes).unwrap(), &node);
        for near in mutations(&bytes, seed) {
            if let Ok(decoded) = Node::decode(&near) {
                prop_assert_eq!(decoded.encode(), near);
            }
        }
    }

    #[test]
    fn state_node_keys(key in arb_node_key(), seed in any::<u64>()) {
        let bytes = key.encode();
        prop_assert_eq!(NodeKey::decode(&bytes).unwrap(), key);
        for near in mutations(&bytes, seed) {
            if let Ok(decoded) = NodeKey::decode(&near) {
                prop_assert_eq!(decoded.encode(), near);
            }
        }
    }

    #[test]
    fn headers(header in arb_header(), seed in any::<u64>()) {
        let bytes = header.encode();
        prop_assert_eq!(BlockHeader::decode(&bytes).unwrap(), header);
        for near in mutations(&bytes, seed) {
            if let Ok(decoded) = BlockHeader::decode(&Bytes::from(near.clone())) {
                prop_assert_eq!(decoded.encode().to_vec(), near);
            }
        }
    }
}

#[test]
fn proofs_longer_than_the_limit_cannot_be_made() {
    let path = vec![Hash([1; 32]); MAX_PROOF_HASHES + 1];
    assert!(InclusionProof::new(0, 1, path.clone()).is_err());
    assert!(ConsistencyProof::new(0, 1, path).is_err());
}
