//! The journal at its boundaries: recovery, torn tails, corruption, limits.

#![allow(clippy::unwrap_used, reason = "a panic in a test is a failing test")]

use super::*;
use ledger_core::checkpoint::{SignatureType, SignerKey};

fn log_key() -> SignerKey {
    SignerKey::new("log.test/j", SignatureType::Ed25519, &[7; 32]).unwrap()
}

fn note(key: &SignerKey, size: u64) -> Note {
    let text = Checkpoint::new(key.name(), size, [size as u8; 32])
        .unwrap()
        .to_text();
    Note::sign(&text, key).unwrap()
}

fn witness() -> SignerKey {
    SignerKey::new("w.test/1", SignatureType::CosignatureV1, &[9; 32]).unwrap()
}

#[test]
fn recovers_checkpoints_and_cosignatures() {
    let dir = tempfile::tempdir().unwrap();
    let key = log_key();
    {
        let mut journal = CheckpointJournal::open(dir.path(), &key.verifier_key()).unwrap();
        for size in [1, 3, 7] {
            journal.append_checkpoint(&note(&key, size)).unwrap();
        }
        let text = note(&key, 3).text().to_owned();
        let cosig = witness().cosign(&text, 1_700_000_000).unwrap();
        assert!(journal.append_cosignature(3, &cosig).unwrap());
        assert!(
            !journal.append_cosignature(3, &cosig).unwrap(),
            "one per key"
        );
        // Refused before anything is written: a size that does not grow,
        // another key, a cosignature of a size never issued.
        assert!(matches!(
            journal.append_checkpoint(&note(&key, 7)),
            Err(JournalError::Refused(_))
        ));
        let other = SignerKey::new("log.test/j", SignatureType::Ed25519, &[8; 32]).unwrap();
        assert!(matches!(
            journal.append_checkpoint(&note(&other, 9)),
            Err(JournalError::Refused(_))
        ));
        assert!(matches!(
            journal.append_cosignature(8, &cosig),
            Err(JournalError::Refused(_))
        ));
    }
    let journal = CheckpointJournal::open(dir.path(), &key.verifier_key()).unwrap();
    let sizes: Vec<u64> = journal.checkpoints().map(|c| c.checkpoint.size()).collect();
    assert_eq!(sizes, [1, 3, 7]);
    assert_eq!(journal.get(3).unwrap().cosignatures.len(), 1);
    assert_eq!(
        journal.get(3).unwrap().cosigned_note().signatures().len(),
        2
    );
    assert_eq!(journal.dropped_tail_bytes(), 0);
}

#[test]
fn torn_tail_is_dropped_at_every_cut() {
    let dir = tempfile::tempdir().unwrap();
    let key = log_key();
    let path = dir.path().join("journal");
    {
        let mut journal = CheckpointJournal::open(dir.path(), &key.verifier_key()).unwrap();
        journal.append_checkpoint(&note(&key, 1)).unwrap();
    }
    let one = fs::read(&path).unwrap();
    {
        let mut journal = CheckpointJournal::open(dir.path(), &key.verifier_key()).unwrap();
        journal.append_checkpoint(&note(&key, 2)).unwrap();
    }
    let two = fs::read(&path).unwrap();
    // Every prefix of the second record is a torn tail: dropped, the first
    // record kept, and appending works again.
    for cut in one.len()..two.len() {
        fs::write(&path, &two[..cut]).unwrap();
        let mut journal = CheckpointJournal::open(dir.path(), &key.verifier_key()).unwrap();
        assert_eq!(journal.latest().unwrap().checkpoint.size(), 1, "cut {cut}");
        assert_eq!(journal.dropped_tail_bytes(), (cut - one.len()) as u64);
        assert_eq!(fs::read(&path).unwrap(), one);
        journal.append_checkpoint(&note(&key, 2)).unwrap();
        drop(journal);
        assert_eq!(fs::read(&path).unwrap(), two);
    }
    // A flipped byte in the last record: its checksum fails, a torn tail.
    let mut flipped = two.clone();
    let last = flipped.len() - 40;
    flipped[last] ^= 1;
    fs::write(&path, &flipped).unwrap();
    let journal = CheckpointJournal::open(dir.path(), &key.verifier_key()).unwrap();
    assert_eq!(journal.latest().unwrap().checkpoint.size(), 1);
}

