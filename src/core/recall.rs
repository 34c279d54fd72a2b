//! Recorded events read back for a replay: each kind's payload decoded into what
//! a connection is shown, or what a loaded session's state is rebuilt from. A row
//! that does not decode is skipped, never trusted. Knows nothing of where records
//! are kept.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::output::{
    ChildHow, RoleOutcome, RoleUpdate, SessionRecord, Severity, StopReason, TeamEvent, UpdateKind,
};
use crate::error::RpcError;
use crate::ids::{ChildSessionId, Role};
use crate::jsonrpc::IndexedObject;

/// A recorded event read back, owning what it does not borrow from its payload.
/// Unboxed on purpose: one is decoded per replayed event and lives on the stack;
/// boxing the update would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Decoded<'a> {
    Opened(Box<SessionRecord>),
    Prompt {
        turn: u64,
        roles: Vec<Role>,
        blocks: Vec<Value>,
        summary: String,
    },
    Update {
        role: Role,
        turn: Option<u64>,
        kind: UpdateKind,
        tool_call_id: Option<Cow<'a, str>>,
        /// The agent's params as recorded, and their index.
        params: IndexedObject<'a>,
    },
    Notice {
        role: Option<Role>,
        severity: Severity,
        title: String,
        description: Option<String>,
    },
    Say {
        text: String,
    },
    RoleEnded {
        turn: u64,
        role: Role,
        outcome: RoleOutcome,
    },
    TurnEnded {
        turn: u64,
        outcome: Result<StopReason, RpcError>,
    },
    ChildSession {
        role: Role,
        child: ChildSessionId,
    },
    Mode {
        role: Option<Role>,
        option: String,
        value: Value,
    },
    /// Kinds a replay does not show or use.
    Other,
}

impl Decoded<'_> {
    /// The event to show, for kinds that are shown.
    pub fn event(&self) -> Option<TeamEvent<'_>> {
        Some(match self {
            Decoded::Prompt {
                turn,
                roles,
                blocks,
                summary,
            } => TeamEvent::Prompt {
                turn: *turn,
                origin: None,
                roles,
                blocks,
                summary,
            },
            Decoded::Update {
                role,
                turn,
                kind,
                tool_call_id,
                params,
            } => TeamEvent::Update(RoleUpdate {
                role,
                turn: *turn,
                kind: *kind,
                tool_call_id: tool_call_id.as_deref(),
                params_text: params.text(),
                params: params.fields(),
                update: params.fields().get("update")?.object()?,
            }),
            Decoded::Notice {
                role,
                severity,
                title,
                description,
            } => TeamEvent::Notice {
                role: role.as_ref(),
                severity: *severity,
                title,
                description: description.as_deref(),
            },
            Decoded::Say { text } => TeamEvent::Say { text },
            Decoded::RoleEnded {
                turn,
                role,
                outcome,
            } => TeamEvent::RoleEnded {
                turn: *turn,
                role,
                outcome,
            },
            Decoded::TurnEnded { turn, outcome } => TeamEvent::TurnEnded {
                turn: *turn,
                outcome,
            },
            _ => return None,
        })
    }
}

/// Reads one recorded event back; `None` when its payload is not what its kind
/// promises (a damaged or foreign row is skipped, never trusted).
pub fn decode_event<'a>(kind: &str, role: Option<&str>, payload: &'a str) -> Option<Decoded<'a>> {
    let role = role.map(Role::new);
    Some(match kind {
        "update" | "usage" => decode_update(role?, payload)?,
        "session" => Decoded::Opened(Box::new(serde_json::from_str(payload).ok()?)),
        "prompt" => decode_prompt(payload)?,
        "notice" => decode_notice(role, payload)?,
        "say" => Decoded::Say {
            text: serde_json::from_str::<SayPayload>(payload).ok()?.text,
        },
        "role_end" => decode_role_end(role?, payload)?,
        "turn_end" => decode_turn_end(payload)?,
        "child_session" => {
            let p: ChildPayload = serde_json::from_str(payload).ok()?;
            Decoded::ChildSession {
                role: role?,
                child: ChildSessionId::new(p.child_session_id),
            }
        }
        "mode" => {
            let p: ModePayload = serde_json::from_str(payload).ok()?;
            Decoded::Mode {
                role,
                option: p.option,
                value: p.value,
            }
        }
        _ => Decoded::Other,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdatePayload<'a> {
    turn: Option<u64>,
    #[serde(borrow, default)]
    tool_call_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    params: &'a RawValue,
}

fn decode_update(role: Role, payload: &str) -> Option<Decoded<'_>> {
    let p: UpdatePayload<'_> = serde_json::from_str(payload).ok()?;
    let params = IndexedObject::new(p.params.get())?;
    let update = params.fields().get("update")?.object()?;
    let kind = UpdateKind::from_wire(update.get_str("sessionUpdate").as_deref().unwrap_or(""));
    Some(Decoded::Update {
        role,
        turn: p.turn,
        kind,
        tool_call_id: p.tool_call_id,
        params,
    })
}

#[derive(Deserialize)]
struct PromptPayload {
    turn: u64,
    #[serde(default)]
    roles: Vec<Role>,
    #[serde(default)]
    prompt: Vec<Value>,
    #[serde(default)]
    summary: String,
}

