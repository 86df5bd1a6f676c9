//! Stored nodes of the state tree and their canonical byte encodings.
//!
//! Node keys sort by version first (big-endian), so that all nodes a version
//! wrote are contiguous; value-record keys sort by position then version, so
//! that "the value as of version v" is one backwards seek.

#![deny(clippy::indexing_slicing)]

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::{interior_hash, leaf_hash, StateTreeError, EMPTY_SUBTREE, KEY_NIBBLES};
use crate::hash::{Hash, HASH_BYTES};

/// Bytes of a value-record key: position (32) then version (8, big-endian).
pub const LEAF_KEY_BYTES: usize = HASH_BYTES + 8;

/// A path of up to 64 nibbles from the root, packed two per byte.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NibblePath {
    len: u8,
    packed: [u8; 32],
}

impl NibblePath {
    /// The root's path.
    pub const ROOT: NibblePath = NibblePath {
        len: 0,
        packed: [0; 32],
    };

    /// Number of nibbles.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for the root's path.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Nibble `index`, or 0 past the end.
    pub fn nibble(&self, index: usize) -> u8 {
        if index >= self.len() {
            return 0;
        }
        let byte = self.packed.get(index / 2).copied().unwrap_or(0);
        if index.is_multiple_of(2) {
            byte >> 4
        } else {
            byte & 0x0f
        }
    }

    /// This path extended by one nibble. A path is never longer than
    /// [`KEY_NIBBLES`]; callers stop before that (distinct keys differ by then).
    pub fn child(&self, nibble: u8) -> NibblePath {
        let mut next = *self;
        let index = self.len();
        if index >= KEY_NIBBLES {
            return next;
        }
        if let Some(byte) = next.packed.get_mut(index / 2) {
            if index.is_multiple_of(2) {
                *byte |= (nibble & 0x0f) << 4;
            } else {
                *byte |= nibble & 0x0f;
            }
        }
        next.len += 1;
        next
    }

    /// A cheap 64-bit mix of the path, for spreading keys over shards.
    pub fn fingerprint(&self) -> u64 {
        let mut head = [0u8; 8];
        head.copy_from_slice(self.packed.get(..8).unwrap_or(&[0; 8]));
        u64::from_le_bytes(head).wrapping_mul(0x2545_f491_4f6c_dd1d) ^ u64::from(self.len)
    }

    fn packed_bytes(&self) -> &[u8] {
        self.packed.get(..self.len().div_ceil(2)).unwrap_or(&[])
    }
}

impl fmt::Debug for NibblePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        for i in 0..self.len() {
            write!(f, "{:x}", self.nibble(i))?;
        }
        Ok(())
    }
}

/// Where a node is stored: the version that wrote it and its path.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct NodeKey {
    /// The version (block height) that wrote the node.
    pub version: u64,
    /// The node's nibble path from the root.
    pub path: NibblePath,
}

impl NodeKey {
    /// The root node of a version.
    pub fn root(version: u64) -> Self {
        NodeKey {
            version,
            path: NibblePath::ROOT,
        }
    }

    /// Canonical key bytes: version (u64 big-endian), nibble count (u8),
    /// packed nibbles (unused low half of the last byte zero).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + self.path.packed_bytes().len());
        out.extend_from_slice(&self.version.to_be_bytes());
        out.push(self.path.len);
        out.extend_from_slice(self.path.packed_bytes());
        out
    }

    /// Decodes key bytes written by [`NodeKey::encode`], strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, StateTreeError> {
        let corrupt = |detail: &str| StateTreeError::Corrupt {
            detail: format!("node key: {detail}"),
        };
        let (version, rest) = bytes
            .split_first_chunk::<8>()
            .ok_or_else(|| corrupt("short"))?;
        let (&len, packed) = rest.split_first().ok_or_else(|| corrupt("short"))?;
        if usize::from(len) > KEY_NIBBLES || packed.len() != usize::from(len).div_ceil(2) {
            return Err(corrupt("bad length"));
        }
        let mut path = NibblePath {
            len,
            packed: [0; 32],
        };
        path.packed
            .get_mut(..packed.len())
            .ok_or_else(|| corrupt("bad length"))?
            .copy_from_slice(packed);
        if len % 2 == 1 && packed.last().is_some_and(|last| last & 0x0f != 0) {
            return Err(corrupt("non-canonical padding"));
        }
        Ok(NodeKey {
            version: u64::from_be_bytes(*version),
            path,
        })
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}:{:?}", self.version, self.path)
    }
}

