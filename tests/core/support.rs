//! The core in one process: in-memory clients (ACP connections) and in-memory agents,
//! nothing spawned. Agents are scripted here: they answer `initialize` and
//! `session/new` by themselves and hand every other message to the test.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use ourocodus::config::{ConfigOrigin, load_str};
use ourocodus::core::{Core, CoreHandle};
use ourocodus::faces::acp::memory::MemoryClient;
use ourocodus::transport::{AgentVoice, MemoryAgent, MemoryTransport};

/// Every wait is bounded by this.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running core with in-memory agents.
pub struct Harness {
    pub core: CoreHandle,
    shutdown: CancellationToken,
    started: mpsc::UnboundedReceiver<MemoryAgent>,
    task: tokio::task::JoinHandle<()>,
}

impl Harness {
    /// A core whose team has these roles (their commands are never run).
    pub fn start(roles: &[&str]) -> Harness {
        Self::build(roles, None)
    }

    /// The same, recording into the event store at `store`.
    pub async fn start_with_store(roles: &[&str], store: &std::path::Path) -> Harness {
        Self::build_async(roles, Some(store)).await
    }

    async fn build_async(roles: &[&str], store: Option<&std::path::Path>) -> Harness {
        let (mut core, started) = Self::core(roles);
        if let Some(path) = store {
            let choice = ourocodus::app::StoreChoice::Path(path.to_path_buf());
            let open = ourocodus::app::store::attach(&mut core, &choice).await;
            assert!(open.is_some(), "the store opens");
        }
        Self::run(core, started)
    }

    fn build(roles: &[&str], store: Option<&std::path::Path>) -> Harness {
        assert!(store.is_none());
        let (core, started) = Self::core(roles);
        Self::run(core, started)
    }

    fn core(roles: &[&str]) -> (Core, mpsc::UnboundedReceiver<MemoryAgent>) {
        let mut toml = format!(
            "[defaults]\ncommand = \"in-memory\"\nroute = [{:?}]\n",
            roles[0]
        );
        for role in roles {
            toml.push_str(&format!(
                "\n[roles.{role}]\npersona = \"the {role} role\"\n"
            ));
        }
        let team = load_str(&toml, ConfigOrigin::BuiltIn).expect("team");
        let (transport, started) = MemoryTransport::new();
        (Core::new(team, Arc::new(transport)), started)
    }

    fn run(core: Core, started: mpsc::UnboundedReceiver<MemoryAgent>) -> Harness {
        let (handle, inputs) = Core::channel();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(core.run(inputs, shutdown.clone()));
        Harness {
            core: handle,
            shutdown,
            started,
            task,
        }
    }

    /// A new client, initialized with `caps`.
    pub async fn client(&self, caps: Value) -> Client {
        let inner = MemoryClient::attach(&self.core).await.expect("attach");
        let mut client = Client { inner, next_id: 0 };
        client
            .request(
                "initialize",
                json!({ "protocolVersion": 1, "clientCapabilities": caps }),
            )
            .await;
        client
    }

    /// The next agent the core starts, scripted.
    pub async fn agent(&mut self) -> Agent {
        let agent = bounded(self.started.recv())
            .await
            .expect("an agent started");
        Agent::run(agent)
    }

    /// Ends the core as the assembly would, agents ending when asked.
    pub async fn stop(self) {
        self.shutdown.cancel();
        bounded(self.task).await.expect("core ended");
    }
}

pub async fn bounded<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future).await.expect("in time")
}

/// An ACP client in memory, with ids of its own.
pub struct Client {
    inner: MemoryClient,
    next_id: i64,
}

impl Client {
    /// Sends a request and waits for its answer (messages before it are dropped).
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params).await;
        self.answer_to(id).await
    }

    /// Opens a session in /tmp; returns its id.
    pub async fn new_session(&mut self) -> String {
        let opened = self
            .request("session/new", json!({ "cwd": "/tmp", "mcpServers": [] }))
            .await;
        opened["result"]["sessionId"]
            .as_str()
            .expect("a session")
            .to_string()
    }

    /// Sends a text prompt; returns its request id.
    pub async fn prompt(&mut self, session: &str, text: &str) -> i64 {
        let params = json!({ "sessionId": session, "prompt": [{ "type": "text", "text": text }] });
        self.send_request("session/prompt", params).await
    }

    /// Attaches to a session with `session/load`; returns the answer.
    pub async fn join(&mut self, session: &str) -> Value {
        let params = json!({ "sessionId": session, "cwd": "/tmp", "mcpServers": [] });
        self.request("session/load", params).await
    }

    pub async fn send_request(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        assert!(self.inner.send(&message).await, "core gone");
        id
    }

    pub async fn respond(&self, id: &Value, result: Value) {
        let message = json!({ "jsonrpc": "2.0", "id": id, "result": result });
        assert!(self.inner.send(&message).await, "core gone");
    }

    pub async fn next(&mut self) -> Value {
        bounded(self.inner.recv()).await.expect("a message")
    }

    /// Reads until the answer to request `id`; returns it and what came before.
    pub async fn until_answer(&mut self, id: i64) -> (Vec<Value>, Value) {
        let mut before = Vec::new();
        loop {
            let message = self.next().await;
            if message["id"] == id && message.get("method").is_none() {
                return (before, message);
            }
            before.push(message);
        }
    }

    async fn answer_to(&mut self, id: i64) -> Value {
        self.until_answer(id).await.1
    }

    /// Reads until a message matches; returns it and what came before.
    pub async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> (Vec<Value>, Value) {
        let mut before = Vec::new();
        loop {
            let message = self.next().await;
            if wanted(&message) {
                return (before, message);
            }
            before.push(message);
        }
    }

    pub async fn close(&self) {
        self.inner.close().await;
    }
}

