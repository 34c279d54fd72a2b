//! A scripted LSP client for `ourocodus lsp`: Content-Length framing both ways, the
//! server's requests answered by the test's policy, every wait bounded.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;

use super::{WAIT, ourocodus_bin};

/// How the test answers a request from the server (`None`: answer `null`).
pub type Policy<'a> = &'a mut dyn FnMut(&Value) -> Option<Value>;

/// A running `ourocodus lsp` with this client on its stdio.
pub struct LspClient {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::UnboundedReceiver<Value>,
    /// Messages read while waiting for a response, not yet looked at.
    pending: VecDeque<Value>,
    next_id: i64,
    /// Every message the server sent, in order.
    pub seen: Vec<Value>,
    pub dir: tempfile::TempDir,
}

impl LspClient {
    /// Starts `ourocodus lsp --config <team>` in a fresh directory.
    pub async fn start(team_toml: &str) -> LspClient {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("team.toml");
        std::fs::write(&config, team_toml).expect("write config");
        let stderr = std::fs::File::create(dir.path().join("lsp.stderr")).expect("stderr");
        let mut child = Command::new(ourocodus_bin())
            .arg("lsp")
            .arg("--config")
            .arg(&config)
            .arg("--store")
            .arg(dir.path().join("store.db"))
            .current_dir(dir.path())
            .env("OUROCODUS_LOG", "debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn ourocodus lsp");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(read_frames(stdout, tx));
        LspClient {
            stdin: child.stdin.take(),
            child,
            incoming,
            pending: VecDeque::new(),
            next_id: 0,
            seen: Vec::new(),
            dir,
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("lsp.stderr")).unwrap_or_default()
    }

    /// Writes bytes as they are (for malformed-framing tests).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).await.expect("write to server");
        stdin.flush().await.expect("flush");
    }

    /// Writes one message with its Content-Length header.
    pub async fn send(&mut self, message: &Value) {
        let body = message.to_string();
        let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.send_raw(frame.as_bytes()).await;
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }))
            .await;
    }

    /// Sends a request; returns its id.
    pub async fn request_id(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send(&message).await;
        id
    }

    /// Sends a request and waits for its response; what came before it (the
    /// server's own requests unanswered) is kept for `next`, in order.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.request_id(method, params).await;
        let mut before = Vec::new();
        let response = loop {
            let message = self.next().await;
            if message["id"] == id && message.get("method").is_none() {
                break message;
            }
            before.push(message);
        };
        for message in before.into_iter().rev() {
            self.pending.push_front(message);
        }
        response
    }

    /// Reads messages until one matches `done`, answering the server's requests with
    /// `policy`; returns everything read, the match last.
    pub async fn until(
        &mut self,
        policy: Policy<'_>,
        mut done: impl FnMut(&Value) -> bool,
    ) -> Vec<Value> {
        let mut read = Vec::new();
        loop {
            let message = self.next().await;
            read.push(message.clone());
            if message.get("method").is_some() && message.get("id").is_some() {
                let result = policy(&message).unwrap_or(Value::Null);
                let answer = json!({ "jsonrpc": "2.0", "id": message["id"], "result": result });
                self.send(&answer).await;
            }
            if done(&message) {
                return read;
            }
        }
    }

    /// The next message (one kept by `request` first), bounded by `WAIT`.
    pub async fn next(&mut self) -> Value {
        match self.pending.pop_front() {
            Some(message) => message,
            None => self.receive().await,
        }
    }

    /// The next message off the wire, bounded by `WAIT`.
    async fn receive(&mut self) -> Value {
        let message = tokio::time::timeout(WAIT, self.incoming.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no message from the server in time; stderr:\n{}",
                    self.stderr()
                )
            })
            .unwrap_or_else(|| panic!("the server closed its output; stderr:\n{}", self.stderr()));
        self.seen.push(message.clone());
        message
    }

    /// `initialize` (with `capabilities` and this directory as the root), then
    /// `initialized`; returns the result.
    pub async fn initialize(&mut self, capabilities: Value) -> Value {
        let root = format!("file://{}", self.root().display());
        let params = json!({ "processId": null, "rootUri": root, "capabilities": capabilities });
        let response = self.request("initialize", params).await;
        self.notify("initialized", json!({})).await;
        response["result"].clone()
    }

    /// Closes the server's input without `exit`; the process's status and its log.
    pub async fn close(mut self) -> (std::process::ExitStatus, String) {
        drop(self.stdin.take());
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the server exits in time")
            .expect("wait");
        (status, self.stderr())
    }

    /// `shutdown` then `exit`; the process's status.
    pub async fn exit(mut self) -> std::process::ExitStatus {
        self.request("shutdown", Value::Null).await;
        self.notify("exit", Value::Null).await;
        drop(self.stdin.take());
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the server exits in time")
            .expect("wait")
    }
}

/// Reads Content-Length frames into messages; a frame that is not JSON fails the test.
async fn read_frames(stdout: ChildStdout, tx: mpsc::UnboundedSender<Value>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length:") {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let length = length.expect("a Content-Length header");
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let value: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "the server wrote a frame that is not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        });
        if tx.send(value).is_err() {
            return;
        }
    }
}

/// Waits a little for anything more, for tests that check nothing else came.
pub async fn quiet_for(client: &mut LspClient, wait: Duration) -> Vec<Value> {
    let mut more: Vec<Value> = client.pending.drain(..).collect();
    while let Ok(Some(message)) = tokio::time::timeout(wait, client.incoming.recv()).await {
        more.push(message);
    }
    more
}
