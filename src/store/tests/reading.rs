//! Reading: the sessions list (order, paging, cwd), the log across sessions and its follow.

use tempfile::tempdir;

use super::support::*;
use crate::store::{LogFilter, LogPosition, ReadError, StoreOptions};

/// Seven sessions: `s0`..`s6`, updated at 100, 200, ... except s5 and s6 tied at 500; even
/// ones in /w/even.
fn seven_sessions(path: &std::path::Path) {
    let mut s = start(path, StoreOptions::default());
    for i in 0..7i64 {
        let cwd = if i % 2 == 0 { "/w/even" } else { "/w/odd" };
        let session = sid(&format!("s{i}"));
        append(
            &mut s.handle,
            &session,
            None,
            "session",
            10 + i,
            &format!(r#"{{"cwd":"{cwd}"}}"#),
        );
        let updated = 100 * (i + 1).min(5);
        append(&mut s.handle, &session, None, "say", updated, "{}");
    }
    close(s.handle);
}

#[test]
fn sessions_are_listed_most_recent_first_in_stable_pages() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    seven_sessions(&path);
    let reader = reader(&path);
    let (mut cursor, mut ids, mut pages) = (None, Vec::new(), 0);
    loop {
        let page = reader.list_sessions(None, cursor.as_deref(), 3).unwrap();
        assert!(page.sessions.len() <= 3);
        ids.extend(page.sessions.iter().map(|s| s.id.to_string()));
        pages += 1;
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids, ["s6", "s5", "s4", "s3", "s2", "s1", "s0"]);
    let all = reader.list_sessions(None, None, 100).unwrap();
    assert_eq!(all.next_cursor, None);
    assert_eq!(
        (all.sessions[0].updated_at_ms, all.sessions[0].events),
        (500, 2)
    );
}

#[test]
fn visiting_a_sessions_events_shows_what_reading_them_returns_names_and_all() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let (a, b) = (sid("a"), sid("b"));
    for i in 0..40i64 {
        let (session, who) = if i % 3 == 0 {
            (&b, "test")
        } else {
            (&a, "backend")
        };
        let role = (i % 5 != 0).then(|| role(who));
        let kind = if i % 7 == 0 { "notice" } else { "update" };
        append(
            &mut s.handle,
            session,
            role.as_ref(),
            kind,
            i,
            &format!(r#"{{"i":{i}}}"#),
        );
    }
    close(s.handle);
    let reader = reader(&path);
    let read = reader.events(&a, 3, 100).unwrap();
    let mut seen = Vec::new();
    let count = reader
        .visit_events(&a, 3, 100, &mut |e| {
            seen.push((
                e.seq,
                e.role.map(str::to_string),
                e.kind.to_string(),
                e.payload.to_string(),
            ))
        })
        .unwrap();
    let expected: Vec<_> = read
        .iter()
        .map(|e| (e.seq, e.role.clone(), e.kind.clone(), e.payload.clone()))
        .collect();
    assert_eq!(count, expected.len());
    assert_eq!(seen, expected);
    assert!(expected.iter().any(|e| e.1.is_none()) && expected.iter().any(|e| e.2 == "notice"));
}

#[test]
fn an_event_whose_role_code_is_not_in_the_store_is_an_error_not_a_guess() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    append(
        &mut s.handle,
        &sid("a"),
        Some(&role("backend")),
        "update",
        1,
        "{}",
    );
    close(s.handle);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("UPDATE events SET role_id = 999")
        .unwrap();
    drop(conn);
    let visited = reader(&path).visit_events(&sid("a"), 0, 10, &mut |_| {});
    assert!(
        matches!(visited, Err(ReadError::UnknownCode(999))),
        "{visited:?}"
    );
}

#[test]
fn sessions_can_be_filtered_by_cwd() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    seven_sessions(&path);
    let reader = reader(&path);
    let even = reader
        .list_sessions(Some("/w/even".as_ref()), None, 2)
        .unwrap();
    let ids: Vec<String> = even.sessions.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(ids, ["s6", "s4"]);
    let rest = reader
        .list_sessions(Some("/w/even".as_ref()), even.next_cursor.as_deref(), 2)
        .unwrap();
    let ids: Vec<String> = rest.sessions.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(
        (ids, rest.next_cursor),
        (vec!["s2".to_string(), "s0".to_string()], None)
    );
    assert!(
        reader
            .list_sessions(Some("/nowhere".as_ref()), None, 5)
            .unwrap()
            .sessions
            .is_empty()
    );
}