/// A reference from an internal node to one of its 16 children.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Child {
    /// An internal node, stored at (`version`, parent path ‖ slot).
    Internal {
        /// The version that wrote the child.
        version: u64,
        /// The child's subtree hash.
        hash: Hash,
    },
    /// A leaf: the value of `position` written at `version`.
    Leaf {
        /// The leaf's position.
        position: Hash,
        /// The version whose value record holds the value.
        version: u64,
        /// `leaf_hash(position, value_hash)`.
        hash: Hash,
    },
}

impl Child {
    /// The subtree hash of this child.
    pub fn hash(&self) -> Hash {
        match self {
            Child::Internal { hash, .. } | Child::Leaf { hash, .. } => *hash,
        }
    }

    /// True for a leaf.
    pub fn is_leaf(&self) -> bool {
        matches!(self, Child::Leaf { .. })
    }

    /// A leaf child from its value hash.
    pub fn leaf(position: Hash, version: u64, value_hash: &Hash) -> Self {
        Child::Leaf {
            position,
            version,
            hash: leaf_hash(&position, value_hash),
        }
    }
}

/// The 16 child slots of an internal node, expanded for updates and hashing.
pub type Slots = [Option<Child>; 16];

/// An internal node: four bit-levels of the tree, up to 16 children, kept
/// compact (only the present children) because caches hold many of them.
///
/// Invariant: it has at least two leaves beneath it (two children, or one
/// internal child); otherwise the tree would have compressed it away.
///
/// It also remembers the subtree of each quarter of its slots (4 slots, two
/// binary levels) once computed, in memory only: a node rewritten because
/// children in one quarter changed recomputes that quarter and the 3 hashes
/// above it, not all 15 ([`InternalNode::with_changes`]).
#[derive(Clone, Debug, Default)]
pub struct InternalNode {
    entries: Vec<(u8, Child)>,
    quarters: OnceLock<[Part; 4]>,
}

impl PartialEq for InternalNode {
    fn eq(&self, other: &Self) -> bool {
        // The quarters are derived from the entries.
        self.entries == other.entries
    }
}

impl Eq for InternalNode {}

impl InternalNode {
    /// A node from its expanded slots.
    pub fn from_slots(slots: &Slots) -> Self {
        // Sized once: collecting from the filter would grow the list 4, 8,
        // 16, copying it each time.
        let mut entries = Vec::with_capacity(slots.iter().flatten().count());
        entries.extend(
            slots
                .iter()
                .enumerate()
                .filter_map(|(slot, child)| child.map(|child| (slot as u8, child))),
        );
        InternalNode {
            entries,
            quarters: OnceLock::new(),
        }
    }

    /// The node with these `slots` and its hash. With `previous`, the node
    /// it replaces and a bitmap of the slots that changed, the quarters
    /// without a changed slot are taken from `previous`.
    pub fn with_changes(slots: &Slots, previous: Option<(&InternalNode, u16)>) -> (Self, Hash) {
        let node = InternalNode::from_slots(slots);
        let quarters = match previous {
            None => std::array::from_fn(|index| quarter_part(slots, index)),
            Some((previous, changed)) => {
                let mut quarters = previous.quarters();
                for (index, quarter) in quarters.iter_mut().enumerate() {
                    if changed & (0xf << (4 * index)) != 0 {
                        *quarter = quarter_part(slots, index);
                    }
                }
                quarters
            }
        };
        let hash = join_quarters(&quarters);
        // A new node's cell is empty: this cannot fail, and if it did the
        // node would compute the same quarters again when asked.
        let _ = node.quarters.set(quarters);
        (node, hash)
    }

    /// The expanded slots.
    pub fn slots(&self) -> Slots {
        let mut slots = Slots::default();
        for (slot, child) in &self.entries {
            if let Some(entry) = slots.get_mut(usize::from(*slot)) {
                *entry = Some(*child);
            }
        }
        slots
    }

    /// This node's subtree hash.
    pub fn hash(&self) -> Hash {
        join_quarters(&self.quarters())
    }

    /// The subtrees of the four quarters, computed once.
    fn quarters(&self) -> [Part; 4] {
        *self.quarters.get_or_init(|| {
            let slots = self.slots();
            std::array::from_fn(|index| quarter_part(&slots, index))
        })
    }

