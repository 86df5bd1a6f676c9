//! The history tree as c2sp.org/tlog-tiles tiles: tile paths (parsed
//! strictly, written canonically) and the hashes of a tile, read from
//! stored perfect subtrees.
//!
//! A tile at level `L`, index `N`, holds the hashes of tree level `8·L`
//! (the roots of perfect subtrees of `256^L` leaves) numbered
//! `256·N … 256·N + W − 1`: `W = 256` for a full tile, `1 ≤ W ≤ 255` for a
//! partial one (path suffix `.p/W`). Level-0 hashes are leaf hashes; an entry
//! bundle (`tile/entries/N[.p/W]`) holds the leaves themselves, the encoded
//! block headers. Every hash in a tile is a *perfect* subtree, so a tile's
//! contents never change once the tree has grown past it; which tiles exist
//! for a tree size is [`TileRequest::check_within`].
//!
//! Pure: no I/O of its own; hashes come through [`HistoryNodes`].

use super::history::{HistoryError, HistoryNodes, NodePosition};

/// Hashes in a full tile (and entries in a full bundle).
pub const TILE_WIDTH: u16 = 256;

/// Tree levels a tile spans: level `L` tiles hold tree level `8·L`.
pub const TILE_HEIGHT: u8 = 8;

/// Bytes of a hash in a tile.
pub const TILE_HASH_BYTES: usize = 32;

/// Longest tile path [`TileRequest::parse`] reads (after `tile/`): the
/// longest canonical one is `entries/` + 7 index elements
/// (`x018/x446/x744/x073/x709/x551/615`, u64::MAX) + `.p/255`, 42 bytes.
pub const MAX_TILE_PATH_BYTES: usize = 64;

/// Highest tile level in a path (the specification's bound). Level 8 and
/// above would hold subtrees of `2^64` leaves or more: never in a tree.
pub const MAX_TILE_LEVEL: u8 = 63;

/// Which resource a tile path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// Hashes of tree level `8 · level`.
    Hashes {
        /// The tile level `L`.
        level: u8,
    },
    /// An entry bundle: the leaves (encoded block headers).
    Entries,
}

/// A parsed tile path: `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TileRequest {
    /// Hash tile or entry bundle.
    pub kind: TileKind,
    /// The tile index `N` within its level.
    pub index: u64,
    /// Width `W`: 256 for a full tile, 1 ..= 255 for a partial one.
    pub width: u16,
}

/// Why a tile path is malformed (an HTTP 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TilePathError {
    /// Longer than [`MAX_TILE_PATH_BYTES`].
    #[error("tile path of {len} bytes is over the limit of {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The level is not a decimal 0 ..= 63 without leading zeros.
    #[error("tile level is not a decimal 0..=63 without leading zeros")]
    Level,
    /// The index is not canonical `xDDD/…/DDD` path elements.
    #[error("tile index is not canonical zero-padded 3-digit elements")]
    Index,
    /// The width is not a decimal 1 ..= 255 without leading zeros.
    #[error("partial tile width is not a decimal 1..=255 without leading zeros")]
    Width,
}

/// Why a tile cannot be served for a tree size (an HTTP 404), or could not
/// be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// The tile reaches past the tree: its last hash (or entry) is not a
    /// perfect subtree (a leaf) of the tree of `tree_size` leaves.
    #[error("tile {path} is not within the tree of {tree_size} leaves")]
    NotInTree {
        /// The tile's path.
        path: String,
        /// The tree size.
        tree_size: u64,
    },
    /// Reading a stored hash failed.
    #[error("reading the tile's hashes failed")]
    History(#[from] HistoryError),
}

/// A decimal without leading zeros (`0` itself allowed), at most `max`.
fn parse_decimal(text: &str, max: u64) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.len() <= 20
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    let value: u64 = text.parse().ok().filter(|_| canonical)?;
    (value <= max).then_some(value)
}

