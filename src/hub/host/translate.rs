//! A session's team events as AHP actions: a prompt starts a turn in the lead chat
//! and in each routed role's chat; a role's text, thoughts, tool calls and usage go
//! to its chat and (text and tool calls, labelled) to the lead chat; notices are
//! system notifications; a role's end and the turn's end close them. Knows nothing
//! of clients or sequence numbers (`publish` does).

use ahp_types::actions::{ChatDeltaAction, StateAction};
use serde_json::{Value, json};

use super::observer::Happening;
use super::publish::Host;
use crate::core::{RoleOutcome, StopReason, UpdateKind};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};

/// How a turn ends in a chat.
pub enum Ending<'a> {
    Complete {
        stop: Option<StopReason>,
        /// Completed only because another team turn starts in this chat.
        continues: bool,
    },
    Cancelled,
    Failed(&'a str),
}

/// An action from its wire JSON (checked against `ahp-types`; a mismatch is a bug, logged).
pub fn action(value: Value) -> Option<StateAction> {
    match serde_json::from_value(value) {
        Ok(action) => Some(action),
        Err(e) => {
            tracing::error!(error = %e, "the hub built an action ahp-types refuses");
            None
        }
    }
}

pub fn now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    crate::store::iso8601_utc(ms)
}

impl Host {
    pub fn on_event(&mut self, session: &SessionId, event: Happening) {
        match event {
            Happening::Prompt {
                turn,
                request,
                roles,
                text,
                summary,
            } => self.on_prompt(session, turn, request, &roles, &text, &summary),
            Happening::Update {
                role,
                turn,
                kind,
                tool_call_id,
                update,
            } => {
                if let Some(turn) = turn {
                    self.on_update(session, &role, turn, kind, tool_call_id, &update);
                }
            }
            Happening::Notice {
                title, description, ..
            } => {
                let text = match description {
                    Some(d) => format!("{title}: {d}"),
                    None => title,
                };
                self.lead_notice(session, &text);
            }
            Happening::Say(text) => self.lead_notice(session, &text),
            Happening::RoleEnded {
                turn,
                role,
                outcome,
            } => self.on_role_ended(session, turn, &role, &outcome),
            Happening::TurnEnded { turn, outcome } => self.on_turn_ended(session, turn, &outcome),
        }
    }

    fn on_prompt(
        &mut self,
        session: &SessionId,
        turn: u64,
        request: Option<i64>,
        roles: &[Role],
        text: &str,
        summary: &str,
    ) {
        self.title_from(session, text);
        let client_turn = request.and_then(|r| self.prompt_turn_of(r));
        let Some(hosted) = self.sessions.get_mut(session) else {
            return;
        };
        let started_by_client = client_turn
            .as_ref()
            .is_some_and(|id| hosted.lead.active_turn() == Some(id.as_str()));
        let turn_id = client_turn.unwrap_or_else(|| format!("t{turn}"));
        hosted.turns.insert(turn, turn_id.clone());
        hosted.lead_turn = Some(turn);
        if !started_by_client {
            self.start_turn(session, None, &turn_id, text);
        }
        for role in roles {
            self.start_turn(session, Some(role), &turn_id, summary);
        }
    }

    /// Starts a turn in a chat, completing the one it has open first.
    pub fn start_turn(&mut self, session: &SessionId, role: Option<&Role>, id: &str, text: &str) {
        let Some(chat) = self.sessions.get(session).and_then(|h| h.chat(role)) else {
            return;
        };
        let uri = chat.uri.clone();
        if let Some(open) = chat.active_turn().map(str::to_string) {
            let ending = Ending::Complete {
                stop: None,
                continues: true,
            };
            self.end_turn(session, role, &open, ending);
        }
        let started = json!({
            "type": "chat/turnStarted",
            "turnId": id,
            "startedAt": now(),
            "message": { "text": text, "origin": { "kind": "user" } },
        });
        if let Some(started) = action(started) {
            self.publish(&uri, started);
        }
        if let Some(chat) = self.chat_mut(session, role) {
            chat.turn_ended();
            chat.started = Some(std::time::Instant::now());
        }
    }