    /// Number of children.
    pub fn child_count(&self) -> usize {
        self.entries.len()
    }

    /// Bytes this node takes in memory, for cache accounting.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.entries.capacity() * std::mem::size_of::<(u8, Child)>()
    }
}

/// A binary subtree over an aligned run of slots, as the tree defines its
/// hash: empty, a lone leaf (which compression moves up until it meets a
/// sibling), or anything else, with its hash.
#[derive(Clone, Copy, Debug)]
enum Part {
    Empty,
    LoneLeaf(Hash),
    Other(Hash),
}

impl Part {
    fn of(slot: Option<&Option<Child>>) -> Part {
        match slot.copied().flatten() {
            None => Part::Empty,
            Some(child @ Child::Leaf { .. }) => Part::LoneLeaf(child.hash()),
            Some(child) => Part::Other(child.hash()),
        }
    }

    fn hash(self) -> Hash {
        match self {
            Part::Empty => EMPTY_SUBTREE,
            Part::LoneLeaf(hash) | Part::Other(hash) => hash,
        }
    }

    /// The subtree over two adjacent halves.
    fn join(left: Part, right: Part) -> Part {
        match (left, right) {
            (Part::Empty, Part::Empty) => Part::Empty,
            (Part::LoneLeaf(hash), Part::Empty) | (Part::Empty, Part::LoneLeaf(hash)) => {
                Part::LoneLeaf(hash)
            }
            (left, right) => Part::Other(interior_hash(&left.hash(), &right.hash())),
        }
    }
}

/// The subtree over slots `lo..hi` (a power-of-two aligned range).
fn range_part(slots: &Slots, lo: usize, hi: usize) -> Part {
    if hi - lo <= 1 {
        return Part::of(slots.get(lo));
    }
    let mid = lo + (hi - lo) / 2;
    Part::join(range_part(slots, lo, mid), range_part(slots, mid, hi))
}

/// The subtree over slots `4·index .. 4·index + 4`.
fn quarter_part(slots: &Slots, index: usize) -> Part {
    range_part(slots, 4 * index, 4 * index + 4)
}

/// A node's hash from its four quarters.
fn join_quarters(quarters: &[Part; 4]) -> Hash {
    let [a, b, c, d] = *quarters;
    Part::join(Part::join(a, b), Part::join(c, d)).hash()
}

/// The hash of the binary subtree over slots `lo..hi` (a power-of-two
/// aligned range), by the tree's definition: empty → [`EMPTY_SUBTREE`]; a
/// lone leaf → the leaf's hash (compression); else the node hash of the two
/// halves.
pub fn range_hash(slots: &Slots, lo: usize, hi: usize) -> Hash {
    range_part(slots, lo, hi).hash()
}

/// A stored node. `Empty` and `LeafRoot` appear only as the root record of a
/// version (the tree with no keys, the tree with one key).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Node {
    /// The empty tree's root record.
    Empty,
    /// The root record of a tree with exactly one key.
    LeafRoot(Child),
    /// An internal node, shared so that caches and write sets hold it
    /// without copying.
    Internal(Arc<InternalNode>),
}

const TAG_EMPTY: u8 = 0;
const TAG_INTERNAL: u8 = 1;
const TAG_LEAF_ROOT: u8 = 2;

impl Node {
    /// The subtree hash of this node.
    pub fn hash(&self) -> Hash {
        match self {
            Node::Empty => EMPTY_SUBTREE,
            Node::LeafRoot(child) => child.hash(),
            Node::Internal(node) => node.hash(),
        }
    }

