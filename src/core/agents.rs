//! Each role's agent coming up: start it, `initialize` it, and give it a child
//! session per session — a new one, or (after a restart, or when the session was
//! loaded) the one it had, through `session/resume` or `session/load` when the agent
//! can.

use serde_json::{Value, json};

use super::Core;
use super::output::{AgentChange, ChildHow, Severity, TeamEvent};
use super::state::{AgentState, ChildSession, Restore, ToAgent};
use super::timers::Timer;
use crate::acp::{ChildCapabilities, method};
use crate::agent::Quirks;
use crate::error::RpcError;
use crate::ids::{ChildSessionId, Role, SessionId};
use crate::transport::LaunchSpec;
use crate::transport::sandbox::SandboxState;

impl Core {
    /// Makes sure `role` has (or is getting) a child session in `session`: once its
    /// worktree is ready, when it works in one.
    pub(super) fn open_role_in_session(&mut self, session: &SessionId, role: &Role) {
        if !self.worktree_ready(session, role) {
            return;
        }
        let Some(slot) = self.agents.get(role) else {
            return;
        };
        match &slot.state {
            // Its sandbox is made at start: it waits for every worktree being made.
            AgentState::Idle if self.start_waits_for_worktree(role) => {}
            AgentState::Idle => self.start_agent(role),
            AgentState::Starting | AgentState::Restarting { .. } => {}
            AgentState::Ready => self.open_child_session(session, role, true),
            AgentState::Stopped => {
                let why = format!("{role} was stopped; `/restart {role}` starts it again");
                self.fail_child_session(session, role, why);
            }
            AgentState::Failed(why) => {
                let why = why.clone();
                self.fail_child_session(session, role, why);
            }
        }
    }

    pub(super) fn start_agent(&mut self, role: &Role) {
        let (events, inbox) = super::agent_inbox();
        // Where the role works in each session (its worktrees, for a worktree role).
        let cwds = self.role_cwds(role);
        let Some(slot) = self.agents.get_mut(role) else {
            return;
        };
        slot.inbox = Some(inbox);
        slot.generation += 1;
        slot.caps = None;
        slot.on_exit = None;
        let spec = LaunchSpec {
            command: slot.spec.command.clone(),
            args: slot.spec.args.clone(),
            env: slot.spec.env.clone(),
            env_inherit: slot.spec.sandbox.env_inherit.clone(),
            sandbox: super::confine::sandbox_plan(&slot.spec, &cwds),
        };
        match self.transport.start(&spec, slot.key(), events) {
            Ok(link) => {
                let pid = link.pid();
                let sandbox = link.sandbox().clone();
                let first_unavailable = matches!(sandbox, SandboxState::Unavailable { .. })
                    && !matches!(slot.sandbox, Some(SandboxState::Unavailable { .. }));
                slot.sandbox = Some(sandbox.clone());
                slot.link = Some(link);
                slot.state = AgentState::Starting;
                slot.started_at = Some(std::time::Instant::now());
                slot.last_activity = std::time::Instant::now();
                let timeout = slot.spec.timeouts.initialize;
                self.timers
                    .insert(Timer::InitializeTimeout(slot.key()), timeout);
                self.record_agent_change(role, AgentChange::Started { pid });
                if first_unavailable && let SandboxState::Unavailable { reason } = sandbox {
                    self.say_sandbox_unavailable(role, &reason);
                }
                self.send_initialize(role);
            }
            Err(e) => self.agent_cannot_start(role, e.to_string()),
        }
    }

    /// Once, visibly: `sandbox = "auto"` on a kernel that cannot enforce it.
    fn say_sandbox_unavailable(&mut self, role: &Role, reason: &str) {
        let title = format!("{role} runs without its sandbox");
        let hint = format!(
            "{reason}\nIts writes outside its directories are refused only where they pass \
             through the protocol. Set `sandbox = \"require\"` to refuse to start it instead."
        );
        self.notify_every_session(role, Severity::Warning, &title, Some(&hint));
    }

