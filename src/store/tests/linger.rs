//! When the writer commits: a flush may wait up to the linger for more, an urgent flush or the
//! end of the handle commits at once.

use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use tempfile::tempdir;

use super::support::*;
use crate::store::{StoreNotice, StoreOptions};

/// Far longer than any test waits: whatever settles did not wait for the linger.
const FOREVER: Duration = Duration::from_secs(3600);

fn lingering(linger: Duration) -> StoreOptions {
    StoreOptions {
        linger,
        ..StoreOptions::default()
    }
}

#[test]
fn an_urgent_flush_commits_without_waiting_for_the_linger() {
    let dir = tempdir().unwrap();
    let mut s = start(&dir.path().join("store.db"), lingering(FOREVER));
    let a = sid("a");
    append(&mut s.handle, &a, None, "say", 1, "{}");
    s.handle.flush();
    assert_eq!(
        s.notices.recv_timeout(Duration::from_millis(300)),
        Err(RecvTimeoutError::Timeout),
        "a plain flush lingers"
    );
    s.handle.flush_urgent();
    assert_eq!(
        s.notices.recv_timeout(TIMEOUT),
        Ok(StoreNotice::Settled {
            through: 1,
            persisted: true
        })
    );
    close(s.handle);
}

#[test]
fn flushes_within_the_linger_are_committed_together() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, lingering(FOREVER));
    let a = sid("a");
    for i in 1..=3 {
        append(&mut s.handle, &a, None, "say", i, "{}");
        s.handle.flush();
    }
    s.handle.flush_urgent();
    close(s.handle);
    let notices: Vec<StoreNotice> = s.notices.try_iter().collect();
    assert_eq!(
        notices,
        [StoreNotice::Settled {
            through: 3,
            persisted: true
        }],
        "one transaction"
    );
    assert_eq!(reader(&path).session(&a).unwrap().unwrap().events, 3);
}

#[test]
fn a_flushed_event_waits_no_longer_than_the_linger() {
    let linger = Duration::from_millis(300);
    let dir = tempdir().unwrap();
    let mut s = start(&dir.path().join("store.db"), lingering(linger));
    append(&mut s.handle, &sid("a"), None, "say", 1, "{}");
    let flushed = Instant::now();
    s.handle.flush();
    let notice = s.notices.recv_timeout(TIMEOUT);
    let waited = flushed.elapsed();
    assert!(matches!(
        notice,
        Ok(StoreNotice::Settled { through: 1, .. })
    ));
    assert!(waited >= linger, "lingered: {waited:?}");
    assert!(
        waited < linger + Duration::from_secs(2),
        "no further flush needed: {waited:?}"
    );
    close(s.handle);
}

#[test]
fn dropping_the_handle_ends_the_linger() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, lingering(FOREVER));
    append(&mut s.handle, &sid("a"), None, "say", 1, "{}");
    s.handle.flush();
    close(s.handle);
    assert_eq!(reader(&path).session(&sid("a")).unwrap().unwrap().events, 1);
}