/// `xDDD/…/xDDD/DDD`: all but the last element start with `x`, each
/// exactly three digits, and the first is not `x000` (canonical).
fn parse_index(text: &str) -> Option<u64> {
    let mut elements = text.split('/').peekable();
    let mut index = 0u64;
    let mut first = true;
    while let Some(element) = elements.next() {
        let last = elements.peek().is_none();
        let digits = if last {
            element
        } else {
            element.strip_prefix('x')?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: u64 = digits.parse().ok()?;
        if first && !last && value == 0 {
            return None;
        }
        first = false;
        index = index.checked_mul(1000)?.checked_add(value)?;
    }
    Some(index)
}

/// Writes `index` as tile path elements (`1234067` → `x001/x234/067`).
fn write_index(index: u64, out: &mut String) {
    let mut groups = Vec::with_capacity(7);
    let mut rest = index;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    for (i, group) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{group:03}/"));
        } else {
            out.push_str(&format!("{group:03}"));
        }
    }
}

impl TileRequest {
    /// Parses a tile path after `tile/`: `<L>/<N>[.p/<W>]` or
    /// `entries/<N>[.p/<W>]`, strictly (only the canonical spelling of each
    /// tile is accepted, so `parse(t.path()) == t`).
    pub fn parse(path: &str) -> Result<Self, TilePathError> {
        if path.len() > MAX_TILE_PATH_BYTES {
            return Err(TilePathError::TooLong {
                len: path.len(),
                max: MAX_TILE_PATH_BYTES,
            });
        }
        let (head, rest) = path.split_once('/').ok_or(TilePathError::Level)?;
        let kind = if head == "entries" {
            TileKind::Entries
        } else {
            let level =
                parse_decimal(head, u64::from(MAX_TILE_LEVEL)).ok_or(TilePathError::Level)?;
            TileKind::Hashes {
                // Cannot truncate: at most MAX_TILE_LEVEL (63).
                level: u8::try_from(level).unwrap_or(MAX_TILE_LEVEL),
            }
        };
        let (index_text, width) = match rest.split_once(".p/") {
            Some((index_text, width_text)) => {
                let width = parse_decimal(width_text, u64::from(TILE_WIDTH) - 1)
                    .filter(|&width| width >= 1)
                    .ok_or(TilePathError::Width)?;
                // Cannot truncate: at most 255.
                (index_text, u16::try_from(width).unwrap_or(TILE_WIDTH - 1))
            }
            None => (rest, TILE_WIDTH),
        };
        let index = parse_index(index_text).ok_or(TilePathError::Index)?;
        Ok(TileRequest { kind, index, width })
    }

    /// The canonical path, with the `tile/` prefix.
    pub fn path(&self) -> String {
        let mut out = String::with_capacity(48);
        out.push_str("tile/");
        match self.kind {
            TileKind::Hashes { level } => out.push_str(&format!("{level}/")),
            TileKind::Entries => out.push_str("entries/"),
        }
        write_index(self.index, &mut out);
        if !self.is_full() {
            out.push_str(&format!(".p/{}", self.width));
        }
        out
    }

    /// Whether it is a full tile (256 wide), whose path is immutable.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The tree level its hashes are at (0 for entries: leaves).
    pub fn tree_level(&self) -> u32 {
        match self.kind {
            TileKind::Hashes { level } => u32::from(level) * u32::from(TILE_HEIGHT),
            TileKind::Entries => 0,
        }
    }

    /// The first and one-past-last positions of its hashes (entries) among
    /// the nodes of its tree level, if they fit in a `u64`.
    pub fn node_range(&self) -> Option<(u64, u64)> {
        let start = self.index.checked_mul(u64::from(TILE_WIDTH))?;
        Some((start, start.checked_add(u64::from(self.width))?))
    }

    /// Whether the tile exists for a tree of `tree_size` leaves: every hash
    /// it holds is a perfect subtree of that tree (every entry a leaf). So a
    /// full tile once the tree has grown past it, and a partial tile of any
    /// width whose hashes are all complete (the content of a path never
    /// changes; the specification lets a log keep serving partial tiles).
    pub fn check_within(&self, tree_size: u64) -> Result<(u64, u64), TileError> {
        let not_in_tree = || TileError::NotInTree {
            path: self.path(),
            tree_size,
        };
        let complete = tree_size
            .checked_shr(self.tree_level())
            .filter(|_| self.tree_level() < 64)
            .ok_or_else(not_in_tree)?;
        match self.node_range() {
            Some((start, end)) if end <= complete => Ok((start, end)),
            _ => Err(not_in_tree()),
        }
    }
}

