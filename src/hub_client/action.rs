//! What a person is shown of one action envelope: its type, the role it comes from
//! (`_meta.ourocodus.role`), its turn and a line of text. Knows the chat actions'
//! fields; nothing of terminals (colours and layout are `render`'s).

use ahp::ahp_types::actions::{ActionEnvelope, StateAction};
use ahp::ahp_types::common::StringOrMarkdown;
use ahp::ahp_types::state::ResponsePart;
use serde_json::Value;

/// Characters of an unfamiliar action's JSON shown before it is cut.
const RAW_CHARS: usize = 200;

/// One action, as `tail` and `send` see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub seq: u64,
    pub channel: String,
    /// The action's `type`, e.g. `chat/delta`.
    pub kind: String,
    pub role: Option<String>,
    pub turn_id: Option<String>,
    /// The text it carries, one line or more (controls not yet escaped).
    pub text: String,
}

/// Describes `envelope`; `wire` is its action as JSON (made once by the caller, who
/// may print it with `--json` too).
pub fn describe(envelope: &ActionEnvelope, wire: &Value) -> Described {
    let field = |key: &str| wire.get(key).and_then(Value::as_str).map(str::to_string);
    Described {
        seq: envelope.server_seq,
        channel: envelope.channel.clone(),
        kind: field("type").unwrap_or_else(|| "?".to_string()),
        role: role_of(wire),
        turn_id: field("turnId"),
        text: text_of(&envelope.action, wire),
    }
}

/// `_meta.ourocodus.role` of an action's JSON.
pub fn role_of(action: &Value) -> Option<String> {
    action
        .pointer("/_meta/ourocodus/role")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// `_meta.ourocodus.<key>` of an action's JSON, as a string.
pub fn meta_str<'a>(action: &'a Value, key: &str) -> Option<&'a str> {
    action
        .get("_meta")
        .and_then(|m| m.get("ourocodus"))
        .and_then(|o| o.get(key))
        .and_then(Value::as_str)
}

fn text_of(action: &StateAction, wire: &Value) -> String {
    match action {
        StateAction::ChatTurnStarted(a) => a.message.text.clone(),
        StateAction::ChatDelta(a) => a.content.clone(),
        StateAction::ChatReasoning(a) => a.content.clone(),
        StateAction::ChatResponsePart(a) => part_text(&a.part),
        StateAction::ChatToolCallStart(a) => format!("{} {}", a.tool_call_id, a.display_name),
        StateAction::ChatToolCallDelta(a) => a.content.clone().unwrap_or_default(),
        StateAction::ChatToolCallReady(a) => {
            let what = plain(&a.invocation_message);
            match (&a.confirmed, &a.options) {
                (None, Some(options)) => {
                    let ids: Vec<&str> = options.iter().map(|o| o.id.as_str()).collect();
                    format!("{} asks: {what} [{}]", a.tool_call_id, ids.join(", "))
                }
                (None, None) => format!("{} asks: {what}", a.tool_call_id),
                _ => format!("{} {what}", a.tool_call_id),
            }
        }
        StateAction::ChatToolCallConfirmed(a) => {
            let verdict = if a.approved { "approved" } else { "denied" };
            let why = a
                .selected_option_id
                .clone()
                .or_else(|| a.reason.as_ref().map(|r| format!("{r:?}").to_lowercase()))
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            format!("{} {verdict}{why}", a.tool_call_id)
        }
        StateAction::ChatToolCallComplete(a) => {
            let outcome = if a.result.success {
                "completed"
            } else {
                "failed"
            };
            format!(
                "{} {outcome}: {}",
                a.tool_call_id,
                plain(&a.result.past_tense_message)
            )
        }
        StateAction::ChatTurnComplete(_) => meta_str(wire, "stopReason")
            .unwrap_or("complete")
            .to_string(),
        StateAction::ChatTurnCancelled(_) => "cancelled".to_string(),
        StateAction::ChatError(a) => a.part.error.message.clone(),
        StateAction::ChatUsage(a) => format!(
            "input {} output {}",
            a.usage.input_tokens.unwrap_or(0),
            a.usage.output_tokens.unwrap_or(0)
        ),
        StateAction::SessionTitleChanged(a) => a.title.clone(),
        _ => raw(wire),
    }
}

/// The text of a response part.
pub fn part_text(part: &ResponsePart) -> String {
    match part {
        ResponsePart::Markdown(p) => p.content.clone(),
        ResponsePart::Reasoning(p) => p.content.clone(),
        ResponsePart::SystemNotification(p) => plain(&p.content),
        ResponsePart::Error(p) => p.error.message.clone(),
        ResponsePart::ToolCall(_) => "tool call".to_string(),
        _ => String::new(),
    }
}

pub fn plain(text: &StringOrMarkdown) -> String {
    match text {
        StringOrMarkdown::Plain(s) => s.clone(),
        StringOrMarkdown::Markdown { markdown, .. } => markdown.clone(),
    }
}

/// An unfamiliar action: its fields but `type`, as compact JSON, cut short.
fn raw(wire: &Value) -> String {
    let mut fields = wire.clone();
    if let Some(object) = fields.as_object_mut() {
        object.remove("type");
    }
    let text = fields.to_string();
    match text.char_indices().nth(RAW_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn described(envelope: Value) -> Described {
        let envelope: ActionEnvelope = serde_json::from_value(envelope).unwrap();
        let wire = serde_json::to_value(&envelope.action).unwrap();
        describe(&envelope, &wire)
    }

    #[test]
    fn a_delta_names_its_type_role_turn_and_text() {
        let d = described(json!({ "channel": "ahp-chat:/s/lead", "serverSeq": 7,
            "action": { "type": "chat/delta", "turnId": "t1", "partId": "backend",
                "content": "hi\n", "_meta": { "ourocodus": { "role": "backend" } } } }));
        assert_eq!(d.seq, 7);
        assert_eq!(d.kind, "chat/delta");
        assert_eq!(d.role.as_deref(), Some("backend"));
        assert_eq!(d.turn_id.as_deref(), Some("t1"));
        assert_eq!(d.text, "hi\n");
    }

    #[test]
    fn turn_ends_tool_calls_and_permission_requests_read_as_sentences() {
        let end = described(json!({ "channel": "c", "serverSeq": 1, "action": {
            "type": "chat/turnComplete", "turnId": "t1", "duration": 5,
            "_meta": { "ourocodus": { "stopReason": "refusal" } } } }));
        assert_eq!(end.text, "refusal");
        let asks = described(json!({ "channel": "c", "serverSeq": 2, "action": {
            "type": "chat/toolCallReady", "turnId": "t1", "toolCallId": "backend/call_1",
            "invocationMessage": "Run cargo test", "options": [
                { "id": "allow-once", "label": "Allow", "kind": "approve" },
                { "id": "reject-once", "label": "Reject", "kind": "deny" } ] } }));
        assert_eq!(
            asks.text,
            "backend/call_1 asks: Run cargo test [allow-once, reject-once]"
        );
        let unknown = described(json!({ "channel": "c", "serverSeq": 3,
            "action": { "type": "future/thing", "x": 1 } }));
        assert_eq!(unknown.kind, "future/thing");
        assert_eq!(unknown.text, r#"{"x":1}"#);
    }
}