/// A scripted in-memory agent: `initialize` and `session/new` are answered by a
/// task of its own; everything else comes to the test through `inbox`.
pub struct Agent {
    pub role: String,
    pub voice: AgentVoice,
    inbox: mpsc::UnboundedReceiver<Value>,
}

impl Agent {
    fn run(mut agent: MemoryAgent) -> Agent {
        let role = agent.key.role.to_string();
        let voice = agent.voice();
        let (tx, inbox) = mpsc::unbounded_channel();
        let answers = agent.voice();
        let child = format!("{role}-child");
        tokio::spawn(async move {
            let stopped = agent.stopped();
            loop {
                let message = tokio::select! {
                    _ = stopped.cancelled() => break,
                    message = agent.recv() => match message { Some(m) => m, None => break },
                };
                match message["method"].as_str() {
                    Some("initialize") => {
                        let result = json!({ "protocolVersion": 1, "agentCapabilities": {}, "agentInfo": { "name": "memory-agent", "version": "1" } });
                        answers
                            .send(
                                &json!({ "jsonrpc": "2.0", "id": message["id"], "result": result }),
                            )
                            .await;
                    }
                    Some("session/new") => {
                        answers.send(&json!({ "jsonrpc": "2.0", "id": message["id"], "result": { "sessionId": child } })).await;
                    }
                    _ => {
                        let _ = tx.send(message);
                    }
                }
            }
            agent.end("ended").await;
        });
        Agent { role, voice, inbox }
    }

    /// The child session id this agent gave the core.
    pub fn child(&self) -> String {
        format!("{}-child", self.role)
    }

    /// The next message (not initialize or session/new) the core sent this agent.
    pub async fn next(&mut self) -> Value {
        bounded(self.inbox.recv())
            .await
            .expect("a message for the agent")
    }

    /// The next message with this method.
    pub async fn expect(&mut self, method: &str) -> Value {
        loop {
            let message = self.next().await;
            if message["method"] == method {
                return message;
            }
        }
    }

    /// The next answer the core sent (to one of this agent's requests).
    pub async fn expect_answer(&mut self) -> Value {
        loop {
            let message = self.next().await;
            if message.get("method").is_none() {
                return message;
            }
        }
    }

    pub async fn update(&self, update: Value) {
        let message = json!({ "jsonrpc": "2.0", "method": "session/update", "params": { "sessionId": self.child(), "update": update } });
        assert!(self.voice.send(&message).await);
    }

    pub async fn say(&self, text: &str) {
        self.update(json!({ "sessionUpdate": "agent_message_chunk", "content": { "type": "text", "text": text } }))
            .await;
    }

    pub async fn answer(&self, request: &Value, result: Value) {
        let message = json!({ "jsonrpc": "2.0", "id": request["id"], "result": result });
        assert!(self.voice.send(&message).await);
    }

    pub async fn request(&self, id: &str, method: &str, params: Value) {
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        assert!(self.voice.send(&message).await);
    }
}

/// Texts of the `agent_message_chunk`s among `messages` on `session`, labels left out.
pub fn texts_on(messages: &[Value], session: &str) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["method"] == "session/update" && m["params"]["sessionId"] == session)
        .filter(|m| m["params"]["update"]["sessionUpdate"] == "agent_message_chunk")
        .filter(|m| m["params"]["update"]["_meta"]["ourocodus"]["label"] != true)
        .filter_map(|m| {
            m["params"]["update"]["content"]["text"]
                .as_str()
                .map(String::from)
        })
        .collect()
}

/// The `sessionUpdate` kinds of the updates among `messages`.
pub fn update_kinds(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["method"] == "session/update")
        .filter_map(|m| {
            m["params"]["update"]["sessionUpdate"]
                .as_str()
                .map(String::from)
        })
        .collect()
}
