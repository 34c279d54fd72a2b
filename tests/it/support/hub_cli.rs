//! Running the hub's command-line clients (`ourocodus send/tail/agents/…`) against
//! a hub at an address with a token: whole runs bounded by a timeout, and
//! long-running ones (`tail`) read line by line and stopped by their own pid.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

use super::ourocodus_bin;

/// Where the clients find the hub.
#[derive(Clone, Debug)]
pub struct HubAt {
    pub addr: String,
    pub token: String,
}

/// `ourocodus ARGS` aimed at `hub` (environment only: no `--hub`), in `cwd`, without colour.
pub fn command(hub: &HubAt, cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(ourocodus_bin());
    command
        .args(args)
        .current_dir(cwd)
        .env("OUROCODUS_HUB", &hub.addr)
        .env("OUROCODUS_TOKEN", &hub.token)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs a command to its end, within `limit`.
pub async fn run(mut command: Command, limit: Duration) -> Output {
    let output = command.output();
    tokio::time::timeout(limit, output)
        .await
        .expect("the command ended in time")
        .expect("the command ran")
}

pub fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A running command whose stdout is read line by line.
pub struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    errors: Lines<BufReader<ChildStderr>>,
}

impl Running {
    pub fn spawn(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the command starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        Running {
            child,
            lines: BufReader::new(stdout).lines(),
            errors: BufReader::new(stderr).lines(),
        }
    }

    /// Waits for a line on stderr containing `text` (e.g. `tail`'s "following").
    pub async fn stderr_until(&mut self, limit: Duration, text: &str) -> String {
        loop {
            let line = tokio::time::timeout(limit, self.errors.next_line())
                .await
                .expect("a stderr line in time")
                .expect("stderr readable")
                .unwrap_or_else(|| panic!("stderr ended before {text:?}"));
            if line.contains(text) {
                return line;
            }
        }
    }

    /// The next line, within `limit`; `None` at the end of the output.
    pub async fn next_line(&mut self, limit: Duration) -> Option<String> {
        tokio::time::timeout(limit, self.lines.next_line())
            .await
            .expect("a line in time")
            .expect("stdout readable")
    }

    /// Lines until one satisfies `done` (included).
    pub async fn lines_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&str) -> bool,
    ) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let line = self
                .next_line(limit)
                .await
                .unwrap_or_else(|| panic!("output ended early after {seen:?}"));
            let last = done(&line);
            seen.push(line);
            if last {
                return seen;
            }
        }
    }

    /// Ends the command (its own pid only) and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// Waits for the command's own end within `limit`: its exit code and stderr.
    pub async fn wait(mut self, limit: Duration) -> (Option<i32>, String) {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("the command ended in time")
            .expect("waited");
        let mut text = String::new();
        while let Ok(Some(line)) = self.errors.next_line().await {
            text.push_str(&line);
            text.push('\n');
        }
        (status.code(), text)
    }
}
