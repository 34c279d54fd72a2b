//! Third-party ACP peers on either side of the proxy, installed by
//! `bash tests/peers/install.sh` (what each does is measured in tests/peers/FINDINGS.md):
//! - `ts_agent`       the ACP TypeScript SDK's example agent as a child role
//! - `python_editor`  an editor written with the ACP Python SDK driving the proxy
//! - `claude`         the real Claude Code adapter offline, without credentials
//! - `claude_turns`   whole Claude turns against a scripted Messages API on loopback
//!
//! Every test is ignored by default, so plain `cargo test` needs no install step; CI
//! runs them with `--include-ignored`. A test that is run without the peers installed
//! fails with a message saying how to install them, never passes silently. Tests
//! ignored as `proxy bug: ...` show a bug of the proxy and fail until it is fixed.

mod claude;
mod claude_turns;
mod python_editor;
mod ts_agent;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::support::{Peer, WAIT};

/// `tests/peers`, where install.sh puts node_modules and .venv.
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// The absolute path of an installed peer file; panics if it is not there.
pub fn installed(relative: &str) -> PathBuf {
    let path = peers_dir().join(relative);
    assert!(
        path.exists(),
        "third-party peer missing: {}\ninstall the peers with `bash tests/peers/install.sh`",
        path.display()
    );
    path
}

/// A path as a TOML string (Rust's debug quoting is valid TOML for paths).
pub fn toml_path(path: &Path) -> String {
    format!("{:?}", path.to_string_lossy())
}

/// Whether a message is a `session/update` with `_meta.ourocodus.label` (a speaker
/// label the proxy writes for plain editors).
pub fn is_label(message: &Value) -> bool {
    message["params"]["update"]["_meta"]["ourocodus"]["label"] == true
}

/// Reads messages until `wanted` matches one (bounded by `WAIT` per message).
pub async fn next_matching(
    proxy: &mut crate::support::Proxy,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    loop {
        let message = proxy.next_within(WAIT).await.unwrap_or_else(|| {
            panic!("waited {WAIT:?} for {what} in vain\n{}", proxy.debug_dump())
        });
        if wanted(&message) {
            return message;
        }
    }
}

/// A peer agent run directly, with no proxy in between: what it sends is the
/// reference the proxied copy is compared with.
pub struct DirectPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::UnboundedReceiver<Value>,
    next_id: i64,
    /// Everything received, in order, for failure messages.
    received: Vec<Value>,
}

impl DirectPeer {
    /// Spawns `command args` in its own process group with `env` added and `remove`d.
    pub fn spawn(
        command: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        remove: &[String],
        cwd: &Path,
    ) -> DirectPeer {
        let mut builder = Command::new(command);
        for name in remove {
            builder.env_remove(name);
        }
        let mut child = builder
            .args(args)
            .envs(env.iter().copied())
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", command.display()));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        DirectPeer {
            stdin: child.stdin.take(),
            child,
            incoming,
            next_id: 0,
            received: Vec::new(),
        }
    }

    /// `initialize` then `session/new` in `cwd`; returns the session/new result.
    pub async fn open_session(&mut self, cwd: &Path) -> Value {
        let caps = json!({ "fs": { "readTextFile": false, "writeTextFile": false } });
        let params = json!({ "protocolVersion": 1, "clientCapabilities": caps });
        let id = self.request("initialize", params).await;
        self.until_response(id, |_| None).await;
        let params = json!({ "cwd": cwd, "mcpServers": [] });
        let id = self.request("session/new", params).await;
        let (_, response) = self.until_response(id, |_| None).await;
        assert!(
            response["result"]["sessionId"].is_string(),
            "session/new failed: {response}"
        );
        response["result"].clone()
    }
}

impl Drop for DirectPeer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        // Wrappers (tsx) leave a grandchild in the group: end the whole group.
        if let Some(pid) = self.child.id() {
            let group = nix::unistd::Pid::from_raw(pid as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

impl Peer for DirectPeer {
    async fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        let line = format!("{message}\n");
        stdin.write_all(line.as_bytes()).await.expect("write");
        stdin.flush().await.expect("flush");
    }

    async fn next(&mut self) -> Value {
        let message = tokio::time::timeout(WAIT, self.incoming.recv())
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                panic!(
                    "no message from the peer within {WAIT:?}\n{}",
                    self.debug_dump()
                )
            });
        self.received.push(message.clone());
        message
    }

    fn fresh_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn debug_dump(&self) -> String {
        format!("received so far: {:#?}", self.received)
    }
}