fn decode_prompt(payload: &str) -> Option<Decoded<'_>> {
    let p: PromptPayload = serde_json::from_str(payload).ok()?;
    Some(Decoded::Prompt {
        turn: p.turn,
        roles: p.roles,
        blocks: p.prompt,
        summary: p.summary,
    })
}

#[derive(Deserialize)]
struct NoticePayload {
    severity: Severity,
    title: String,
    #[serde(default)]
    description: Option<String>,
}

fn decode_notice(role: Option<Role>, payload: &str) -> Option<Decoded<'_>> {
    let p: NoticePayload = serde_json::from_str(payload).ok()?;
    Some(Decoded::Notice {
        role,
        severity: p.severity,
        title: p.title,
        description: p.description,
    })
}

#[derive(Deserialize)]
struct SayPayload {
    text: String,
}

#[derive(Deserialize)]
struct RoleEndPayload {
    turn: u64,
    outcome: String,
    #[serde(default)]
    error: Option<RpcError>,
}

fn decode_role_end(role: Role, payload: &str) -> Option<Decoded<'_>> {
    let p: RoleEndPayload = serde_json::from_str(payload).ok()?;
    let outcome = match (p.outcome.as_str(), p.error) {
        ("failed", Some(error)) => RoleOutcome::Failed(error),
        (reason, _) => match StopReason::from_wire(reason) {
            Some(StopReason::Cancelled) | None => RoleOutcome::Cancelled,
            Some(reason) => RoleOutcome::Done(reason),
        },
    };
    Some(Decoded::RoleEnded {
        turn: p.turn,
        role,
        outcome,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TurnEndPayload {
    turn: u64,
    #[serde(default)]
    stop_reason: Option<StopReason>,
    #[serde(default)]
    error: Option<RpcError>,
}

fn decode_turn_end(payload: &str) -> Option<Decoded<'_>> {
    let p: TurnEndPayload = serde_json::from_str(payload).ok()?;
    let outcome = match (p.stop_reason, p.error) {
        (Some(reason), _) => Ok(reason),
        (None, Some(error)) => Err(error),
        (None, None) => Ok(StopReason::EndTurn),
    };
    Some(Decoded::TurnEnded {
        turn: p.turn,
        outcome,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChildPayload {
    child_session_id: String,
    #[allow(dead_code)]
    how: Option<ChildHow>,
}

#[derive(Deserialize)]
struct ModePayload {
    option: String,
    value: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record::write_payload;

    fn round_trip(event: &TeamEvent<'_>) -> String {
        let mut out = Vec::new();
        write_payload(event, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_update_comes_back_with_its_params_verbatim_and_its_team_tool_call_id() {
        let text = r#"{"sessionId":"c1","update":{"sessionUpdate":"tool_call","toolCallId":"call_1","title":"T","x":[1, {"y":null}]},"_meta":{"foreign":true}}"#;
        let indexed = IndexedObject::new(text).unwrap();
        let update = indexed.fields().get("update").unwrap().object().unwrap();
        let role = Role::new("backend");
        let event = TeamEvent::Update(RoleUpdate {
            role: &role,
            turn: Some(3),
            kind: UpdateKind::ToolCall,
            tool_call_id: Some("backend/call_1.2"),
            params_text: text,
            params: indexed.fields(),
            update,
        });
        let payload = round_trip(&event);
        let decoded = decode_event("update", Some("backend"), &payload).expect("decodes");
        let Some(TeamEvent::Update(back)) = decoded.event() else {
            panic!("not an update: {payload}");
        };
        assert_eq!(
            (back.role.as_str(), back.turn, back.kind),
            ("backend", Some(3), UpdateKind::ToolCall)
        );
        assert_eq!(back.tool_call_id, Some("backend/call_1.2"));
        assert_eq!(back.params_text, text, "the agent's params, byte for byte");
        assert_eq!(back.update.get("x").unwrap().value(), r#"[1, {"y":null}]"#);
        assert_eq!(
            back.params.get("_meta").unwrap().value(),
            r#"{"foreign":true}"#
        );
    }

    #[test]
    fn turn_ends_and_role_ends_keep_their_typed_outcomes() {
        let failed = RoleOutcome::Failed(RpcError::new(-32000, "auth"));
        let role = Role::new("a");
        let payload = round_trip(&TeamEvent::RoleEnded {
            turn: 2,
            role: &role,
            outcome: &failed,
        });
        match decode_event("role_end", Some("a"), &payload) {
            Some(Decoded::RoleEnded { outcome, .. }) => assert_eq!(outcome, failed),
            other => panic!("{other:?}"),
        }
        let ended: Result<StopReason, RpcError> = Ok(StopReason::MaxTokens);
        let payload = round_trip(&TeamEvent::TurnEnded {
            turn: 2,
            outcome: &ended,
        });
        match decode_event("turn_end", None, &payload) {
            Some(Decoded::TurnEnded { outcome, .. }) => assert_eq!(outcome, ended),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_damaged_payload_is_skipped_not_trusted() {
        assert!(decode_event("update", Some("a"), "{not json").is_none());
        assert!(decode_event("update", None, r#"{"turn":1,"update":{}}"#).is_none());
        assert!(matches!(
            decode_event("some_future_kind", None, "{}"),
            Some(Decoded::Other)
        ));
    }
}
