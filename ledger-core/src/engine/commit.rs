//! The overlapped commit: one long-lived thread that commits blocks' batches
//! in order, and the block in flight. (A block's batch holds no state: its
//! state stays in memory until a state checkpoint, so execution of the next
//! block reads it from there whether or not the block is durable yet.)
//!
//! **Invariant:** at most one block is in flight, and it is the applied
//! head; the durable head is the block before it until its commit returns.

use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError};
use std::sync::Arc;

use super::Head;
use crate::store::{Durability, Store, StoreError, WriteBatch};

/// A commit running on the commit thread, and the durable head meanwhile.
pub(super) struct InFlight {
    done: Option<Receiver<Result<(), StoreError>>>,
    /// The durable head while this commit runs: the block before it.
    pub(super) durable_before: Option<Head>,
}

impl InFlight {
    pub(super) fn new(
        done: Receiver<Result<(), StoreError>>,
        durable_before: Option<Head>,
    ) -> Self {
        InFlight {
            done: Some(done),
            durable_before,
        }
    }

    /// Waits for the commit; the second call returns `Ok` at once.
    pub(super) fn wait(&mut self) -> Result<(), StoreError> {
        match self.done.take() {
            None => Ok(()),
            Some(done) => done.recv().unwrap_or_else(|_| Err(stopped())),
        }
    }

    /// The commit's result if it has ended, without waiting.
    pub(super) fn poll(&mut self) -> Option<Result<(), StoreError>> {
        let done = self.done.as_ref()?;
        let result = match done.try_recv() {
            Ok(result) => result,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => Err(stopped()),
        };
        self.done = None;
        Some(result)
    }
}

impl Drop for InFlight {
    /// A ledger dropped mid-commit finishes the commit first.
    fn drop(&mut self) {
        // Nobody is left to report an error to; reopening finds the last
        // durable block.
        let _ = self.wait();
    }
}

fn stopped() -> StoreError {
    StoreError::Backend {
        detail: "the commit thread stopped".into(),
    }
}

/// One commit for the commit thread: the batch, its durability, and where
/// to send the result.
type CommitJob = (WriteBatch, Durability, SyncSender<Result<(), StoreError>>);

/// The long-lived thread of the overlapped mode that commits batches in
/// the order it receives them (one thread for the ledger's life: a new
/// thread per block would pay its start-up and the store's per-thread state
/// every time).
pub(super) struct Committer {
    jobs: Option<Sender<CommitJob>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Committer {
    pub(super) fn start<S: Store + 'static>(store: Arc<S>) -> Result<Self, StoreError> {
        let (jobs, queue) = std::sync::mpsc::channel::<CommitJob>();
        let thread = std::thread::Builder::new()
            .name("ledger-commit".into())
            .spawn(move || {
                for (batch, durability, done) in queue {
                    // The receiver may be gone (a ledger dropped mid-commit
                    // does not wait for this result); the commit still ends.
                    let _ = done.send(store.commit(batch, durability));
                }
            })
            .map_err(|error| StoreError::Backend {
                detail: format!("cannot start the commit thread: {error}"),
            })?;
        Ok(Committer {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queues a commit; the receiver gets its result.
    pub(super) fn submit(
        &self,
        batch: WriteBatch,
        durability: Durability,
    ) -> Result<Receiver<Result<(), StoreError>>, StoreError> {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send((batch, durability, done)).ok())
            .ok_or_else(stopped)?;
        Ok(result)
    }
}

impl Drop for Committer {
    /// Ends the thread after its last commit, so that the store is closed
    /// (and its lock released) when the ledger's drop returns.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            // A panic in the thread was already reported as a stopped
            // commit thread.
            let _ = thread.join();
        }
    }
}
