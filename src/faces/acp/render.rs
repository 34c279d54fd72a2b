//! The core's outputs as ACP for one client: answers, each session's events (a
//! role's updates go to its subagent session for clients that show them, through the
//! speaker floor otherwise), merged session state, relayed requests, statuses.

use std::collections::HashMap;
use std::time::Instant;

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::AcpConnection;
use super::floor::Floor;
use super::update::{Rewrite, item_kind, write_update_line};
use crate::acp::{self, method, role_meta, set_role_meta};
use crate::core::Origin;
use crate::core::{
    Delivery, Output, RelayId, RelayKind, RelayRequest, Reply, RoleOutcome, RoleUpdate,
    SessionState, StopReason, TeamEvent, UpdateKind,
};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::{self, RequestId};

/// Extension notification announcing an agent's status change.
pub const AGENT_STATUS: &str = "_ourocodus/agent_status";

/// What one client is shown of one session.
#[derive(Debug, Default)]
pub struct SessionView {
    /// Speaker discipline for clients without subagent sessions.
    pub floor: Floor,
    /// When the role holding the floor mid-line must let waiting roles speak.
    pub floor_deadline: Option<Instant>,
    /// Each role's latest plan entries, merged into one plan for plain clients.
    pub plans: IndexMap<Role, Vec<Value>>,
    /// The task graph's entries: the session's plan, first in a merged one.
    pub tasks: Vec<Value>,
    /// Subagent sessions announced and not closed, by role and turn.
    pub subagents: HashMap<(Role, u64), SessionId>,
}

impl SessionView {
    pub fn deadline(&self) -> Option<Instant> {
        self.floor_deadline
    }
}

/// The subagent session id shown for a role's part of a turn.
fn subagent_id(session: &SessionId, role: &Role, turn: u64) -> SessionId {
    SessionId::new(format!("{session}:{role}:{turn}"))
}

/// Reads a subagent session id back: the session, the role and the turn.
pub fn subagent_of(id: &SessionId) -> Option<(SessionId, Role, u64)> {
    let (rest, turn) = id.as_str().rsplit_once(':')?;
    let (session, role) = rest.rsplit_once(':')?;
    Some((SessionId::new(session), Role::new(role), turn.parse().ok()?))
}

pub fn deliver(face: &mut AcpConnection, output: Output<'_>) {
    match output {
        Output::Reply { request, outcome } => face.reply(request, outcome),
        Output::Event {
            session,
            event,
            delivery,
        } => face.event(session, event, delivery),
        Output::State { session, state } => face.state(session, state),
        Output::Relay {
            relay,
            session,
            role,
            turn,
            request,
        } => face.relay(relay, session, role, turn, request),
        Output::Withdraw { relay } => {
            let params = json!({ "requestId": relay.0 }).to_string();
            face.notification(method::CANCEL_REQUEST, Some(&params));
        }
        Output::AgentStatus(summary) => {
            let params = serde_json::to_string(summary).unwrap_or_default();
            face.notification(AGENT_STATUS, Some(&params));
        }
        Output::Notification { method, params } => face.notification(method, params),
        Output::SessionOpened { .. } => {}
    }
}

/// Time is up for roles holding a floor mid-line: waiting roles speak.
pub fn tick(face: &mut AcpConnection, now: Instant) {
    let due: Vec<SessionId> = face
        .views
        .iter()
        .filter(|(_, v)| v.floor_deadline.is_some_and(|d| d <= now))
        .map(|(s, _)| s.clone())
        .collect();
    for session in due {
        let Some(view) = face.views.get_mut(&session) else {
            continue;
        };
        view.floor_deadline = None;
        let outputs = view.floor.force_break();
        face.send_floor_outputs(&session, outputs);
    }
}

impl AcpConnection {
    pub(super) fn view(&mut self, session: &SessionId) -> &mut SessionView {
        self.views.entry(session.clone()).or_default()
    }

    fn notification(&mut self, name: &str, params: Option<&str>) {
        self.outbox.send(&jsonrpc::notification(name, params));
    }

    /// A proxy-made `session/update` on `session`.
    pub(super) fn send_update(&mut self, session: &str, update: Value) {
        let params = json!({ "sessionId": session, "update": update });
        self.notification(method::SESSION_UPDATE, Some(&params.to_string()));
    }

    fn reply(&mut self, request: &RequestId, outcome: Result<Reply, RpcError>) {
        let reply = match outcome {
            Ok(reply) => reply,
            Err(error) => return self.respond_error(request, &error),
        };
        let result = match reply {
            Reply::Welcome {
                roles,
                route,
                history,
            } => welcome(&roles, &route, history),
            Reply::Opened {
                session,
                modes,
                config_options,
            } => {
                json!({ "sessionId": session.as_str(), "modes": modes, "configOptions": config_options })
            }
            Reply::Sessions {
                sessions,
                next_cursor,
            } => {
                let sessions: Vec<Value> = sessions
                    .iter()
                    .map(|s| json!({ "sessionId": s.session.as_str(), "cwd": s.cwd, "title": s.title, "updatedAt": s.updated_at }))
                    .collect();
                let mut result = json!({ "sessions": sessions });
                if let Some(cursor) = next_cursor {
                    result["nextCursor"] = json!(cursor);
                }
                result
            }
            Reply::TurnEnded(reason) => json!({ "stopReason": reason.wire_name() }),
            Reply::Empty => return self.respond_empty(request),
            Reply::ConfigOptions(options) => json!({ "configOptions": options }),
            Reply::Agents(agents) => json!({ "agents": agents }),
            Reply::Agent(agent) => json!(agent),
            Reply::Json(value) => value,
            Reply::Usage(usage) => json!(usage),
            Reply::Merged { role, report } => merge_json(&role, &report),
        };
        self.respond_json(request, &result);
    }

