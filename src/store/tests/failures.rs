//! Failures: a full disk, a stalled writer, and another process writing the same file.

use std::collections::BTreeSet;
use std::time::Duration;

use rusqlite::Connection;
use tempfile::tempdir;

use super::support::*;
use crate::store::{HIGH_WATER_BYTES, StoreNotice, StoreOptions};

fn failures(notices: &[StoreNotice]) -> Vec<&str> {
    notices
        .iter()
        .filter_map(|n| match n {
            StoreNotice::WriteFailed(message) => Some(message.as_str()),
            StoreNotice::Settled { .. } => None,
        })
        .collect()
}

fn settled_as(notices: &[StoreNotice]) -> Option<bool> {
    notices.iter().rev().find_map(|n| match n {
        StoreNotice::Settled { persisted, .. } => Some(*persisted),
        StoreNotice::WriteFailed(_) => None,
    })
}

#[test]
fn a_full_disk_is_reported_once_per_run_of_failures_and_writing_goes_on() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(
        &path,
        StoreOptions {
            // 16 pages of 16 KiB: the schema and a few small events, not a 400 KB one.
            max_page_count: Some(16),
            ..StoreOptions::default()
        },
    );
    let a = sid("a");
    let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(400_000));
    let mut step = |kind: &str, json: &str| {
        let n = append(&mut s.handle, &a, None, kind, 1, json);
        s.handle.flush();
        settle(&s.notices, n)
    };
    assert_eq!(settled_as(&step("session", r#"{"cwd":"/w"}"#)), Some(true));
    let mut first_run = Vec::new();
    for _ in 0..3 {
        let notices = step("say", &big);
        assert_eq!(settled_as(&notices), Some(false), "given up, not persisted");
        first_run.extend(notices);
    }
    let reported = failures(&first_run);
    assert_eq!(reported.len(), 1, "once for the run: {reported:?}");
    assert!(
        reported[0].contains("full") && reported[0].contains("store.db"),
        "{}",
        reported[0]
    );
    let recovered = step("say", r#"{"text":"small"}"#);
    assert_eq!(
        settled_as(&recovered),
        Some(true),
        "later appends still settle"
    );
    assert!(failures(&recovered).is_empty());
    let again = step("say", &big);
    assert_eq!(
        failures(&again).len(),
        1,
        "a new run after a success is reported again"
    );
    close(s.handle);
    let events = reader(&path).events(&a, 0, 10).unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2], "failed events leave no gap in seq");
}

#[tokio::test]
async fn a_stalled_writer_congests_and_drains_once_it_can_write() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let a = sid("a");
    let chunk = format!(r#"{{"text":"{}"}}"#, "y".repeat(64 * 1024));
    let mut last = 0;
    while !s.handle.congested() {
        last = append(&mut s.handle, &a, None, "say", 1, &chunk);
        s.handle.flush();
        assert!(last < 1_000, "congested before 64 MiB");
    }
    assert!(s.handle.queued_bytes() > HIGH_WATER_BYTES);
    let drained = s.handle.drained();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        s.handle.congested(),
        "nothing written while the lock is held"
    );
    blocker.execute_batch("COMMIT").unwrap();
    tokio::time::timeout(TIMEOUT, drained)
        .await
        .expect("drained in time");
    assert!(!s.handle.congested());
    let notices = tokio::task::spawn_blocking(move || settle(&s.notices, last))
        .await
        .unwrap();
    assert!(
        all_persisted(&notices),
        "nothing lost: {:?}",
        failures(&notices)
    );
    close(s.handle);
    assert_eq!(reader(&path).session(&a).unwrap().unwrap().events, last);
}

/// Takes turns on the shared session before running free: each writer's cached seq is then
/// stale at least once, which only the UNIQUE index can tell it.
const TURNS: u64 = 4;

#[test]
fn two_stores_on_one_file_both_record_everything() {
    const EACH: u64 = 3_000;
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let turns = std::sync::Arc::new(std::sync::Barrier::new(2));
    let writers: Vec<_> = (0..2)
        .map(|k| {
            let (path, turns) = (path.clone(), turns.clone());
            std::thread::spawn(move || {
                let mut s = start(&path, StoreOptions::default());
                let (shared, own) = (sid("shared"), sid(&format!("own-{k}")));
                let mut notices = Vec::new();
                for turn in 0..TURNS {
                    turns.wait();
                    if turn % 2 == k {
                        let n = append(
                            &mut s.handle,
                            &shared,
                            None,
                            "say",
                            1,
                            &format!(r#"{{"turn":{turn}}}"#),
                        );
                        s.handle.flush();
                        notices.extend(settle(&s.notices, n));
                    }
                }
                let mut last = 0;
                for n in 0..EACH {
                    let json = format!(r#"{{"writer":{k},"n":{n}}}"#);
                    append(&mut s.handle, &shared, None, "say", 1, &json);
                    last = append(&mut s.handle, &own, None, "say", 1, &json);
                    if n % 25 == 0 {
                        s.handle.flush();
                    }
                }
                s.handle.flush();
                notices.extend(settle(&s.notices, last));
                close(s.handle);
                notices
            })
        })
        .collect();
    for writer in writers {
        let notices = writer.join().unwrap();
        assert!(all_persisted(&notices), "{:?}", failures(&notices));
    }
    let reader = reader(&path);
    let shared = reader.events(&sid("shared"), 0, 100_000).unwrap();
    let expected = (2 * EACH + TURNS) as usize;
    assert!(
        shared.iter().zip(1..).all(|(e, seq)| e.seq == seq),
        "seq gap-free"
    );
    let written: BTreeSet<&str> = shared.iter().map(|e| e.payload.as_str()).collect();
    assert_eq!((shared.len(), written.len()), (expected, expected));
    assert_eq!(
        reader.session(&sid("shared")).unwrap().unwrap().events,
        expected as u64
    );
    for k in 0..2 {
        let own = reader.session(&sid(&format!("own-{k}"))).unwrap().unwrap();
        assert_eq!(own.events, EACH);
    }
}
