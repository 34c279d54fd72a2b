//! Prompt turns: address a prompt to roles, fan it out to their child sessions (or
//! queue it until they exist), settle each role's outcome, and answer the turn's
//! origin once every routed role is done (and its events are committed).

use serde_json::{Value, json};

use super::Core;
use super::api::Origin;
use super::mention;
use super::output::{Reply, RoleOutcome, Severity, TeamEvent};
use super::quote::{DESCRIPTION_CHARS, agent_lines};
use super::state::{ChildSession, QueuedPrompt, Turn, TurnId};
use crate::acp::{self, method, text_of_block};
use crate::agent::persona_preamble;
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::codes;

/// A prompt after reading its mentions.
pub(super) struct Addressed {
    pub(super) roles: Vec<Role>,
    pub(super) blocks: Vec<Value>,
    pub(super) unknown: Vec<String>,
}

impl Core {
    pub(super) fn handle_prompt(
        &mut self,
        origin: Origin,
        session_id: &SessionId,
        blocks: Vec<Value>,
        meta: Option<Value>,
    ) {
        if let Err(e) = self.known_session(session_id) {
            return self.reply(&origin, Err(e));
        }
        if self.run_local_command(&origin, session_id, &blocks) {
            return;
        }
        let sent = blocks.clone();
        let addressed = self.address(session_id, blocks);
        if !addressed.unknown.is_empty() {
            self.warn_unknown_mentions(session_id, &addressed);
        }
        if addressed.roles.is_empty() {
            let e = RpcError::invalid_params("no role to send this prompt to");
            return self.reply(&origin, Err(e));
        }
        if addressed.blocks.is_empty() {
            let e = RpcError::invalid_params("the prompt is empty once @mentions are removed");
            return self.reply(&origin, Err(e));
        }
        self.start_turn(origin, session_id, &addressed, &sent, meta);
    }

    /// Opens a turn for the addressed roles and sends each its part (or queues it).
    pub(super) fn start_turn(
        &mut self,
        origin: Origin,
        session_id: &SessionId,
        addressed: &Addressed,
        sent: &[Value],
        meta: Option<Value>,
    ) -> TurnId {
        let turn = self.open_turn(origin, session_id, addressed, sent);
        for role in &addressed.roles {
            let queued = QueuedPrompt {
                turn,
                blocks: addressed.blocks.clone(),
                meta: meta.clone(),
            };
            self.dispatch_to_role(session_id, role, queued);
        }
        turn
    }

    /// Reads mentions from the text blocks: `@all`, known roles, or else the route.
    fn address(&self, session_id: &SessionId, prompt: Vec<Value>) -> Addressed {
        let mut named: Vec<Role> = Vec::new();
        let (mut all, mut unknown) = (false, Vec::new());
        let mut blocks = Vec::with_capacity(prompt.len());
        for mut block in prompt {
            if let Some(text) = text_of_block(&block) {
                let (rest, mentions) =
                    mention::extract(text, |name| self.agents.contains_key(name));
                all |= mentions.all;
                for role in mentions.roles.iter().map(Role::new) {
                    if !named.contains(&role) {
                        named.push(role);
                    }
                }
                unknown.extend(mentions.unknown);
                if rest.trim().is_empty() {
                    continue;
                }
                block["text"] = Value::String(rest);
            }
            blocks.push(block);
        }
        if let Some(role) = self.namespaced_command(&mut blocks)
            && named.is_empty()
            && !all
        {
            named.push(role);
        }
        let roles = if all {
            self.role_names()
        } else if !named.is_empty() {
            named
        } else {
            self.route_of(session_id)
        };
        Addressed {
            roles,
            blocks,
            unknown,
        }
    }

    /// `/backend:review args` → the `/review args` command for backend.
    fn namespaced_command(&self, blocks: &mut [Value]) -> Option<Role> {
        let text = blocks.first().and_then(text_of_block)?;
        let command = text.strip_prefix('/')?;
        let (role, rest) = command.split_once(':')?;
        let role = self.agents.get_key_value(role)?.0.clone();
        let rewritten = format!("/{rest}");
        blocks[0]["text"] = Value::String(rewritten);
        Some(role)
    }

