//! One readable summary per recorded event for `ourocodus log`, from the payload formats of the
//! kinds the core records; unknown kinds and odd payloads fall back to compact JSON. Knows
//! those formats; nothing of SQL or terminals.

use serde_json::Value;

/// Summaries longer than this many characters are cut (`--json` shows everything).
const MAX_SUMMARY_CHARS: usize = 1000;

/// The summary of one event: never fails, whatever the payload.
pub(crate) fn summary(kind: &str, payload: &str) -> String {
    let described = serde_json::from_str::<Value>(payload)
        .ok()
        .and_then(|value| describe(kind, &value));
    let text = described.unwrap_or_else(|| compact(payload));
    clip(&escape_controls(&text), MAX_SUMMARY_CHARS)
}

fn describe(kind: &str, p: &Value) -> Option<String> {
    match kind {
        "session" => session(p),
        "prompt" => prompt(p),
        "update" | "usage" => update(p),
        "notice" => notice(p),
        "say" => str_of(p, "text").map(str::to_owned),
        "permission" => permission(p),
        "permission_answer" => permission_answer(p),
        "fs_write" => fs_write(p),
        "agent" => agent(p),
        "child_session" => Some(format!(
            "{} {}",
            str_of(p, "how")?,
            str_of(p, "childSessionId")?
        )),
        "mode" => Some(format!("{} = {}", str_of(p, "option")?, p.get("value")?)),
        "tokens" => tokens(p),
        "role_end" => ended(p, "outcome"),
        "turn_end" => ended(p, "stopReason"),
        "task" => Some(format!(
            "{} {} {}: {}",
            str_of(p, "id")?,
            str_of(p, "role")?,
            str_of(p, "status")?,
            str_of(p, "title")?
        )),
        _ => None,
    }
}

fn str_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str()
}