    fn send_initialize(&mut self, role: &Role) {
        let params = json!({
            "protocolVersion": crate::acp::PROTOCOL_VERSION,
            "clientCapabilities": self.child_capabilities(),
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
        if slot.on_exit.is_some() {
            // Stopped or restarted before it came up: its input is closed, so its
            // sessions wait for the next process (asked now, they would fail for good).
            tracing::info!(role = %role, "agent initialized while being stopped; its sessions wait");
            return;
        }
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
            self.open_child_session(&session, role, true);
        }
    }

    /// The agent did not come up (no `initialize` answer, or an error): it is ended,
    /// and its end is handled like any other (restart policy included).
    pub(super) fn fail_agent_start(&mut self, role: &Role, why: String) {
        tracing::warn!(role = %role, why = %why, "agent failed to start");
        let Some(slot) = self.agents.get_mut(role) else {
            return;
        };
        match &slot.link {
            Some(link) => {
                slot.start_failure = Some(why);
                link.shutdown();
            }
            None => self.agent_cannot_start(role, why),
        }
    }

    /// Opens the role's child session for `session_id`: restored when the agent had
    /// one there before it ended and can resume or load it, else a new one.
    fn open_child_session(&mut self, session_id: &SessionId, role: &Role, may_restore: bool) {
        if !self.worktree_ready(session_id, role) {
            return;
        }
        if may_restore && self.restore_child_session(session_id, role) {
            return;
        }
        let Some(params) = self.child_session_params(session_id, role, None) else {
            return;
        };
        let purpose = ToAgent::NewSession {
            session: session_id.clone(),
        };
        match self.request_agent(role, method::SESSION_NEW, &params.to_string(), purpose) {
            Ok(()) => self.child_session_requested(session_id, role, ChildSession::Opening),
            Err(e) => self.fail_child_session(session_id, role, e.message),
        }
    }

    /// Asks a restarted agent for the session it had; false if it can't.
    fn restore_child_session(&mut self, session_id: &SessionId, role: &Role) -> bool {
        let previous = self
            .role_session_mut(session_id, role)
            .and_then(|rs| rs.previous_child.clone());
        let caps = self.agents.get(role).and_then(|s| s.caps.clone());
        let (Some(child), Some(caps)) = (previous, caps) else {
            return false;
        };
        let how = if caps.resume {
            Restore::Resume
        } else if caps.load_session {
            Restore::Load
        } else {
            return false;
        };
        let Some(params) = self.child_session_params(session_id, role, Some(&child)) else {
            return false;
        };
        let purpose = ToAgent::RestoreSession {
            session: session_id.clone(),
            child: child.clone(),
            how,
        };
        if self
            .request_agent(role, how.method(), &params.to_string(), purpose)
            .is_err()
        {
            return false;
        }
        if let Some(slot) = self.agents.get_mut(role) {
            // A loaded session's replayed history is recognised (and dropped) by its id.
            slot.sessions.insert(child.clone(), session_id.clone());
            if how == Restore::Load {
                slot.replaying += 1;
            }
        }
        self.child_session_requested(session_id, role, ChildSession::Restoring(child));
        true
    }

    fn child_session_requested(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        state: ChildSession,
    ) {
        if let Some(rs) = self.role_session_mut(session_id, role) {
            rs.child = state;
        }
        if let Some(slot) = self.agents.get(role) {
            let timer = Timer::SessionNewTimeout {
                key: slot.key(),
                session: session_id.clone(),
            };
            self.timers.insert(timer, slot.spec.timeouts.session_new);
        }
    }

    /// `session/new` (or resume/load of `restore`) for a child: the role's cwd (the
    /// editor's, or the role's worktree), the editor's MCP servers (those the child
    /// can use) plus the role's, and the persona where the adapter takes one.
    fn child_session_params(
        &self,
        session_id: &SessionId,
        role: &Role,
        restore: Option<&ChildSessionId>,
    ) -> Option<Value> {
        let session = self.sessions.get(session_id)?;
        let slot = self.agents.get(role)?;
        let caps = slot.caps.clone().unwrap_or_default();
        let mut servers: Vec<Value> = session
            .client_mcp_servers
            .iter()
            .filter(|s| match s.get("type").and_then(Value::as_str) {
                Some("http") => caps.mcp_http,
                Some("sse") => caps.mcp_sse,
                _ => true,
            })
            .cloned()
            .collect();
        servers.extend(
            slot.spec
                .mcp_servers
                .iter()
                .map(super::mcp_servers::mcp_server_json),
        );
        if let Some(tools) = &self.tool_servers {
            servers.insert(0, tools.entry(session_id, role));
        }
        let cwd = self.role_cwd(session_id, role).ok()?;
        let mut params = json!({ "cwd": cwd, "mcpServers": servers });
        if let Some(child) = restore {
            params["sessionId"] = json!(child.as_str());
        }
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
        let lost = self
            .role_session_mut(session_id, role)
            .and_then(|rs| rs.previous_child.take())
            .is_some();
        let child = ChildSessionId::new(child_id);
        self.record_child_session(session_id, role, &child, ChildHow::New);
        self.child_session_ready(role, session_id, child, &result);
        if lost {
            let title = format!("{role} is back with a fresh session");
            let why = "Its agent cannot resume or load sessions, so what it knew from earlier turns is lost.";
            self.notify(session_id, Some(role), Severity::Info, &title, Some(why));
        }
    }

    /// The answer to `session/resume` or `session/load` after a restart.
    pub(super) fn on_child_session_restored(
        &mut self,
        role: &Role,
        session_id: &SessionId,
        child: ChildSessionId,
        how: Restore,
        outcome: Result<&str, RpcError>,
    ) {
        if let Some(slot) = self.agents.get_mut(role) {
            if how == Restore::Load {
                slot.replaying = slot.replaying.saturating_sub(1);
            }
            if outcome.is_err() {
                slot.sessions.remove(&child);
            }
        }
        match outcome {
            Ok(result) => {
                let result: Value = serde_json::from_str(result).unwrap_or(Value::Null);
                if let Some(rs) = self.role_session_mut(session_id, role) {
                    rs.previous_child = None;
                    rs.persona_sent = true;
                }
                let restored = match how {
                    Restore::Resume => ChildHow::Resumed,
                    Restore::Load => ChildHow::Loaded,
                };
                self.record_child_session(session_id, role, &child, restored);
                self.child_session_ready(role, session_id, child, &result);
                let title = format!("{role} is back, with its session restored");
                self.notify(session_id, Some(role), Severity::Info, &title, None);
            }
            Err(e) => {
                tracing::info!(role = %role, error = %e.message, "restoring the session failed; opening a new one");
                self.open_child_session(session_id, role, false);
            }
        }
    }

    /// A child session exists: route to it, take its modes and options, send what waited.
    fn child_session_ready(
        &mut self,
        role: &Role,
        session_id: &SessionId,
        child_id: ChildSessionId,
        result: &Value,
    ) {
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
        self.dispatch_tasks(session_id);
        if has_options {
            self.announce_config_options(session_id);
        }
    }

    /// Sets the role's configured `mode` on its child session, if the child offers it.
    /// `acceptEdits` is the proxy's own (see `accepts_edits`): the child keeps asking.
    fn apply_configured_mode(&mut self, session_id: &SessionId, role: &Role) {
        let Some(mode) = self.agents.get(role).and_then(|s| s.spec.mode.clone()) else {
            return;
        };
        if is_accept_edits(&mode) {
            return;
        }
        if let Err(why) = self.set_child_mode(session_id, role, &mode, None) {
            tracing::info!(role = %role, mode = %mode, why = %why.message, "configured mode not applied");
        }
    }

    pub(super) fn fail_child_session(&mut self, session_id: &SessionId, role: &Role, why: String) {
        let Some(role_session) = self.role_session_mut(session_id, role) else {
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
                super::output::RoleOutcome::Failed(error.clone()),
            );
        }
        let title = format!("{role} is unavailable");
        // `why` may carry the agent's own error message.
        let why = super::quote::agent_lines(&why, super::quote::DESCRIPTION_CHARS);
        self.notify(session_id, Some(role), Severity::Error, &title, Some(&why));
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
}

impl Core {
    /// What agents are told they may ask of their client: file access and notices
    /// always (the core serves files from disk when no client can, and turns notices
    /// into text for clients without them); terminals, questions and option
    /// capabilities only when a connected client has them.
    fn child_capabilities(&self) -> Value {
        let caps: Vec<&super::api::ClientCaps> = self
            .connections
            .ids()
            .filter_map(|id| self.connections.get(id))
            .map(|a| a.connection.caps())
            .collect();
        let mut value = json!({
            "fs": { "readTextFile": true, "writeTextFile": true },
            "terminal": caps.iter().any(|c| c.terminal),
            "session": { "notices": {} },
        });
        if let Some(config_options) = caps.iter().find_map(|c| c.config_options.clone()) {
            value["session"]["configOptions"] = config_options;
        }
        if let Some(elicitation) = caps.iter().find_map(|c| c.elicitation.clone()) {
            value["elicitation"] = elicitation;
        }
        value
    }

    fn record_child_session(
        &mut self,
        session: &SessionId,
        role: &Role,
        child: &ChildSessionId,
        how: ChildHow,
    ) {
        self.emit(session, &TeamEvent::ChildSession { role, child, how });
    }

    /// Records a change in a role's agent in every session it serves.
    pub(super) fn record_agent_change(&mut self, role: &Role, change: AgentChange<'_>) {
        let sessions: Vec<SessionId> = self.sessions.keys().cloned().collect();
        for session in sessions {
            self.emit(&session, &TeamEvent::Agent { role, change });
        }
    }
}

/// The mode whose edits the proxy accepts itself, inside the role's directories only.
pub(super) fn is_accept_edits(mode: &str) -> bool {
    mode.eq_ignore_ascii_case("acceptEdits") || mode.eq_ignore_ascii_case("accept_edits")
}