    /// Where a prompt without mentions goes in this session.
    pub(super) fn route_of(&self, session_id: &SessionId) -> Vec<Role> {
        let chosen = self.sessions.get(session_id).and_then(|s| s.route.clone());
        let route = chosen
            .map(|r| vec![r])
            .unwrap_or_else(|| self.team.route.clone());
        route
            .into_iter()
            .filter(|r| self.agents.contains_key(r))
            .collect()
    }

    fn warn_unknown_mentions(&mut self, session_id: &SessionId, addressed: &Addressed) {
        let names: Vec<String> = addressed.unknown.iter().map(|n| format!("@{n}")).collect();
        let roles: Vec<&str> = self.agents.keys().map(Role::as_str).collect();
        let sent_to: Vec<&str> = addressed.roles.iter().map(Role::as_str).collect();
        let title = format!("{} is not a role in this team", names.join(", "));
        let description = format!(
            "Roles: {}. This prompt went to: {}.",
            roles.join(", "),
            if sent_to.is_empty() {
                "nobody".to_string()
            } else {
                sent_to.join(", ")
            }
        );
        self.notify(
            session_id,
            None,
            Severity::Warning,
            &title,
            Some(&description),
        );
    }

    /// Starts a turn: numbered in its session, recorded with the prompt as sent.
    fn open_turn(
        &mut self,
        origin: Origin,
        session_id: &SessionId,
        addressed: &Addressed,
        sent: &[Value],
    ) -> TurnId {
        self.next_turn += 1;
        let turn_id = TurnId(self.next_turn);
        let seq = self.next_turn_seq(session_id);
        let summary = task_summary(&addressed.blocks);
        let event_origin = origin.clone();
        let event_summary = summary.clone();
        let turn = Turn {
            session: session_id.clone(),
            seq,
            origin,
            roles: addressed
                .roles
                .iter()
                .map(|r| (r.clone(), RoleOutcome::Working))
                .collect(),
            cancelled: false,
            cancel_sent: Default::default(),
            summary,
            started: std::time::Instant::now(),
        };
        self.turns.insert(turn_id, turn);
        self.note_turn_origin(session_id, seq, &event_origin);
        let event = TeamEvent::Prompt {
            turn: seq,
            origin: Some(&event_origin),
            roles: &addressed.roles,
            blocks: sent,
            summary: &event_summary,
        };
        self.emit(session_id, &event);
        turn_id
    }

    /// Sends a prompt to the role's child session, or queues it until that exists.
    fn dispatch_to_role(&mut self, session_id: &SessionId, role: &Role, prompt: QueuedPrompt) {
        let Some(rs) = self
            .sessions
            .get_mut(session_id)
            .and_then(|s| s.roles.get_mut(role))
        else {
            let e = RpcError::internal(format!("{role} has no place in this session"));
            return self.settle_role(prompt.turn, role, RoleOutcome::Failed(e));
        };
        match rs.child.clone() {
            ChildSession::Ready(_) => {
                rs.queued.push(prompt);
                self.pump_prompts(session_id, role);
            }
            ChildSession::Opening | ChildSession::Restoring(_) => rs.queued.push(prompt),
            ChildSession::Pending => {
                rs.queued.push(prompt);
                self.open_role_in_session(session_id, role);
            }
            ChildSession::Failed(why) => {
                let e = RpcError::internal(format!("{role} is unavailable: {why}"));
                self.settle_role(prompt.turn, role, RoleOutcome::Failed(e));
            }
        }
    }

