//! The history tree served as c2sp.org/tlog-tiles: hash tiles from the
//! stored perfect subtrees, and entry bundles from the stored headers
//! (each leaf of the history tree is a block's encoded header).
//!
//! Paths, widths and which tiles exist for a tree size are
//! [`crate::merkle::tiles`]; here only the reads.

use crate::machine::StateMachine;
use crate::merkle::tiles::{tile_hashes, TileError, TileKind, TileRequest};
use crate::store::{Column, Store};

use super::open::StoredHistory;
use super::records::height_key;
use super::{Ledger, LedgerError};

/// Bytes of an entry's length prefix in an entry bundle (big-endian u16).
pub const ENTRY_LENGTH_PREFIX_BYTES: usize = 2;

// Every entry (an encoded header) fits a bundle's u16 length prefix.
const _: () = assert!(crate::limits::HEADER_BYTES <= u16::MAX as u32);

impl<S: Store, M: StateMachine> Ledger<S, M> {
    /// The contents of a tile of the history tree of `tree_size` blocks
    /// (a checkpoint's size, at most the durable head's height + 1): for a
    /// hash tile, its `W` hashes (`W · 32` bytes); for an entry bundle, its
    /// `W` entries, each a big-endian u16 length and the block's encoded
    /// header. `None` if the tile is not within that tree
    /// ([`TileRequest::check_within`]).
    ///
    /// # Errors
    /// [`LedgerError::HeightUnavailable`] if `tree_size` is above the
    /// blocks stored; store errors; [`LedgerError::Corrupt`] for a missing
    /// or damaged node or header.
    pub fn history_tile(
        &self,
        tile: &TileRequest,
        tree_size: u64,
    ) -> Result<Option<Vec<u8>>, LedgerError> {
        self.settle()?;
        if tree_size > self.history.size() {
            return Err(LedgerError::HeightUnavailable {
                height: tree_size,
                oldest: 0,
                head: self.applied_height(),
            });
        }
        match tile.kind {
            TileKind::Hashes { .. } => {
                match tile_hashes(&StoredHistory(&*self.store), tile, tree_size) {
                    Ok(hashes) => Ok(Some(hashes)),
                    Err(TileError::NotInTree { .. }) => Ok(None),
                    Err(TileError::History(error)) => Err(error.into()),
                }
            }
            TileKind::Entries => self.entry_bundle(tile, tree_size),
        }
    }

    fn entry_bundle(
        &self,
        tile: &TileRequest,
        tree_size: u64,
    ) -> Result<Option<Vec<u8>>, LedgerError> {
        let Ok((start, end)) = tile.check_within(tree_size) else {
            return Ok(None);
        };
        let header_bytes = crate::limits::HEADER_BYTES as usize;
        let mut out = Vec::with_capacity(
            usize::from(tile.width) * (ENTRY_LENGTH_PREFIX_BYTES + header_bytes),
        );
        for height in start..end {
            let header = self.header_at(height)?.ok_or_else(|| {
                LedgerError::corrupt(Column::Blocks, &height_key(height), "missing")
            })?;
            let entry = header.encode();
            // Cannot truncate: an encoded header is HEADER_BYTES long,
            // below u16::MAX (asserted above).
            let len = u16::try_from(entry.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&entry);
        }
        Ok(Some(out))
    }
}