    /// Ends a chat's active turn if it is `id`.
    pub fn end_turn(
        &mut self,
        session: &SessionId,
        role: Option<&Role>,
        id: &str,
        how: Ending<'_>,
    ) {
        let Some(chat) = self.sessions.get(session).and_then(|h| h.chat(role)) else {
            return;
        };
        if chat.active_turn() != Some(id) {
            return;
        }
        let uri = chat.uri.clone();
        let duration = chat.started.map_or(0, |s| s.elapsed().as_millis() as i64);
        let ended = match how {
            Ending::Complete { stop, continues } => {
                let mut meta = json!({ "ourocodus": {} });
                if let Some(stop) = stop {
                    meta["ourocodus"]["stopReason"] = json!(stop.wire_name());
                }
                if continues {
                    meta["ourocodus"]["continues"] = json!(true);
                }
                json!({ "type": "chat/turnComplete", "turnId": id, "duration": duration, "_meta": meta })
            }
            Ending::Cancelled => {
                json!({ "type": "chat/turnCancelled", "turnId": id, "duration": duration })
            }
            Ending::Failed(message) => json!({
                "type": "chat/error", "turnId": id, "duration": duration,
                "part": { "kind": "error", "error": { "errorType": "turnFailed", "message": message } },
            }),
        };
        if let Some(ended) = action(ended) {
            self.publish(&uri, ended);
        }
        if let Some(chat) = self.chat_mut(session, role) {
            chat.turn_ended();
            chat.started = None;
        }
    }

    fn on_role_ended(
        &mut self,
        session: &SessionId,
        turn: u64,
        role: &Role,
        outcome: &RoleOutcome,
    ) {
        let Some(id) = self.sessions.get(session).map(|h| h.turn_id(turn)) else {
            return;
        };
        let how = match outcome {
            RoleOutcome::Working => return,
            RoleOutcome::Done(StopReason::Cancelled) | RoleOutcome::Cancelled => Ending::Cancelled,
            RoleOutcome::Done(stop) => Ending::Complete {
                stop: Some(*stop),
                continues: false,
            },
            RoleOutcome::Failed(e) => {
                return self.end_turn(session, Some(role), &id, Ending::Failed(&e.message));
            }
        };
        self.end_turn(session, Some(role), &id, how);
    }

    fn on_turn_ended(
        &mut self,
        session: &SessionId,
        turn: u64,
        outcome: &Result<StopReason, RpcError>,
    ) {
        let Some(hosted) = self.sessions.get_mut(session) else {
            return;
        };
        let id = hosted.turn_id(turn);
        hosted.turns.remove(&turn);
        if hosted.lead_turn == Some(turn) {
            hosted.lead_turn = None;
        }
        let how = match outcome {
            Ok(StopReason::Cancelled) => Ending::Cancelled,
            Ok(stop) => Ending::Complete {
                stop: Some(*stop),
                continues: false,
            },
            Err(e) => Ending::Failed(&e.message),
        };
        self.end_turn(session, None, &id, how);
    }

    fn on_update(
        &mut self,
        session: &SessionId,
        role: &Role,
        turn: u64,
        kind: UpdateKind,
        tool_call_id: Option<String>,
        update: &str,
    ) {
        let Some(hosted) = self.sessions.get(session) else {
            return;
        };
        let id = hosted.turn_id(turn);
        let in_lead = hosted.lead_turn == Some(turn);
        let Ok(update) = serde_json::from_str::<Value>(update) else {
            return;
        };
        match kind {
            UpdateKind::AgentMessageChunk => {
                let Some(text) = chunk_text(&update) else {
                    return;
                };
                self.append_text(session, Some(role), &id, "text", text, None);
                if in_lead {
                    let label = format!("**@{role}** ");
                    self.append_text(session, None, &id, role.as_str(), text, Some(&label));
                }
            }
            UpdateKind::AgentThoughtChunk => {
                if let Some(text) = chunk_text(&update) {
                    self.append_reasoning(session, role, &id, text);
                }
            }
            UpdateKind::ToolCall | UpdateKind::ToolCallUpdate => {
                let Some(call) = tool_call_id else { return };
                self.tool_update(session, Some(role), role, &id, &call, &update);
                if in_lead {
                    self.tool_update(session, None, role, &id, &call, &update);
                }
            }
            UpdateKind::Usage => {
                let Some(uri) = self.chat_uri(session, Some(role)) else {
                    return;
                };
                let usage = json!({
                    "type": "chat/usage", "turnId": id,
                    "usage": { "_meta": { "ourocodus": update } },
                    "_meta": { "ourocodus": { "role": role.as_str() } },
                });
                if let Some(usage) = action(usage) {
                    self.publish(&uri, usage);
                }
            }
            _ => {}
        }
    }