    /// Sends the role's next queued prompt once its child session is ready and idle:
    /// agents take one prompt per session at a time (some abort the earlier one).
    /// While the answer to an earlier turn of the session waits for the store, the
    /// next prompt waits too, so its output never comes before that answer.
    pub(super) fn pump_prompts(&mut self, session_id: &SessionId, role: &Role) {
        if self.stopping
            || self.connections.holds_answer_for(session_id)
            || self.merging.contains(role)
        {
            return;
        }
        let Some(rs) = self
            .sessions
            .get_mut(session_id)
            .and_then(|s| s.roles.get_mut(role))
        else {
            return;
        };
        let idle = matches!(rs.child, ChildSession::Ready(_)) && rs.turns.is_empty();
        if idle && !rs.queued.is_empty() {
            let prompt = rs.queued.remove(0);
            self.send_prompt(session_id, role, prompt);
        }
    }

    fn send_prompt(&mut self, session_id: &SessionId, role: &Role, prompt: QueuedPrompt) {
        let params = match self.child_prompt_params(session_id, role, prompt.blocks, prompt.meta) {
            Some(params) => params,
            None => return,
        };
        let purpose = super::state::ToAgent::Prompt {
            turn: prompt.turn,
            session: session_id.clone(),
        };
        match self.request_agent(role, method::SESSION_PROMPT, &params.to_string(), purpose) {
            Ok(()) => {
                if let Some(rs) = self
                    .sessions
                    .get_mut(session_id)
                    .and_then(|s| s.roles.get_mut(role))
                {
                    rs.turns.push_back(prompt.turn);
                }
                self.arm_watchdog(role);
                // A task's deadline runs from when its role has it.
                if let Some(Origin::Task(task)) = self.turns.get(&prompt.turn).map(|t| &t.origin) {
                    let task = *task;
                    self.arm_task_timeout(session_id, role, task);
                }
            }
            Err(e) => self.settle_role(prompt.turn, role, RoleOutcome::Failed(e)),
        }
    }

    /// The child's copy of a prompt: its session id, blocks it can take, and the
    /// persona as a first-turn preamble where the adapter has no system prompt.
    fn child_prompt_params(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        blocks: Vec<Value>,
        meta: Option<Value>,
    ) -> Option<Value> {
        let team = self.role_names();
        let slot = self.agents.get(role)?;
        let caps = slot.caps.clone().unwrap_or_default();
        let preamble =
            (!slot.quirks.takes_system_prompt()).then(|| persona_preamble(&slot.spec, &team));
        let rs = self.sessions.get_mut(session_id)?.roles.get_mut(role)?;
        let ChildSession::Ready(child) = &rs.child else {
            return None;
        };
        let mut prompt: Vec<Value> = Vec::with_capacity(blocks.len() + 1);
        if let Some(preamble) = preamble.filter(|_| !rs.persona_sent) {
            rs.persona_sent = true;
            prompt.push(json!({ "type": "text", "text": format!("[ourocodus] {preamble}\n\n") }));
        }
        prompt.extend(blocks.into_iter().map(|b| adapt_block(b, &caps)));
        let mut params = json!({ "sessionId": child.as_str(), "prompt": prompt });
        if let Some(meta) = meta {
            params["_meta"] = meta;
        }
        Some(params)
    }

    /// Records how `role` finished its part of `turn`; answers the origin when all have.
    pub(super) fn settle_role(&mut self, turn_id: TurnId, role: &Role, outcome: RoleOutcome) {
        let Some(turn) = self.turns.get_mut(&turn_id) else {
            return;
        };
        let Some(slot) = turn
            .roles
            .get_mut(role)
            .filter(|o| **o == RoleOutcome::Working)
        else {
            return;
        };
        *slot = outcome.clone();
        let (session_id, seq) = (turn.session.clone(), turn.seq);
        if let Some(rs) = self
            .sessions
            .get_mut(&session_id)
            .and_then(|s| s.roles.get_mut(role))
        {
            rs.turns.retain(|t| *t != turn_id);
            rs.queued.retain(|q| q.turn != turn_id);
        }
        if let RoleOutcome::Failed(error) = &outcome {
            self.report_role_failure(&session_id, role, error);
        }
        let event = TeamEvent::RoleEnded {
            turn: seq,
            role,
            outcome: &outcome,
        };
        self.emit(&session_id, &event);
        self.finish_turn_if_done(turn_id);
        self.pump_prompts(&session_id, role);
    }

