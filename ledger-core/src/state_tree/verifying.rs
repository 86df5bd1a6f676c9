//! A reader that trusts nothing it reads: every node must hash to what its
//! parent holds, from a trusted root down, and every value is read through
//! a proof (so it must match its leaf). Slow (a proof per value read), so
//! the engine uses it only to tell, after a root mismatch, whether its own
//! stored state was wrong.

use bytes::Bytes;
use foldhash::HashMap;
use parking_lot::Mutex;

use super::node::{Child, Node, NodeKey};
use super::prove::prove;
use super::{StateTreeError, StateTreeReader};
use crate::hash::Hash;

/// See the module documentation.
pub struct VerifyingReader<'a, R: ?Sized> {
    inner: &'a R,
    /// The hash each node not yet read must have, as its parent said.
    expected: Mutex<HashMap<NodeKey, Hash>>,
}

impl<'a, R: StateTreeReader + ?Sized> VerifyingReader<'a, R> {
    /// A reader over `inner` trusting only `root` as the root hash of
    /// `version` (no version: an empty tree, nothing to read).
    pub fn new(inner: &'a R, version: Option<u64>, root: Option<Hash>) -> Self {
        let mut expected = HashMap::default();
        if let (Some(version), Some(root)) = (version, root) {
            expected.insert(NodeKey::root(version), root);
        }
        VerifyingReader {
            inner,
            expected: Mutex::new(expected),
        }
    }
}

impl<R: StateTreeReader + ?Sized> StateTreeReader for VerifyingReader<'_, R> {
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
        let Some(node) = self.inner.node(key)? else {
            return Ok(None);
        };
        let want = self.expected.lock().get(key).copied();
        match want {
            Some(want) if node.hash() == want => {}
            Some(_) => {
                return Err(StateTreeError::Corrupt {
                    detail: format!("node {key} does not hash to what its parent holds"),
                })
            }
            None => {
                return Err(StateTreeError::Corrupt {
                    detail: format!("node {key} is read before any parent names it"),
                })
            }
        }
        if let Node::Internal(internal) = &node {
            let mut expected = self.expected.lock();
            for (slot, child) in internal.slots().iter().enumerate() {
                if let Some(Child::Internal { version, hash }) = child {
                    let path = key.path.child(slot as u8);
                    expected.insert(
                        NodeKey {
                            version: *version,
                            path,
                        },
                        *hash,
                    );
                }
            }
        }
        Ok(Some(node))
    }

    fn value_at(&self, position: &Hash, version: u64) -> Result<Option<Bytes>, StateTreeError> {
        prove(&CheckedNodesRawValues(self), version, position).map(|(value, _)| value)
    }
}

/// What a proof reads: checked nodes, and raw values (which the proof
/// checks against their leaves).
struct CheckedNodesRawValues<'b, 'a, R: ?Sized>(&'b VerifyingReader<'a, R>);

impl<R: StateTreeReader + ?Sized> StateTreeReader for CheckedNodesRawValues<'_, '_, R> {
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
        self.0.node(key)
    }

    fn value_at(&self, position: &Hash, version: u64) -> Result<Option<Bytes>, StateTreeError> {
        self.0.inner.value_at(position, version)
    }

    fn value_record(&self, position: &Hash, version: u64) -> Result<Option<Bytes>, StateTreeError> {
        self.0.inner.value_record(position, version)
    }
}
