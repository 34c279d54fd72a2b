//! Test-only: the append rate of candidate `events` layouts, measured interleaved in one run so
//! the figures compare on this shared machine. Knows SQL and timing, nothing of the writer thread.
//! Schema version 2 took the last layout (no index), with `runs` to find a session's rows
//! (`insert/runs.rs`); the per-event cost of the whole writer is measured in `bench.rs`.
//!
//! `cargo test --release store::layouts -- --ignored --nocapture`

use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

/// One candidate: its DDL and how one event is inserted.
struct Layout {
    name: &'static str,
    ddl: &'static str,
    insert: &'static str,
}

const SESSIONS_DDL: &str = "CREATE TABLE sessions (id INTEGER PRIMARY KEY, \
    public_id TEXT NOT NULL UNIQUE, cwd TEXT NOT NULL, title TEXT, \
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, last_seq INTEGER NOT NULL);";

const LAYOUTS: &[Layout] = &[
    Layout {
        name: "rowid + UNIQUE(session, seq)",
        ddl: "CREATE TABLE events (id INTEGER PRIMARY KEY, session INTEGER NOT NULL, \
              seq INTEGER NOT NULL, time INTEGER NOT NULL, role TEXT, kind TEXT NOT NULL, \
              payload TEXT NOT NULL, UNIQUE (session, seq));",
        insert: "INSERT INTO events (session, seq, time, role, kind, payload) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    },
    Layout {
        name: "WITHOUT ROWID, PRIMARY KEY(session, seq)",
        ddl: "CREATE TABLE events (session INTEGER NOT NULL, seq INTEGER NOT NULL, \
              time INTEGER NOT NULL, role TEXT, kind TEXT NOT NULL, payload TEXT NOT NULL, \
              PRIMARY KEY (session, seq)) WITHOUT ROWID;",
        insert: "INSERT INTO events (session, seq, time, role, kind, payload) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    },
    Layout {
        name: "rowid = session << 32 | seq (one b-tree)",
        ddl: "CREATE TABLE events (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, role TEXT, \
              kind TEXT NOT NULL, payload TEXT NOT NULL);",
        insert: "INSERT INTO events (id, time, role, kind, payload) \
                 VALUES ((?1 << 32) | ?2, ?3, ?4, ?5, ?6)",
    },
    Layout {
        name: "rowid, no index (a floor: replay would scan)",
        ddl: "CREATE TABLE events (id INTEGER PRIMARY KEY, session INTEGER NOT NULL, \
              seq INTEGER NOT NULL, time INTEGER NOT NULL, role TEXT, kind TEXT NOT NULL, \
              payload TEXT NOT NULL);",
        insert: "INSERT INTO events (session, seq, time, role, kind, payload) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    },
];

const EVENTS: i64 = 100_000;
const ROWS_PER_TRANSACTION: i64 = 1_000;
/// Sessions written round-robin, so layouts keyed by session insert in several places.
const SESSIONS: i64 = 4;
const ROUNDS: usize = 7;

fn run_once(layout: &Layout) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = Connection::open(dir.path().join("layout.db")).expect("open");
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("wal");
    conn.pragma_update(None, "synchronous", "NORMAL")
        .expect("sync");
    conn.execute_batch(SESSIONS_DDL).expect("sessions ddl");
    conn.execute_batch(layout.ddl).expect("events ddl");
    for s in 1..=SESSIONS {
        conn.execute(
            "INSERT INTO sessions VALUES (?1, ?2, '/w', NULL, 0, 0, 0)",
            params![s, format!("session-{s}")],
        )
        .expect("session row");
    }
    let payload = super::bench::update_payload(0);
    let start = Instant::now();
    for chunk in 0..EVENTS / ROWS_PER_TRANSACTION {
        let tx = conn.transaction().expect("begin");
        {
            let mut insert = tx.prepare_cached(layout.insert).expect("prepare");
            for i in 0..ROWS_PER_TRANSACTION {
                let n = chunk * ROWS_PER_TRANSACTION + i;
                let (session, seq) = (n % SESSIONS + 1, n / SESSIONS + 1);
                insert
                    .execute(params![session, seq, n, "backend", "update", payload])
                    .expect("insert");
            }
            let mut touch = tx
                .prepare_cached("UPDATE sessions SET updated_at = ?2, last_seq = ?3 WHERE id = ?1")
                .expect("prepare touch");
            for s in 1..=SESSIONS {
                touch.execute(params![s, chunk, chunk]).expect("touch");
            }
        }
        tx.commit().expect("commit");
    }
    start.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[test]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
fn append_rate_of_each_layout() {
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); LAYOUTS.len()];
    for _ in 0..ROUNDS {
        for (layout, times) in LAYOUTS.iter().zip(&mut samples) {
            times.push(run_once(layout));
        }
    }
    let baseline = median(samples[0].clone());
    println!(
        "{EVENTS} events of ~{} bytes, {ROWS_PER_TRANSACTION} per transaction, {SESSIONS} sessions round-robin, median of {ROUNDS} interleaved rounds",
        super::bench::update_payload(0).len()
    );
    for (layout, times) in LAYOUTS.iter().zip(samples) {
        let m = median(times);
        let rate = EVENTS as f64 / m.as_secs_f64();
        let ratio = baseline.as_secs_f64() / m.as_secs_f64();
        println!("{:<45} {:>10.0} events/s  {ratio:.2}x", layout.name, rate);
    }
}
