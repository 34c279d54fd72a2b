//! The proxy being demonstrated: `ourocodus acp` as a child process with its stdin
//! and stdout piped and its stderr in a log file. A thread reads its messages; every
//! wait has a deadline; it is ended by closing its input, then by its PID if need be.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::failure::DemoFailure;
use super::workspace::Workspace;

/// How long the proxy may take to exit once its input is closed.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// One line the proxy wrote.
enum Incoming {
    Message(Value),
    NotJson(String),
}

pub struct ProxyProcess {
    child: Child,
    /// `None` once closed, which asks the proxy to shut down.
    stdin: Option<ChildStdin>,
    /// Lines from the reader thread; disconnected when the proxy's stdout ends.
    incoming: Receiver<Incoming>,
}

impl ProxyProcess {
    /// Starts `<executable> acp --config <team>` in the workspace's project dir.
    pub fn start(executable: &Path, workspace: &Workspace) -> Result<ProxyProcess, DemoFailure> {
        let log_path = workspace.log_path();
        let log = std::fs::File::create(&log_path).map_err(|source| DemoFailure::Setup {
            path: log_path.clone(),
            source,
        })?;
        let mut child = Command::new(executable)
            .arg("acp")
            .arg("--config")
            .arg(workspace.config_path())
            .arg("--store")
            .arg(workspace.store_path())
            .current_dir(workspace.project_dir())
            // The log is a file: keep the proxy's logger from colouring it.
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(DemoFailure::Spawn)?;
        let (incoming_tx, incoming) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || read_lines(stdout, incoming_tx));
        }
        Ok(ProxyProcess {
            stdin: child.stdin.take(),
            child,
            incoming,
        })
    }

    /// Writes one message as one line.
    pub fn send(&mut self, message: &Value) -> Result<(), DemoFailure> {
        let closed = || std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| DemoFailure::WriteToProxy(closed()))?;
        let line = format!("{message}\n");
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(DemoFailure::WriteToProxy)
    }

    /// The next message, if one comes before `deadline`.
    pub fn next_before(
        &mut self,
        deadline: Instant,
        waiting_for: &str,
    ) -> Result<Value, DemoFailure> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.incoming.recv_timeout(left) {
            Ok(Incoming::Message(message)) => Ok(message),
            Ok(Incoming::NotJson(line)) => Err(DemoFailure::NotJson { line }),
            Err(RecvTimeoutError::Timeout) => Err(DemoFailure::Timeout {
                waiting_for: waiting_for.to_string(),
                waited: left,
            }),
            Err(RecvTimeoutError::Disconnected) => Err(DemoFailure::ProxyGone {
                waiting_for: waiting_for.to_string(),
            }),
        }
    }

    /// Closes the proxy's input and waits for it to exit; kills it if it takes too long.
    pub fn stop(mut self) -> Result<(), DemoFailure> {
        drop(self.stdin.take());
        if self.exited_within(EXIT_WAIT) {
            return Ok(());
        }
        self.kill();
        Err(DemoFailure::SlowExit(EXIT_WAIT))
    }

    fn exited_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return true,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        false
    }

    /// Kills the proxy by its PID (our own child, nothing else) and reaps it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ProxyProcess {
    /// A demo that failed part-way still ends its proxy.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            drop(self.stdin.take());
            if !self.exited_within(EXIT_WAIT) {
                self.kill();
            }
        }
    }
}

/// Reads the proxy's stdout line by line until it ends or the demo stops listening.
fn read_lines(stdout: impl std::io::Read, incoming_tx: mpsc::Sender<Incoming>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let incoming = match serde_json::from_str(&line) {
            Ok(message) => Incoming::Message(message),
            Err(_) => Incoming::NotJson(line),
        };
        if incoming_tx.send(incoming).is_err() {
            break;
        }
    }
}

/// The last `count` lines of the proxy's log, for a failure report.
pub fn log_tail(workspace: &Workspace, count: usize) -> String {
    let log = std::fs::read_to_string(workspace.log_path()).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}
