//! The audit's column checks: height-keyed columns, the meta column, and
//! the merge-join of a column with what it must hold.

use crate::engine::records::{height_key, HEAD_KEY};
use crate::store::{Column, KeyRange, StoreError, StoreRead, STORE_META_KEYS};

use super::replay::Records;
use super::{AuditReport, FindingKind};

/// Blocks and receipts are keyed by height: every key must be a height
/// below `count`. Returns whether records were found above it.
pub(super) fn check_heights<S: StoreRead + ?Sized>(
    store: &S,
    column: Column,
    count: u64,
    report: &mut AuditReport,
) -> Result<bool, StoreError> {
    let mut above = false;
    let range = KeyRange {
        start: std::ops::Bound::Included(height_key(count).to_vec().into()),
        end: std::ops::Bound::Unbounded,
    };
    for entry in store.scan(column, range)? {
        let (key, value) = entry?;
        report.records += 1;
        report.bytes += (key.len() + value.len()) as u64;
        report.find(column, &key, FindingKind::Orphan, "above the head");
        above = true;
    }
    // Keys that are not heights sort anywhere: find them too.
    for entry in store.scan(
        column,
        KeyRange::between(Vec::new(), height_key(count).to_vec()),
    )? {
        let (key, _) = entry?;
        if key.len() != 8 {
            report.find(column, &key, FindingKind::Orphan, "not a height key");
        }
    }
    Ok(above)
}

/// The meta column holds the head and the store's own records only.
pub(super) fn check_meta<S: StoreRead + ?Sized>(
    store: &S,
    report: &mut AuditReport,
) -> Result<(), StoreError> {
    let blocks_exist = store
        .scan(Column::Blocks, KeyRange::all())?
        .next()
        .is_some();
    let mut head_seen = false;
    for entry in store.scan(Column::Meta, KeyRange::all())? {
        let (key, value) = entry?;
        if key[..] == *HEAD_KEY {
            head_seen = true;
        } else if STORE_META_KEYS.contains(&&key[..]) {
            report.records += 1;
            report.bytes += (key.len() + value.len()) as u64;
        } else {
            report.find(
                Column::Meta,
                &key,
                FindingKind::Orphan,
                "not a ledger record",
            );
        }
    }
    if !head_seen && blocks_exist {
        report.find(
            Column::Meta,
            HEAD_KEY,
            FindingKind::Missing,
            "blocks are stored but the head record is missing",
        );
    }
    Ok(())
}

/// Merges `column`'s records (in key order) with `expected` (sorted here).
pub(super) fn compare_column<S: StoreRead + ?Sized>(
    store: &S,
    column: Column,
    mut expected: Records,
    report: &mut AuditReport,
) -> Result<(), StoreError> {
    expected.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut expected = expected.into_iter().peekable();
    for entry in store.scan(column, KeyRange::all())? {
        let (key, value) = entry?;
        report.records += 1;
        report.bytes += (key.len() + value.len()) as u64;
        while let Some((missing, _)) = expected.next_if(|(want, _)| want[..] < key[..]) {
            report.find(column, &missing, FindingKind::Missing, "not stored");
        }
        match expected.next_if(|(want, _)| want[..] == key[..]) {
            Some((_, want)) if want[..] == value[..] => {}
            Some(_) => report.find(column, &key, FindingKind::Wrong, "value differs"),
            None => report.find(
                column,
                &key,
                FindingKind::Orphan,
                "not written by the ledger",
            ),
        }
    }
    for (missing, _) in expected {
        report.find(column, &missing, FindingKind::Missing, "not stored");
    }
    Ok(())
}
