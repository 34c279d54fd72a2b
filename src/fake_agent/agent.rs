//! The fake agent's main loop: takes each message from stdin, answers the ACP
//! methods, starts prompt turns and routes the client's answers to them. It owns
//! the session table; it never waits on a turn.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::io::{Inbound, Outbox};
use super::script;
use super::session::{NewSession, Offer, Session};
use super::turn::{Shared, Turn};
use super::wire;
use crate::error::RpcError;
use crate::jsonrpc::{Body, Message, RequestId, codes};

/// The agent's behaviour as chosen on the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    pub offer: Offer,
    pub load_session: bool,
    pub resume_session: bool,
    pub auth_required: bool,
    pub session_delay: Option<Duration>,
    pub ignore_eof: bool,
    pub commands: bool,
}

struct Agent {
    settings: Settings,
    shared: Arc<Shared>,
    sessions: HashMap<String, Arc<Session>>,
    /// `clientCapabilities` from `initialize`, handed to each new session.
    client_capabilities: Value,
    next_session: u64,
    /// Tasks that answer later (turns, delayed `session/new`), so that the end
    /// of input waits for their answers.
    answering: TaskTracker,
}

/// Serves until stdin ends and the running prompts have answered (or forever
/// with `ignore_eof`).
pub async fn serve(settings: Settings, outbox: Outbox, mut inbox: mpsc::Receiver<Inbound>) {
    let ignore_eof = settings.ignore_eof;
    let mut agent = Agent {
        shared: Arc::new(Shared::new(settings.name.clone(), outbox)),
        settings,
        sessions: HashMap::new(),
        client_capabilities: json!({}),
        next_session: 1,
        answering: TaskTracker::new(),
    };
    while let Some(Inbound::Message(message)) = inbox.recv().await {
        agent.handle(message).await;
    }
    // No answer can come any more: calls in flight fail, so turns can end.
    agent.shared.calls.close();
    if ignore_eof {
        std::future::pending::<()>().await;
    }
    agent.answering.close();
    agent.answering.wait().await;
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitializeParams {
    #[serde(default)]
    client_capabilities: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewSessionParams {
    cwd: String,
    #[serde(default)]
    mcp_servers: Vec<Value>,
    /// Only for `session/load`.
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default, rename = "_meta")]
    meta: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionParams {
    session_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetModeParams {
    session_id: String,
    mode_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetConfigOptionParams {
    session_id: String,
    config_id: String,
    value: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptParams {
    session_id: String,
    prompt: Vec<Value>,
}

fn parse_params<T: DeserializeOwned>(message: &Message) -> Result<T, RpcError> {
    serde_json::from_str(message.params().unwrap_or("{}"))
        .map_err(|e| RpcError::invalid_params(e.to_string()))
}

impl Agent {
    async fn handle(&mut self, message: Message) {
        match message.body() {
            Body::Request { id, .. } => {
                let id = id.clone();
                if let Err(e) = self.handle_request(&id, &message).await {
                    self.send(wire::error(&id, e.code, e.message)).await;
                }
            }
            Body::Notification { .. } => self.handle_notification(&message),
            Body::Response { id, .. } => self.handle_response(id, &message),
        }
    }

    async fn handle_request(&mut self, id: &RequestId, message: &Message) -> Result<(), RpcError> {
        let method = message.method().unwrap_or_default();
        match method {
            "initialize" => self.handle_initialize(id, parse_params(message)?).await,
            "authenticate" => self.reply(id, json!({})).await,
            "session/new" => self.handle_new_session(id, parse_params(message)?).await,
            "session/load" if self.settings.load_session => {
                self.handle_load_session(id, parse_params(message)?, true)
                    .await
            }
            "session/resume" if self.settings.resume_session => {
                self.handle_load_session(id, parse_params(message)?, false)
                    .await
            }
            "session/set_mode" => self.handle_set_mode(id, parse_params(message)?).await,
            "session/set_config_option" => {
                self.handle_set_config_option(id, parse_params(message)?)
                    .await
            }
            "session/close" => self.handle_close(id, parse_params(message)?).await,
            "session/prompt" => self.handle_prompt(id, parse_params(message)?),
            _ => Err(RpcError::method_not_found(method)),
        }
    }

    fn handle_notification(&mut self, message: &Message) {
        let method = message.method().unwrap_or_default();
        if method == "session/cancel" {
            match parse_params::<SessionParams>(message) {
                Ok(p) => {
                    if let Some(session) = self.sessions.get(&p.session_id) {
                        session.cancel_turn();
                    }
                }
                Err(e) => eprintln!("fake-agent: bad session/cancel: {}", e.message),
            }
        } else if !method.starts_with('_') && !method.starts_with("$/") {
            eprintln!("fake-agent: ignoring unknown notification {method}");
        }
    }

    fn handle_response(&mut self, id: &RequestId, message: &Message) {
        let Some(outcome) = message.outcome() else {
            return;
        };
        if !self.shared.calls.resolve(id, outcome) {
            let (kind, body) = match outcome {
                Ok(result) => ("result", result),
                Err(error) => ("error", error),
            };
            eprintln!(
                "fake-agent: ignoring a response to {id}, which no call is waiting for: {kind} {body}"
            );
        }
    }

    async fn handle_initialize(
        &mut self,
        id: &RequestId,
        params: InitializeParams,
    ) -> Result<(), RpcError> {
        self.client_capabilities = params.client_capabilities;
        let result = json!({
            "protocolVersion": 1,
            "agentCapabilities": {
                "loadSession": self.settings.load_session,
                "promptCapabilities": { "image": true, "embeddedContext": true },
                "sessionCapabilities": session_capabilities(&self.settings),
            },
            "authMethods": [],
            "agentInfo": { "name": self.settings.name, "version": crate::VERSION },
        });
        self.reply(id, result).await
    }

    async fn handle_new_session(
        &mut self,
        id: &RequestId,
        params: NewSessionParams,
    ) -> Result<(), RpcError> {
        let session_id = format!("fake-{}", self.next_session);
        self.next_session += 1;
        let session = self.open_session(session_id, params);
        let mut answer = json!({ "sessionId": session.id });
        add_session_offer(&mut answer, &session);
        let delay = self.settings.session_delay;
        let commands = self.settings.commands;
        let outbox = self.shared.outbox.clone();
        let reply = wire::response(id, &answer);
        // Answered from a task so that a delayed answer holds up nothing else.
        self.answering.spawn(async move {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let _ = outbox.send(reply).await;
            if commands {
                let _ = outbox
                    .send(wire::session_update(
                        &session.id,
                        &wire::available_commands(),
                    ))
                    .await;
            }
        });
        Ok(())
    }

    /// There is no history to replay: the session is (re)created and answered.
    async fn handle_load_session(
        &mut self,
        id: &RequestId,
        params: NewSessionParams,
        replay: bool,
    ) -> Result<(), RpcError> {
        let Some(session_id) = params.session_id.clone() else {
            return Err(RpcError::invalid_params("missing sessionId"));
        };
        if replay {
            for (kind, text) in [
                (
                    "user_message_chunk",
                    format!("(history of {session_id}: a question)"),
                ),
                (
                    "agent_message_chunk",
                    format!("(history of {session_id}: an answer)"),
                ),
            ] {
                let update =
                    json!({ "sessionUpdate": kind, "content": { "type": "text", "text": text } });
                self.send(wire::session_update(&session_id, &update)).await;
            }
        }
        let session = self.open_session(session_id, params);
        let mut answer = json!({});
        add_session_offer(&mut answer, &session);
        self.reply(id, answer).await
    }

    fn open_session(&mut self, session_id: String, params: NewSessionParams) -> Arc<Session> {
        let facts = NewSession {
            id: session_id.clone(),
            cwd: params.cwd,
            mcp_server_names: params
                .mcp_servers
                .iter()
                .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string))
                .collect(),
            mcp_servers: params.mcp_servers.clone(),
            system_prompt: params
                .meta
                .as_ref()
                .and_then(|m| m.get("systemPrompt"))
                .cloned(),
            client_capabilities: self.client_capabilities.clone(),
        };
        let session = Arc::new(Session::new(facts, self.settings.offer.clone()));
        self.sessions.insert(session_id, session.clone());
        session
    }

    async fn handle_set_mode(
        &mut self,
        id: &RequestId,
        params: SetModeParams,
    ) -> Result<(), RpcError> {
        let session = self.session(&params.session_id)?;
        session
            .set_mode(&params.mode_id)
            .map_err(RpcError::invalid_params)?;
        self.reply(id, json!({})).await?;
        self.send(wire::session_update(
            &session.id,
            &wire::current_mode(&params.mode_id),
        ))
        .await;
        Ok(())
    }

    async fn handle_set_config_option(
        &mut self,
        id: &RequestId,
        params: SetConfigOptionParams,
    ) -> Result<(), RpcError> {
        let session = self.session(&params.session_id)?;
        session
            .set_config_option(&params.config_id, &params.value)
            .map_err(RpcError::invalid_params)?;
        let options = session.config_options_json();
        self.reply(id, json!({ "configOptions": options })).await?;
        self.send(wire::session_update(
            &session.id,
            &wire::config_options_update(&options),
        ))
        .await;
        Ok(())
    }

    async fn handle_close(
        &mut self,
        id: &RequestId,
        params: SessionParams,
    ) -> Result<(), RpcError> {
        let session = self.session(&params.session_id)?;
        session.cancel_turn();
        self.sessions.remove(&params.session_id);
        self.reply(id, json!({})).await
    }

    /// Starts the turn in its own task; the turn answers the prompt itself.
    fn handle_prompt(&mut self, id: &RequestId, params: PromptParams) -> Result<(), RpcError> {
        let session = self.session(&params.session_id)?;
        if self.settings.auth_required {
            return Err(RpcError::new(
                codes::AUTH_REQUIRED,
                "Authentication required",
            ));
        }
        let Some(cancel) = session.begin_turn() else {
            return Err(RpcError::invalid_request(format!(
                "a prompt is already running in session {}",
                session.id
            )));
        };
        let (context, script_blocks): (Vec<Value>, Vec<Value>) =
            params.prompt.into_iter().partition(is_proxy_context);
        if !context.is_empty() {
            session.set_preamble(prompt_text(&context));
        }
        let steps = script::parse_prompt_as(&prompt_text(&script_blocks), &self.settings.name);
        let turn = Turn {
            shared: self.shared.clone(),
            session,
            cancel,
        };
        self.answering.spawn(turn.run(id.clone(), steps));
        Ok(())
    }

    fn session(&self, session_id: &str) -> Result<Arc<Session>, RpcError> {
        self.sessions.get(session_id).cloned().ok_or_else(|| {
            RpcError::new(
                codes::RESOURCE_NOT_FOUND,
                format!("session not found: {session_id}"),
            )
        })
    }

    async fn reply(&self, id: &RequestId, result: Value) -> Result<(), RpcError> {
        self.send(wire::response(id, &result)).await;
        Ok(())
    }

    /// Queues a line; if stdout is gone there is no one to tell.
    async fn send(&self, line: Vec<u8>) {
        let _ = self.shared.outbox.send(line).await;
    }
}

/// Adds `modes` and `configOptions` as offered to a new or loaded session.
fn add_session_offer(answer: &mut Value, session: &Session) {
    if let Some(modes) = session.modes_json() {
        answer["modes"] = modes;
    }
    let options = session.config_options_json();
    if options.as_array().is_some_and(|o| !o.is_empty()) {
        answer["configOptions"] = options;
    }
}

/// The prompt's text blocks joined by newlines; other blocks are ignored.
/// A text block a proxy such as Ourocodus puts first (`[ourocodus] You are ...`): context
/// for a model, not a step of the script.
fn is_proxy_context(block: &Value) -> bool {
    block
        .get("text")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("[ourocodus]"))
}

fn session_capabilities(settings: &Settings) -> Value {
    let mut capabilities = json!({ "close": {} });
    if settings.resume_session {
        capabilities["resume"] = json!({});
    }
    capabilities
}

fn prompt_text(blocks: &[Value]) -> String {
    blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_text_joins_text_blocks_and_skips_the_rest() {
        let blocks = vec![
            json!({"type": "text", "text": "say a"}),
            json!({"type": "resource_link", "uri": "file:///x", "name": "x"}),
            json!({"type": "text", "text": "say b"}),
        ];
        assert_eq!(prompt_text(&blocks), "say a\nsay b");
    }
}