    fn report_role_failure(&mut self, session_id: &SessionId, role: &Role, error: &RpcError) {
        let quirks = self.agents.get(role).map(|s| s.quirks);
        let (title, description) = if error.code == codes::AUTH_REQUIRED {
            let hint = quirks.map_or("", |q| q.auth_hint());
            (
                format!("{role} needs authentication"),
                format!(
                    "{} — {hint}",
                    agent_lines(&error.message, DESCRIPTION_CHARS)
                ),
            )
        } else {
            let said = agent_lines(&error.message, DESCRIPTION_CHARS);
            (format!("{role} could not answer"), said)
        };
        self.notify(
            session_id,
            Some(role),
            Severity::Error,
            &title,
            Some(&description),
        );
    }

    fn finish_turn_if_done(&mut self, turn_id: TurnId) {
        let done = self
            .turns
            .get(&turn_id)
            .is_some_and(|t| t.roles.values().all(|o| *o != RoleOutcome::Working));
        if !done {
            return;
        }
        let Some(turn) = self.turns.remove(&turn_id) else {
            return;
        };
        tracing::info!(session = %turn.session, elapsed_ms = turn.started.elapsed().as_millis() as u64, "prompt answered");
        let outcome = super::outcome::aggregate(&turn);
        let event = TeamEvent::TurnEnded {
            turn: turn.seq,
            outcome: &outcome,
        };
        let recorded = self.emit(&turn.session, &event);
        let reply = outcome.map(Reply::TurnEnded);
        self.reply_when_committed(&turn.session, &turn.origin, reply, recorded);
        // Its roles may be free for their next task now.
        match turn.origin {
            Origin::Task(task) => {
                let outcome = turn.roles.values().next().cloned();
                self.task_turn_ended(&turn.session, task, outcome)
            }
            Origin::Connection { .. } | Origin::Team { .. } => self.dispatch_tasks(&turn.session),
        }
    }

    /// Sends what waits in each role of a session.
    pub(super) fn pump_session(&mut self, session_id: &SessionId) {
        for role in self.session_roles(session_id) {
            self.pump_prompts(session_id, &role);
        }
    }

    /// The roles of a session, in the team's order.
    pub(super) fn session_roles(&self, session_id: &SessionId) -> Vec<Role> {
        self.sessions
            .get(session_id)
            .map(|s| s.roles.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The next turn number of a session.
    pub(super) fn next_turn_seq(&mut self, session_id: &SessionId) -> u64 {
        self.sessions.get_mut(session_id).map_or(0, |s| {
            s.turn_seq += 1;
            s.turn_seq
        })
    }
}

/// Blocks a child cannot take become text it can: images and audio are described,
/// embedded resources become their text (or a link).
fn adapt_block(block: Value, caps: &acp::ChildCapabilities) -> Value {
    match block.get("type").and_then(Value::as_str) {
        Some("image") if !caps.image => {
            json!({ "type": "text", "text": "[an image was attached; this agent cannot take images]" })
        }
        Some("audio") if !caps.audio => {
            json!({ "type": "text", "text": "[an audio clip was attached; this agent cannot take audio]" })
        }
        Some("resource") if !caps.embedded_context => resource_as_text(&block),
        _ => block,
    }
}

fn resource_as_text(block: &Value) -> Value {
    let resource = block.get("resource").cloned().unwrap_or(Value::Null);
    let uri = resource
        .get("uri")
        .and_then(Value::as_str)
        .unwrap_or("resource");
    match resource.get("text").and_then(Value::as_str) {
        Some(text) => json!({ "type": "text", "text": format!("{uri}:\n{text}") }),
        None => json!({ "type": "resource_link", "uri": uri, "name": uri }),
    }
}

/// A short summary of a prompt for a subagent's `task`.
fn task_summary(blocks: &[Value]) -> String {
    let text: String = blocks
        .iter()
        .filter_map(text_of_block)
        .collect::<Vec<_>>()
        .join(" ");
    let mut summary: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if summary.chars().count() > 200 {
        summary = summary.chars().take(199).collect::<String>() + "…";
    }
    summary
}
