//! The benchmark's fixtures: a scratch directory, team configurations of fake
//! agents, the commands that start the proxy, the baseline relay and a bare agent,
//! and the few ACP steps an editor takes before it prompts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::peer::{Peer, Response};
use crate::error::{Error, Result};

/// The bound on a handshake step or a short prompt.
pub const STEP_LIMIT: Duration = Duration::from_secs(20);
/// How long a peer may take to exit once its input is closed.
pub const EXIT_LIMIT: Duration = Duration::from_secs(5);

/// Whether the benchmark's editor shows subagents (each role in its own session)
/// or is a plain editor (every role through the speaker floor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditorKind {
    Plain,
    Subagents,
}

/// Whether the proxy records into an event store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreUse {
    Off,
    On,
}

/// A scratch directory for configs, logs and the sessions' cwd; removed on drop.
pub struct Workspace {
    dir: PathBuf,
    /// This very binary: it is the proxy, the relay and the fake agent.
    exe: PathBuf,
    /// Numbers the files of one run (proxy logs, configs), so no two share a name.
    serial: AtomicUsize,
}

impl Workspace {
    pub fn create() -> Result<Workspace> {
        let dir = std::env::temp_dir().join(format!("ourocodus-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Workspace {
            dir,
            exe: std::env::current_exe()?,
            serial: AtomicUsize::new(0),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This very binary.
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// `ourocodus acp` with a team of `roles` fake agents (r0, r1, ...), recording
    /// into the workspace's store or into none; under the command in
    /// `OUROCODUS_BENCH_WRAP`, if set (a profiler, for `--profile-proxy`).
    pub fn proxy(&self, roles: usize, store: StoreUse) -> Result<Peer> {
        self.proxy_sandboxed(roles, store, true)
    }

    /// The same, with every role's kernel sandbox on (the default) or off.
    pub fn proxy_sandboxed(&self, roles: usize, store: StoreUse, sandbox: bool) -> Result<Peer> {
        let config = self.team_config(roles, sandbox)?;
        let wrap = std::env::var("OUROCODUS_BENCH_WRAP").unwrap_or_default();
        let mut command = match wrap.split_whitespace().collect::<Vec<_>>().split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&self.exe);
                command
            }
            None => Command::new(&self.exe),
        };
        command
            .arg("acp")
            .arg("--config")
            .arg(config)
            .current_dir(&self.dir)
            .env("OUROCODUS_LOG", "warn");
        match store {
            StoreUse::Off => command.arg("--no-store"),
            StoreUse::On => command.arg("--store").arg(self.store_path()),
        };
        let index = self.serial.fetch_add(1, Ordering::Relaxed);
        let log = self.dir.join(format!("proxy-{index}.stderr"));
        Peer::start("proxy", command, log)
    }

    /// The store the proxy records into when the store is on.
    pub fn store_path(&self) -> PathBuf {
        self.dir.join("store.db")
    }

