//! A fake client for in-process tests: runs the agent on pipes in a thread and
//! reads its output with a timeout on every wait.

use std::io::{BufRead, BufReader, PipeWriter, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};

use crate::fake_agent::{FakeAgentArgs, serve};

/// The longest any single wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(10);

#[derive(Parser)]
struct TestCli {
    #[command(flatten)]
    args: FakeAgentArgs,
}

pub struct Peer {
    to_agent: Option<PipeWriter>,
    from_agent: mpsc::Receiver<Vec<u8>>,
    agent: JoinHandle<ExitCode>,
    next_id: i64,
}

impl Peer {
    /// Starts the agent with these command-line flags.
    pub fn start(flags: &[&str]) -> Peer {
        let argv = std::iter::once("fake-agent").chain(flags.iter().copied());
        let args = TestCli::parse_from(argv).args;
        let (agent_stdin, to_agent) = std::io::pipe().expect("pipe");
        let (agent_stdout_reader, agent_stdout) = std::io::pipe().expect("pipe");
        let agent =
            std::thread::spawn(move || serve(args, Box::new(agent_stdin), Box::new(agent_stdout)));
        Peer {
            to_agent: Some(to_agent),
            from_agent: read_lines(agent_stdout_reader),
            agent,
            next_id: 100,
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let pipe = self.to_agent.as_mut().expect("stdin already closed");
        pipe.write_all(bytes).expect("write to the agent");
    }

    pub fn send(&mut self, message: &Value) {
        self.send_raw(format!("{message}\n").as_bytes());
    }

    /// Sends a request; returns its id.
    pub fn request(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        id
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Answers a request the agent sent.
    pub fn respond(&mut self, request: &Value, result: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "id": request["id"], "result": result }));
    }

    pub fn respond_error(&mut self, request: &Value, code: i64, message: &str) {
        let error = json!({ "code": code, "message": message });
        self.send(&json!({ "jsonrpc": "2.0", "id": request["id"], "error": error }));
    }

    pub fn next_line(&mut self) -> Vec<u8> {
        self.next_line_within(WAIT)
            .expect("the agent said nothing in time")
    }

    pub fn next_line_within(&mut self, wait: Duration) -> Option<Vec<u8>> {
        self.from_agent.recv_timeout(wait).ok()
    }

    pub fn next(&mut self) -> Value {
        let line = self.next_line();
        serde_json::from_slice(&line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&line)))
    }

    /// Reads messages until one matches; returns those before it and the match.
    pub fn until(&mut self, matches: impl Fn(&Value) -> bool) -> (Vec<Value>, Value) {
        let mut before = Vec::new();
        loop {
            let message = self.next();
            if matches(&message) {
                return (before, message);
            }
            before.push(message);
        }
    }

    /// Reads until the response to `id`; returns the messages before it and the response.
    pub fn response_to(&mut self, id: i64) -> (Vec<Value>, Value) {
        self.until(|m| m["id"] == id && m.get("method").is_none())
    }

    /// Sends a request and returns its response, skipping anything before it.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.request(method, params);
        self.response_to(id).1
    }

    /// `initialize` with these client capabilities, then `session/new`; returns the session id.
    pub fn handshake(&mut self, client_capabilities: Value) -> String {
        let init = self.call(
            "initialize",
            json!({ "protocolVersion": 1, "clientCapabilities": client_capabilities }),
        );
        assert_eq!(init["result"]["protocolVersion"], 1);
        self.new_session()
    }

    pub fn new_session(&mut self) -> String {
        let created = self.call(
            "session/new",
            json!({ "cwd": "/work/project", "mcpServers": [] }),
        );
        created["result"]["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string()
    }

    pub fn prompt(&mut self, session_id: &str, text: &str) -> i64 {
        let prompt = json!([{ "type": "text", "text": text }]);
        self.request(
            "session/prompt",
            json!({ "sessionId": session_id, "prompt": prompt }),
        )
    }

    /// Runs a prompt to its answer; returns the messages during it and the answer.
    pub fn run_prompt(&mut self, session_id: &str, text: &str) -> (Vec<Value>, Value) {
        let id = self.prompt(session_id, text);
        self.response_to(id)
    }

    /// Closes the agent's stdin and waits for it to end.
    pub fn finish(mut self) -> ExitCode {
        self.to_agent = None;
        let deadline = Instant::now() + WAIT;
        while !self.agent.is_finished() {
            assert!(
                Instant::now() < deadline,
                "the agent did not end after its stdin closed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        self.agent.join().expect("the agent thread panicked")
    }

    pub fn close_stdin(&mut self) {
        self.to_agent = None;
    }
}

/// Lines read ahead of the test; bounded, so a test that stops reading stalls
/// the agent's stdout like a real slow client.
const READ_AHEAD_LINES: usize = 1024;

fn read_lines(pipe: std::io::PipeReader) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::sync_channel(READ_AHEAD_LINES);
    std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(1 << 16, pipe);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    line.pop_if(|b| *b == b'\n');
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// The text of an agent_message_chunk, if the message is one.
pub fn chunk_text(message: &Value) -> Option<&str> {
    let update = &message["params"]["update"];
    (update["sessionUpdate"] == "agent_message_chunk")
        .then(|| update["content"]["text"].as_str())
        .flatten()
}

/// All message chunk texts, in order.
pub fn said(messages: &[Value]) -> Vec<&str> {
    messages.iter().filter_map(chunk_text).collect()
}

/// The `sessionUpdate` kinds of the updates, in order.
pub fn update_kinds(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .filter_map(|m| m["params"]["update"]["sessionUpdate"].as_str())
        .collect()
}
