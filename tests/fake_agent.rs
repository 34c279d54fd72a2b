//! `ourocodus fake-agent` as a process: exit codes, end of input, signals' worth of
//! behaviour (process group, stderr, memory under a stalled reader) that the
//! in-process tests cannot see. Every wait is bounded.

// A failed unwrap is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

struct Agent {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Vec<u8>>,
}

impl Agent {
    fn start(flags: &[&str]) -> Agent {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ourocodus"))
            .arg("fake-agent")
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the agent");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        Agent {
            child,
            stdin,
            lines: read_lines(stdout, 1024),
        }
    }

    fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{message}").expect("write to the agent");
    }

    fn request(&mut self, id: i64, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
    }

    fn next_line(&self) -> Vec<u8> {
        self.lines
            .recv_timeout(WAIT)
            .expect("the agent said nothing in time")
    }

    fn next(&self) -> Value {
        serde_json::from_slice(&self.next_line()).expect("a JSON line")
    }

    /// `initialize` and `session/new`, answers read.
    fn handshake(&mut self) {
        self.request(1, "initialize", json!({ "protocolVersion": 1 }));
        assert_eq!(self.next()["id"], 1);
        self.request(2, "session/new", json!({ "cwd": "/tmp", "mcpServers": [] }));
        assert_eq!(self.next()["result"]["sessionId"], "fake-1");
    }

    fn prompt(&mut self, id: i64, text: &str) {
        let prompt = json!([{ "type": "text", "text": text }]);
        self.request(
            id,
            "session/prompt",
            json!({ "sessionId": "fake-1", "prompt": prompt }),
        );
    }

    fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the agent did not exit");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: impl Read + Send + 'static, read_ahead: usize) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::sync_channel(read_ahead);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            if !matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                return;
            }
            line.pop_if(|b| *b == b'\n');
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn text_of(message: &Value) -> Option<&str> {
    message["params"]["update"]["content"]["text"].as_str()
}

#[test]
fn crash_flushes_what_was_said_then_exits_with_code_3_without_answering() {
    let mut agent = Agent::start(&[]);
    agent.handshake();
    agent.prompt(3, "say last words; crash; say never");
    assert_eq!(text_of(&agent.next()), Some("last words"));
    assert_eq!(agent.wait_for_exit().code(), Some(3));
    assert!(
        agent.lines.recv_timeout(WAIT).is_err(),
        "nothing after the crash"
    );
}

#[test]
fn exit_ends_the_process_with_the_given_code() {
    let mut agent = Agent::start(&[]);
    agent.handshake();
    agent.prompt(3, "exit 7");
    assert_eq!(agent.wait_for_exit().code(), Some(7));
}

#[test]
fn the_end_of_stdin_ends_the_agent_with_success() {
    let mut agent = Agent::start(&[]);
    agent.handshake();
    agent.stdin = None;
    assert_eq!(agent.wait_for_exit().code(), Some(0));
}

#[test]
fn with_ignore_eof_the_agent_outlives_its_stdin() {
    let mut agent = Agent::start(&["--ignore-eof"]);
    agent.handshake();
    agent.stdin = None;
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        agent.child.try_wait().expect("wait").is_none(),
        "still running"
    );
}

#[test]
fn startup_delay_holds_back_the_first_answer() {
    let start = Instant::now();
    let mut agent = Agent::start(&["--startup-delay", "300ms"]);
    agent.request(1, "initialize", json!({ "protocolVersion": 1 }));
    assert_eq!(agent.next()["id"], 1);
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn a_spawned_grandchild_lives_in_the_agents_process_group() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::{Pid, getpgid};
    let mut agent = Agent::start(&[]);
    agent.handshake();
    agent.prompt(3, "spawn grandchild");
    let said = agent.next();
    let pid: i32 = text_of(&said)
        .and_then(|t| t.strip_prefix("grandchild pid: "))
        .and_then(|p| p.parse().ok())
        .expect("a pid");
    let agent_pid = Pid::from_raw(agent.child.id() as i32);
    let group = getpgid(Some(Pid::from_raw(pid)));
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    assert_eq!(group.ok(), getpgid(Some(agent_pid)).ok());
}

#[test]
fn stderr_flood_writes_the_lines_and_the_turn_goes_on() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ourocodus"))
        .arg("fake-agent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the agent");
    let stderr = child.stderr.take().expect("stderr");
    let counter = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.contains("stderr line"))
            .count()
    });
    let mut agent = Agent {
        lines: read_lines(child.stdout.take().expect("stdout"), 1024),
        stdin: child.stdin.take(),
        child,
    };
    agent.handshake();
    agent.prompt(3, "stderr flood 20000; say flooded");
    assert_eq!(text_of(&agent.next()), Some("flooded"));
    assert_eq!(agent.next()["id"], 3);
    agent.stdin = None;
    agent.wait_for_exit();
    assert_eq!(counter.join().ok(), Some(20_000));
}

#[test]
fn garbage_on_stdout_includes_invalid_utf8_and_service_goes_on() {
    let mut agent = Agent::start(&[]);
    agent.handshake();
    agent.prompt(3, "garbage on stdout; say fine");
    let mut invalid_utf8 = false;
    loop {
        let line = agent.next_line();
        invalid_utf8 |= std::str::from_utf8(&line).is_err();
        if serde_json::from_slice::<Value>(&line).is_ok_and(|m| text_of(&m) == Some("fine")) {
            break;
        }
    }
    assert!(invalid_utf8);
    assert_eq!(agent.next()["id"], 3);
}

/// VmRSS of a process, in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_stalled_reader_keeps_the_agents_memory_small_and_cancel_still_works() {
    let mut agent = Agent::start(&[]);
    agent.handshake();
    agent.prompt(3, "stream 10m chunks");
    std::thread::sleep(Duration::from_millis(500));
    let resident = resident_kib(agent.child.id());
    agent.send(json!({ "jsonrpc": "2.0", "method": "session/cancel", "params": { "sessionId": "fake-1" } }));
    loop {
        let line = agent.next_line();
        if line.starts_with(br#"{"jsonrpc":"2.0","id":3,"#) {
            assert!(line.ends_with(br#"{"stopReason":"cancelled"}}"#));
            break;
        }
    }
    assert!(
        resident < 64 * 1024,
        "{resident} KiB resident while stalled"
    );
}

#[test]
fn cancel_stops_a_fast_stream_promptly() {
    let mut agent = Agent::start(&[]);
    agent.handshake();
    agent.prompt(3, "stream 1000m chunks");
    // Drain as fast as we can, looking only for the answer.
    let stdout_lines = std::mem::replace(&mut agent.lines, mpsc::sync_channel(1).1);
    let (answered_tx, answered) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok(line) = stdout_lines.recv() {
            if line.starts_with(br#"{"jsonrpc":"2.0","id":3,"#) {
                let _ = answered_tx.send((Instant::now(), line));
                return;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let cancelled_at = Instant::now();
    agent.send(json!({ "jsonrpc": "2.0", "method": "session/cancel", "params": { "sessionId": "fake-1" } }));
    let (at, line) = answered.recv_timeout(WAIT).expect("an answer");
    assert!(line.ends_with(br#"{"stopReason":"cancelled"}}"#));
    assert!(
        at - cancelled_at < Duration::from_secs(2),
        "answered {:?} after the cancel",
        at - cancelled_at
    );
}
