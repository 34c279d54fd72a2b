//! An editor over raw bytes, for what the harness's `Proxy` cannot do: write bytes
//! that are not UTF-8, and stop reading the proxy's output (the harness reads and
//! parses everything as it comes). Small messages are parsed and schema-checked like
//! the harness does; bulk output is left to the test's own scanner.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::support::{Peer, WAIT, ourocodus_bin, schema};

/// Big reads for bulk output.
const READ_BUFFER: usize = 1 << 20;

pub struct RawEditor {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The proxy's stdout; nothing reads it unless the test does.
    pub stdout: BufReader<ChildStdout>,
    /// Methods of the requests sent, by id, to check the answers against the schema.
    sent: HashMap<i64, String>,
    next_id: i64,
    pub dir: tempfile::TempDir,
    stderr_path: PathBuf,
}

impl RawEditor {
    /// Starts `ourocodus acp` with `team_toml`, like `Proxy::start`.
    pub async fn start(team_toml: &str) -> RawEditor {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("team.toml");
        std::fs::write(&config, team_toml).expect("write config");
        let stderr_path = dir.path().join("proxy.stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut child = Command::new(ourocodus_bin())
            .arg("acp")
            .arg("--config")
            .arg(&config)
            .arg("--store")
            .arg(dir.path().join("store.db"))
            .current_dir(dir.path())
            .env("OUROCODUS_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn ourocodus acp");
        let stdout = child.stdout.take().expect("stdout");
        RawEditor {
            stdin: child.stdin.take(),
            stdout: BufReader::with_capacity(READ_BUFFER, stdout),
            child,
            sent: HashMap::new(),
            next_id: 0,
            dir,
            stderr_path,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the proxy runs")
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).await.expect("write to proxy");
        stdin.flush().await.expect("flush");
    }

    /// `initialize` as a plain editor and `session/new`; returns the session id.
    pub async fn plain_session(&mut self) -> String {
        let id = self
            .request(
                "initialize",
                json!({ "protocolVersion": 1, "clientCapabilities": {} }),
            )
            .await;
        self.until_response(id, |_| None).await;
        let cwd = self.dir.path().to_string_lossy().to_string();
        let id = self
            .request("session/new", json!({ "cwd": cwd, "mcpServers": [] }))
            .await;
        let (_, answer) = self.until_response(id, |_| None).await;
        answer["result"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("session/new failed: {answer}"))
            .to_string()
    }

    pub async fn prompt_id(&mut self, session: &str, text: &str) -> i64 {
        let params = json!({ "sessionId": session, "prompt": [{ "type": "text", "text": text }] });
        self.request("session/prompt", params).await
    }

    /// Closes the proxy's stdin (the editor leaving) without waiting for anything.
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Closes stdin and waits (bounded) for the proxy to exit.
    pub async fn close(mut self) -> ExitStatus {
        drop(self.stdin.take());
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the proxy exits after stdin closed")
            .expect("wait")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for RawEditor {
    /// Like the harness: SIGTERM lets the proxy end its agents.
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

impl Peer for RawEditor {
    /// Writes `message` as one line, remembering the method of a request so
    /// that its answer is checked against the schema.
    async fn send(&mut self, message: Value) {
        if let (Some(id), Some(method)) = (message["id"].as_i64(), message["method"].as_str()) {
            self.sent.insert(id, method.to_string());
        }
        self.write(format!("{message}\n").as_bytes()).await;
    }

    /// The next line from the proxy, parsed and schema-checked, within `WAIT`.
    async fn next(&mut self) -> Value {
        let mut line = String::new();
        let read = tokio::time::timeout(WAIT, self.stdout.read_line(&mut line)).await;
        match read {
            Ok(Ok(n)) if n > 0 => {}
            other => panic!("no line from the proxy ({other:?})\n{}", self.stderr()),
        }
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("proxy wrote a line that is not JSON ({e}): {line}"));
        let answered = message["id"]
            .as_i64()
            .filter(|_| message.get("method").is_none())
            .and_then(|id| self.sent.get(&id));
        schema::check_agent_message(&message, answered.map(String::as_str));
        message
    }

    fn fresh_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn debug_dump(&self) -> String {
        self.stderr()
    }
}