    /// Removes the store (and its WAL), so each measurement starts from an empty one.
    pub fn clear_store(&self) {
        let path = self.store_path();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    /// The baseline relay wrapping one fake agent.
    pub fn relay(&self) -> Result<Peer> {
        let mut command = Command::new(&self.exe);
        command.arg("bench-relay").arg("--").arg(&self.exe);
        command.args(fake_agent_args("r0"));
        Peer::start("relay", command, self.dir.join("relay.stderr"))
    }

    /// One fake agent with nothing in between; `index` tells apart the logs of
    /// agents running at once.
    pub fn bare_agent(&self, index: usize) -> Result<Peer> {
        let mut command = Command::new(&self.exe);
        command.args(fake_agent_args("r0"));
        Peer::start(
            "agent",
            command,
            self.dir.join(format!("agent-{index}.stderr")),
        )
    }

    pub fn team_config(&self, roles: usize, sandbox: bool) -> Result<PathBuf> {
        // Written aside and renamed into place: a proxy started a moment ago may be
        // reading the same file, and must never see it half written.
        let path = self.dir.join(format!("team-{roles}-{sandbox}.toml"));
        let index = self.serial.fetch_add(1, Ordering::Relaxed);
        let aside = self.dir.join(format!(".team-{index}.toml"));
        std::fs::write(&aside, team_toml(&self.exe, roles, sandbox))?;
        std::fs::rename(&aside, &path)?;
        Ok(path)
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The names of a team of `count` roles.
pub fn role_names(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("r{i}")).collect()
}

fn fake_agent_args(name: &str) -> [&str; 6] {
    ["fake-agent", "--name", name, "--no-modes", "--models", ""]
}

fn team_toml(exe: &Path, roles: usize, sandbox: bool) -> String {
    let exe = exe.to_string_lossy();
    let sandbox = if sandbox { "auto" } else { "off" };
    let mut toml =
        format!("[defaults]\ncommand = {exe:?}\nroute = [\"r0\"]\nsandbox = {sandbox:?}\n");
    for role in role_names(roles) {
        let args = fake_agent_args(&role).map(|a| format!("{a:?}")).join(", ");
        toml.push_str(&format!("\n[roles.{role}]\nargs = [{args}]\n"));
    }
    toml
}

/// `initialize` then `session/new`; returns the session id.
pub fn open_session(peer: &mut Peer, editor: EditorKind, cwd: &Path) -> Result<String> {
    initialize(peer, editor)?;
    new_session(peer, cwd)
}

pub fn initialize(peer: &mut Peer, editor: EditorKind) -> Result<()> {
    let capabilities = match editor {
        EditorKind::Plain => json!({}),
        EditorKind::Subagents => json!({"subagents": {}}),
    };
    let params = json!({"protocolVersion": 1, "clientCapabilities": capabilities});
    call(peer, "initialize", params).map(drop)
}

/// `session/new`; returns the session id.
pub fn new_session(peer: &mut Peer, cwd: &Path) -> Result<String> {
    let result = call(peer, "session/new", json!({"cwd": cwd, "mcpServers": []}))?;
    match result["sessionId"].as_str() {
        Some(id) => Ok(id.to_string()),
        None => Err(peer.failure("session/new gave no sessionId")),
    }
}

/// A request answered within `STEP_LIMIT`; its result.
pub fn call(peer: &mut Peer, method: &str, params: Value) -> Result<Value> {
    let id = peer.request(method, params)?;
    let response = peer.wait_response(id, STEP_LIMIT)?;
    result_of(peer, &response)
}

/// Sends a one-text-block prompt; returns its request id.
pub fn send_prompt(peer: &mut Peer, session: &str, text: &str) -> Result<i64> {
    let params = json!({"sessionId": session, "prompt": [{"type": "text", "text": text}]});
    peer.request("session/prompt", params)
}

/// Waits for a prompt's answer and checks that the turn ended normally.
pub fn finish_prompt(peer: &mut Peer, id: i64, limit: Duration) -> Result<Response> {
    let response = peer.wait_response(id, limit)?;
    let result = result_of(peer, &response)?;
    match result["stopReason"].as_str() {
        Some("end_turn") => Ok(response),
        other => Err(peer.failure(&format!("prompt ended with stopReason {other:?}"))),
    }
}

fn result_of(peer: &mut Peer, response: &Response) -> Result<Value> {
    let message: Value = serde_json::from_slice(&response.line)
        .map_err(|e| Error::Other(format!("unreadable response: {e}")))?;
    match message.get("result") {
        Some(result) => Ok(result.clone()),
        None => Err(peer.failure(&format!("request failed: {}", message["error"]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_team_config_names_every_role_with_its_fake_agent() {
        let toml = team_toml(Path::new("/bin/ourocodus"), 3, true);
        let table: toml::Table = toml::from_str(&toml).expect("valid toml");
        assert_eq!(
            table["defaults"]["command"].as_str(),
            Some("/bin/ourocodus")
        );
        let roles = table["roles"].as_table().expect("roles");
        assert_eq!(roles.keys().collect::<Vec<_>>(), ["r0", "r1", "r2"]);
        assert_eq!(roles["r2"]["args"][2].as_str(), Some("r2"));
    }
}