    fn event(&mut self, session: &SessionId, event: &TeamEvent<'_>, delivery: Delivery) {
        match event {
            TeamEvent::Prompt {
                turn,
                origin,
                roles,
                blocks,
                summary,
            } => {
                let from = origin.and_then(prompt_source);
                let prompt = ShownPrompt {
                    turn: *turn,
                    roles,
                    blocks,
                    summary,
                    from,
                };
                self.prompt(session, &prompt, delivery)
            }
            TeamEvent::Update(update) => self.role_update(session, update),
            TeamEvent::Notice {
                role,
                severity,
                title,
                description,
            } => self.notice(session, *role, severity.wire_name(), title, *description),
            TeamEvent::Say { text } => self.proxy_text(session, text),
            TeamEvent::RoleEnded {
                turn,
                role,
                outcome,
            } => self.role_ended(session, *turn, role, outcome),
            TeamEvent::TurnEnded { .. } => self.flush_floor(session),
            _ => {}
        }
    }

    /// A prompt: shown as the user's message to every client but the one that sent
    /// it live; for clients with subagents, each role's part announced.
    fn prompt(&mut self, session: &SessionId, prompt: &ShownPrompt<'_>, delivery: Delivery) {
        if delivery != (Delivery::Live { yours: true }) {
            for block in prompt.blocks {
                let mut update = json!({ "sessionUpdate": "user_message_chunk", "content": block });
                // The team's own prompts say who wrote them: not the user.
                if let Some(from) = &prompt.from {
                    update["_meta"] = json!({ "ourocodus": { "from": from } });
                }
                self.user_item(session, update);
            }
        }
        if self.render.subagents {
            for role in prompt.roles {
                self.announce_subagent(session, role, prompt.turn, prompt.summary);
            }
        }
    }

    fn announce_subagent(
        &mut self,
        session: &SessionId,
        role: &Role,
        turn: u64,
        task: &str,
    ) -> SessionId {
        let sub = subagent_id(session, role, turn);
        self.view(session)
            .subagents
            .insert((role.clone(), turn), sub.clone());
        self.send_update(
            session.as_str(),
            json!({
                "sessionUpdate": "subagent_update",
                "sessionId": sub.as_str(),
                "title": role.as_str(),
                "description": task,
                "state": { "state": "running" },
                "capabilities": { "cancel": {} },
                "_meta": role_meta(role.as_str()),
            }),
        );
        sub
    }

    /// The session a role's update goes to for this client: its subagent session
    /// during a turn (announced now if this client joined mid-turn), else the parent.
    fn subagent_target(
        &mut self,
        session: &SessionId,
        role: &Role,
        turn: Option<u64>,
    ) -> Option<SessionId> {
        if !self.render.subagents {
            return None;
        }
        let turn = turn?;
        let known = self
            .views
            .get(session)
            .and_then(|v| v.subagents.get(&(role.clone(), turn)))
            .cloned();
        Some(known.unwrap_or_else(|| self.announce_subagent(session, role, turn, "")))
    }

    /// The per-message path: one role's update, written straight into the output.
    fn role_update(&mut self, session: &SessionId, update: &RoleUpdate<'_>) {
        match update.kind {
            UpdateKind::Notice if !self.render.notices => {
                return self.child_notice(session, update);
            }
            UpdateKind::Plan if !self.render.subagents => return self.merged_plan(session, update),
            _ => {}
        }
        match self.subagent_target(session, update.role, update.turn) {
            Some(sub) => {
                let rewrite = Rewrite {
                    session: sub.as_str(),
                    prefix_title: false,
                };
                self.outbox
                    .send_with(|out| write_update_line(out, update, &rewrite));
            }
            None => {
                let rewrite = Rewrite {
                    session: session.as_str(),
                    prefix_title: true,
                };
                let kind = item_kind(update.kind, update.update);
                self.emit_role_update(session, update.role, kind, |out| {
                    write_update_line(out, update, &rewrite)
                });
            }
        }
    }