    /// Canonical encoding. Internal: tag 1, u16 LE bitmap of present slots,
    /// u16 LE bitmap of leaf slots, then per present slot in order: version
    /// (u64 LE), hash (32) and, for a leaf, its position (32).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Node::Empty => vec![TAG_EMPTY],
            Node::LeafRoot(child) => {
                let mut out = Vec::with_capacity(1 + 72);
                out.push(TAG_LEAF_ROOT);
                encode_child(child, &mut out);
                out
            }
            Node::Internal(node) => {
                let mut present = 0u16;
                let mut leaves = 0u16;
                for (slot, child) in &node.entries {
                    present |= 1 << slot;
                    if child.is_leaf() {
                        leaves |= 1 << slot;
                    }
                }
                let mut out = Vec::with_capacity(5 + 16 * 72);
                out.push(TAG_INTERNAL);
                out.extend_from_slice(&present.to_le_bytes());
                out.extend_from_slice(&leaves.to_le_bytes());
                for (_, child) in &node.entries {
                    encode_child(child, &mut out);
                }
                out
            }
        }
    }

    /// Strict decoding of [`Node::encode`]'s output; stored bytes that are
    /// not canonical are reported as corruption.
    pub fn decode(bytes: &[u8]) -> Result<Node, StateTreeError> {
        let corrupt = |detail: &str| StateTreeError::Corrupt {
            detail: format!("node: {detail}"),
        };
        let (&tag, mut rest) = bytes.split_first().ok_or_else(|| corrupt("empty"))?;
        let node = match tag {
            TAG_EMPTY => Node::Empty,
            TAG_LEAF_ROOT => {
                let child = decode_child(&mut rest, true).ok_or_else(|| corrupt("short leaf"))?;
                Node::LeafRoot(child)
            }
            TAG_INTERNAL => {
                let (present, after) = rest
                    .split_first_chunk::<2>()
                    .ok_or_else(|| corrupt("short"))?;
                let (leaves, after) = after
                    .split_first_chunk::<2>()
                    .ok_or_else(|| corrupt("short"))?;
                rest = after;
                let present = u16::from_le_bytes(*present);
                let leaves = u16::from_le_bytes(*leaves);
                if leaves & !present != 0 {
                    return Err(corrupt("leaf bitmap outside present bitmap"));
                }
                let count = present.count_ones();
                if count == 0 || (count == 1 && leaves != 0) {
                    return Err(corrupt("internal node with fewer than two leaves beneath"));
                }
                // Every child takes at least a version and a hash: check
                // the bytes before reserving for the children.
                if rest.len() < count as usize * (8 + HASH_BYTES) {
                    return Err(corrupt("short child"));
                }
                let mut entries = Vec::with_capacity(count as usize);
                for slot in 0..16u8 {
                    if present & (1 << slot) != 0 {
                        let is_leaf = leaves & (1 << slot) != 0;
                        let child = decode_child(&mut rest, is_leaf)
                            .ok_or_else(|| corrupt("short child"))?;
                        entries.push((slot, child));
                    }
                }
                Node::Internal(Arc::new(InternalNode {
                    entries,
                    quarters: OnceLock::new(),
                }))
            }
            _ => return Err(corrupt("unknown tag")),
        };
        if !rest.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(node)
    }
}

fn encode_child(child: &Child, out: &mut Vec<u8>) {
    match child {
        Child::Internal { version, hash } => {
            out.extend_from_slice(&version.to_le_bytes());
            out.extend_from_slice(hash.as_bytes());
        }
        Child::Leaf {
            position,
            version,
            hash,
        } => {
            out.extend_from_slice(&version.to_le_bytes());
            out.extend_from_slice(hash.as_bytes());
            out.extend_from_slice(position.as_bytes());
        }
    }
}

fn decode_child(rest: &mut &[u8], is_leaf: bool) -> Option<Child> {
    let (version, after) = rest.split_first_chunk::<8>()?;
    let (hash, after) = after.split_first_chunk::<HASH_BYTES>()?;
    let version = u64::from_le_bytes(*version);
    let hash = Hash(*hash);
    if is_leaf {
        let (position, after) = after.split_first_chunk::<HASH_BYTES>()?;
        *rest = after;
        Some(Child::Leaf {
            position: Hash(*position),
            version,
            hash,
        })
    } else {
        *rest = after;
        Some(Child::Internal { version, hash })
    }
}

