//! The one stream a plain ACP client shows: each role's updates through the speaker
//! floor (labels, line breaks, patience), the proxy's own words, notices (as ACP
//! notices, or quoted text for clients without them), and the roles' plans merged
//! into one.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::AcpConnection;
use super::floor::{Item, ItemKind, Output};
use crate::acp::{method, role_meta};
use crate::core::{DESCRIPTION_CHARS, RoleUpdate, TITLE_CHARS, agent_lines, agent_text};
use crate::ids::{Role, SessionId};
use crate::jsonrpc;

/// How long a role may hold the floor mid-line while others wait to speak.
pub const FLOOR_PATIENCE: Duration = Duration::from_millis(1500);
/// Notices about the team rather than one role speak as this pseudo-role.
pub const PROXY_SPEAKER: &str = "ourocodus";
/// The user's messages, shown to clients that did not send them, speak as this.
const USER_SPEAKER: &str = "user";

impl AcpConnection {
    /// Sends one of a role's updates on the parent session, keeping speakers apart.
    pub(super) fn emit_via_floor(&mut self, session: &SessionId, role: &Role, item: Item) {
        let view = self.view(session);
        let outputs = view.floor.push(role, item);
        if view.floor.has_waiting() && view.floor_deadline.is_none() {
            view.floor_deadline = Some(Instant::now() + FLOOR_PATIENCE);
        }
        self.send_floor_outputs(session, outputs);
    }

    /// The per-message variant of `emit_via_floor`: when the role may speak now, its
    /// line is written straight into the output; otherwise it is built and waits.
    pub(super) fn emit_role_update(
        &mut self,
        session: &SessionId,
        role: &Role,
        kind: ItemKind,
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        let view = self.view(session);
        let Some(label) = view.floor.admit(role, kind) else {
            let mut line = Vec::with_capacity(512);
            write(&mut line);
            return self.emit_via_floor(session, role, Item { line, kind });
        };
        if let Some(label) = label {
            self.send_floor_outputs(session, vec![label]);
        }
        self.outbox.send_with(write);
        let waiting = self.view(session).floor.after_admitted();
        if !waiting.is_empty() {
            self.send_floor_outputs(session, waiting);
        }
    }

    /// `role` finished its part of a turn: it gives up the floor.
    pub(super) fn release_floor(&mut self, session: &SessionId, role: &Role) {
        let Some(view) = self.views.get_mut(session) else {
            return;
        };
        let outputs = view.floor.release(role);
        if !view.floor.has_waiting() {
            view.floor_deadline = None;
        }
        self.send_floor_outputs(session, outputs);
    }

    /// Everything still waiting on the floor goes out now.
    pub(super) fn flush_floor(&mut self, session: &SessionId) {
        let Some(view) = self.views.get_mut(session) else {
            return;
        };
        view.floor_deadline = None;
        if !view.floor.has_waiting() {
            return;
        }
        let outputs = view.floor.flush_all();
        self.send_floor_outputs(session, outputs);
    }

