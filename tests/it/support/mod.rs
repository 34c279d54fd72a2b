//! The integration-test harness: the real `ourocodus` binary between a scripted
//! editor (this code) and fake agents (the same binary). Every wait is bounded, every
//! message the proxy writes is checked against the ACP schema, and transcripts can be
//! normalized and compared with golden files.

pub mod hub_cli;
pub mod lsp_client;
pub mod schema;
pub mod transcript;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// The default bound on any single wait.
pub const WAIT: Duration = Duration::from_secs(15);

pub fn ourocodus_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ourocodus")
}

/// A team TOML where every role is the fake agent, named after its role.
pub fn fake_team(roles: &[&str]) -> String {
    fake_team_with(roles, "")
}

/// Like `fake_team`, with extra TOML appended to every role table.
pub fn fake_team_with(roles: &[&str], per_role: &str) -> String {
    team_toml(roles, &[], per_role)
}

/// Like `fake_team`, with extra `fake-agent` flags for every role.
pub fn fake_team_flags(roles: &[&str], flags: &[&str]) -> String {
    team_toml(roles, flags, "")
}

fn team_toml(roles: &[&str], flags: &[&str], per_role: &str) -> String {
    let mut toml = format!(
        "[defaults]\ncommand = {:?}\nroute = [{:?}]\n",
        ourocodus_bin(),
        roles[0]
    );
    for role in roles {
        let mut args = vec!["fake-agent", "--name", role];
        args.extend_from_slice(flags);
        toml.push_str(&format!(
            "\n[roles.{role}]\npersona = \"the {role} role\"\nargs = {args:?}\n{per_role}\n"
        ));
    }
    toml
}

/// `--store <dir>/store.db` unless `args` choose a store themselves.
fn store_args(dir: &Path, args: &[&str]) -> Vec<std::ffi::OsString> {
    if args.iter().any(|a| *a == "--store" || *a == "--no-store") {
        return Vec::new();
    }
    vec!["--store".into(), dir.join("store.db").into()]
}

/// One direction of the wire, for transcripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ToProxy,
    FromProxy,
}

/// A running proxy with a scripted editor attached.
pub struct Proxy {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::UnboundedReceiver<Value>,
    /// Everything sent and received, in order.
    pub transcript: Vec<(Dir, Value)>,
    next_id: i64,
    /// The temporary project directory (the session cwd) and config live here.
    pub dir: tempfile::TempDir,
    stderr_path: PathBuf,
}

impl Proxy {
    /// Starts `ourocodus acp` with `team_toml` written to a temp dir.
    pub async fn start(team_toml: &str) -> Proxy {
        Self::start_with_env(team_toml, &[]).await
    }

    pub async fn start_with_env(team_toml: &str, env: &[(&str, &str)]) -> Proxy {
        Self::start_with_env_changes(team_toml, env, &[]).await
    }

    /// Like `start_with_env`, also removing the inherited variables named in `remove`
    /// (e.g. credentials a hermetic run must not see).
    pub async fn start_with_env_changes(
        team_toml: &str,
        env: &[(&str, &str)],
        remove: &[String],
    ) -> Proxy {
        Self::spawn(team_toml, env, remove, &[]).await
    }

    /// Starts `ourocodus acp` with extra command-line arguments.
    pub async fn start_with_args(team_toml: &str, args: &[&str]) -> Proxy {
        Self::spawn(team_toml, &[], &[], args).await
    }

    /// Starts another proxy in the directory an earlier one used (its project, its
    /// store), with `env` set.
    pub async fn start_in(dir: tempfile::TempDir, team_toml: &str, env: &[(&str, &str)]) -> Proxy {
        Self::spawn_in(dir, team_toml, env, &[], &[]).await
    }

    /// The same, also removing the inherited variables named in `remove`.
    pub async fn start_in_with(
        dir: tempfile::TempDir,
        team_toml: &str,
        env: &[(&str, &str)],
        remove: &[String],
    ) -> Proxy {
        Self::spawn_in(dir, team_toml, env, remove, &[]).await
    }

    async fn spawn(
        team_toml: &str,
        env: &[(&str, &str)],
        remove: &[String],
        args: &[&str],
    ) -> Proxy {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::spawn_in(dir, team_toml, env, remove, args).await
    }

