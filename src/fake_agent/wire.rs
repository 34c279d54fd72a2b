//! The ACP shapes the fake agent emits, built as JSON values or lines; checked
//! against the v1 JSON Schema in tests. Knows nothing of scripts or sessions' state.

use serde_json::{Value, json};

use crate::jsonrpc::{self, ErrorObject, RequestId};

/// One `session/update` notification line for `session_id`.
pub fn session_update(session_id: &str, update: &Value) -> Vec<u8> {
    let params = json!({ "sessionId": session_id, "update": update });
    jsonrpc::notification("session/update", Some(&params.to_string()))
}

/// A `session/update` line with a raw `update` object spliced in verbatim.
pub fn session_update_raw(session_id: &str, raw_update: &str) -> Vec<u8> {
    let mut params = Vec::with_capacity(raw_update.len() + session_id.len() + 32);
    params.extend_from_slice(br#"{"sessionId":"#);
    jsonrpc::write_json_string(&mut params, session_id);
    params.extend_from_slice(br#","update":"#);
    params.extend_from_slice(raw_update.as_bytes());
    params.push(b'}');
    // Built from a &str and JSON string literals only, so it is UTF-8.
    let params = String::from_utf8(params).unwrap_or_default();
    jsonrpc::notification("session/update", Some(&params))
}

/// A successful response line with `result` serialized.
pub fn response(id: &RequestId, result: &Value) -> Vec<u8> {
    jsonrpc::response_raw(id, &result.to_string())
}

/// The answer to a prompt: `stopReason`, and `usage` as given (any JSON) if any.
pub fn stop_response(id: &RequestId, reason: &str, usage: Option<&str>) -> Vec<u8> {
    let mut result = br#"{"stopReason":"#.to_vec();
    jsonrpc::write_json_string(&mut result, reason);
    if let Some(usage) = usage {
        result.extend_from_slice(br#","usage":"#);
        result.extend_from_slice(usage.as_bytes());
    }
    result.push(b'}');
    // Built from a &str and JSON string literals only, so it is UTF-8.
    let result = String::from_utf8(result).unwrap_or_default();
    jsonrpc::response_raw(id, &result)
}

/// An error response line.
pub fn error(id: &RequestId, code: i64, message: impl Into<String>) -> Vec<u8> {
    jsonrpc::error_response(
        id,
        &ErrorObject {
            code,
            message: message.into(),
            data: None,
        },
    )
}

pub fn text_block(text: &str) -> Value {
    json!({ "type": "text", "text": text })
}

pub fn message_chunk(text: &str) -> Value {
    json!({ "sessionUpdate": "agent_message_chunk", "content": text_block(text) })
}

pub fn thought_chunk(text: &str) -> Value {
    json!({ "sessionUpdate": "agent_thought_chunk", "content": text_block(text) })
}

/// A `tool_call` announcement with status pending.
pub fn tool_call(call_id: &str, title: &str, kind: &str, tool_name: Option<&str>) -> Value {
    let mut update = json!({
        "sessionUpdate": "tool_call",
        "toolCallId": call_id,
        "title": title,
        "kind": kind,
        "status": "pending",
    });
    if let Some(meta) = tool_meta(tool_name) {
        update["_meta"] = meta;
    }
    update
}

/// A `tool_call` announcement for a terminal the client runs.
pub fn terminal_tool_call(call_id: &str, title: &str, terminal_id: &str) -> Value {
    json!({
        "sessionUpdate": "tool_call",
        "toolCallId": call_id,
        "title": title,
        "kind": "execute",
        "status": "in_progress",
        "content": [{ "type": "terminal", "terminalId": terminal_id }],
    })
}

/// A `tool_call_update` that finishes a call with `status` and, if any, a text result.
pub fn tool_call_finished(call_id: &str, status: &str, text: Option<&str>) -> Value {
    let mut update =
        json!({ "sessionUpdate": "tool_call_update", "toolCallId": call_id, "status": status });
    if let Some(text) = text {
        update["content"] = json!([{ "type": "content", "content": text_block(text) }]);
    }
    update
}

/// Where the Claude adapter puts its own tool name.
fn tool_meta(tool_name: Option<&str>) -> Option<Value> {
    tool_name.map(|name| json!({ "claudeCode": { "toolName": name } }))
}

/// The options of every permission request, one per kind.
pub const PERMISSION_OPTIONS: [(&str, &str, &str); 4] = [
    ("allow-once", "Allow once", "allow_once"),
    ("allow-always", "Always allow", "allow_always"),
    ("reject-once", "Reject", "reject_once"),
    ("reject-always", "Always reject", "reject_always"),
];

/// `session/request_permission` params for a tool call already announced.
pub fn permission_request(
    session_id: &str,
    call_id: &str,
    title: &str,
    kind: &str,
    tool_name: Option<&str>,
) -> Value {
    let options: Vec<Value> = PERMISSION_OPTIONS
        .iter()
        .map(|(id, name, kind)| json!({ "optionId": id, "name": name, "kind": kind }))
        .collect();
    let mut tool_call =
        json!({ "toolCallId": call_id, "title": title, "kind": kind, "status": "pending" });
    if let Some(meta) = tool_meta(tool_name) {
        tool_call["_meta"] = meta;
    }
    json!({ "sessionId": session_id, "toolCall": tool_call, "options": options })
}

pub fn plan(entries: &[String]) -> Value {
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| json!({ "content": e, "priority": "medium", "status": "pending" }))
        .collect();
    json!({ "sessionUpdate": "plan", "entries": entries })
}

/// The slash commands the fake agent advertises.
pub fn available_commands() -> Value {
    json!({
        "sessionUpdate": "available_commands_update",
        "availableCommands": [
            { "name": "review", "description": "Review the current changes" },
            { "name": "compact", "description": "Compact the conversation" },
            { "name": "script", "description": "Run a fake-agent script", "input": { "hint": "say hello; sleep 1s" } },
        ],
    })
}

pub fn current_mode(mode_id: &str) -> Value {
    json!({ "sessionUpdate": "current_mode_update", "currentModeId": mode_id })
}

pub fn config_options_update(config_options: &Value) -> Value {
    json!({ "sessionUpdate": "config_option_update", "configOptions": config_options })
}

/// The form an `elicit` step asks the user to fill in.
pub fn elicitation_request(session_id: &str, message: &str) -> Value {
    json!({
        "sessionId": session_id,
        "mode": "form",
        "message": message,
        "requestedSchema": {
            "type": "object",
            "properties": { "answer": { "type": "string", "title": "Answer" } },
            "required": ["answer"],
        },
    })
}
