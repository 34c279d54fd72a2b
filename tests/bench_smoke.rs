//! `ourocodus bench --quick` runs to its end and prints every metric. Timings and
//! ratios are never judged here: they swing with the machine. Lost messages are a
//! bug, though, and make the bench (and so this test) fail.

// A failed unwrap is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Generous: a debug build of the proxy is many times slower than a release one.
const LIMIT: Duration = Duration::from_secs(300);

const METRICS: [&str; 10] = [
    "fan-in 8 agents -> plain editor",
    "fan-in 8 agents -> subagent editor",
    "latency prompt -> first update p50",
    "latency prompt -> first update p99",
    "team start 8 roles",
    "peak RSS, idle team of 8",
    "peak RSS, 8 agents streaming",
    "peak RSS, editor stalled",
    "editor side: one agent read straight by the benchmark",
    "team start without the proxy",
];

fn read_all(mut source: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = source.read_to_string(&mut text);
        text
    })
}

#[test]
fn a_quick_bench_completes_and_prints_every_metric() {
    let mut bench = Command::new(env!("CARGO_BIN_EXE_ourocodus"))
        .args(["bench", "--quick"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ourocodus bench");
    let stdout = read_all(bench.stdout.take().expect("stdout"));
    let stderr = read_all(bench.stderr.take().expect("stderr"));
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = bench.try_wait().expect("wait for the bench") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = bench.kill();
            let _ = bench.wait();
            panic!("ourocodus bench --quick did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(
        status.success(),
        "bench failed ({status}):\n{stdout}\n{stderr}"
    );
    for metric in METRICS {
        assert!(stdout.contains(metric), "no `{metric}` in:\n{stdout}");
    }
}
