use super::*;

fn stored(origin: &str, size: u64, root: u8) -> Stored {
    Stored::of(&Checkpoint::new(origin, size, [root; 32]).unwrap())
}

fn journal(dir: &Path) -> PathBuf {
    let mut journals: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("journal-")
        })
        .collect();
    assert_eq!(journals.len(), 1, "one journal after opening");
    journals.pop().unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn commits_survive_reopening_and_generations_advance() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (state, store) = Store::open(dir.path()).unwrap();
    assert!(state.is_empty());
    let first_journal = journal(dir.path());
    rt.block_on(async {
        store.commit("a", stored("a", 5, 1)).await.unwrap();
        store.commit("b", stored("b", 7, 2)).await.unwrap();
        store.commit("a", stored("a", 9, 3)).await.unwrap();
    });
    drop(store);
    let (state, store) = Store::open(dir.path()).unwrap();
    assert_eq!(state["a"], stored("a", 9, 3));
    assert_eq!(state["b"], stored("b", 7, 2));
    // Compacted into a new generation: the old journal is gone.
    assert_ne!(journal(dir.path()), first_journal);
    assert_eq!(fs::metadata(journal(dir.path())).unwrap().len(), 0);
    drop(store);
    let (again, _store) = Store::open(dir.path()).unwrap();
    assert_eq!(again, state);
}

#[test]
fn a_second_opener_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_state, store) = Store::open(dir.path()).unwrap();
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::Locked(_))
    ));
    drop(store);
    assert!(Store::open(dir.path()).is_ok());
}

#[test]
fn a_torn_tail_is_dropped_and_everything_before_it_kept() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (_, store) = Store::open(dir.path()).unwrap();
    rt.block_on(store.commit("a", stored("a", 5, 1))).unwrap();
    drop(store);
    // Every truncation of a last record leaves the earlier one.
    let mut full = Vec::new();
    encode_record(&mut full, &stored("a", 6, 2));
    for cut in 0..full.len() {
        let (_, store) = Store::open(dir.path()).unwrap();
        drop(store);
        let path = journal(dir.path());
        fs::write(&path, &full[..cut]).unwrap();
        let (state, store) = Store::open(dir.path()).unwrap();
        assert_eq!(state["a"].size, 5, "cut at {cut}");
        drop(store);
    }
    // A flipped byte in the checksum is a torn record too.
    let (_, store) = Store::open(dir.path()).unwrap();
    drop(store);
    let mut bad = full.clone();
    *bad.last_mut().unwrap() ^= 1;
    fs::write(journal(dir.path()), &bad).unwrap();
    assert_eq!(Store::open(dir.path()).unwrap().0["a"].size, 5);
    // And the whole record is taken.
    fs::write(journal(dir.path()), &full).unwrap();
    assert_eq!(Store::open(dir.path()).unwrap().0["a"].size, 6);
}

#[test]
fn a_record_rolling_back_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = Store::open(dir.path()).unwrap();
    drop(store);
    for (second, what) in [
        (stored("a", 4, 1), "smaller"),
        (stored("a", 5, 9), "other root"),
    ] {
        let mut bytes = Vec::new();
        encode_record(&mut bytes, &stored("a", 5, 1));
        encode_record(&mut bytes, &second);
        fs::write(journal(dir.path()), &bytes).unwrap();
        assert!(
            matches!(Store::open(dir.path()), Err(StoreError::Corrupt(_))),
            "{what}"
        );
    }
}

#[test]
fn a_corrupt_snapshot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (_, store) = Store::open(dir.path()).unwrap();
    rt.block_on(store.commit("a", stored("a", 5, 1))).unwrap();
    drop(store);
    drop(Store::open(dir.path()).unwrap());
    let path = dir.path().join("snapshot");
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::Corrupt(_))
    ));
}
