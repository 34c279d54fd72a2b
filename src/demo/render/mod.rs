//! What an editor would show for the proxy's messages, as terminal text: role
//! headers from the proxy's speaker labels, each role's text in its colour, tool
//! calls as cards, plans as checklists, notices, permission prompts and stop
//! reasons. Everything is read from the wire data; nothing here knows the script.

mod blocks;
#[cfg(test)]
mod tests;
mod text;

use std::time::Duration;

use serde_json::Value;

use super::style::{Painter, Tone};
use blocks::ToolCards;
pub use blocks::options_of;
use text::TextFlow;

/// The pseudo-role the proxy speaks as for notices about the team.
const PROXY_SPEAKER: &str = "ourocodus";

/// Turns messages into transcript text. Each method returns what to print.
#[derive(Debug)]
pub struct Renderer {
    painter: Painter,
    /// Roles in the order they get colours: the team's order, then as first seen.
    roles: Vec<String>,
    flow: TextFlow,
    cards: ToolCards,
}

impl Renderer {
    pub fn new(painter: Painter) -> Self {
        Renderer {
            painter,
            roles: Vec::new(),
            flow: TextFlow::default(),
            cards: ToolCards::default(),
        }
    }

    pub fn painter(&self) -> &Painter {
        &self.painter
    }

    /// Gives the team's roles their colours in the team's order.
    pub fn know_roles<'a>(&mut self, roles: impl IntoIterator<Item = &'a str>) {
        for role in roles {
            self.tone_of(Some(role));
        }
    }

    /// The colour of a speaker; a role first seen here gets the next colour.
    fn tone_of(&mut self, role: Option<&str>) -> Tone {
        let Some(role) = role else {
            return Tone::Dim;
        };
        if role == PROXY_SPEAKER {
            return Tone::Proxy;
        }
        let index = match self.roles.iter().position(|r| r == role) {
            Some(index) => index,
            None => {
                self.roles.push(role.to_string());
                self.roles.len() - 1
            }
        };
        Tone::Role(index)
    }

    /// Renders the `update` of one `session/update` notification.
    pub fn session_update(&mut self, update: &Value) -> String {
        let role = role_of(update);
        let tone = self.tone_of(role.as_deref());
        match str_at(update, "/sessionUpdate").unwrap_or_default() {
            "agent_message_chunk" if is_label(update) => self.header(role.as_deref(), tone),
            "agent_message_chunk" => self.text(&content_text(update), tone),
            "agent_thought_chunk" => self.text(&content_text(update), Tone::Dim),
            "tool_call" | "tool_call_update" => self.tool_call(update, role.as_deref(), tone),
            "plan" => self.plan(update, role.as_deref(), tone),
            "notice" => self.notice(update),
            // Commands, modes, config options, usage...: an editor shows these
            // elsewhere than the conversation.
            _ => String::new(),
        }
    }

    /// A role's speaker label, drawn as a header line.
    fn header(&mut self, role: Option<&str>, tone: Tone) -> String {
        let mut out = self.start_block();
        let name = role.unwrap_or("agent");
        out.push_str("  ");
        out.push_str(&self.painter.paint_strong(tone, &format!("● {name}")));
        out.push('\n');
        out
    }

    fn text(&mut self, text: &str, tone: Tone) -> String {
        let mut out = self.cards.close_open_line();
        out.push_str(&self.flow.push(text, tone, &self.painter));
        out
    }

    /// Ends any open text line or card line so a block starts on its own line.
    fn start_block(&mut self) -> String {
        let mut out = self.flow.break_line(&self.painter);
        out.push_str(&self.cards.close_open_line());
        out
    }

    /// What the user typed; a script's `; `-separated steps go one per line.
    pub fn user_prompt(&mut self, text: &str) -> String {
        let mut out = self.start_block();
        for (n, line) in text.split("; ").enumerate() {
            let lead = if n == 0 { "you › " } else { "      " };
            out.push_str(&self.painter.paint(Tone::User, &format!("{lead}{line}")));
            out.push('\n');
        }
        out.push('\n');
        self.flow.note_blank_line();
        out
    }

    /// The answer to a prompt, and how long it came after the editor's cancel.
    pub fn stop_reason(&mut self, reason: &str, since_cancel: Option<Duration>) -> String {
        let tone = if reason == "end_turn" {
            Tone::Dim
        } else {
            Tone::Warning
        };
        let mut line = format!("■ stopReason: {reason}");
        if let Some(elapsed) = since_cancel {
            line.push_str(&format!(" ({} ms after the cancel)", elapsed.as_millis()));
        }
        let mut out = self.start_block();
        out.push_str("  ");
        out.push_str(&self.painter.paint(tone, &line));
        out.push('\n');
        out
    }

    /// An aside about what the demo editor itself does.
    pub fn editor_action(&mut self, what: &str) -> String {
        let mut out = self.start_block();
        out.push_str("  ");
        out.push_str(&self.painter.paint(Tone::Warning, what));
        out.push('\n');
        out
    }
}

/// The role an update speaks for, from `_meta.ourocodus.role`.
pub fn role_of(message: &Value) -> Option<String> {
    str_at(message, "/_meta/ourocodus/role").map(str::to_string)
}

fn is_label(update: &Value) -> bool {
    update
        .pointer("/_meta/ourocodus/label")
        .and_then(Value::as_bool)
        == Some(true)
}

/// The text of a chunk's content block; other blocks are named in brackets.
fn content_text(update: &Value) -> String {
    match str_at(update, "/content/type") {
        Some("text") => str_at(update, "/content/text")
            .unwrap_or_default()
            .to_string(),
        Some(other) => format!("[{other}]"),
        None => String::new(),
    }
}

pub fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}