#[test]
fn a_garbage_cursor_is_an_error() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    seven_sessions(&path);
    let result = reader(&path).list_sessions(None, Some("not-a-cursor"), 3);
    assert!(matches!(result, Err(ReadError::BadCursor(_))));
}

#[test]
fn the_log_follows_new_events_across_sessions_or_in_one() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let (a, b, test) = (sid("a"), sid("b"), role("test"));
    append(&mut s.handle, &a, None, "say", 1, r#"{"text":"a1"}"#);
    append(&mut s.handle, &b, Some(&test), "say", 2, r#"{"text":"b1"}"#);
    let n = append(&mut s.handle, &a, Some(&test), "say", 3, r#"{"text":"a2"}"#);
    s.handle.flush();
    settle(&s.notices, n);
    let reader = reader(&path);
    let all = LogFilter::default();
    let first = reader.log_after(LogPosition::default(), all, 100).unwrap();
    let seen: Vec<(String, u64)> = first
        .iter()
        .map(|e| (e.session.to_string(), e.event.seq))
        .collect();
    assert_eq!(seen, [("a".into(), 1), ("b".into(), 1), ("a".into(), 2)]);
    let only_a = LogFilter {
        session: Some(&a),
        role: None,
    };
    let a_first = reader
        .log_after(LogPosition::default(), only_a, 100)
        .unwrap();
    assert_eq!(a_first.len(), 2);
    let tests = LogFilter {
        session: None,
        role: Some("test"),
    };
    assert_eq!(
        reader
            .log_after(LogPosition::default(), tests, 100)
            .unwrap()
            .len(),
        2
    );

    let n = append(&mut s.handle, &b, None, "say", 4, r#"{"text":"b2"}"#);
    append(&mut s.handle, &a, None, "say", 5, r#"{"text":"a3"}"#);
    s.handle.flush();
    settle(&s.notices, n + 1);
    let newer = reader
        .log_after(first.last().unwrap().position, all, 100)
        .unwrap();
    let texts: Vec<&str> = newer.iter().map(|e| e.event.payload.as_str()).collect();
    assert_eq!(texts, [r#"{"text":"b2"}"#, r#"{"text":"a3"}"#]);
    let newer_a = reader
        .log_after(a_first.last().unwrap().position, only_a, 100)
        .unwrap();
    assert_eq!(newer_a.iter().map(|e| e.event.seq).collect::<Vec<_>>(), [3]);
    close(s.handle);
}

#[test]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
fn replay_read_rate() {
    // One session streaming alone, then eight taking turns event by event (the worst case for
    // runs: a session's rows are one in eight of those read).
    for sessions in [1, 8] {
        replay_rate_with(sessions);
    }
}

fn replay_rate_with(sessions: usize) {
    const EVENTS: u64 = 100_000;
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = start(&path, StoreOptions::default());
    let ids: Vec<_> = (0..sessions).map(|k| sid(&format!("replay-{k}"))).collect();
    let payload = crate::store::bench::update_payload(1);
    for i in 1..=EVENTS {
        for id in &ids {
            append(
                &mut s.handle,
                id,
                Some(&role("backend")),
                "update",
                i as i64,
                &payload,
            );
        }
        if i % 64 == 0 {
            s.handle.flush();
        }
    }
    close(s.handle);
    let reader = reader(&path);
    let a = &ids[0];
    let mut rates = Vec::new();
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let (mut after, mut count) = (0, 0);
        loop {
            let chunk = reader.events(a, after, 1_000).unwrap();
            let Some(last) = chunk.last() else { break };
            after = last.seq;
            count += chunk.len() as u64;
        }
        assert_eq!(count, EVENTS);
        rates.push(EVENTS as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "replay of one of {sessions} sessions: {EVENTS} events in chunks of 1000, median of 5: {:.0} events/s (runs {rates:.0?})",
        rates[2]
    );
}
