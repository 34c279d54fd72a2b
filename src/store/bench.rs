//! The writer's append rate for `ourocodus bench`: the real handle and writer thread, ~250-byte
//! `update` payloads. Knows the store's public API only.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{OpenError, Store, StoreNotice, StoreOptions};
use crate::ids::{Role, SessionId};

/// Events appended between flushes, like a busy core loop iteration.
const EVENTS_PER_FLUSH: u64 = 256;
/// How long the writer may take to settle the last event.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("cannot start the store writer: {0}")]
    Start(std::io::Error),
    #[error("{0}")]
    Write(String),
    #[error("the store writer did not settle every event in time")]
    Timeout,
}

/// Appends `events` update events to one session of the store at `path` and returns the rate
/// (events/s) from the first append to the last commit. The writer is the bottleneck: appending
/// costs well under a microsecond, and waits only while the store is congested.
pub fn bench_append(path: &Path, events: u64) -> Result<f64, BenchError> {
    let pace = Pace {
        per_flush: EVENTS_PER_FLUSH,
        sessions: 1,
        pause: None,
    };
    append_run(path, events, pace, StoreOptions::default())
}

/// How `append_run` appends.
#[derive(Debug, Clone, Copy)]
struct Pace {
    per_flush: u64,
    /// Sessions the events go to in turn (1: all to one).
    sessions: u64,
    /// A pause after each flush, like a core loop waiting for agents' output.
    pause: Option<Duration>,
}

/// `bench_append` at `pace` (the last flush urgent).
fn append_run(
    path: &Path,
    events: u64,
    pace: Pace,
    options: StoreOptions,
) -> Result<f64, BenchError> {
    let store = Store::open(path, options)?;
    let (notice_tx, notice_rx) = mpsc::channel();
    let mut handle = store
        .start_writer(move |notice| {
            let _ = notice_tx.send(notice);
        })
        .map_err(BenchError::Start)?;
    let run = uuid::Uuid::new_v4();
    let sessions: Vec<SessionId> = (0..pace.sessions.max(1))
        .map(|k| SessionId::new(format!("bench-{run}-{k}")))
        .collect();
    let role = Role::new("backend");
    let start = Instant::now();
    for n in 1..=events {
        let time = i64::try_from(n).unwrap_or(i64::MAX);
        let session = &sessions[(n % sessions.len() as u64) as usize];
        handle.append(session, Some(&role), "update", time, |out| {
            write_update_payload(out, n)
        });
        if n % pace.per_flush.max(1) == 0 {
            handle.flush();
            while handle.congested() {
                std::thread::sleep(Duration::from_millis(1));
            }
            if let Some(pause) = pace.pause {
                std::thread::sleep(pause);
            }
        }
    }
    handle.flush_urgent();
    wait_settled(&notice_rx, events)?;
    let rate = events as f64 / start.elapsed().as_secs_f64();
    handle.close().wait_blocking(SETTLE_TIMEOUT);
    Ok(rate)
}

fn wait_settled(notices: &mpsc::Receiver<StoreNotice>, events: u64) -> Result<(), BenchError> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match notices.recv_timeout(left) {
            Ok(StoreNotice::WriteFailed(message)) => return Err(BenchError::Write(message)),
            Ok(StoreNotice::Settled { through, .. }) if through >= events => return Ok(()),
            Ok(StoreNotice::Settled { .. }) => {}
            Err(_) => return Err(BenchError::Timeout),
        }
    }
}

/// Length the text is padded to, so the whole payload is ~250 bytes.
const PAYLOAD_BYTES: usize = 250;

/// A ~250-byte `update` payload like an agent's text chunk, varied by `n`.
pub(crate) fn write_update_payload(out: &mut Vec<u8>, n: u64) {
    let start = out.len();
    let _ = write!(
        out,
        r#"{{"turn":3,"update":{{"sessionUpdate":"agent_message_chunk","content":{{"type":"text","text":"chunk {n:>10} "#
    );
    const TAIL: &[u8] = br#""}}}"#;
    while out.len() - start < PAYLOAD_BYTES - TAIL.len() {
        out.extend_from_slice(b"lorem ");
    }
    out.truncate(start + PAYLOAD_BYTES - TAIL.len());
    out.extend_from_slice(TAIL);
}

