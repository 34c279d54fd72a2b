//! How a session's events are written down for the store: each `TeamEvent` as a
//! kind, a role and one JSON payload (the formats are listed in
//! docs/event-store.md; `recall` reads them back). Knows nothing of where records
//! are kept.

use serde_json::{Value, json};

use super::output::{
    AgentChange, PermissionDecision, RoleOutcome, RoleUpdate, TeamEvent, UpdateKind,
};
use crate::ids::Role;
use crate::jsonrpc::raw::ObjectWriter;

/// The record kind of an event and the role it belongs to.
pub fn kind_and_role<'a>(event: &TeamEvent<'a>) -> (&'static str, Option<&'a Role>) {
    match event {
        TeamEvent::Opened(_) => ("session", None),
        TeamEvent::Prompt { .. } => ("prompt", None),
        TeamEvent::Update(u) if u.kind == UpdateKind::Usage => ("usage", Some(u.role)),
        TeamEvent::Update(u) => ("update", Some(u.role)),
        TeamEvent::Notice { role, .. } => ("notice", *role),
        TeamEvent::Say { .. } => ("say", None),
        TeamEvent::TurnTokens { role, .. } => ("tokens", Some(*role)),
        TeamEvent::RoleEnded { role, .. } => ("role_end", Some(*role)),
        TeamEvent::TurnEnded { .. } => ("turn_end", None),
        TeamEvent::Permission { role, .. } => ("permission", Some(*role)),
        TeamEvent::PermissionAnswer { role, .. } => ("permission_answer", Some(*role)),
        TeamEvent::FileWrite { role, .. } => ("fs_write", Some(*role)),
        TeamEvent::Agent { role, .. } => ("agent", Some(*role)),
        TeamEvent::ChildSession { role, .. } => ("child_session", Some(*role)),
        TeamEvent::Mode { role, .. } => ("mode", *role),
        TeamEvent::Task(_) => ("task", None),
    }
}

/// Writes an event's payload: one JSON value.
pub fn write_payload(event: &TeamEvent<'_>, out: &mut Vec<u8>) {
    if let TeamEvent::Update(update) = event {
        return write_update_payload(update, out);
    }
    if let TeamEvent::Task(task) = event {
        // Serializing into a Vec cannot fail.
        let _ = serde_json::to_writer(out, task);
        return;
    }
    let value = payload_value(event);
    // Serializing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(out, &value);
}

/// The per-message path: the agent's params copied as they are, no parse.
fn write_update_payload(update: &RoleUpdate<'_>, out: &mut Vec<u8>) {
    let mut writer = ObjectWriter::new(out);
    match update.turn {
        Some(turn) => writer.with("turn", |out| {
            use std::io::Write as _;
            let _ = write!(out, "{turn}");
        }),
        None => writer.raw("turn", "null"),
    }
    if let Some(id) = update.tool_call_id {
        writer.string("toolCallId", id);
    }
    writer.raw("params", update.params_text);
    writer.finish();
}

fn payload_value(event: &TeamEvent<'_>) -> Value {
    match event {
        TeamEvent::Opened(record) => json!(record),
        TeamEvent::Prompt {
            turn,
            origin,
            roles,
            blocks,
            summary,
        } => json!({
            "turn": turn,
            "origin": origin.map(origin_value),
            "roles": roles,
            "prompt": blocks,
            "text": prompt_text(blocks),
            "summary": summary,
        }),
        TeamEvent::Notice {
            severity,
            title,
            description,
            ..
        } => json!({ "severity": severity, "title": title, "description": description }),
        TeamEvent::Say { text } => json!({ "text": text }),
        TeamEvent::TurnTokens { turn, tokens, .. } => json!({ "turn": turn, "usage": tokens }),
        TeamEvent::RoleEnded { turn, outcome, .. } => role_end_value(*turn, outcome),
        TeamEvent::TurnEnded { turn, outcome } => match outcome {
            Ok(reason) => json!({ "turn": turn, "stopReason": reason }),
            Err(error) => json!({ "turn": turn, "error": error }),
        },
        TeamEvent::Permission {
            tool_call_id,
            title,
            decision,
            reason,
            ..
        } => json!({
            "toolCallId": tool_call_id,
            "title": title,
            "decision": decision_name(*decision),
            "reason": reason,
        }),
        TeamEvent::PermissionAnswer { answer, .. } => {
            serde_json::from_str::<Value>(answer).unwrap_or(Value::Null)
        }
        TeamEvent::FileWrite {
            path,
            resolved,
            allowed,
            reason,
            ..
        } => json!({ "path": path, "resolved": resolved, "allowed": allowed, "reason": reason }),
        TeamEvent::Agent { change, .. } => agent_value(change),
        TeamEvent::ChildSession { child, how, .. } => {
            json!({ "childSessionId": child.as_str(), "how": how })
        }
        TeamEvent::Mode { option, value, .. } => json!({ "option": option, "value": value }),
        TeamEvent::Update(_) | TeamEvent::Task(_) => Value::Null,
    }
}

fn origin_value(origin: &super::api::Origin) -> Value {
    match origin {
        super::api::Origin::Connection {
            connection,
            request,
        } => json!({ "connection": connection.0, "request": request }),
        super::api::Origin::Task(task) => json!({ "task": task.to_string() }),
        super::api::Origin::Team { from } => json!({ "team": from }),
    }
}

fn role_end_value(turn: u64, outcome: &RoleOutcome) -> Value {
    match outcome {
        RoleOutcome::Done(reason) => json!({ "turn": turn, "outcome": reason }),
        RoleOutcome::Cancelled | RoleOutcome::Working => {
            json!({ "turn": turn, "outcome": "cancelled" })
        }
        RoleOutcome::Failed(error) => json!({ "turn": turn, "outcome": "failed", "error": error }),
    }
}

fn agent_value(change: &AgentChange<'_>) -> Value {
    match change {
        AgentChange::Started { pid } => json!({ "event": "started", "pid": pid }),
        AgentChange::Ended { status } => json!({ "event": "ended", "status": status }),
        AgentChange::Restarting { attempt, delay_ms } => {
            json!({ "event": "restarting", "attempt": attempt, "delayMs": delay_ms })
        }
        AgentChange::Stopped => json!({ "event": "stopped" }),
        AgentChange::Failed { reason } => json!({ "event": "failed", "reason": reason }),
    }
}

fn decision_name(decision: PermissionDecision) -> &'static str {
    match decision {
        PermissionDecision::Asked => "asked",
        PermissionDecision::Allowed => "allowed",
        PermissionDecision::Refused => "refused",
    }
}

/// The text of a prompt's text blocks, joined by blank lines.
pub fn prompt_text(blocks: &[Value]) -> String {
    blocks
        .iter()
        .filter_map(crate::acp::text_of_block)
        .collect::<Vec<_>>()
        .join("\n\n")
}