/// Key of a value record: position then version (big-endian).
pub fn leaf_key(position: &Hash, version: u64) -> [u8; LEAF_KEY_BYTES] {
    let mut key = [0u8; LEAF_KEY_BYTES];
    key[..HASH_BYTES].copy_from_slice(position.as_bytes());
    key[HASH_BYTES..].copy_from_slice(&version.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_key_roundtrip_and_order() {
        let mut path = NibblePath::ROOT;
        let mut keys = vec![NodeKey::root(3)];
        for nibble in [0xa, 0x3, 0xf] {
            path = path.child(nibble);
            keys.push(NodeKey { version: 3, path });
        }
        for key in &keys {
            assert_eq!(NodeKey::decode(&key.encode()).unwrap(), *key);
        }
        assert!(NodeKey::root(2).encode() < NodeKey::root(3).encode());
        assert_eq!(format!("{:?}", path), "0xa3f");
    }

    #[test]
    fn node_key_rejects_bad_padding() {
        let key = NodeKey {
            version: 1,
            path: NibblePath::ROOT.child(5),
        };
        let mut bytes = key.encode();
        *bytes.last_mut().unwrap() |= 1;
        assert!(NodeKey::decode(&bytes).is_err());
    }

    #[test]
    fn node_roundtrip() {
        let mut slots = Slots::default();
        slots[1] = Some(Child::Internal {
            version: 4,
            hash: Hash([1; 32]),
        });
        slots[9] = Some(Child::leaf(Hash([2; 32]), 5, &Hash([3; 32])));
        let node = InternalNode::from_slots(&slots);
        assert_eq!(node.slots(), slots);
        for node in [
            Node::Empty,
            Node::Internal(Arc::new(node.clone())),
            Node::LeafRoot(Child::leaf(Hash([7; 32]), 1, &Hash([8; 32]))),
        ] {
            let bytes = node.encode();
            assert_eq!(Node::decode(&bytes).unwrap(), node);
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Node::decode(&longer).is_err());
            for len in 0..bytes.len() {
                assert!(Node::decode(&bytes[..len]).is_err());
            }
        }
    }

    /// The tree's hash rule over slots `lo..hi`, written out directly (as
    /// `range_hash` was before it went through `Part`): the reference the
    /// quarters are checked against.
    fn reference_range_hash(slots: &Slots, lo: usize, hi: usize) -> Hash {
        let present: Vec<&Child> = slots[lo..hi].iter().flatten().collect();
        match present.as_slice() {
            [] => EMPTY_SUBTREE,
            [only] if only.is_leaf() || hi - lo == 1 => only.hash(),
            _ => {
                let mid = lo + (hi - lo) / 2;
                interior_hash(
                    &reference_range_hash(slots, lo, mid),
                    &reference_range_hash(slots, mid, hi),
                )
            }
        }
    }

    #[test]
    fn quarters_give_range_hash_also_after_changes() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 16
        };
        let random_slots = |bits: u64| {
            let (present, leaves) = (bits as u16, (bits >> 16) as u16);
            let mut slots = Slots::default();
            for (index, slot) in slots.iter_mut().enumerate() {
                if present & (1 << index) != 0 {
                    let byte = (index as u8) ^ (bits >> 32) as u8;
                    *slot = Some(if leaves & (1 << index) != 0 {
                        Child::leaf(Hash([byte; 32]), 1, &Hash([!byte; 32]))
                    } else {
                        Child::Internal {
                            version: 1,
                            hash: Hash([byte | 0x80; 32]),
                        }
                    });
                }
            }
            slots
        };
        for _ in 0..3_000 {
            let before = random_slots(next());
            let node = InternalNode::from_slots(&before);
            assert_eq!(node.hash(), reference_range_hash(&before, 0, 16));
            assert_eq!(
                range_hash(&before, 0, 8),
                reference_range_hash(&before, 0, 8)
            );
            // Change the slots of a random set of positions.
            let changed = next() as u16;
            let replacement = random_slots(next());
            let mut after = before;
            for (index, slot) in after.iter_mut().enumerate() {
                if changed & (1 << index) != 0 {
                    *slot = replacement[index];
                }
            }
            let (updated, hash) = InternalNode::with_changes(&after, Some((&node, changed)));
            assert_eq!(
                hash,
                reference_range_hash(&after, 0, 16),
                "changed {changed:016b}"
            );
            assert_eq!(updated.hash(), hash);
            assert_eq!(updated.slots(), after);
        }
    }

    #[test]
    fn lone_leaf_range_collapses() {
        let mut slots = Slots::default();
        let leaf = Child::leaf(Hash([2; 32]), 5, &Hash([3; 32]));
        let other = Child::leaf(Hash([0xf0; 32]), 5, &Hash([4; 32]));
        slots[2] = Some(leaf);
        slots[15] = Some(other);
        let node = InternalNode::from_slots(&slots);
        // Slots 0..8 hold only `leaf`: the left half is the leaf's own hash.
        assert_eq!(
            node.hash(),
            interior_hash(&leaf.hash(), &other.hash()),
            "lone leaves are compressed to the top of their range"
        );
    }
}
