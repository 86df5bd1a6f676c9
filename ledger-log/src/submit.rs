//! One witness's submission loop, and the issuance by time.
//!
//! The loop always submits the newest stored checkpoint (a lagging witness
//! skips the ones between), with the consistency proof from the size the
//! witness last cosigned (0 at first: no proof). A 409 names the witness's
//! size: the request is rebuilt from it at once (at most
//! [`MAX_CONFLICT_RETRIES`] times in a row). A cosignature is verified with
//! the witness's key and stored before it counts. A refusal (400, 403, 404,
//! 413, 422...) is final for that checkpoint: the next one is submitted.
//! Anything else — connection refused or reset, timeout, 5xx, 408, 429, a
//! body too large or not a valid cosignature — is retried after a delay
//! that doubles from `backoff_min` to `backoff_max`, drawn from its upper
//! half (jitter).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_core::checkpoint::{Note, NoteSignature};
use ledger_witness::request::AddCheckpointRequest;
use tokio::sync::watch;

use crate::history::HistorySource;
use crate::http::post_add_checkpoint;
use crate::log::{Shared, Witness};
use crate::MAX_CONFLICT_RETRIES;

/// What one attempt came to.
enum Outcome {
    /// Cosigned and stored.
    Cosigned,
    /// 409: the witness's size.
    Conflict(u64),
    /// Refused for good (this checkpoint).
    Refused,
    /// Try again later.
    Retry,
}

/// Waits for `duration` or the shutdown; `false` on shutdown.
async fn sleep_or_stop(shutdown: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    let stopped = tokio::select! {
        () = tokio::time::sleep(duration) => false,
        _ = shutdown.wait_for(|stop| *stop) => true,
    };
    !stopped && !*shutdown.borrow()
}

/// The retry delay after `failures` failures in a row: doubling from `min`,
/// capped at `max`, drawn uniformly from its upper half.
fn backoff(failures: u32, min: Duration, max: Duration) -> Duration {
    let full = min
        .saturating_mul(1u32 << failures.min(20))
        .min(max)
        .max(Duration::from_millis(1));
    let half = full / 2;
    let jitter_ms = rand::random::<u64>() % (half.as_millis() as u64 + 1);
    half + Duration::from_millis(jitter_ms)
}

pub(crate) async fn run<H: HistorySource + 'static>(shared: Arc<Shared<H>>, witness: Arc<Witness>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut latest = shared.latest.subscribe();
    // The size the witness has cosigned, as far as we know: where the
    // next proof starts.
    let mut known = witness.status.lock().cosigned_size.unwrap_or(0);
    let mut failures = 0u32;
    let mut conflicts = 0u32;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let target = *latest.borrow_and_update();
        let (cosigned, refused) = {
            let status = witness.status.lock();
            (status.cosigned_size, status.refused_size)
        };
        if target == 0 || cosigned >= Some(target) || refused == Some(target) {
            tokio::select! {
                changed = latest.changed() => if changed.is_err() { return },
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            continue;
        }
        match attempt(&shared, &witness, known, target).await {
            Outcome::Cosigned => {
                known = target;
                failures = 0;
                conflicts = 0;
            }
            Outcome::Conflict(size) if conflicts < MAX_CONFLICT_RETRIES => {
                known = size;
                conflicts += 1;
            }
            Outcome::Refused => {
                conflicts = 0;
                witness.status.lock().refused_size = Some(target);
            }
            Outcome::Conflict(_) | Outcome::Retry => {
                conflicts = 0;
                let delay = backoff(
                    failures,
                    shared.config.client.backoff_min,
                    shared.config.client.backoff_max,
                );
                failures = failures.saturating_add(1);
                if !sleep_or_stop(&mut shutdown, delay).await {
                    return;
                }
            }
        }
    }
}

