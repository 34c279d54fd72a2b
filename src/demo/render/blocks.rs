//! The transcript's blocks apart from running text: tool-call cards, plan
//! checklists, notices and permission prompts.

use std::collections::HashMap;

use serde_json::Value;

use super::{Renderer, role_of, str_at};
use crate::demo::style::Tone;

/// Tool calls seen so far, and the card whose line still waits for its outcome.
#[derive(Debug, Default)]
pub struct ToolCards {
    /// toolCallId → (title, role), from the `tool_call` (titles may be updated).
    known: HashMap<String, (String, Option<String>)>,
    /// The card printed as `▸ title …` whose status would end its line.
    open_line: Option<String>,
}

impl ToolCards {
    /// Ends a card line left waiting for its status (something else comes first).
    pub fn close_open_line(&mut self) -> String {
        match self.open_line.take() {
            Some(_) => "\n".to_string(),
            None => String::new(),
        }
    }
}

/// A tool call's status that ends it.
fn is_final(status: &str) -> bool {
    matches!(status, "completed" | "failed")
}

impl Renderer {
    /// A `tool_call` opens a card line; its final `tool_call_update` ends it with
    /// the status (on the same line if nothing came between, else on a new card line).
    pub(super) fn tool_call(&mut self, update: &Value, role: Option<&str>, tone: Tone) -> String {
        let Some(id) = str_at(update, "/toolCallId") else {
            return String::new();
        };
        let status = str_at(update, "/status").unwrap_or_default();
        let remembered = self.cards.known.get(id).cloned();
        let title = str_at(update, "/title")
            .map(str::to_string)
            .or_else(|| remembered.as_ref().map(|(title, _)| title.clone()))
            .unwrap_or_else(|| id.to_string());
        let role = role
            .map(str::to_string)
            .or_else(|| remembered.and_then(|(_, role)| role));
        self.cards
            .known
            .insert(id.to_string(), (title.clone(), role.clone()));
        if self.cards.open_line.as_deref() == Some(id) {
            return self.card_status(status);
        }
        let announces = str_at(update, "/sessionUpdate") == Some("tool_call");
        if !announces && !is_final(status) {
            return String::new();
        }
        let mut out = self.start_block();
        out.push_str(&self.card_line(&title, role.as_deref(), tone));
        self.cards.open_line = Some(id.to_string());
        if is_final(status) {
            out.push_str(&self.card_status(status));
        }
        out
    }

    fn card_line(&self, title: &str, role: Option<&str>, tone: Tone) -> String {
        let title = match role {
            Some(role) if !title.starts_with(&format!("{role}:")) => format!("{role}: {title}"),
            _ => title.to_string(),
        };
        format!("  {} …", self.painter.paint(tone, &format!("▸ {title}")))
    }

    /// Ends the open card line with a final status; other statuses wait.
    fn card_status(&mut self, status: &str) -> String {
        if !is_final(status) {
            return String::new();
        }
        self.cards.open_line = None;
        let tone = if status == "completed" {
            Tone::Success
        } else {
            Tone::Failure
        };
        format!(" {}\n", self.painter.paint(tone, status))
    }

    /// The whole plan, as a checklist.
    pub(super) fn plan(&mut self, update: &Value, role: Option<&str>, tone: Tone) -> String {
        let mut out = self.start_block();
        let owner = role.map(|r| format!(" ({r})")).unwrap_or_default();
        out.push_str(&format!(
            "  {}\n",
            self.painter.paint_strong(tone, &format!("Plan{owner}"))
        ));
        let entries = update.get("entries").and_then(Value::as_array);
        for entry in entries.into_iter().flatten() {
            let content = str_at(entry, "/content").unwrap_or_default();
            let mark = match str_at(entry, "/status") {
                Some("completed") => "[x]",
                Some("in_progress") => "[~]",
                _ => "[ ]",
            };
            out.push_str(&format!(
                "    {} {content}\n",
                self.painter.paint(tone, mark)
            ));
        }
        out
    }

    /// A `notice` update (from editors that advertise `session.notices`).
    pub(super) fn notice(&mut self, update: &Value) -> String {
        let (glyph, tone) = match str_at(update, "/severity") {
            Some("error") => ("✖", Tone::Failure),
            Some("warning") => ("⚠", Tone::Warning),
            _ => ("ℹ", Tone::Proxy),
        };
        let mut out = self.start_block();
        let title = str_at(update, "/title").unwrap_or("notice");
        let speaker = role_of(update)
            .map(|r| format!("{r}: "))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {}\n",
            self.painter
                .paint(tone, &format!("{glyph} {speaker}{title}"))
        ));
        for line in str_at(update, "/description").unwrap_or_default().lines() {
            out.push_str(&format!("    {}\n", self.painter.paint(Tone::Dim, line)));
        }
        out
    }

    /// A `session/request_permission` from the proxy, as the editor would ask it.
    pub fn permission_request(&mut self, params: &Value) -> String {
        let role =
            role_of(params).or_else(|| role_of(params.get("toolCall").unwrap_or(&Value::Null)));
        let tone = self.tone_of(role.as_deref());
        let mut out = self.start_block();
        let who = role.as_deref().unwrap_or("an agent");
        let title = str_at(params, "/toolCall/title").unwrap_or("a tool call");
        let title = title.strip_prefix(&format!("{who}: ")).unwrap_or(title);
        let kind = str_at(params, "/toolCall/kind")
            .map(|k| format!(" ({k})"))
            .unwrap_or_default();
        let question = format!("? {who} asks permission: {title}{kind}");
        out.push_str(&format!(
            "  {}\n",
            self.painter.paint_strong(tone, &question)
        ));
        let names: Vec<&str> = options_of(params)
            .filter_map(|o| str_at(o, "/name"))
            .collect();
        let listed = format!("options: {}", names.join(" · "));
        out.push_str(&format!("    {}\n", self.painter.paint(Tone::Dim, &listed)));
        out
    }

    /// What the demo editor answered to a permission request.
    pub fn permission_decision(&mut self, chosen: Option<&Value>) -> String {
        let decision = match chosen {
            Some(option) => format!(
                "→ the editor chose “{}” ({})",
                str_at(option, "/name").unwrap_or_default(),
                str_at(option, "/kind").unwrap_or_default()
            ),
            None => "→ no allow option offered; the editor answered cancelled".to_string(),
        };
        let mut out = self.start_block();
        out.push_str(&format!(
            "    {}\n",
            self.painter.paint(Tone::Success, &decision)
        ));
        out
    }
}

/// The options of a permission request.
pub fn options_of(params: &Value) -> impl Iterator<Item = &Value> {
    params
        .get("options")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}