    /// A role is done with its part of a turn: it gives up the floor, and its
    /// subagent session ends.
    fn role_ended(&mut self, session: &SessionId, turn: u64, role: &Role, outcome: &RoleOutcome) {
        self.release_floor(session, role);
        let Some(sub) = self
            .views
            .get_mut(session)
            .and_then(|v| v.subagents.remove(&(role.clone(), turn)))
        else {
            return;
        };
        // ACP's state is the child's activity (idle: its part is over); how the
        // part ended is ours to say.
        let how = match outcome {
            RoleOutcome::Done(StopReason::Cancelled) | RoleOutcome::Cancelled => "cancelled",
            RoleOutcome::Done(_) | RoleOutcome::Working => "completed",
            RoleOutcome::Failed(_) => "failed",
        };
        let mut meta = role_meta(role.as_str());
        meta["ourocodus"]["outcome"] = json!(how);
        self.send_update(
            session.as_str(),
            json!({
                "sessionUpdate": "subagent_update",
                "sessionId": sub.as_str(),
                "state": { "state": "idle" },
                "_meta": meta,
            }),
        );
    }

    fn state(&mut self, session: &SessionId, state: SessionState<'_>) {
        let update = match state {
            SessionState::Commands(commands) => {
                json!({ "sessionUpdate": "available_commands_update", "availableCommands": commands })
            }
            SessionState::ConfigOptions(options) => {
                json!({ "sessionUpdate": "config_option_update", "configOptions": options })
            }
            SessionState::CurrentMode(mode) => {
                json!({ "sessionUpdate": "current_mode_update", "currentModeId": mode })
            }
            SessionState::Tasks(entries) => return self.task_plan(session, entries),
        };
        self.send_update(session.as_str(), update);
    }

    /// An agent's request, for this client: its session id the client's, the role in
    /// `_meta` (and before a permission's title); our relay number is the id.
    fn relay(
        &mut self,
        relay: RelayId,
        session: &SessionId,
        role: &Role,
        turn: Option<u64>,
        request: &RelayRequest,
    ) {
        let target = self
            .subagent_target(session, role, turn)
            .unwrap_or_else(|| session.clone());
        let mut params = request.params.clone();
        if let Some(object) = params.as_object_mut() {
            if object.contains_key("sessionId") {
                object.insert("sessionId".into(), json!(target.as_str()));
            }
            set_role_meta(object, role.as_str());
        }
        if request.kind == RelayKind::Permission
            && let Some(tool_call) = params.get_mut("toolCall").and_then(Value::as_object_mut)
        {
            if let Some(title) = tool_call.get("title").and_then(Value::as_str) {
                let titled = format!("{role}: {title}");
                tool_call.insert("title".into(), json!(titled));
            }
            set_role_meta(tool_call, role.as_str());
        }
        let id = RequestId::number(i64::try_from(relay.0).unwrap_or(i64::MAX));
        let line = jsonrpc::request(&id, &request.method, Some(&params.to_string()));
        self.outbox.send(&line);
    }
}

/// The `initialize` answer: what the proxy can honour whatever its agents turn out
/// to be, and the team.
fn welcome(roles: &[Role], route: &[Role], history: bool) -> Value {
    let mut session_caps = json!({ "close": {}, "additionalDirectories": {} });
    if history {
        session_caps["list"] = json!({});
        session_caps["resume"] = json!({});
    }
    json!({
        "protocolVersion": acp::PROTOCOL_VERSION,
        "agentCapabilities": {
            "loadSession": history,
            "promptCapabilities": { "image": true, "audio": false, "embeddedContext": true },
            "mcpCapabilities": { "http": true, "sse": true },
            "sessionCapabilities": session_caps,
        },
        "authMethods": [],
        "agentInfo": { "name": crate::NAME, "title": "Ourocodus", "version": crate::VERSION },
        "_meta": { "ourocodus": { "roles": roles, "route": route } },
    })
}

/// `_ourocodus/merge`'s result: what the merge did, by outcome.
fn merge_json(role: &Role, report: &crate::worktree::MergeReport) -> Value {
    use crate::worktree::MergeOutcome;
    let mut result = json!({ "role": role.as_str(), "branch": report.branch, "into": report.into });
    match &report.outcome {
        MergeOutcome::Merged {
            commit,
            files,
            summary,
        } => {
            result["outcome"] = json!("merged");
            result["commit"] = json!(commit);
            result["files"] = json!(files);
            result["summary"] = json!(summary);
        }
        MergeOutcome::NothingToMerge => result["outcome"] = json!("nothing"),
        MergeOutcome::Conflict { files } => {
            result["outcome"] = json!("conflict");
            result["files"] = json!(files);
        }
    }
    if let Some(committed) = &report.committed {
        result["committed"] = json!({ "commit": committed.commit, "files": committed.files });
    }
    result
}

/// A prompt as a client is shown it.
struct ShownPrompt<'a> {
    turn: u64,
    roles: &'a [Role],
    blocks: &'a [Value],
    summary: &'a str,
    /// Who wrote it when the user did not: `{ task }` or `{ role }` or `{ proxy }`.
    from: Option<Value>,
}

/// Who wrote a prompt that did not come from a client.
fn prompt_source(origin: &Origin) -> Option<Value> {
    match origin {
        Origin::Connection { .. } => None,
        Origin::Task(task) => Some(json!({ "task": task.to_string() })),
        Origin::Team { from: Some(role) } => Some(json!({ "role": role.as_str() })),
        Origin::Team { from: None } => Some(json!({ "proxy": true })),
    }
}