    pub(super) fn send_floor_outputs(&mut self, session: &SessionId, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Line(line) => self.outbox.send(&line),
                Output::Label { role, newlines } => {
                    let text = format!("{}**[{role}]**\n\n", "\n".repeat(newlines));
                    self.send_proxy_text(session, &role, &text, true);
                }
                Output::LineBreak { role } => self.send_proxy_text(session, &role, "\n", false),
            }
        }
    }

    /// A text chunk the proxy writes on a role's behalf (labels, line breaks).
    fn send_proxy_text(&mut self, session: &SessionId, role: &Role, text: &str, label: bool) {
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

    /// The proxy's own words in the chat.
    pub(super) fn proxy_text(&mut self, session: &SessionId, text: &str) {
        let speaker = Role::new(PROXY_SPEAKER);
        let item = text_item(session, text, role_meta(PROXY_SPEAKER));
        self.emit_via_floor(session, &speaker, item);
    }

    /// A message of the user's (sent by another client, or from the history).
    pub(super) fn user_item(&mut self, session: &SessionId, update: Value) {
        let params = json!({ "sessionId": session.as_str(), "update": update });
        let item = Item {
            line: jsonrpc::notification(method::SESSION_UPDATE, Some(&params.to_string())),
            kind: ItemKind::Other,
        };
        self.emit_via_floor(session, &Role::new(USER_SPEAKER), item);
    }

    /// Tells the user something about a role (or the team when `role` is None): a
    /// `notice` where the client supports them, otherwise a quoted line in the chat.
    pub(super) fn notice(
        &mut self,
        session: &SessionId,
        role: Option<&Role>,
        severity: &str,
        title: &str,
        description: Option<&str>,
    ) {
        let speaker = role.map_or(PROXY_SPEAKER, Role::as_str);
        if self.render.notices {
            let mut notice = json!({
                "sessionUpdate": "notice",
                "severity": severity,
                "title": title,
                "_meta": role_meta(speaker),
            });
            if let Some(description) = description {
                notice["description"] = json!(description);
            }
            return self.send_update(session.as_str(), notice);
        }
        let glyph = match severity {
            "error" => "✖",
            "warning" => "⚠",
            _ => "ℹ",
        };
        let mut text = format!("> {glyph} **{title}**");
        for line in description.into_iter().flat_map(str::lines) {
            text.push_str("  \n> ");
            text.push_str(line);
        }
        text.push_str("\n\n");
        // Tell clients and plugins that this text is a notice, not the agent's words.
        let mut meta = role_meta(speaker);
        meta["ourocodus"]["notice"] = json!({ "severity": severity, "title": title });
        let item = text_item(session, &text, meta);
        self.emit_via_floor(session, &Role::new(speaker), item);
    }

    /// A role's own `notice`, for a client that cannot show notices.
    pub(super) fn child_notice(&mut self, session: &SessionId, update: &RoleUpdate<'_>) {
        let text = |key: &str| update.update.get_str(key);
        let severity = match text("severity").as_deref() {
            Some("error") => "error",
            Some("warning") => "warning",
            _ => "info",
        };
        // The agent's words go inside the proxy's quoted notice: neutralised.
        let title =
            text("title").map_or_else(|| "notice".to_string(), |t| agent_text(&t, TITLE_CHARS));
        let description = text("description").map(|d| agent_lines(&d, DESCRIPTION_CHARS));
        self.notice(
            session,
            Some(update.role),
            severity,
            &title,
            description.as_deref(),
        );
    }

    /// Plain clients show one plan: the task graph's entries, then each role's,
    /// labelled once several sources have one, in the order the roles first planned.
    pub(super) fn merged_plan(&mut self, session: &SessionId, update: &RoleUpdate<'_>) {
        let role = update.role;
        let entries: Vec<Value> = update
            .update
            .get("entries")
            .and_then(|raw| serde_json::from_str(raw.value()).ok())
            .unwrap_or_default();
        self.view(session).plans.insert(role.clone(), entries);
        let mut plan = self.plan_update(session, role_meta(role.as_str()));
        let foreign_meta: Option<serde_json::Map<String, Value>> = update
            .update
            .get("_meta")
            .and_then(|raw| serde_json::from_str(raw.value()).ok());
        for (key, value) in foreign_meta.into_iter().flatten() {
            if key != "ourocodus" {
                plan["_meta"][key] = value;
            }
        }
        let params = json!({ "sessionId": session.as_str(), "update": plan });
        let item = Item {
            line: jsonrpc::notification(method::SESSION_UPDATE, Some(&params.to_string())),
            kind: ItemKind::Other,
        };
        self.emit_via_floor(session, role, item);
    }

    /// The task graph changed: the session's plan (merged with the roles' plans for
    /// a plain client; a subagent client sees the roles' in their own sessions).
    pub(super) fn task_plan(&mut self, session: &SessionId, entries: &Value) {
        let entries = entries.as_array().cloned().unwrap_or_default();
        self.view(session).tasks = entries;
        let mut meta = role_meta(PROXY_SPEAKER);
        meta["ourocodus"]["tasks"] = json!(true);
        let plan = if self.render.subagents {
            let tasks = self.view(session).tasks.clone();
            json!({ "sessionUpdate": "plan", "entries": tasks, "_meta": meta })
        } else {
            self.plan_update(session, meta)
        };
        let params = json!({ "sessionId": session.as_str(), "update": plan });
        let item = Item {
            line: jsonrpc::notification(method::SESSION_UPDATE, Some(&params.to_string())),
            kind: ItemKind::Other,
        };
        self.emit_via_floor(session, &Role::new(PROXY_SPEAKER), item);
    }

    /// One plan of everything a plain client should see.
    fn plan_update(&mut self, session: &SessionId, meta: Value) -> Value {
        let view = self.view(session);
        let sources = view.plans.values().filter(|e| !e.is_empty()).count()
            + usize::from(!view.tasks.is_empty());
        let several = sources > 1;
        let merged: Vec<Value> = view
            .tasks
            .iter()
            .cloned()
            .chain(view.plans.iter().flat_map(|(r, entries)| {
                entries.iter().map(move |e| {
                    if several {
                        labelled_entry(r, e)
                    } else {
                        e.clone()
                    }
                })
            }))
            .collect();
        json!({ "sessionUpdate": "plan", "entries": merged, "_meta": meta })
    }
}

/// A complete text chunk item on the parent session with the given `_meta`.
fn text_item(session: &SessionId, text: &str, meta: Value) -> Item {
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

fn labelled_entry(role: &Role, entry: &Value) -> Value {
    let mut entry = entry.clone();
    let content = entry
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    entry["content"] = json!(format!("[{role}] {content}"));
    entry
}
