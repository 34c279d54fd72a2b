//! Writing: rows, seq numbers, session rows and titles, numbering and settling.

use tempfile::tempdir;

use super::support::*;
use crate::store::{StoreNotice, StoreOptions};

#[test]
fn events_come_back_per_session_in_seq_order_with_their_fields() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let (a, b, backend) = (sid("session-a"), sid("session-b"), role("backend"));
    let mut last = 0;
    last = last.max(append(
        &mut s.handle,
        &a,
        None,
        "session",
        1_000,
        r#"{"cwd":"/w/a"}"#,
    ));
    last = last.max(append(
        &mut s.handle,
        &b,
        None,
        "session",
        1_001,
        r#"{"cwd":"/w/b"}"#,
    ));
    for i in 0..250 {
        let session = if i % 3 == 0 { &b } else { &a };
        let json = format!(r#"{{"i":{i}}}"#);
        last = append(
            &mut s.handle,
            session,
            Some(&backend),
            "update",
            2_000 + i,
            &json,
        );
        if i % 40 == 0 {
            s.handle.flush();
        }
    }
    s.handle.flush();
    assert_eq!(last, 252, "local numbers count from 1");
    assert!(all_persisted(&settle(&s.notices, last)));
    close(s.handle);

    let reader = reader(&path);
    let events = reader.events(&a, 0, 10_000).unwrap();
    assert_eq!(events.len(), 1 + 166);
    assert!(
        events.iter().zip(1..).all(|(e, seq)| e.seq == seq),
        "gap-free from 1"
    );
    assert_eq!(
        (events[0].kind.as_str(), events[0].role.as_deref()),
        ("session", None)
    );
    assert_eq!(events[1].payload, r#"{"i":1}"#);
    assert_eq!(events[1].role.as_deref(), Some("backend"));
    assert_eq!(events[1].time_ms, 2_001);
    let summary = reader.session(&a).unwrap().unwrap();
    assert_eq!((summary.cwd.as_str(), summary.events), ("/w/a", 167));
    assert_eq!(
        (summary.created_at_ms, summary.updated_at_ms),
        (1_000, 2_000 + 248)
    );
    assert_eq!(reader.session(&b).unwrap().unwrap().events, 1 + 84);
    assert_eq!(reader.session(&sid("nobody")).unwrap(), None);
}

#[test]
fn replay_in_chunks_reads_every_event_once() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let a = sid("a");
    let mut last = 0;
    for i in 0..1_000 {
        last = append(
            &mut s.handle,
            &a,
            None,
            "say",
            i,
            &format!(r#"{{"text":"{i}"}}"#),
        );
    }
    s.handle.flush();
    settle(&s.notices, last);
    let reader = reader(&path);
    let (mut after, mut seen) = (0, Vec::new());
    loop {
        let chunk = reader.events(&a, after, 64).unwrap();
        let Some(tail) = chunk.last() else { break };
        after = tail.seq;
        seen.extend(chunk.into_iter().map(|e| e.time_ms));
    }
    assert_eq!(seen, (0..1_000).collect::<Vec<_>>());
    close(s.handle);
}

/// Sessions written by turns, one event each and in bursts, read back in chunks that start
/// inside runs shared with the other sessions' rows.
#[test]
fn interleaved_sessions_replay_in_chunks_in_seq_order() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let sessions = [sid("a"), sid("b"), sid("c")];
    let mut last = 0;
    for i in 0..3_000 {
        // Turns of one event, then bursts of 40, then a session quiet for a long gap.
        let k = if i < 1_000 {
            i % 3
        } else if i < 2_000 {
            (i / 40) % 3
        } else if i % 97 == 0 {
            2
        } else {
            i % 2
        };
        let json = format!(r#"{{"i":{i}}}"#);
        last = append(&mut s.handle, &sessions[k], None, "say", i as i64, &json);
        if i % 500 == 0 {
            s.handle.flush();
        }
    }
    s.handle.flush_urgent();
    settle(&s.notices, last);
    let reader = reader(&path);
    let mut total = 0;
    for session in &sessions {
        let all = reader.events(session, 0, usize::MAX).unwrap();
        let (mut after, mut chunked) = (0, Vec::new());
        loop {
            let chunk = reader.events(session, after, 7).unwrap();
            let Some(tail) = chunk.last() else { break };
            after = tail.seq;
            chunked.extend(chunk);
        }
        assert_eq!(chunked, all);
        assert!(all.iter().zip(1..).all(|(e, seq)| e.seq == seq), "gap-free");
        let times: Vec<i64> = all.iter().map(|e| e.time_ms).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "in append order");
        assert!(
            all.iter()
                .all(|e| e.payload == format!(r#"{{"i":{}}}"#, e.time_ms)),
            "each row whole"
        );
        total += all.len();
    }
    assert_eq!(total, 3_000);
    close(s.handle);
}

#[test]
fn the_title_comes_from_the_first_prompt_with_text() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let a = sid("a");
    append(&mut s.handle, &a, None, "session", 1, r#"{"cwd":"/w"}"#);
    append(
        &mut s.handle,
        &a,
        None,
        "prompt",
        2,
        r#"{"turn":1,"prompt":[]}"#,
    );
    append(
        &mut s.handle,
        &a,
        None,
        "prompt",
        3,
        r#"{"turn":2,"text":" \n"}"#,
    );
    s.handle.flush();
    settle(&s.notices, 3);
    assert_eq!(reader(&path).session(&a).unwrap().unwrap().title, None);
    let long = "word ".repeat(40);
    let first = format!(r#"{{"turn":3,"text":"\n\n  {long}\nsecond line"}}"#);
    append(&mut s.handle, &a, None, "prompt", 4, &first);
    s.handle.flush();
    append(
        &mut s.handle,
        &a,
        None,
        "prompt",
        5,
        r#"{"turn":4,"text":"later"}"#,
    );
    s.handle.flush();
    settle(&s.notices, 5);
    let title = reader(&path).session(&a).unwrap().unwrap().title.unwrap();
    assert_eq!(title.chars().count(), 80);
    assert!(
        title.starts_with("word word") && title.ends_with('…'),
        "{title}"
    );
    close(s.handle);
    let mut s = start(&path, StoreOptions::default());
    append(
        &mut s.handle,
        &a,
        None,
        "prompt",
        6,
        r#"{"turn":5,"text":"after a restart"}"#,
    );
    drop(s.handle);
    let reopened = reader(&path).session(&a).unwrap().unwrap();
    assert_eq!(
        reopened.title.as_deref(),
        Some(title.as_str()),
        "the first title stays"
    );
}

#[test]
fn events_of_a_session_never_announced_are_kept() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let orphan = sid("orphan");
    append(
        &mut s.handle,
        &orphan,
        Some(&role("test")),
        "update",
        7,
        r#"{"update":{}}"#,
    );
    close(s.handle);
    let summary = reader(&path).session(&orphan).unwrap().unwrap();
    assert_eq!((summary.cwd.as_str(), summary.events), ("", 1));
}

#[test]
fn odd_payloads_are_stored_without_harm() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let a = sid("a");
    append(&mut s.handle, &a, None, "session", 1, "{not json");
    append(&mut s.handle, &a, None, "prompt", 2, r#"{"text":42}"#);
    s.handle.append(&a, None, "say", 3, |out| {
        out.extend_from_slice(b"\"\xff\xfe\"")
    });
    s.handle.append(&a, None, "say", 4, |_| {});
    s.handle.flush();
    assert!(all_persisted(&settle(&s.notices, 4)));
    close(s.handle);
    let events = reader(&path).events(&a, 0, 10).unwrap();
    let payloads: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
    assert_eq!(
        payloads,
        [
            "{not json",
            r#"{"text":42}"#,
            "\"\u{fffd}\u{fffd}\"",
            "null"
        ]
    );
}

#[test]
fn dropping_the_handle_commits_everything_before_the_writer_ends() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let a = sid("a");
    for i in 0..5_000 {
        append(&mut s.handle, &a, None, "say", i, r#"{"text":"x"}"#);
    }
    let exit = s.handle.exit();
    drop(s.handle);
    assert!(exit.wait_blocking(TIMEOUT));
    assert_eq!(reader(&path).session(&a).unwrap().unwrap().events, 5_000);
    let settled: Vec<StoreNotice> = s.notices.try_iter().collect();
    assert_eq!(
        settled.last(),
        Some(&StoreNotice::Settled {
            through: 5_000,
            persisted: true
        })
    );
}

#[tokio::test]
async fn the_writer_exit_can_be_awaited_with_a_timeout() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let exit = s.handle.exit();
    assert!(
        !exit.wait(std::time::Duration::from_millis(20)).await,
        "still running"
    );
    append(&mut s.handle, &sid("a"), None, "say", 1, "{}");
    let exit = s.handle.close();
    assert!(exit.wait(TIMEOUT).await);
    assert!(exit.is_finished());
}

#[test]
fn settled_numbers_rise_to_the_last_event() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let a = sid("a");
    for i in 1..=300 {
        assert_eq!(append(&mut s.handle, &a, None, "say", i, "{}"), i as u64);
        if i % 7 == 0 {
            s.handle.flush();
        }
    }
    s.handle.flush();
    let notices = settle(&s.notices, 300);
    let throughs: Vec<u64> = notices
        .iter()
        .filter_map(|n| match n {
            StoreNotice::Settled { through, .. } => Some(*through),
            StoreNotice::WriteFailed(_) => None,
        })
        .collect();
    assert!(throughs.windows(2).all(|w| w[0] < w[1]), "{throughs:?}");
    close(s.handle);
}

#[test]
fn the_page_limit_comes_from_the_environment_value() {
    use crate::store::max_pages_from;
    assert_eq!(max_pages_from(Some("120")), Some(120));
    assert_eq!(max_pages_from(Some(" 7 ")), Some(7));
    assert_eq!(max_pages_from(Some("lots")), None);
    assert_eq!(max_pages_from(None), None);
}

#[test]
fn the_handle_and_its_futures_can_move_between_threads() {
    fn send<T: Send>(_: &T) {}
    let dir = tempdir().unwrap();
    let s = start(&dir.path().join("store.db"), StoreOptions::default());
    send(&s.handle);
    send(&s.handle.drained());
    send(&s.handle.exit().wait(TIMEOUT));
    close(s.handle);
}