    async fn spawn_in(
        dir: tempfile::TempDir,
        team_toml: &str,
        env: &[(&str, &str)],
        remove: &[String],
        args: &[&str],
    ) -> Proxy {
        let config = dir.path().join("team.toml");
        std::fs::write(&config, team_toml).expect("write config");
        let runs = std::fs::read_dir(dir.path()).map_or(0, |d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("proxy"))
                .count()
        });
        let stderr_path = dir.path().join(format!(
            "proxy{}.stderr",
            if runs == 0 {
                String::new()
            } else {
                format!("-{runs}")
            }
        ));
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut command = Command::new(ourocodus_bin());
        for name in remove {
            command.env_remove(name);
        }
        command
            .arg("acp")
            .arg("--config")
            .arg(&config)
            .args(store_args(dir.path(), args))
            .args(args)
            .env("OUROCODUS_LOG", "debug")
            .envs(env.iter().copied())
            .stderr(stderr);
        Self::run(command, dir, stderr_path)
    }

    /// Starts `ourocodus acp --attach URL` (an editor of a running hub's team) in a
    /// fresh directory (the session cwd, and an empty config directory: no token
    /// file), with `env` set (`OUROCODUS_TOKEN`, usually).
    pub async fn attach(url: &str, env: &[(&str, &str)]) -> Proxy {
        let dir = tempfile::tempdir().expect("temp dir");
        let stderr_path = dir.path().join("attach.stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut command = Command::new(ourocodus_bin());
        command
            .args(["acp", "--attach", url])
            .env("XDG_CONFIG_HOME", dir.path())
            .env_remove("OUROCODUS_HUB")
            .env_remove("OUROCODUS_TOKEN")
            .env("OUROCODUS_LOG", "debug")
            .envs(env.iter().copied())
            .stderr(stderr);
        Self::run(command, dir, stderr_path)
    }

    /// Spawns `command` in `dir` with piped stdin and stdout, and reads its lines.
    fn run(mut command: Command, dir: tempfile::TempDir, stderr_path: PathBuf) -> Proxy {
        let mut child = command
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn ourocodus acp");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("proxy wrote a line that is not JSON ({e}): {line}")
                });
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Proxy {
            stdin: child.stdin.take(),
            child,
            incoming,
            transcript: Vec::new(),
            next_id: 0,
            dir,
            stderr_path,
        }
    }

    pub fn cwd(&self) -> &Path {
        self.dir.path()
    }

    /// Writes raw text (for malformed-input tests); not recorded.
    pub async fn send_raw(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(text.as_bytes())
            .await
            .expect("write to proxy");
        stdin.flush().await.expect("flush");
    }

    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        let message = tokio::time::timeout(wait, self.incoming.recv())
            .await
            .ok()
            .flatten()?;
        let answered = message
            .get("method")
            .is_none()
            .then(|| self.method_of_request(&message["id"]))
            .flatten();
        schema::check_agent_message(&message, answered.as_deref());
        self.transcript.push((Dir::FromProxy, message.clone()));
        Some(message)
    }

    /// The method of the editor request with this id, if the editor sent one.
    fn method_of_request(&self, id: &Value) -> Option<String> {
        self.transcript.iter().find_map(|(dir, m)| {
            let request = *dir == Dir::ToProxy && m["id"] == *id && m.get("method").is_some();
            request.then(|| m["method"].as_str().unwrap_or_default().to_string())
        })
    }

    /// `initialize` with the given client capabilities; returns the result.
    pub async fn initialize(&mut self, client_capabilities: Value) -> Value {
        let id = self
            .request(
                "initialize",
                json!({ "protocolVersion": 1, "clientCapabilities": client_capabilities }),
            )
            .await;
        let (_, response) = self.until_response(id, |_| None).await;
        response["result"].clone()
    }

    /// `session/new` in the temp project dir; returns the session id.
    pub async fn new_session(&mut self) -> String {
        let cwd = self.cwd().to_string_lossy().to_string();
        let id = self
            .request("session/new", json!({ "cwd": cwd, "mcpServers": [] }))
            .await;
        let (_, response) = self.until_response(id, |_| None).await;
        response["result"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("session/new failed: {response}"))
            .to_string()
    }

    /// Initializes as a plain editor and opens a session.
    pub async fn plain_session(&mut self) -> String {
        self.initialize(json!({ "fs": { "readTextFile": false, "writeTextFile": false } }))
            .await;
        self.new_session().await
    }

    /// Sends a text prompt and reads to its answer, allowing every permission request.
    pub async fn prompt(&mut self, session: &str, text: &str) -> (Vec<Value>, Value) {
        let id = self.prompt_id(session, text).await;
        self.until_response(id, allow_permissions).await
    }

    pub async fn prompt_id(&mut self, session: &str, text: &str) -> i64 {
        let params = json!({ "sessionId": session, "prompt": [{ "type": "text", "text": text }] });
        self.request("session/prompt", params).await
    }

    /// Closes stdin and waits for the proxy to exit (bounded).
    pub async fn close(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        match tokio::time::timeout(WAIT, self.child.wait()).await {
            Ok(status) => status.expect("wait"),
            Err(_) => panic!(
                "proxy did not exit after stdin closed\n{}",
                self.debug_dump()
            ),
        }
    }

    /// Waits (bounded) for the process to exit on its own, its stdin still open.
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        match tokio::time::timeout(WAIT, self.child.wait()).await {
            Ok(status) => status.expect("wait"),
            Err(_) => panic!("the process did not exit\n{}", self.debug_dump()),
        }
    }

    /// Closes stdin, waits for the proxy to exit, and returns its directory (its
    /// project and its store) for what comes after.
    pub async fn close_keeping_dir(mut self) -> tempfile::TempDir {
        drop(self.stdin.take());
        let _ = tokio::time::timeout(WAIT, self.child.wait()).await;
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"))
    }

    /// The event store this proxy records into.
    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("store.db")
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the proxy runs")
    }

    /// SIGKILL: the proxy dies at once (its agents see their input end). Returns
    /// its directory, for a proxy started after it.
    pub async fn kill9(mut self) -> tempfile::TempDir {
        let pid = nix::unistd::Pid::from_raw(self.pid() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = tokio::time::timeout(WAIT, self.child.wait()).await;
        let dir = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The transcript and the proxy's stderr, for failure messages.
    pub fn debug_dump(&self) -> String {
        let mut out = String::from("--- transcript ---\n");
        for (dir, message) in &self.transcript {
            let arrow = if *dir == Dir::ToProxy { ">" } else { "<" };
            out.push_str(&format!("{arrow} {message}\n"));
        }
        let stderr = self.stderr();
        let tail: Vec<&str> = stderr.lines().rev().take(60).collect();
        out.push_str("--- proxy stderr (last lines) ---\n");
        for line in tail.into_iter().rev() {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// A JSON-RPC peer a test talks to over stdio: the proxy, or an agent run directly.
pub trait Peer {
    async fn send(&mut self, message: Value);

    /// The next message from the peer, within `WAIT` (or the test fails).
    async fn next(&mut self) -> Value;

    fn fresh_id(&mut self) -> i64;

    /// What to show when the peer surprises the test.
    fn debug_dump(&self) -> String;

    /// Sends a request and returns its id.
    async fn request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.fresh_id();
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
            .await;
        id
    }

    async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }))
            .await;
    }

    /// Reads until the response to `id`; requests from the peer are answered by
    /// `answer` (or fail the test). Returns what came before, and the response.
    async fn until_response(
        &mut self,
        id: i64,
        mut answer: impl FnMut(&Value) -> Option<Value>,
    ) -> (Vec<Value>, Value) {
        let mut before = Vec::new();
        loop {
            let message = self.next().await;
            if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
                return (before, message);
            }
            if message.get("method").is_some() && message.get("id").is_some() {
                let Some(result) = answer(&message) else {
                    panic!(
                        "unexpected request from the peer: {message}\n{}",
                        self.debug_dump()
                    );
                };
                let reply = json!({ "jsonrpc": "2.0", "id": message["id"], "result": result });
                self.send(reply).await;
            }
            before.push(message);
        }
    }
}