/// One request for the newest checkpoint (`target`), from `known`.
async fn attempt<H: HistorySource + 'static>(
    shared: &Arc<Shared<H>>,
    witness: &Arc<Witness>,
    known: u64,
    target: u64,
) -> Outcome {
    let fail = |error: String| {
        witness.status.lock().last_error = Some(error);
        Outcome::Retry
    };
    let Some(note) = shared
        .journal
        .lock()
        .get(target)
        .map(|c| c.note.encode().into_bytes())
    else {
        return fail(format!("checkpoint {target} no longer retained"));
    };
    if known > target {
        return fail(format!(
            "the witness is at size {known}, above ours ({target})"
        ));
    }
    let source = Arc::clone(shared);
    let proof =
        tokio::task::spawn_blocking(move || source.source.consistency_proof(known, target)).await;
    let proof = match proof {
        Ok(Ok(proof)) => proof,
        Ok(Err(e)) => return fail(format!("consistency proof {known}→{target}: {e}")),
        Err(e) => return fail(format!("consistency proof task: {e}")),
    };
    let body = AddCheckpointRequest {
        old_size: known,
        proof,
        note,
    }
    .encode();
    witness.status.lock().requests += 1;
    let response =
        match post_add_checkpoint(&witness.url, body, shared.config.client.request_timeout).await {
            Ok(response) => response,
            Err(e) => return fail(e.to_string()),
        };
    witness.status.lock().last_status = Some(response.status);
    match response.status {
        200 => match cosignature(shared, witness, target, &response.body) {
            Ok(signature) => store(shared, witness, target, signature).await,
            Err(e) => fail(format!("200 without a valid cosignature: {e}")),
        },
        409 => match parse_size(&response.body) {
            Some(size) => Outcome::Conflict(size),
            None => fail("409 without a size".into()),
        },
        408 | 429 | 500..=599 => fail(format!("status {}", response.status)),
        status @ 400..=499 => {
            witness.status.lock().last_error = Some(format!(
                "refused ({status}): {}",
                String::from_utf8_lossy(&response.body).trim_end()
            ));
            Outcome::Refused
        }
        status => fail(format!("unexpected status {status}")),
    }
}

/// The witness's cosignature line of checkpoint `target`, verified with
/// its key (lines by other keys are ignored; one by its key that does not
/// verify fails the answer).
fn cosignature<H: HistorySource>(
    shared: &Shared<H>,
    witness: &Witness,
    target: u64,
    body: &[u8],
) -> Result<NoteSignature, String> {
    let text = shared
        .journal
        .lock()
        .get(target)
        .map(|c| c.note.text().to_owned())
        .ok_or("checkpoint no longer retained")?;
    let body = std::str::from_utf8(body).map_err(|_| "not UTF-8")?;
    let note = Note::parse(format!("{text}\n{body}").as_bytes()).map_err(|e| e.to_string())?;
    let key = &witness.key;
    let verified = note
        .verify_known(std::slice::from_ref(key))
        .map_err(|e| e.to_string())?;
    if !verified
        .iter()
        .any(|v| v.key_index == 0 && v.timestamp.is_some())
    {
        return Err("no cosignature by the witness's key".into());
    }
    note.signatures()
        .iter()
        .find(|s| s.name() == key.name() && s.key_id() == key.key_id())
        .cloned()
        .ok_or_else(|| "no cosignature by the witness's key".into())
}

async fn store<H: HistorySource + 'static>(
    shared: &Arc<Shared<H>>,
    witness: &Arc<Witness>,
    target: u64,
    signature: NoteSignature,
) -> Outcome {
    let journal = Arc::clone(shared);
    let stored = tokio::task::spawn_blocking(move || {
        journal
            .journal
            .lock()
            .append_cosignature(target, &signature)
    })
    .await;
    let mut status = witness.status.lock();
    match stored {
        Ok(Ok(_)) => {
            status.cosigned_size = Some(target);
            status.last_error = None;
            Outcome::Cosigned
        }
        Ok(Err(e)) => {
            status.last_error = Some(format!("storing the cosignature: {e}"));
            Outcome::Retry
        }
        Err(e) => {
            status.last_error = Some(format!("storing the cosignature: {e}"));
            Outcome::Retry
        }
    }
}

/// A 409's body: the witness's size, one decimal line.
fn parse_size(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.strip_suffix('\n').unwrap_or(text);
    let canonical = !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    canonical.then(|| line.parse().ok()).flatten()
}

/// Issues checkpoints that are due by time, every `issuance_poll`.
pub(crate) async fn issue_by_time<H: HistorySource + 'static>(shared: Arc<Shared<H>>) {
    let mut shutdown = shared.shutdown.subscribe();
    while sleep_or_stop(&mut shutdown, shared.config.client.issuance_poll).await {
        let issuer = Arc::clone(&shared);
        let issued =
            tokio::task::spawn_blocking(move || issuer.issue_if_due_at(Instant::now())).await;
        let error = match issued {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        *shared.issue_error.lock() = error;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_bounds() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(3));
        for failures in 0..40 {
            let full = (min * 2u32.pow(failures.min(20))).min(max);
            let delay = backoff(failures, min, max);
            assert!(delay >= full / 2 && delay <= full, "{failures}: {delay:?}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size(b"11\n"), Some(11));
        assert_eq!(parse_size(b"0"), Some(0));
        for bad in [
            &b""[..],
            b"011\n",
            b"1 1",
            b"-1",
            b"99999999999999999999999",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }
}
