//! State checkpoints: the thread that merges the in-memory versions of many
//! blocks ([`merge_versions`]) and writes them to the store as one atomic
//! batch, with pruning and the checkpoint's record.
//!
//! **Invariants:** one checkpoint at a time, in version order, each over
//! blocks that are already durable (the engine never checkpoints a block
//! whose own record could still be lost, so the state in the store is never
//! ahead of the blocks); a checkpoint's batch holds its merged state, the
//! pruning of versions that left the retention window and its record in
//! the `state_checkpoints` column, all or nothing. The record chain
//! (each record names the checkpoint before it) lets `open` find the last
//! checkpoint and the audit rebuild what the store must hold.

use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError};
use std::sync::Arc;

use crate::hash::Hash;
use crate::state_tree::{
    add_delta_to_batch, add_pruning_to_batch, merge_versions, Node, NodeCache, NodeKey,
    StateTreeWrites,
};
use crate::store::{Column, Durability, KeyRange, Store, StoreError, StoreRead, WriteBatch};

use super::records::{decode_height, height_key};
use super::LedgerError;

/// A state checkpoint's record (in `state_checkpoints`, under its height):
/// the previous checkpoint's height (u64 BE, `u64::MAX` for none) ‖ the
/// state root.
pub(crate) const CHECKPOINT_RECORD_BYTES: usize = 8 + 32;

/// A decoded checkpoint record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CheckpointRecord {
    pub(crate) height: u64,
    pub(crate) previous: Option<u64>,
    pub(crate) state_root: Hash,
}

impl CheckpointRecord {
    pub(crate) fn encode(&self) -> [u8; CHECKPOINT_RECORD_BYTES] {
        let mut out = [0u8; CHECKPOINT_RECORD_BYTES];
        let (previous, root) = out.split_at_mut(8);
        previous.copy_from_slice(&self.previous.unwrap_or(u64::MAX).to_be_bytes());
        root.copy_from_slice(&self.state_root.0);
        out
    }

    pub(crate) fn decode(key: &[u8], value: &[u8]) -> Result<Self, LedgerError> {
        let corrupt = |detail: &str| LedgerError::corrupt(Column::StateCheckpoints, key, detail);
        let height = decode_height(key).ok_or_else(|| corrupt("key is not a height"))?;
        let value = <[u8; CHECKPOINT_RECORD_BYTES]>::try_from(value)
            .map_err(|_| corrupt("record is not 40 bytes"))?;
        let (previous, root) = value.split_at(8);
        let previous = <[u8; 8]>::try_from(previous)
            .map(u64::from_be_bytes)
            .map_err(|_| corrupt("record is not 40 bytes"))?;
        let previous = (previous != u64::MAX).then_some(previous);
        if previous.is_some_and(|previous| previous >= height) {
            return Err(corrupt("the previous checkpoint is not older"));
        }
        let state_root = <[u8; 32]>::try_from(root)
            .map(Hash)
            .map_err(|_| corrupt("record is not 40 bytes"))?;
        Ok(CheckpointRecord {
            height,
            previous,
            state_root,
        })
    }
}

/// The last state checkpoint in `store`, if any.
pub(crate) fn last_checkpoint<S: StoreRead + ?Sized>(
    store: &S,
) -> Result<Option<CheckpointRecord>, LedgerError> {
    let mut last = None;
    // Bounded: pruning keeps at most the retained checkpoints.
    for entry in store.scan(Column::StateCheckpoints, KeyRange::all())? {
        let (key, value) = entry?;
        last = Some(CheckpointRecord::decode(&key, &value)?);
    }
    Ok(last)
}

/// One checkpoint for the thread: the versions to merge (oldest first),
/// the previous checkpoint, the state retention.
pub(super) struct CheckpointJob {
    pub(super) versions: Vec<Arc<StateTreeWrites>>,
    pub(super) base: Option<u64>,
    pub(super) retention: u64,
    /// Each version its own checkpoint (`LedgerConfig::keep_every_version`).
    pub(super) every_version: bool,
}

/// What a committed checkpoint reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CheckpointDone {
    pub(super) version: u64,
    pub(super) bytes: usize,
}

type Job = (
    CheckpointJob,
    SyncSender<Result<CheckpointDone, LedgerError>>,
);

/// The checkpoint thread (one for the ledger's life).
pub(super) struct Checkpointer {
    jobs: Option<Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    pub(super) fn start<S: Store + 'static>(
        store: Arc<S>,
        cache: Arc<NodeCache>,
    ) -> Result<Self, StoreError> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("ledger-checkpoint".into())
            .spawn(move || {
                for (job, done) in queue {
                    let _ = done.send(write_checkpoint(&*store, job, &cache));
                }
            })
            .map_err(|error| StoreError::Backend {
                detail: format!("cannot start the checkpoint thread: {error}"),
            })?;
        Ok(Checkpointer {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    pub(super) fn submit(&self, job: CheckpointJob) -> Result<PendingCheckpoint, LedgerError> {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send((job, done)).ok())
            .ok_or_else(|| LedgerError::Store(stopped()))?;
        Ok(PendingCheckpoint {
            done: Some(parking_lot::Mutex::new(result)),
        })
    }
}

impl Drop for Checkpointer {
    /// Ends the thread after its last checkpoint.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Backend {
        detail: "the checkpoint thread stopped".into(),
    }
}

/// A checkpoint being written.
pub(super) struct PendingCheckpoint {
    /// In a mutex only so that the ledger stays `Sync` (it is only used
    /// through `&mut self`).
    done: Option<parking_lot::Mutex<Receiver<Result<CheckpointDone, LedgerError>>>>,
}