impl Peer for Proxy {
    async fn send(&mut self, message: Value) {
        self.transcript.push((Dir::ToProxy, message.clone()));
        self.send_raw(&format!("{message}\n")).await;
    }

    async fn next(&mut self) -> Value {
        self.next_within(WAIT).await.unwrap_or_else(|| {
            panic!(
                "no message from the proxy within {WAIT:?}\n{}",
                self.debug_dump()
            )
        })
    }

    fn fresh_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn debug_dump(&self) -> String {
        Proxy::debug_dump(self)
    }
}

/// Answers every permission request with its `allow_once` option.
pub fn allow_permissions(request: &Value) -> Option<Value> {
    choose_permission(request, "allow_once")
}

/// Answers a permission request with the option of `kind`.
pub fn choose_permission(request: &Value, kind: &str) -> Option<Value> {
    if request["method"] != "session/request_permission" {
        return None;
    }
    let option = request["params"]["options"]
        .as_array()?
        .iter()
        .find(|o| o["kind"] == kind)?;
    Some(json!({ "outcome": { "outcome": "selected", "optionId": option["optionId"] } }))
}

/// The `session/update` notifications among `messages`.
pub fn updates(messages: &[Value]) -> Vec<&Value> {
    messages
        .iter()
        .filter(|m| m["method"] == "session/update")
        .collect()
}

/// Concatenated text of agent message chunks from `role` (labels excluded).
pub fn text_from(messages: &[Value], role: &str) -> String {
    updates(messages)
        .into_iter()
        .map(|m| &m["params"]["update"])
        .filter(|u| {
            u["sessionUpdate"] == "agent_message_chunk" && u["_meta"]["ourocodus"]["role"] == role
        })
        .filter(|u| u["_meta"]["ourocodus"]["label"] != true)
        .filter_map(|u| u["content"]["text"].as_str())
        .collect()
}

/// Runs `f` with a bound on the whole test.
pub async fn bounded<F: std::future::Future>(limit: Duration, f: F) -> F::Output {
    tokio::time::timeout(limit, f)
        .await
        .expect("test took too long")
}

impl Drop for Proxy {
    /// A test that ends without `close` still lets the proxy shut down its agents:
    /// SIGTERM, which the proxy handles like the editor leaving.
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}
