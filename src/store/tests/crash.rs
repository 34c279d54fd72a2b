//! A crash: a child process appends until it is SIGKILLed right after a `Settled`; every
//! settled event must be in the store when it is opened again.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tempfile::tempdir;

use super::support::*;
use crate::store::{StoreNotice, StoreOptions};

/// Set for the child: the store path it writes to.
const CHILD_ENV: &str = "OUROCODUS_STORE_CRASH_CHILD";
/// Settled events the parent waits for before the kill.
const SETTLED_BEFORE_KILL: u64 = 3_000;

/// The child's side (does nothing unless started by the test below): appends numbered events
/// and prints each `Settled` as soon as it arrives.
#[test]
#[ignore = "the child process of a_kill_loses_no_settled_event"]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = crate::store::Store::open(path.as_ref(), StoreOptions::default()).unwrap();
    let mut handle = store
        .start_writer(|notice| {
            if let StoreNotice::Settled { through, persisted } = notice {
                println!("settled {through} {persisted}");
            }
        })
        .unwrap();
    let session = sid("crash");
    let deadline = Instant::now() + TIMEOUT;
    let mut n: u64 = 0;
    while Instant::now() < deadline {
        for _ in 0..50 {
            n += 1;
            handle.append(&session, None, "say", n as i64, |out| {
                out.extend_from_slice(format!(r#"{{"n":{n}}}"#).as_bytes())
            });
        }
        handle.flush();
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_kill_loses_no_settled_event() {
    let dir = tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::tests::crash::crash_child",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (line_tx, line_rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    let settled = wait_for_settled(&line_rx);
    child.kill().unwrap();
    child.wait().unwrap();

    let events = reader(&path).events(&sid("crash"), 0, usize::MAX).unwrap();
    assert!(
        events.len() as u64 >= settled,
        "{} of {settled} settled events",
        events.len()
    );
    for (event, n) in events.iter().zip(1..) {
        assert_eq!(
            (event.seq, event.payload.clone()),
            (n, format!(r#"{{"n":{n}}}"#))
        );
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

/// Reads the child's lines until one settles enough; returns how many were settled.
fn wait_for_settled(lines: &mpsc::Receiver<String>) -> u64 {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .expect("the child settles events in time");
        let Some(rest) = line.strip_prefix("settled ") else {
            continue;
        };
        let (through, persisted) = rest.split_once(' ').unwrap();
        assert_eq!(persisted, "true");
        let through: u64 = through.parse().unwrap();
        if through >= SETTLED_BEFORE_KILL {
            return through;
        }
    }
}
