//! Each role's agent over its life: start it, `initialize` it, open a child session
//! per editor session, and settle everything it owed when it ends.

use serde_json::{Value, json};

use super::Router;
use super::emit::Severity;
use super::state::{AgentState, ChildSession, ToAgent, ToEditor};
use super::timers::Timer;
use crate::acp::{ChildCapabilities, method};
use crate::agent::Quirks;
use crate::config::McpServerSpec;
use crate::error::RpcError;
use crate::ids::{ChildSessionId, Role, SessionId};
use crate::jsonrpc::{self, RequestId};
use crate::transport::{AgentKey, ExitReport, LaunchSpec, SendError};

impl Router {
    /// Makes sure `role` has (or is getting) a child session in `session`.
    pub(super) fn open_role_in_session(&mut self, session: &SessionId, role: &Role) {
        let Some(slot) = self.agents.get(role) else {
            return;
        };
        match &slot.state {
            AgentState::Idle => self.start_agent(role),
            AgentState::Starting => {}
            AgentState::Ready => self.open_child_session(session, role),
            AgentState::Failed(why) => {
                let why = why.clone();
                self.fail_child_session(session, role, why);
            }
        }
    }

    fn start_agent(&mut self, role: &Role) {
        let events = self.agent_tx.clone();
        let Some(slot) = self.agents.get_mut(role) else {
            return;
        };
        slot.generation += 1;
        slot.caps = None;
        let spec = LaunchSpec {
            command: slot.spec.command.clone(),
            args: slot.spec.args.clone(),
            env: slot.spec.env.clone(),
        };
        match self.transport.start(&spec, slot.key(), events) {
            Ok(link) => {
                slot.link = Some(link);
                slot.state = AgentState::Starting;
                slot.started_at = Some(std::time::Instant::now());
                let timeout = slot.spec.timeouts.initialize;
                self.timers
                    .insert(Timer::InitializeTimeout(slot.key()), timeout);
                self.send_initialize(role);
            }
            Err(e) => self.fail_agent_start(role, e.to_string()),
        }
    }

    fn send_initialize(&mut self, role: &Role) {
        let params = json!({
            "protocolVersion": crate::acp::PROTOCOL_VERSION,
            "clientCapabilities": self.editor.caps.for_children(),
            "clientInfo": { "name": crate::NAME, "title": "Ourocodus", "version": crate::VERSION },
        });
        if let Err(e) = self.request_agent(
            role,
            method::INITIALIZE,
            &params.to_string(),
            ToAgent::Initialize,
        ) {
            self.fail_agent_start(role, e.message);
        }
    }

