//! Proof assembly: the value of a position at a version, with the proof of
//! membership or absence against that version's root, read from stored
//! nodes.
//!
//! Stored nodes come from a store that may be damaged. The walk is bounded
//! (at most one internal node per nibble of a position, four halvings per
//! node), and what it reads is checked against what the parent promised: a
//! child's hash, a leaf's value hash. A damaged store gives
//! [`StateTreeError::Corrupt`], never a loop, a panic or a wrong answer
//! served as right.

use bytes::Bytes;

use super::node::{range_hash, Child, NibblePath, Node, NodeKey};
use super::proof::{ProofTerminal, StateProof};
use super::update::{read_internal, read_node};
use super::{key_nibble, leaf_hash, value_hash, StateTreeError, StateTreeReader, KEY_NIBBLES};
use crate::hash::Hash;

/// The value of `position` at `version` with a proof against that version's
/// root: of membership if the value is `Some`, of absence otherwise.
pub fn prove<R: StateTreeReader + ?Sized>(
    reader: &R,
    version: u64,
    position: &Hash,
) -> Result<(Option<Bytes>, StateProof), StateTreeError> {
    let mut siblings = Vec::new();
    let mut path = NibblePath::ROOT;
    let mut node = match read_node(reader, &NodeKey::root(version))? {
        Node::Empty => {
            return Ok((None, StateProof::new(siblings, ProofTerminal::Empty)));
        }
        Node::LeafRoot(leaf) => return leaf_terminal(reader, position, leaf, siblings),
        Node::Internal(node) => node,
    };
    // One internal node per nibble at most: a store whose nodes point
    // deeper than a position has nibbles is damaged.
    for _depth in 0..KEY_NIBBLES {
        let nibble = usize::from(key_nibble(position, path.len()));
        let (mut lo, mut hi) = (0usize, 16usize);
        let slots = node.slots();
        let (child_version, child_hash) = loop {
            let range = slots.get(lo..hi).unwrap_or(&[]);
            let mut present = range.iter().flatten();
            let first = present.next().copied();
            let count = 1 + present.count();
            match first {
                None => return Ok((None, StateProof::new(siblings, ProofTerminal::Empty))),
                Some(leaf @ Child::Leaf { .. }) if count == 1 => {
                    return leaf_terminal(reader, position, leaf, siblings)
                }
                Some(Child::Internal { version, hash }) if hi - lo == 1 => break (version, hash),
                Some(_) if hi - lo == 1 => {
                    return Err(StateTreeError::Corrupt {
                        detail: format!("node at {path:?} has a slot with two children"),
                    })
                }
                Some(_) => {
                    let mid = lo + (hi - lo) / 2;
                    if nibble < mid {
                        siblings.push(range_hash(&slots, mid, hi));
                        hi = mid;
                    } else {
                        siblings.push(range_hash(&slots, lo, mid));
                        lo = mid;
                    }
                }
            }
        };
        if path.len() + 1 >= KEY_NIBBLES {
            break;
        }
        path = path.child(lo as u8);
        let key = NodeKey {
            version: child_version,
            path,
        };
        node = read_internal(reader, &key)?;
        if node.hash() != child_hash {
            return Err(StateTreeError::Corrupt {
                detail: format!("node {key} does not hash to what its parent holds"),
            });
        }
    }
    Err(StateTreeError::Corrupt {
        detail: format!("internal nodes below the deepest level at {path:?}"),
    })
}

/// The proof's end at `leaf`, with the leaf's value (checked against the
/// leaf's hash).
fn leaf_terminal<R: StateTreeReader + ?Sized>(
    reader: &R,
    position: &Hash,
    leaf: Child,
    siblings: Vec<Hash>,
) -> Result<(Option<Bytes>, StateProof), StateTreeError> {
    let Child::Leaf {
        position: leaf_position,
        version,
        hash,
    } = leaf
    else {
        return Err(StateTreeError::Corrupt {
            detail: "leaf terminal is not a leaf".into(),
        });
    };
    let value = reader
        .value_record(&leaf_position, version)?
        .ok_or_else(|| StateTreeError::MissingNode {
            key: format!("value {leaf_position:?}@{version}"),
        })?;
    let value_hash = value_hash(&value);
    if leaf_hash(&leaf_position, &value_hash) != hash {
        return Err(StateTreeError::Corrupt {
            detail: format!("stored value of {leaf_position:?}@{version} does not match its leaf"),
        });
    }
    let terminal = ProofTerminal::Leaf {
        position: leaf_position,
        value_hash,
    };
    let proof = StateProof::new(siblings, terminal);
    if leaf_position == *position {
        Ok((Some(value), proof))
    } else {
        Ok((None, proof))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::state_tree::{InternalNode, Slots};

    /// A damaged store: every node is an internal node whose first two
    /// slots are internal children of the same version, so a walk that
    /// trusts it descends forever (the path stops growing at 64 nibbles).
    struct EndlessTree;

    impl StateTreeReader for EndlessTree {
        fn node(&self, _key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
            Ok(Some(Node::Internal(Arc::new(endless_node()))))
        }
        fn value_at(&self, _: &Hash, _: u64) -> Result<Option<Bytes>, StateTreeError> {
            Ok(None)
        }
    }

    fn endless_node() -> InternalNode {
        // Children claim the hash of a node like this one: a fixed point is
        // not needed, the walk must stop on depth alone or on the mismatch.
        let mut slots = Slots::default();
        for slot in slots.iter_mut() {
            *slot = Some(Child::Internal {
                version: 1,
                hash: Hash([7; 32]),
            });
        }
        InternalNode::from_slots(&slots)
    }

    /// Nodes whose every child's hash is right (the node at depth d holds
    /// the hash of the node at depth d + 1) all the way below the deepest
    /// level a position has: only the depth bound can stop a walk.
    struct ConsistentChain(Vec<InternalNode>);

    impl ConsistentChain {
        fn new() -> Self {
            let mut nodes = vec![endless_node()];
            for _ in 0..=KEY_NIBBLES + 1 {
                let below = nodes.last().map(InternalNode::hash).unwrap_or_default();
                let mut slots = Slots::default();
                for slot in slots.iter_mut() {
                    *slot = Some(Child::Internal {
                        version: 1,
                        hash: below,
                    });
                }
                nodes.push(InternalNode::from_slots(&slots));
            }
            nodes.reverse();
            ConsistentChain(nodes)
        }
    }

    impl StateTreeReader for ConsistentChain {
        fn node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
            let node = self.0.get(key.path.len()).cloned().unwrap_or_default();
            Ok(Some(Node::Internal(Arc::new(node))))
        }
        fn value_at(&self, _: &Hash, _: u64) -> Result<Option<Bytes>, StateTreeError> {
            Ok(None)
        }
    }

    fn run_with_deadline<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(work());
        });
        result
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("proof assembly over a damaged store did not stop")
    }

    #[test]
    fn a_store_whose_nodes_lie_about_their_children_gives_corrupt() {
        let result = run_with_deadline(|| prove(&EndlessTree, 1, &Hash([0; 32])));
        assert!(
            matches!(result, Err(StateTreeError::Corrupt { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn a_chain_of_consistent_nodes_deeper_than_a_position_gives_corrupt() {
        let chain = ConsistentChain::new();
        let result = run_with_deadline(move || prove(&chain, 1, &Hash([0x5a; 32])));
        assert!(
            matches!(result, Err(StateTreeError::Corrupt { .. })),
            "{result:?}"
        );
    }
}
