//! `ourocodus log` and `ourocodus sessions` on a store written through the library: readable
//! lines, JSON lines, filters, `--follow`, and the proxy's refusals of files that are not ours.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ourocodus::ids::{Role, SessionId};
use ourocodus::store::{Store, StoreHandle, StoreOptions};
use serde_json::Value;

use crate::support::{WAIT, ourocodus_bin};

/// 2025-11-30T08:00:00.000Z
const T0: i64 = 1_764_489_600_000;

fn ourocodus(args: &[&str]) -> Output {
    Command::new(ourocodus_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("ourocodus runs")
}

fn stdout_lines(output: &Output) -> Vec<String> {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn append(
    handle: &mut StoreHandle,
    session: &str,
    role: Option<&str>,
    kind: &str,
    t: i64,
    json: &str,
) {
    let role = role.map(Role::new);
    handle.append(
        &SessionId::new(session),
        role.as_ref(),
        kind,
        T0 + t,
        |out| out.extend_from_slice(json.as_bytes()),
    );
}

fn close(handle: StoreHandle) {
    assert!(handle.close().wait_blocking(WAIT));
}

/// Two sessions: `alpha-session` in /w/alpha with a prompt and agent output, `beta-session` in
/// /w/beta with one notice.
fn write_store(path: &Path) {
    let mut h = Store::open(path, StoreOptions::default())
        .unwrap()
        .start_writer(|_| {})
        .unwrap();
    append(
        &mut h,
        "alpha-session",
        None,
        "session",
        0,
        r#"{"cwd":"/w/alpha","route":["backend"],"team":{"backend":{}}}"#,
    );
    append(
        &mut h,
        "alpha-session",
        None,
        "prompt",
        5,
        r#"{"turn":1,"roles":["backend"],"prompt":[],"text":"Add a cache\nto the parser"}"#,
    );
    append(
        &mut h,
        "alpha-session",
        Some("backend"),
        "update",
        10,
        r#"{"turn":1,"params":{"sessionId":"child-1","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"hello"}}}}"#,
    );
    append(
        &mut h,
        "alpha-session",
        Some("backend"),
        "update",
        11,
        r#"{"turn":1,"toolCallId":"backend/call_1","params":{"sessionId":"child-1","update":{"sessionUpdate":"tool_call","toolCallId":"call_1","title":"Read a.rs","status":"pending"}}}"#,
    );
    append(
        &mut h,
        "beta-session",
        Some("test"),
        "notice",
        20,
        r#"{"severity":"warning","title":"slow"}"#,
    );
    append(
        &mut h,
        "alpha-session",
        None,
        "turn_end",
        30,
        r#"{"turn":1,"stopReason":"end_turn"}"#,
    );
    close(h);
}

#[test]
fn log_prints_one_readable_line_per_event_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    write_store(&path);
    let lines = stdout_lines(&ourocodus(&["log", "--store", path.to_str().unwrap()]));
    assert_eq!(lines.len(), 6, "{lines:#?}");
    assert!(
        lines[0].starts_with("08:00:00.000  alpha-se  -"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with("prompt             turn 1 → backend: Add a cache\\nto the parser"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("backend") && lines[2].ends_with("update             hello"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].ends_with("tool_call backend/call_1 Read a.rs [pending]"),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].starts_with("08:00:00.020  beta-ses  test")
            && lines[4].ends_with("[warning] slow"),
        "{}",
        lines[4]
    );
    assert!(lines[5].ends_with("turn 1 end_turn"), "{}", lines[5]);
}

#[test]
fn log_filters_by_session_and_role_and_prints_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    write_store(&path);
    let store = path.to_str().unwrap();
    let args = [
        "log",
        "--store",
        store,
        "--session",
        "alpha-session",
        "--role",
        "backend",
        "--json",
    ];
    let lines = stdout_lines(&ourocodus(&args));
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["session"], "alpha-session");
    assert_eq!(events[0]["seq"], 3);
    assert_eq!(events[0]["time"], "2025-11-30T08:00:00.010Z");
    assert_eq!(events[0]["role"], "backend");
    assert_eq!(events[0]["kind"], "update");
    assert_eq!(
        events[0]["payload"]["params"]["update"]["content"]["text"],
        "hello"
    );
    assert_eq!(events[1]["payload"]["toolCallId"], "backend/call_1");
}

#[test]
fn sessions_lists_most_recent_first_with_titles_and_a_cwd_filter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    write_store(&path);
    let store = path.to_str().unwrap();
    let lines = stdout_lines(&ourocodus(&["sessions", "--store", store]));
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        "alpha-session  2025-11-30T08:00:00.030Z        5 events  /w/alpha  Add a cache"
    );
    assert!(
        lines[1].starts_with("beta-session  2025-11-30T08:00:00.020Z        1 events    -"),
        "{}",
        lines[1]
    );
    let json = stdout_lines(&ourocodus(&[
        "sessions", "--store", store, "--cwd", "/w/alpha", "--json",
    ]));
    assert_eq!(json.len(), 1);
    let session: Value = serde_json::from_str(&json[0]).unwrap();
    assert_eq!(session["id"], "alpha-session");
    assert_eq!(session["title"], "Add a cache");
    assert_eq!(session["updatedAt"], "2025-11-30T08:00:00.030Z");
    assert_eq!(session["events"], 5);
}

#[test]
fn a_foreign_file_is_refused_untouched_and_a_missing_store_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not a database\n").unwrap();
    for command in ["log", "sessions"] {
        let output = ourocodus(&[command, "--store", notes.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("not an SQLite database") && stderr.contains("left untouched"),
            "{stderr}"
        );
    }
    assert_eq!(std::fs::read(&notes).unwrap(), b"not a database\n");
    let missing = dir.path().join("none/store.db");
    let output = ourocodus(&["log", "--store", missing.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no event store at"), "{stderr}");
    assert!(!dir.path().join("none").exists());
}

#[test]
fn log_follow_prints_events_as_they_are_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    write_store(&path);
    let mut child = Command::new(ourocodus_bin())
        .args([
            "log",
            "--follow",
            "--json",
            "--store",
            path.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (line_tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    let next = || lines.recv_timeout(WAIT).expect("a line in time");
    for _ in 0..6 {
        next();
    }
    let mut h = Store::open(&path, StoreOptions::default())
        .unwrap()
        .start_writer(|_| {})
        .unwrap();
    append(
        &mut h,
        "gamma-session",
        None,
        "say",
        40,
        r#"{"text":"new"}"#,
    );
    close(h);
    let line: Value = serde_json::from_str(&next()).unwrap();
    assert_eq!(
        (line["session"].as_str(), line["payload"]["text"].as_str()),
        (Some("gamma-session"), Some("new"))
    );
    assert!(
        lines.recv_timeout(Duration::from_millis(300)).is_err(),
        "nothing else"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