#[cfg(test)]
pub(crate) fn update_payload(n: u64) -> String {
    let mut out = Vec::new();
    write_update_payload(&mut out, n);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_payload_is_json_of_250_bytes() {
        let payload = update_payload(42);
        assert_eq!(payload.len(), PAYLOAD_BYTES);
        let value: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(value["update"]["sessionUpdate"], "agent_message_chunk");
    }

    #[test]
    #[ignore = "a measurement: run with --release --ignored --nocapture"]
    fn append_rate_of_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let mut rates = Vec::new();
        for round in 0..5 {
            let path = dir.path().join(format!("bench-{round}.db"));
            rates.push(bench_append(&path, 200_000).unwrap());
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "bench_append: 200000 events, median of 5: {:.0} events/s (runs {rates:.0?})",
            rates[2]
        );
    }

    /// One run for an instruction count: `valgrind --tool=callgrind` on this test with
    /// `OUROCODUS_PROFILE_EVENTS` set to two sizes; the difference over the events is the
    /// cost of one (both threads, start-up cancelled out). `OUROCODUS_PROFILE_PER_FLUSH` sets
    /// the events per flush (256), `OUROCODUS_PROFILE_SESSIONS` how many sessions take the
    /// events in turn (1), `OUROCODUS_PROFILE_LINGER_MS` the linger.
    #[test]
    #[ignore = "a measurement: run under callgrind with OUROCODUS_PROFILE_EVENTS"]
    fn append_for_a_profile() {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let events = var("OUROCODUS_PROFILE_EVENTS").unwrap_or(100_000);
        let pace = Pace {
            per_flush: var("OUROCODUS_PROFILE_PER_FLUSH").unwrap_or(EVENTS_PER_FLUSH),
            sessions: var("OUROCODUS_PROFILE_SESSIONS").unwrap_or(1),
            pause: None,
        };
        let mut options = StoreOptions::default();
        if let Some(ms) = var("OUROCODUS_PROFILE_LINGER_MS") {
            options.linger = Duration::from_millis(ms);
        }
        let dir = tempfile::tempdir().unwrap();
        append_run(&dir.path().join("profile.db"), events, pace, options).unwrap();
    }

    /// The process's CPU time (all threads, ended ones included), from /proc/self/stat.
    fn cpu_time() -> Duration {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }

    /// CPU per event (both threads) with a flush every 8 events and a 50 µs pause after each,
    /// as a core loop between bursts of agents' output: committing at each flush against
    /// lingering, interleaved in one run.
    #[test]
    #[ignore = "a measurement: run with --release --ignored --nocapture"]
    fn cpu_per_event_with_small_flushes() {
        const EVENTS: u64 = 50_000;
        let pace = Pace {
            per_flush: 8,
            sessions: 1,
            pause: Some(Duration::from_micros(50)),
        };
        let dir = tempfile::tempdir().unwrap();
        let lingers = [Duration::ZERO, crate::store::DEFAULT_LINGER];
        let mut samples = vec![Vec::new(); lingers.len()];
        for round in 0..5 {
            for (k, &linger) in lingers.iter().enumerate() {
                let path = dir.path().join(format!("small-{round}-{k}.db"));
                let options = StoreOptions {
                    linger,
                    ..StoreOptions::default()
                };
                let before = cpu_time();
                append_run(&path, EVENTS, pace, options).unwrap();
                let ns = (cpu_time() - before).as_nanos() as f64 / EVENTS as f64;
                samples[k].push(ns);
            }
        }
        for (linger, mut ns) in lingers.into_iter().zip(samples) {
            ns.sort_by(f64::total_cmp);
            println!(
                "flush every 8 events, 50 µs pauses, linger {linger:?}: median {:.0} ns CPU per event (runs {ns:.0?})",
                ns[2]
            );
        }
    }

    /// From flush to `Settled` for one event at a time, as a prompt's answer waits for it:
    /// `flush_urgent` against `flush` (which lingers), interleaved.
    #[test]
    #[ignore = "a measurement: run with --release --ignored --nocapture"]
    fn settle_latency_of_one_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("latency.db"), StoreOptions::default()).unwrap();
        let (tx, notices) = mpsc::channel();
        let mut handle = store
            .start_writer(move |notice| {
                let _ = tx.send(notice);
            })
            .unwrap();
        let session = SessionId::new("latency");
        let mut samples = [Vec::new(), Vec::new()];
        for n in 1..=400u64 {
            handle.append(&session, None, "say", 1, |out| out.extend_from_slice(b"{}"));
            let urgent = n % 2 == 0;
            let start = Instant::now();
            if urgent {
                handle.flush_urgent();
            } else {
                handle.flush();
            }
            wait_settled(&notices, n).unwrap();
            samples[usize::from(urgent)].push(start.elapsed());
        }
        for (name, mut times) in ["flush", "flush_urgent"].into_iter().zip(samples) {
            times.sort();
            let p = |q: usize| times[times.len() * q / 100];
            println!(
                "{name}: one event settled in p50 {:?}, p99 {:?}",
                p(50),
                p(99)
            );
        }
        handle.close().wait_blocking(SETTLE_TIMEOUT);
    }
}