    pub(super) fn on_agent_initialized(&mut self, role: &Role, result: &str) {
        let result: Value = serde_json::from_str(result).unwrap_or(Value::Null);
        let caps = ChildCapabilities::from_initialize_result(&result);
        let Some(slot) = self.agents.get_mut(role) else {
            return;
        };
        tracing::info!(role = %role, agent = %caps.agent_name, version = %caps.agent_version, "agent initialized");
        slot.quirks = Quirks::from_agent_name(&caps.agent_name);
        slot.caps = Some(caps);
        slot.state = AgentState::Ready;
        let waiting: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| {
                s.roles
                    .get(role)
                    .is_some_and(|rs| rs.child == ChildSession::Pending)
            })
            .map(|s| s.id.clone())
            .collect();
        for session in waiting {
            self.open_child_session(&session, role);
        }
    }

    pub(super) fn fail_agent_start(&mut self, role: &Role, why: String) {
        tracing::warn!(role = %role, why = %why, "agent failed to start");
        let Some(slot) = self.agents.get_mut(role) else {
            return;
        };
        slot.state = AgentState::Failed(why.clone());
        if let Some(link) = &slot.link {
            link.shutdown();
        }
        let sessions: Vec<SessionId> = self.sessions.keys().cloned().collect();
        for session in sessions {
            self.fail_child_session(&session, role, why.clone());
        }
    }

    fn open_child_session(&mut self, session_id: &SessionId, role: &Role) {
        let Some(params) = self.child_session_params(session_id, role) else {
            return;
        };
        let purpose = ToAgent::NewSession {
            session: session_id.clone(),
        };
        match self.request_agent(role, method::SESSION_NEW, &params.to_string(), purpose) {
            Ok(()) => {
                if let Some(rs) = self
                    .sessions
                    .get_mut(session_id)
                    .and_then(|s| s.roles.get_mut(role))
                {
                    rs.child = ChildSession::Opening;
                }
                if let Some(slot) = self.agents.get(role) {
                    let timer = Timer::SessionNewTimeout {
                        key: slot.key(),
                        session: session_id.clone(),
                    };
                    self.timers.insert(timer, slot.spec.timeouts.session_new);
                }
            }
            Err(e) => self.fail_child_session(session_id, role, e.message),
        }
    }

    /// `session/new` for a child: the editor's cwd and MCP servers (those the child
    /// can use) plus the role's, and the persona where the adapter takes one.
    fn child_session_params(&self, session_id: &SessionId, role: &Role) -> Option<Value> {
        let session = self.sessions.get(session_id)?;
        let slot = self.agents.get(role)?;
        let caps = slot.caps.clone().unwrap_or_default();
        let mut servers: Vec<Value> = session
            .editor_mcp_servers
            .iter()
            .filter(|s| match s.get("type").and_then(Value::as_str) {
                Some("http") => caps.mcp_http,
                Some("sse") => caps.mcp_sse,
                _ => true,
            })
            .cloned()
            .collect();
        servers.extend(slot.spec.mcp_servers.iter().map(mcp_server_json));
        let mut params = json!({ "cwd": session.cwd, "mcpServers": servers });
        if caps.additional_directories && !session.additional_directories.is_empty() {
            params["additionalDirectories"] = json!(session.additional_directories);
        }
        if let Some(meta) = slot.quirks.session_new_meta(&slot.spec, &self.role_names()) {
            params["_meta"] = meta;
        }
        Some(params)
    }

    pub(super) fn on_child_session_created(
        &mut self,
        role: &Role,
        session_id: &SessionId,
        result: &str,
    ) {
        let result: Value = serde_json::from_str(result).unwrap_or(Value::Null);
        let Some(child_id) = result.get("sessionId").and_then(Value::as_str) else {
            let why = "session/new answered without a sessionId".to_string();
            return self.fail_child_session(session_id, role, why);
        };
        let child_id = ChildSessionId::new(child_id);
        let (Some(slot), Some(session)) =
            (self.agents.get_mut(role), self.sessions.get_mut(session_id))
        else {
            return;
        };
        slot.sessions.insert(child_id.clone(), session_id.clone());
        let Some(role_session) = session.roles.get_mut(role) else {
            return;
        };
        tracing::info!(role = %role, session = %session_id, child = %child_id, "child session ready");
        role_session.child = ChildSession::Ready(child_id);
        role_session.modes = result.get("modes").filter(|m| m.is_object()).cloned();
        role_session.config_options = result
            .get("configOptions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let has_options = role_session.modes.is_some() || !role_session.config_options.is_empty();
        self.apply_configured_mode(session_id, role);
        self.pump_prompts(session_id, role);
        if has_options {
            self.announce_config_options(session_id);
        }
    }

    /// Sets the role's configured `mode` on its child session, if the child offers it.
    fn apply_configured_mode(&mut self, session_id: &SessionId, role: &Role) {
        let Some(mode) = self.agents.get(role).and_then(|s| s.spec.mode.clone()) else {
            return;
        };
        if let Err(why) = self.set_child_mode(session_id, role, &mode, None) {
            tracing::info!(role = %role, mode = %mode, why = %why.message, "configured mode not applied");
        }
    }

    pub(super) fn fail_child_session(&mut self, session_id: &SessionId, role: &Role, why: String) {
        let Some(role_session) = self
            .sessions
            .get_mut(session_id)
            .and_then(|s| s.roles.get_mut(role))
        else {
            return;
        };
        if matches!(role_session.child, ChildSession::Failed(_)) {
            return;
        }
        role_session.child = ChildSession::Failed(why.clone());
        let queued = std::mem::take(&mut role_session.queued);
        let error = RpcError::internal(format!("{role} is unavailable: {why}"));
        for prompt in queued {
            self.settle_role(
                prompt.turn,
                role,
                super::state::RoleOutcome::Failed(error.clone()),
            );
        }
        let title = format!("{role} is unavailable");
        self.notify_user(session_id, Some(role), Severity::Error, &title, Some(&why));
    }

    /// The agent of `key` is gone: everything it owed is answered, its sessions reset.
    pub(super) fn handle_agent_ended(&mut self, key: &AgentKey, report: ExitReport) {
        let role = &key.role;
        let Some(slot) = self.agents.get_mut(role) else {
            return;
        };
        slot.link = None;
        if !matches!(slot.state, AgentState::Failed(_)) {
            slot.state = AgentState::Idle;
        }
        let pending = std::mem::take(&mut slot.pending);
        let children = std::mem::take(&mut slot.sessions);
        if self.stopping {
            return;
        }
        let reason = format!("{role} stopped ({})", report.status);
        self.settle_agent_requests(role, pending, &reason);
        self.abandon_relayed_requests(key);
        for session_id in children.values() {
            if let Some(rs) = self
                .sessions
                .get_mut(session_id)
                .and_then(|s| s.roles.get_mut(role))
            {
                rs.child = ChildSession::Pending;
                rs.tool_calls.clear();
                rs.persona_sent = false;
            }
        }
        self.fail_queued_prompts(role, &reason);
        let mut description = String::from(
            "It starts again with the next prompt that needs it; its conversation context is lost.",
        );
        if !report.stderr_tail.is_empty() {
            description.push_str("\nLast stderr lines:");
            for line in report.stderr_tail.iter().rev().take(5).rev() {
                description.push_str("\n    ");
                description.push_str(line);
            }
        }
        self.notify_every_session(role, Severity::Error, &reason, Some(&description));
    }

    /// Prompts that were waiting for a child session the agent never opened.
    fn fail_queued_prompts(&mut self, role: &Role, reason: &str) {
        let error = RpcError::internal(reason.to_string());
        let mut queued = Vec::new();
        for session in self.sessions.values_mut() {
            if let Some(rs) = session.roles.get_mut(role) {
                if rs.child == ChildSession::Opening {
                    rs.child = ChildSession::Pending;
                }
                queued.extend(rs.queued.drain(..).map(|q| q.turn));
            }
        }
        for turn in queued {
            self.settle_role(turn, role, super::state::RoleOutcome::Failed(error.clone()));
        }
    }

    /// Answers what the proxy was waiting for from an agent that is gone.
    fn settle_agent_requests(
        &mut self,
        role: &Role,
        pending: std::collections::HashMap<i64, ToAgent>,
        reason: &str,
    ) {
        let error = RpcError::internal(reason.to_string());
        for purpose in pending.into_values() {
            match purpose {
                ToAgent::Prompt { turn, .. } => {
                    self.settle_role(turn, role, super::state::RoleOutcome::Failed(error.clone()))
                }
                ToAgent::SetMode {
                    reply_to: Some(reply),
                    ..
                }
                | ToAgent::SetConfigOption {
                    reply_to: Some(reply),
                    ..
                } => self.respond_error(&reply.id, &error),
                _ => {}
            }
        }
    }

    /// Requests an ended agent had relayed to the editor: tell the editor to drop
    /// them, and drop whatever it answers.
    fn abandon_relayed_requests(&mut self, key: &AgentKey) {
        let mut abandoned = Vec::new();
        for (id, ToEditor::Relayed(relayed)) in self.editor.pending.iter_mut() {
            if relayed.key == *key && !relayed.answered {
                relayed.answered = true;
                abandoned.push(*id);
            }
        }
        for id in abandoned {
            let params = json!({ "requestId": id });
            self.send_editor(jsonrpc::notification(
                method::CANCEL_REQUEST,
                Some(&params.to_string()),
            ));
        }
    }

    pub(super) fn close_child_sessions(&mut self, session_id: &SessionId) {
        let Some(session) = self.sessions.get(session_id) else {
            return;
        };
        let children: Vec<(Role, ChildSessionId)> = session
            .roles
            .iter()
            .filter_map(|(role, rs)| match &rs.child {
                ChildSession::Ready(child) => Some((role.clone(), child.clone())),
                _ => None,
            })
            .collect();
        for (role, child) in children {
            let Some(slot) = self.agents.get_mut(&role) else {
                continue;
            };
            slot.sessions.remove(&child);
            if slot.caps.as_ref().is_some_and(|c| c.close) {
                let params = json!({ "sessionId": child.as_str() }).to_string();
                let _ = self.request_agent(
                    &role,
                    method::SESSION_CLOSE,
                    &params,
                    ToAgent::FireAndForget,
                );
            }
        }
    }

    /// Sends a request to `role`'s agent and remembers what it is for.
    pub(super) fn request_agent(
        &mut self,
        role: &Role,
        name: &str,
        params: &str,
        purpose: ToAgent,
    ) -> Result<(), RpcError> {
        let slot = self
            .agents
            .get_mut(role)
            .ok_or_else(|| RpcError::internal(format!("no role named {role}")))?;
        let id = slot.next_request_id();
        let line = jsonrpc::request(&RequestId::number(id), name, Some(params));
        let link = slot
            .link
            .as_ref()
            .ok_or_else(|| RpcError::internal(format!("{role} is not running")))?;
        link.send(line).map_err(|e| send_error(role, e))?;
        slot.pending.insert(id, purpose);
        Ok(())
    }

    /// A notification to `role`'s agent (best effort).
    pub(super) fn notify_agent(&mut self, role: &Role, name: &str, params: &str) {
        let line = jsonrpc::notification(name, Some(params));
        if let Some(link) = self.agents.get(role).and_then(|s| s.link.as_ref())
            && let Err(e) = link.send(line)
        {
            tracing::warn!(role = %role, method = name, error = %send_error(role, e).message, "notification not delivered");
        }
    }

    /// Sends a line to the agent of `key`, if that incarnation is still the live one.
    pub(super) fn send_to_agent_key(&self, key: &AgentKey, line: Vec<u8>) {
        let Some(slot) = self
            .agents
            .get(&key.role)
            .filter(|s| s.generation == key.generation)
        else {
            tracing::debug!(agent = %key, "answer for an agent that is gone; dropped");
            return;
        };
        if let Some(link) = &slot.link
            && let Err(e) = link.send(line)
        {
            tracing::warn!(agent = %key, error = %send_error(&key.role, e).message, "answer not delivered");
        }
    }

    /// Answers an agent's request.
    pub(super) fn answer_agent(
        &self,
        key: &AgentKey,
        request: &RequestId,
        result: Result<String, RpcError>,
    ) {
        let line = match result {
            Ok(result) => jsonrpc::response_raw(request, &result),
            Err(error) => jsonrpc::error_response(request, &error),
        };
        self.send_to_agent_key(key, line);
    }
}

fn send_error(role: &Role, e: SendError) -> RpcError {
    match e {
        SendError::Full => RpcError::internal(format!("{role} is not reading its input")),
        SendError::Closed => RpcError::internal(format!("{role} has stopped")),
    }
}

fn name_value_list(map: &indexmap::IndexMap<String, String>) -> Value {
    Value::Array(
        map.iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect(),
    )
}

/// A configured MCP server in ACP's `McpServer` shape.
fn mcp_server_json(server: &McpServerSpec) -> Value {
    match server {
        McpServerSpec::Stdio {
            name,
            command,
            args,
            env,
        } => {
            json!({ "name": name, "command": command, "args": args, "env": name_value_list(env) })
        }
        McpServerSpec::Http { name, url, headers } => {
            json!({ "type": "http", "name": name, "url": url, "headers": name_value_list(headers) })
        }
        McpServerSpec::Sse { name, url, headers } => {
            json!({ "type": "sse", "name": name, "url": url, "headers": name_value_list(headers) })
        }
    }
}