    /// Appends text to a markdown part of a chat's active turn `id` (made first).
    fn append_text(
        &mut self,
        session: &SessionId,
        role: Option<&Role>,
        id: &str,
        part: &str,
        text: &str,
        label: Option<&str>,
    ) {
        let Some(chat) = self.chat_mut(session, role) else {
            return;
        };
        if chat.active_turn() != Some(id) {
            return;
        }
        let uri = chat.uri.clone();
        let fresh = chat.parts.insert(part.to_string());
        let meta = role_meta(role.map_or(part, |r| r.as_str()));
        let step = if fresh {
            action(json!({
                "type": "chat/responsePart", "turnId": id,
                "part": { "kind": "markdown", "id": part, "content": format!("{}{text}", label.unwrap_or("")) },
                "_meta": meta,
            }))
        } else {
            Some(StateAction::ChatDelta(ChatDeltaAction {
                turn_id: id.to_string(),
                part_id: part.to_string(),
                content: text.to_string(),
                meta: meta.as_object().cloned(),
            }))
        };
        if let Some(step) = step {
            self.publish(&uri, step);
        }
    }

    fn append_reasoning(&mut self, session: &SessionId, role: &Role, id: &str, text: &str) {
        let Some(chat) = self.chat_mut(session, Some(role)) else {
            return;
        };
        if chat.active_turn() != Some(id) {
            return;
        }
        let uri = chat.uri.clone();
        let step = if chat.parts.insert("thinking".to_string()) {
            json!({ "type": "chat/responsePart", "turnId": id,
                    "part": { "kind": "reasoning", "id": "thinking", "content": text } })
        } else {
            json!({ "type": "chat/reasoning", "turnId": id, "partId": "thinking", "content": text })
        };
        if let Some(step) = action(step) {
            self.publish(&uri, step);
        }
    }

    /// A proxy notice or answer, as a system notification in the lead chat's turn.
    fn lead_notice(&mut self, session: &SessionId, text: &str) {
        let Some(chat) = self.sessions.get(session).map(|h| &h.lead) else {
            return;
        };
        let Some(id) = chat.active_turn().map(str::to_string) else {
            return;
        };
        let uri = chat.uri.clone();
        let part = json!({ "type": "chat/responsePart", "turnId": id,
                           "part": { "kind": "systemNotification", "content": text } });
        if let Some(part) = action(part) {
            self.publish(&uri, part);
        }
    }

    /// The first prompt's first line becomes the session's title.
    fn title_from(&mut self, session: &SessionId, text: &str) {
        let Some(hosted) = self.sessions.get(session) else {
            return;
        };
        if !hosted.state.title.is_empty() {
            return;
        }
        let title: String = text.lines().next().unwrap_or("").chars().take(80).collect();
        if title.trim().is_empty() {
            return;
        }
        let uri = hosted.uri.clone();
        if let Some(change) = action(json!({ "type": "session/titleChanged", "title": title })) {
            self.publish(&uri, change);
        }
        self.summary_changed(session, json!({ "title": title }));
    }

    pub fn chat_uri(&self, session: &SessionId, role: Option<&Role>) -> Option<String> {
        let chat = self.sessions.get(session)?.chat(role)?;
        Some(chat.uri.clone())
    }

    pub fn chat_mut(
        &mut self,
        session: &SessionId,
        role: Option<&Role>,
    ) -> Option<&mut super::sessions::Chat> {
        self.sessions.get_mut(session)?.chat_mut(role)
    }
}

/// `_meta` naming the role an action is about.
pub fn role_meta(role: &str) -> Value {
    json!({ "ourocodus": { "role": role } })
}

/// The text of an ACP message chunk (`content.text` of a text block).
fn chunk_text(update: &Value) -> Option<&str> {
    update.get("content")?.get("text")?.as_str()
}