/// A field as text: strings bare, anything else as compact JSON.
fn text_of(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn names(value: Option<&Value>) -> String {
    let Some(Value::Array(items)) = value else {
        return String::new();
    };
    let names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
    names.join(",")
}

fn session(p: &Value) -> Option<String> {
    let mut line = format!("cwd {}", str_of(p, "cwd")?);
    if let Some(Value::Object(team)) = p.get("team") {
        let roles: Vec<&str> = team.keys().map(String::as_str).collect();
        line.push_str(&format!("  team {}", roles.join(",")));
    }
    let route = names(p.get("route"));
    if !route.is_empty() {
        line.push_str(&format!("  route {route}"));
    }
    Some(line)
}

fn prompt(p: &Value) -> Option<String> {
    let turn = text_of(p, "turn").unwrap_or_else(|| "?".into());
    let roles = names(p.get("roles"));
    let mut line = format!("turn {turn} → {roles}: {}", str_of(p, "text").unwrap_or(""));
    if let Some(task) = p.get("origin").and_then(|o| str_of(o, "task")) {
        line.push_str(&format!("  (task {task})"));
    }
    Some(line)
}

/// An agent's `session/update` update: in the agent's params, recorded verbatim.
fn update(p: &Value) -> Option<String> {
    let u = p.get("params").and_then(|params| params.get("update"))?;
    let kind = str_of(u, "sessionUpdate")?;
    let tool_call_id = str_of(p, "toolCallId").or_else(|| str_of(u, "toolCallId"));
    let line = match kind {
        "agent_message_chunk" => content(u),
        "agent_thought_chunk" => format!("thought: {}", content(u)),
        "user_message_chunk" => format!("user: {}", content(u)),
        "tool_call" | "tool_call_update" => tool_call(kind, tool_call_id, u),
        "plan" => plan(u),
        "current_mode_update" => format!("mode {}", text_of(u, "currentModeId")?),
        "usage_update" => usage(u),
        "available_commands_update" => {
            let commands = u.get("availableCommands")?.as_array()?;
            let names: Vec<&str> = commands.iter().filter_map(|c| str_of(c, "name")).collect();
            format!("commands {}", names.join(", "))
        }
        other => format!("{other} {}", compact_value(u)),
    };
    Some(line)
}

fn content(u: &Value) -> String {
    match u.get("content") {
        Some(c) if str_of(c, "type") == Some("text") => str_of(c, "text").unwrap_or("").to_owned(),
        Some(c) => format!("[{}]", str_of(c, "type").unwrap_or("content")),
        None => String::new(),
    }
}

fn tool_call(kind: &str, id: Option<&str>, u: &Value) -> String {
    let mut line = format!("{kind} {}", id.unwrap_or("?"));
    if let Some(title) = str_of(u, "title") {
        line.push_str(&format!(" {title}"));
    }
    if let Some(status) = str_of(u, "status") {
        line.push_str(&format!(" [{status}]"));
    }
    line
}

fn plan(u: &Value) -> String {
    let entries = u.get("entries").and_then(Value::as_array);
    let total = entries.map_or(0, Vec::len);
    let done = entries.map_or(0, |e| {
        e.iter()
            .filter(|e| str_of(e, "status") == Some("completed"))
            .count()
    });
    format!("plan {done}/{total} done")
}

fn usage(u: &Value) -> String {
    let used = text_of(u, "used").unwrap_or_else(|| "?".into());
    let size = text_of(u, "size").unwrap_or_else(|| "?".into());
    let mut line = format!("usage {used}/{size} tokens");
    if let Some(cost) = u.get("cost") {
        let amount = text_of(cost, "amount").unwrap_or_default();
        let currency = text_of(cost, "currency").unwrap_or_default();
        line.push_str(&format!(" {amount} {currency}"));
    }
    line
}

/// A prompt answer's token counts: `turn 3: 30 tokens (20 in, 10 out)`.
fn tokens(p: &Value) -> Option<String> {
    let usage = p.get("usage")?;
    let turn = text_of(p, "turn").unwrap_or_else(|| "?".into());
    let count = |key| text_of(usage, key).unwrap_or_else(|| "0".into());
    Some(format!(
        "turn {turn}: {} tokens ({} in, {} out)",
        count("totalTokens"),
        count("inputTokens"),
        count("outputTokens")
    ))
}

fn notice(p: &Value) -> Option<String> {
    let mut line = format!("[{}] {}", str_of(p, "severity")?, str_of(p, "title")?);
    if let Some(description) = str_of(p, "description") {
        line.push_str(&format!(" — {description}"));
    }
    Some(line)
}

fn with_reason(mut line: String, p: &Value) -> String {
    if let Some(reason) = str_of(p, "reason") {
        line.push_str(&format!(" ({reason})"));
    }
    line
}

fn permission(p: &Value) -> Option<String> {
    let line = format!(
        "relay {} {} {} \"{}\"",
        text_of(p, "relay")?,
        str_of(p, "decision")?,
        str_of(p, "toolCallId").unwrap_or("?"),
        str_of(p, "title").unwrap_or(""),
    );
    Some(with_reason(line, p))
}

fn permission_answer(p: &Value) -> Option<String> {
    let mut line = format!("relay {} {}", text_of(p, "relay")?, str_of(p, "outcome")?);
    if let Some(option) = str_of(p, "optionId") {
        line.push_str(&format!(" {option}"));
    }
    if let Some(kind) = str_of(p, "kind") {
        line.push_str(&format!(" ({kind})"));
    }
    Some(line)
}

fn fs_write(p: &Value) -> Option<String> {
    let allowed = p.get("allowed")?.as_bool()?;
    let mut line = format!(
        "{} {}",
        if allowed { "allowed" } else { "refused" },
        str_of(p, "path")?
    );
    if let Some(resolved) = str_of(p, "resolved").filter(|r| Some(*r) != str_of(p, "path")) {
        line.push_str(&format!(" → {resolved}"));
    }
    Some(with_reason(line, p))
}

fn agent(p: &Value) -> Option<String> {
    let mut line = str_of(p, "event")?.to_owned();
    for (key, label) in [("pid", "pid"), ("status", "status"), ("attempt", "attempt")] {
        if let Some(value) = text_of(p, key) {
            line.push_str(&format!(" {label} {value}"));
        }
    }
    if let Some(delay) = text_of(p, "delayMs") {
        line.push_str(&format!(" in {delay} ms"));
    }
    Some(with_reason(line, p))
}

/// `role_end` and `turn_end`: the turn, how it ended, and its error if any.
fn ended(p: &Value, how_key: &str) -> Option<String> {
    let turn = text_of(p, "turn").unwrap_or_else(|| "?".into());
    let how = str_of(p, how_key).unwrap_or("error");
    let mut line = format!("turn {turn} {how}");
    if let Some(error) = p.get("error").filter(|e| !e.is_null()) {
        let code = text_of(error, "code").unwrap_or_default();
        let message = str_of(error, "message").unwrap_or("");
        line.push_str(&format!(": error {code} {message}"));
    }
    Some(line)
}

fn compact_value(value: &Value) -> String {
    value.to_string()
}

/// The payload as compact JSON, or as it is if it is not JSON.
fn compact(payload: &str) -> String {
    serde_json::from_str::<Value>(payload)
        .map(|v| compact_value(&v))
        .unwrap_or_else(|_| payload.to_owned())
}

/// Newlines, tabs and escape sequences from agents' text shown as escapes, so each event stays
/// one line and cannot drive the terminal.
pub(crate) fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