#[test]
fn record_length_limit_is_checked_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let key = log_key();
    let path = dir.path().join("journal");
    drop(CheckpointJournal::open(dir.path(), &key.verifier_key()).unwrap());
    // A header claiming a record of MAX_RECORD_BYTES + 1 (or 4 GiB − 1):
    // a torn tail, nothing allocated for it.
    for len in [MAX_RECORD_BYTES as u32 + 1, u32::MAX] {
        let mut bytes = JOURNAL_MAGIC.to_vec();
        bytes.push(KIND_CHECKPOINT);
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&[0; 64]);
        fs::write(&path, &bytes).unwrap();
        let journal = CheckpointJournal::open(dir.path(), &key.verifier_key()).unwrap();
        assert!(journal.latest().is_none());
        assert_eq!(journal.dropped_tail_bytes(), 69);
    }
    // At the limit a record is written and read back; above it, refused.
    assert!(encode_record(KIND_COSIGNATURE, &vec![0; MAX_RECORD_BYTES]).is_ok());
    assert!(matches!(
        encode_record(KIND_COSIGNATURE, &vec![0; MAX_RECORD_BYTES + 1]),
        Err(JournalError::RecordTooLarge { bytes }) if bytes == MAX_RECORD_BYTES + 1
    ));
    let record = encode_record(KIND_COSIGNATURE, &vec![5; MAX_RECORD_BYTES]).unwrap();
    let (kind, payload) = read_record(&mut &record[..]).unwrap().unwrap();
    assert_eq!((kind, payload.len()), (KIND_COSIGNATURE, MAX_RECORD_BYTES));
}

#[test]
fn valid_checksum_with_impossible_content_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let key = log_key();
    let path = dir.path().join("journal");
    drop(CheckpointJournal::open(dir.path(), &key.verifier_key()).unwrap());
    let cases: Vec<(u8, Vec<u8>)> = vec![
        (9, b"unknown kind".to_vec()),
        (KIND_CHECKPOINT, b"not a note".to_vec()),
        (KIND_COSIGNATURE, vec![0; 3]),
        (
            KIND_COSIGNATURE,
            encode_cosignature(1, &witness().cosign(note(&key, 1).text(), 1).unwrap()),
        ),
    ];
    for (kind, payload) in cases {
        let mut bytes = JOURNAL_MAGIC.to_vec();
        bytes.extend_from_slice(&encode_record(kind, &payload).unwrap());
        fs::write(&path, &bytes).unwrap();
        let error = CheckpointJournal::open(dir.path(), &key.verifier_key()).unwrap_err();
        assert!(
            matches!(error, JournalError::Corrupt { offset, .. } if offset == JOURNAL_MAGIC.len() as u64),
            "{kind}: {error}"
        );
    }
    // A size that goes back.
    let mut bytes = JOURNAL_MAGIC.to_vec();
    for size in [5, 4] {
        let payload = note(&key, size).encode().into_bytes();
        bytes.extend_from_slice(&encode_record(KIND_CHECKPOINT, &payload).unwrap());
    }
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        CheckpointJournal::open(dir.path(), &key.verifier_key()),
        Err(JournalError::Corrupt { .. })
    ));
    fs::write(&path, b"garbage").unwrap();
    assert!(matches!(
        CheckpointJournal::open(dir.path(), &key.verifier_key()),
        Err(JournalError::NotAJournal(_))
    ));
}

#[test]
fn directory_is_locked_and_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let key = log_key();
    let mut journal = CheckpointJournal::open(dir.path(), &key.verifier_key()).unwrap();
    assert!(matches!(
        CheckpointJournal::open(dir.path(), &key.verifier_key()),
        Err(JournalError::Locked(_))
    ));
    let total = MAX_RETAINED_CHECKPOINTS as u64 + 10;
    for size in 1..=total {
        journal.append_checkpoint(&note(&key, size)).unwrap();
    }
    assert_eq!(journal.checkpoints().count(), MAX_RETAINED_CHECKPOINTS);
    assert_eq!(journal.checkpoints().next().unwrap().checkpoint.size(), 11);
    // A cosignature of a checkpoint no longer retained is skipped.
    let cosig = witness().cosign(note(&key, 1).text(), 1).unwrap();
    assert!(!journal.append_cosignature(1, &cosig).unwrap());
    drop(journal);
    let journal = CheckpointJournal::open(dir.path(), &key.verifier_key()).unwrap();
    assert_eq!(journal.checkpoints().count(), MAX_RETAINED_CHECKPOINTS);
    assert_eq!(journal.latest().unwrap().checkpoint.size(), total);
}
