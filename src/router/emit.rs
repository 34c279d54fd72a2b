//! What the router sends the editor: responses, proxy-made updates, notices, and each
//! role's updates — through the speaker floor for plain editors, or straight into the
//! role's subagent session for editors that show subagents.

use serde_json::{Value, json};

use super::Router;
use super::floor::{Item, ItemKind, Output};
use super::timers::{FLOOR_PATIENCE, Timer};
use crate::acp::{method, role_meta};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::{self, RequestId};

/// How a notice should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    fn wire_name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    fn glyph(self) -> &'static str {
        match self {
            Severity::Info => "ℹ",
            Severity::Warning => "⚠",
            Severity::Error => "✖",
        }
    }
}

/// Notices about the team rather than one role speak as this pseudo-role.
pub const PROXY_SPEAKER: &str = "ourocodus";

impl Router {
    pub(super) fn send_editor(&self, line: Vec<u8>) {
        if !self.editor.closed {
            self.editor.outbox.send(&line);
        }
    }

    pub(super) fn respond(&self, id: &RequestId, result: &Value) {
        self.send_editor(jsonrpc::response_raw(id, &result.to_string()));
    }

    pub(super) fn respond_error(&self, id: &RequestId, error: &RpcError) {
        self.send_editor(jsonrpc::error_response(id, error));
    }

    /// A proxy-made `session/update` on `session`.
    pub(super) fn send_update(&self, session: &str, update: Value) {
        let params = json!({ "sessionId": session, "update": update });
        self.send_editor(jsonrpc::notification(
            method::SESSION_UPDATE,
            Some(&params.to_string()),
        ));
    }

    /// Whether role output goes to subagent sessions (else through the floor).
    pub(super) fn shows_subagents(&self) -> bool {
        self.editor.caps.subagents
    }

    /// Sends one of a role's updates on the parent session, keeping speakers apart.
    pub(super) fn emit_via_floor(&mut self, session_id: &SessionId, role: &Role, item: Item) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        let outputs = session.floor.push(role, item);
        let arm = session.floor.has_waiting() && !session.floor_timer_armed;
        if arm {
            session.floor_timer_armed = true;
            self.timers
                .insert(Timer::FloorBreak(session_id.clone()), FLOOR_PATIENCE);
        }
        self.send_floor_outputs(session_id, outputs);
    }

    /// The per-message variant of `emit_via_floor`: when the role may speak now, its
    /// line is written straight into the editor's output; otherwise it is built and
    /// waits on the floor.
    pub(super) fn emit_role_update(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        kind: ItemKind,
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        let Some(label) = session.floor.admit(role, kind) else {
            let mut line = Vec::with_capacity(512);
            write(&mut line);
            return self.emit_via_floor(session_id, role, Item { line, kind });
        };
        if let Some(label) = label {
            self.send_floor_outputs(session_id, vec![label]);
        }
        if !self.editor.closed {
            self.editor.outbox.send_with(write);
        }
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        let waiting = session.floor.after_admitted();
        if !waiting.is_empty() {
            self.send_floor_outputs(session_id, waiting);
        }
    }

    /// `role` finished its part of a turn: it gives up the floor.
    pub(super) fn release_floor(&mut self, session_id: &SessionId, role: &Role) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        let outputs = session.floor.release(role);
        self.send_floor_outputs(session_id, outputs);
    }

    /// Everything still waiting on the floor goes out now.
    pub(super) fn flush_floor(&mut self, session_id: &SessionId) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        let outputs = session.floor.flush_all();
        self.send_floor_outputs(session_id, outputs);
    }

    pub(super) fn send_floor_outputs(&self, session_id: &SessionId, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Line(line) => self.send_editor(line),
                Output::Label { role, newlines } => {
                    let text = format!("{}**[{role}]**\n\n", "\n".repeat(newlines));
                    self.send_proxy_text(session_id, &role, &text, true);
                }
                Output::LineBreak { role } => self.send_proxy_text(session_id, &role, "\n", false),
            }
        }
    }

    /// A text chunk the proxy writes on a role's behalf (labels, line breaks).
    fn send_proxy_text(&self, session: &SessionId, role: &Role, text: &str, label: bool) {
        let mut meta = role_meta(role.as_str());
        if label {
            meta["ourocodus"]["label"] = json!(true);
        }
        self.send_update(
            session.as_str(),
            json!({
                "sessionUpdate": "agent_message_chunk",
                "content": { "type": "text", "text": text },
                "_meta": meta,
            }),
        );
    }

    /// Tells the user something about a role (or the team when `role` is None): a
    /// `notice` where the editor supports them, otherwise a quoted line in the chat.
    pub(super) fn notify_user(
        &mut self,
        session_id: &SessionId,
        role: Option<&Role>,
        severity: Severity,
        title: &str,
        description: Option<&str>,
    ) {
        let speaker = role.cloned().unwrap_or_else(|| Role::new(PROXY_SPEAKER));
        tracing::info!(session = %session_id, role = %speaker, title, "notice");
        if self.editor.caps.notices {
            let mut notice = json!({
                "sessionUpdate": "notice",
                "severity": severity.wire_name(),
                "title": title,
                "_meta": role_meta(speaker.as_str()),
            });
            if let Some(description) = description {
                notice["description"] = json!(description);
            }
            self.send_update(session_id.as_str(), notice);
            return;
        }
        let mut text = format!("> {} **{}**", severity.glyph(), title);
        if let Some(description) = description {
            for line in description.lines() {
                text.push_str("  \n> ");
                text.push_str(line);
            }
        }
        text.push_str("\n\n");
        // Tell editors and plugins that this text is a notice, not the agent's words.
        let mut meta = role_meta(speaker.as_str());
        meta["ourocodus"]["notice"] = json!({ "severity": severity.wire_name(), "title": title });
        let item = text_item_with_meta(session_id, &text, meta);
        self.emit_via_floor(session_id, &speaker, item);
    }

    /// The same notice in every session (an agent-wide event such as a crash).
    pub(super) fn notify_every_session(
        &mut self,
        role: &Role,
        severity: Severity,
        title: &str,
        description: Option<&str>,
    ) {
        let sessions: Vec<SessionId> = self.sessions.keys().cloned().collect();
        for session in sessions {
            self.notify_user(&session, Some(role), severity, title, description);
        }
    }

    /// A complete text chunk item for `role` on the parent session.
    pub(super) fn text_item(&self, session: &SessionId, role: &Role, text: &str) -> Item {
        text_item_with_meta(session, text, role_meta(role.as_str()))
    }
}

/// A complete text chunk item on the parent session with the given `_meta`.
fn text_item_with_meta(session: &SessionId, text: &str, meta: Value) -> Item {
    let params = json!({
        "sessionId": session.as_str(),
        "update": {
            "sessionUpdate": "agent_message_chunk",
            "content": { "type": "text", "text": text },
            "_meta": meta,
        },
    });
    Item {
        line: jsonrpc::notification(method::SESSION_UPDATE, Some(&params.to_string())),
        kind: ItemKind::Text {
            ends_line: text.ends_with('\n'),
        },
    }
}
