//! Steps that misbehave on purpose or look at the process itself: garbage on
//! stdout, floods on stderr, a grandchild process, writes and shell commands past the
//! protocol (what a sandbox must stop), and `whoami`.

use std::io::Write;
use std::process::{Command, Stdio};

use super::{StepResult, Turn};
use crate::fake_agent::session::advertised_capabilities;

/// Lines no client can use, then one unasked-for response; see `garbage()`.
const GARBAGE: &[&[u8]] = &[
    b"this line is not json\n",
    b"{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":\n",
    b"invalid utf-8: \xff\xfe\xc3\x28 end\n",
    b"[1,2,3]\n",
    b"{\"hello\":\"a JSON object that is not JSON-RPC\"}\n",
    b"{\"jsonrpc\":\"2.0\",\"id\":987654321,\"result\":{\"unasked\":true}}\n",
];

impl Turn {
    /// Non-JSON lines, invalid UTF-8, JSON that is not JSON-RPC, and a response
    /// to a request id nobody used; the turn then carries on.
    pub(super) async fn garbage(&self) -> StepResult {
        self.send(GARBAGE.concat()).await
    }

    /// Writes `lines` numbered lines to stderr from a blocking thread, so a peer
    /// that does not drain our stderr stalls this turn and nothing else.
    pub(super) async fn stderr_flood(&self, lines: u64) -> StepResult {
        let cancel = self.cancel.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let mut err = std::io::BufWriter::new(std::io::stderr().lock());
            for n in 1..=lines {
                if n.is_multiple_of(1024) && cancel.is_cancelled() {
                    break;
                }
                if writeln!(
                    err,
                    "fake-agent stderr line {n} of {lines}: lorem ipsum dolor sit amet"
                )
                .is_err()
                {
                    break;
                }
            }
            let _ = err.flush();
        });
        let _ = self.interruptible(writer).await?;
        Ok(())
    }

    /// Starts `sleep 1000` as our own child (in our process group), for tests
    /// that check a whole group is stopped. It is never waited for.
    pub(super) async fn spawn_grandchild(&self) -> StepResult {
        let spawned = Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn();
        let said = match spawned {
            Ok(child) => format!("grandchild pid: {}", child.id()),
            Err(e) => format!("spawn failed: {e}"),
        };
        self.say(&said).await
    }

    /// Writes a file ourselves, as an agent with its own file tools does.
    pub(super) async fn disk_write(&self, path: &str, content: &str) -> StepResult {
        let path = self.resolve(path);
        let said = match std::fs::write(&path, content) {
            Ok(()) => format!("disk wrote {path}"),
            Err(e) => format!("disk write failed: {e}"),
        };
        self.say(&said).await
    }

    /// Runs `sh -c command` in the session cwd and says its exit code and output.
    pub(super) async fn shell(&self, command: &str) -> StepResult {
        let (command, cwd) = (command.to_string(), self.session.cwd.clone());
        // A blocking thread: the agent's runtime has no process driver.
        let run = tokio::task::spawn_blocking(move || {
            Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(cwd)
                .stdin(Stdio::null())
                .output()
        });
        let said = match self
            .interruptible(run)
            .await?
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        {
            Ok(out) => {
                let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&out.stderr));
                let code = out.status.code().unwrap_or(-1);
                format!("shell exit {code}: {}", text.trim())
            }
            Err(e) => format!("shell failed to start: {e}"),
        };
        self.say(&said).await
    }

    /// One `key: value` line per fact the session was given.
    pub(super) async fn whoami(&self) -> StepResult {
        self.say(&self.whoami_text()).await
    }

    fn whoami_text(&self) -> String {
        let session = &self.session;
        let or_none = |v: Option<String>| v.unwrap_or_else(|| "none".to_string());
        let list = |items: Vec<String>| {
            if items.is_empty() {
                "none".to_string()
            } else {
                items.join(", ")
            }
        };
        [
            format!("name: {}", self.shared.name),
            format!("session: {}", session.id),
            format!("cwd: {}", session.cwd),
            format!(
                "system prompt: {}",
                or_none(session.system_prompt.as_ref().map(|v| v.to_string()))
            ),
            format!(
                "preamble: {}",
                or_none(session.preamble().map(|p| p.trim().to_string()))
            ),
            format!("mcp servers: {}", list(session.mcp_server_names.clone())),
            format!("mode: {}", or_none(session.mode())),
            format!("model: {}", or_none(session.model())),
            format!(
                "client capabilities: {}",
                list(advertised_capabilities(&session.client_capabilities))
            ),
        ]
        .join("\n")
    }
}