impl PendingCheckpoint {
    /// Waits for it; `None` if already collected.
    pub(super) fn wait(&mut self) -> Option<Result<CheckpointDone, LedgerError>> {
        let done = self.done.take()?;
        Some(
            done.into_inner()
                .recv()
                .unwrap_or_else(|_| Err(LedgerError::Store(stopped()))),
        )
    }

    /// Its result if it has ended.
    pub(super) fn poll(&mut self) -> Option<Result<CheckpointDone, LedgerError>> {
        let done = self.done.as_ref()?;
        let result = match done.lock().try_recv() {
            Ok(result) => result,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => Err(LedgerError::Store(stopped())),
        };
        self.done = None;
        Some(result)
    }
}

impl Drop for PendingCheckpoint {
    fn drop(&mut self) {
        // A ledger dropped mid-checkpoint lets it finish (or fail): either
        // way reopening finds the last good checkpoint.
        let _ = self.wait();
    }
}

/// Merges, prunes and commits one checkpoint, then puts its nodes in
/// `cache`: the engine reads the versions it holds in memory from its
/// layers, and the checkpointed ones through the cache, so the nodes must be
/// there before the engine drops the versions that wrote them (it does so
/// once this returns).
pub(super) fn write_checkpoint<S: Store + ?Sized>(
    store: &S,
    job: CheckpointJob,
    cache: &NodeCache,
) -> Result<CheckpointDone, LedgerError> {
    // Merged: one checkpoint at the newest version. Every version: one
    // checkpoint per version, in version order, in the same batch.
    let groups: Vec<&[Arc<StateTreeWrites>]> = if job.every_version {
        job.versions.chunks(1).collect()
    } else {
        vec![&job.versions[..]]
    };
    let mut batch = WriteBatch::new();
    let mut base = job.base;
    let mut height = job.base.unwrap_or(0);
    let mut written: Vec<(u64, Vec<crate::state_tree::StaleEntry>)> = Vec::new();
    let mut nodes: Vec<(NodeKey, Node)> = Vec::new();
    for group in groups {
        let refs: Vec<&StateTreeWrites> = group.iter().map(|writes| &**writes).collect();
        let delta = merge_versions(base, &refs);
        height = delta.version;
        add_delta_to_batch(&delta, &mut batch);
        let record = CheckpointRecord {
            height,
            previous: base,
            state_root: delta.root_hash,
        };
        batch.put(
            Column::StateCheckpoints,
            height_key(height).to_vec(),
            record.encode().to_vec(),
        );
        written.push((height, delta.stale));
        nodes.extend(delta.nodes);
        base = Some(height);
    }
    if height >= job.retention {
        let oldest_kept = height - job.retention;
        // What older versions alone need: in the store, and in this batch
        // (deletes after the puts they undo; a batch applies in order).
        add_pruning_to_batch(store, oldest_kept, &mut batch)?;
        for (version, stale) in written
            .iter()
            .filter(|(version, _)| *version <= oldest_kept)
        {
            for (column, key) in crate::state_tree::stale_keys(stale) {
                batch.delete(column, key);
            }
            batch.delete(Column::StateStale, version.to_be_bytes().to_vec());
        }
        let new_heights: Vec<u64> = written.iter().map(|(version, _)| *version).collect();
        prune_checkpoint_records(store, oldest_kept, &new_heights, &mut batch)?;
    }
    let bytes = batch.payload_bytes();
    store.commit(batch, Durability::Synced)?;
    for (key, node) in nodes {
        cache.insert(key, node);
    }
    Ok(CheckpointDone {
        version: height,
        bytes,
    })
}

/// Deletes the records of checkpoints older than the newest one at or
/// before `oldest_kept` (which stays: it is where the audit starts), among
/// those stored and those of this batch (`new`, ascending).
fn prune_checkpoint_records<S: StoreRead + ?Sized>(
    store: &S,
    oldest_kept: u64,
    new: &[u64],
    batch: &mut WriteBatch,
) -> Result<(), LedgerError> {
    let end = oldest_kept.saturating_add(1);
    let mut older: Vec<u64> = Vec::new();
    for entry in store.scan(
        Column::StateCheckpoints,
        KeyRange::between(Vec::new(), height_key(end).to_vec()),
    )? {
        let (key, _) = entry?;
        let height = decode_height(&key).ok_or_else(|| {
            LedgerError::corrupt(Column::StateCheckpoints, &key, "key is not a height")
        })?;
        older.push(height);
    }
    older.extend(new.iter().copied().filter(|height| *height <= oldest_kept));
    // The newest of them stays.
    older.pop();
    for height in older {
        batch.delete(Column::StateCheckpoints, height_key(height).to_vec());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_damage() {
        let record = CheckpointRecord {
            height: 9,
            previous: Some(4),
            state_root: Hash([7; 32]),
        };
        let key = height_key(9);
        assert_eq!(
            CheckpointRecord::decode(&key, &record.encode()).expect("valid"),
            record
        );
        let first = CheckpointRecord {
            previous: None,
            ..record
        };
        assert_eq!(
            CheckpointRecord::decode(&key, &first.encode()).expect("valid"),
            first
        );
        assert!(CheckpointRecord::decode(&key, &record.encode()[..39]).is_err());
        assert!(CheckpointRecord::decode(&key[..7], &record.encode()).is_err());
        let later = CheckpointRecord {
            previous: Some(9),
            ..record
        };
        assert!(CheckpointRecord::decode(&key, &later.encode()).is_err());
    }
}