/// The hashes of a hash tile (`W · 32` bytes, concatenated) in the tree of
/// `tree_size` leaves whose perfect subtrees `nodes` holds: tree level
/// `8 · L`, nodes `256 · N … 256 · N + W − 1`. For an entry bundle's
/// request it gives the level-0 tile of the same index and width (the
/// leaf hashes of its entries).
///
/// # Errors
/// [`TileError::NotInTree`] if the tile is not within the tree
/// ([`TileRequest::check_within`]); [`TileError::History`] if a node is
/// missing or unreadable.
pub fn tile_hashes<N: HistoryNodes + ?Sized>(
    nodes: &N,
    tile: &TileRequest,
    tree_size: u64,
) -> Result<Vec<u8>, TileError> {
    let (start, end) = tile.check_within(tree_size)?;
    // Cannot truncate: check_within passed, so the level is below 64.
    let level = u8::try_from(tile.tree_level()).unwrap_or(u8::MAX);
    let mut out = Vec::with_capacity(usize::from(tile.width) * TILE_HASH_BYTES);
    for index in start..end {
        let position = NodePosition { level, index };
        let hash = nodes.node(position)?.ok_or(HistoryError::MissingNode {
            level: position.level,
            index: position.index,
        })?;
        out.extend_from_slice(hash.as_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a panic in a test is a failing test")]

    use super::*;

    #[test]
    fn parses_and_writes_canonical_paths() {
        for (path, kind, index, width) in [
            ("0/000", TileKind::Hashes { level: 0 }, 0, 256),
            (
                "1/x001/x234/067",
                TileKind::Hashes { level: 1 },
                1_234_067,
                256,
            ),
            ("entries/067.p/8", TileKind::Entries, 67, 8),
            ("63/999.p/255", TileKind::Hashes { level: 63 }, 999, 255),
            (
                "entries/x018/x446/x744/x073/x709/x551/615.p/255",
                TileKind::Entries,
                u64::MAX,
                255,
            ),
        ] {
            let tile = TileRequest::parse(path).unwrap();
            assert_eq!(tile, TileRequest { kind, index, width });
            assert_eq!(tile.path(), format!("tile/{path}"));
        }
    }

    #[test]
    fn refuses_non_canonical_paths() {
        for path in [
            "",
            "0",
            "00/000",
            "01/000",
            "64/000",
            "0/0",
            "0/00",
            "0/0000",
            "0/x000/001",
            "0/001/002",
            "0/x01/002",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/08",
            "0/000.p/",
            "0/000.p",
            "x/000",
            "0/+01",
            "0/x018/x446/x744/x073/x709/x551/616",
            "entries/",
            "0/000/",
            "0/000.p/1/2",
            "-1/000",
            "0/ 01",
        ] {
            assert!(TileRequest::parse(path).is_err(), "{path:?}");
        }
        let long = format!("0/{}", "x001/".repeat(20));
        assert!(matches!(
            TileRequest::parse(&long),
            Err(TilePathError::TooLong { .. })
        ));
    }

    #[test]
    fn tiles_within_a_tree() {
        // The specification's example: a tree of 70,000 leaves has 273 full
        // level-0 tiles, a partial one of 112, one full level-1 tile, a
        // partial one of 17, and a partial level-2 tile of 1.
        let tile = |level, index, width| TileRequest {
            kind: TileKind::Hashes { level },
            index,
            width,
        };
        let size = 70_000;
        assert!(tile(0, 272, 256).check_within(size).is_ok());
        assert!(tile(0, 273, 256).check_within(size).is_err());
        assert!(tile(0, 273, 112).check_within(size).is_ok());
        assert!(tile(0, 273, 113).check_within(size).is_err());
        assert!(tile(1, 0, 256).check_within(size).is_ok());
        assert!(tile(1, 1, 17).check_within(size).is_ok());
        assert!(tile(1, 1, 18).check_within(size).is_err());
        assert!(tile(2, 0, 1).check_within(size).is_ok());
        assert!(tile(2, 0, 2).check_within(size).is_err());
        assert!(tile(3, 0, 1).check_within(size).is_err());
        assert!(tile(8, 0, 1).check_within(u64::MAX).is_err());
        assert!(tile(0, u64::MAX, 1).check_within(u64::MAX).is_err());
    }
}
