//! Recorded events read back for a replay: each kind's payload decoded into what
//! a connection is shown, or what a loaded session's state is rebuilt from. A row
//! that does not decode is skipped, never trusted. Knows nothing of where records
//! are kept.

use serde::Deserialize;
use serde_json::Value;

use super::api::Origin;
use super::history::RecordedEvent;
use super::output::{
    ChildHow, RoleOutcome, RoleUpdate, Severity, StopReason, TeamEvent, UpdateKind,
};
use super::tasks::TaskId;
use super::usage::Tokens;
use crate::error::RpcError;
use crate::ids::{ChildSessionId, Role};
use crate::jsonrpc::{IndexScratch, IndexedAt, IndexedTexts};

/// One chunk of a replay, decoded off the loop: its events, and the params of its
/// updates in one buffer (a handful of allocations for thousands of events, made on
/// the reading thread and freed on the core's).
#[derive(Debug, Default)]
pub struct Recollection {
    pub texts: IndexedTexts,
    pub events: Vec<Recalled>,
}

#[derive(Debug)]
pub struct Recalled {
    pub seq: u64,
    /// The event, or the kind of one whose payload is not what its kind promises
    /// (skipped, never trusted).
    pub decoded: Result<Decoded, String>,
}

/// Decodes a replay's events, sharing each role's name among its events and one
/// scratch index among all.
#[derive(Default)]
pub struct Recaller {
    roles: Vec<Role>,
    scratch: IndexScratch,
    last_size: (usize, usize),
}

impl Recaller {
    /// An empty chunk for `events` events, with room for as much text as the last.
    pub fn chunk(&self, events: usize) -> Recollection {
        Recollection {
            texts: IndexedTexts::with_capacity(self.last_size),
            events: Vec::with_capacity(events),
        }
    }

    /// `chunk` is complete: the next is sized like it.
    pub fn done(&mut self, chunk: &Recollection) {
        self.last_size = chunk.texts.size();
    }

    pub fn recall(&mut self, into: &mut Recollection, event: RecordedEvent<'_>) {
        let role = event.role.map(|name| self.role(name));
        let decoded = decode_event(
            event.kind,
            role,
            event.payload,
            &mut into.texts,
            &mut self.scratch,
        );
        into.events.push(Recalled {
            seq: event.seq,
            decoded: decoded.ok_or_else(|| event.kind.to_string()),
        });
    }

    fn role(&mut self, name: &str) -> Role {
        if let Some(role) = self.roles.iter().find(|r| r.as_str() == name) {
            return role.clone();
        }
        let role = Role::new(name);
        self.roles.push(role.clone());
        role
    }
}

/// A recorded event read back, owning what it needs but its update's params (those
/// are in the chunk's `IndexedTexts`).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Decoded {
    Prompt {
        turn: u64,
        roles: Vec<Role>,
        blocks: Vec<Value>,
        summary: String,
        /// The task the turn worked on, if the dispatcher started it for one.
        task: Option<TaskId>,
        /// Who started it when no client did (a task, a role's message, the proxy).
        team_origin: Option<Origin>,
    },
    Update {
        role: Role,
        turn: Option<u64>,
        kind: UpdateKind,
        tool_call_id: Option<String>,
        /// Where the agent's params as recorded, and their index, are.
        params: IndexedAt,
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
    TurnTokens {
        role: Role,
        turn: Option<u64>,
        tokens: Tokens,
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
    /// A task as it was at that point (the last one of each id is the task's state).
    Task(Box<super::tasks::Task>),
    /// Kinds a replay does not show or use.
    Other,
}

impl Decoded {
    /// The event to show, for kinds that are shown; `texts` is its chunk's.
    pub fn event<'a>(&'a self, texts: &'a IndexedTexts) -> Option<TeamEvent<'a>> {
        Some(match self {
            Decoded::Prompt {
                turn,
                roles,
                blocks,
                summary,
                team_origin,
                ..
            } => TeamEvent::Prompt {
                turn: *turn,
                origin: team_origin.as_ref(),
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
                params_text: texts.text(params),
                params: texts.fields(params),
                update: texts.fields(params).get("update")?.object()?,
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
/// promises (a damaged or foreign row is skipped, never trusted). Owns all it
/// needs, so a replay decodes on its reading thread and the core only shows.
fn decode_event(
    kind: &str,
    role: Option<Role>,
    payload: &str,
    texts: &mut IndexedTexts,
    scratch: &mut IndexScratch,
) -> Option<Decoded> {
    Some(match kind {
        "update" | "usage" => decode_update(role?, payload, texts, scratch)?,
        // What a session was opened with is not taken back at load: the directories a
        // loaded session may touch are those the loading client grants now.
        "session" => Decoded::Other,
        "prompt" => decode_prompt(payload)?,
        "notice" => decode_notice(role, payload)?,
        "say" => Decoded::Say {
            text: serde_json::from_str::<SayPayload>(payload).ok()?.text,
        },
        "tokens" => decode_tokens(role?, payload)?,
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
        "task" => Decoded::Task(Box::new(serde_json::from_str(payload).ok()?)),
        _ => Decoded::Other,
    })
}

/// An update's payload, `{"turn", "toolCallId"?, "params"}`: laid out as the recorder
/// writes it, it is split without a scan; anything else is read with the same scan as
/// an agent's line. Either way the params are copied out and indexed for the core.
fn decode_update(
    role: Role,
    payload: &str,
    texts: &mut IndexedTexts,
    scratch: &mut IndexScratch,
) -> Option<Decoded> {
    let split = split_update(payload).and_then(|(turn, id, params)| {
        let params = texts.push(params)?;
        Some((turn, id, params))
    });
    let (turn, tool_call_id, params) = match split {
        Some(split) => split,
        None => {
            let (turn, id, params) = scan_update(payload, scratch)?;
            (turn, id, texts.push(params)?)
        }
    };
    let update = texts.fields(&params).get("update")?.object()?;
    let kind = UpdateKind::from_wire(update.get_str("sessionUpdate").as_deref().unwrap_or(""));
    Some(Decoded::Update {
        role,
        turn,
        kind,
        tool_call_id,
        params,
    })
}

type UpdateParts<'a> = (Option<u64>, Option<String>, &'a str);

/// `{"turn":N|null,("toolCallId":"id",)?"params":{…}}` exactly, its id without escapes;
/// the params are one object only if they index as one (else the payload is scanned).
fn split_update(payload: &str) -> Option<UpdateParts<'_>> {
    let rest = payload.strip_prefix(r#"{"turn":"#)?;
    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
    let (turn, rest) = match rest.strip_prefix("null") {
        Some(rest) => (None, rest),
        None => (Some(rest[..digits].parse().ok()?), &rest[digits..]),
    };
    let (tool_call_id, rest) = match rest.strip_prefix(r#","toolCallId":""#) {
        Some(rest) => {
            let end = rest.find(['"', '\\'])?;
            let after = rest[end..].strip_prefix('"')?;
            (Some(rest[..end].to_string()), after)
        }
        None => (None, rest),
    };
    let params = rest.strip_prefix(r#","params":"#)?.strip_suffix('}')?;
    params
        .starts_with('{')
        .then_some((turn, tool_call_id, params))
}

fn scan_update<'a>(payload: &'a str, scratch: &'a mut IndexScratch) -> Option<UpdateParts<'a>> {
    let fields = scratch.fields(payload)?;
    let turn = match fields.get("turn")?.value() {
        "null" => None,
        number => Some(number.parse().ok()?),
    };
    let tool_call_id = match fields.get("toolCallId") {
        Some(field) => Some(field.as_str()?.into_owned()),
        None => None,
    };
    Some((turn, tool_call_id, fields.get("params")?.value()))
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
    /// `{ connection, request }`, `{ task }` or `{ team }`; a client's is not kept.
    #[serde(default)]
    origin: Option<Value>,
}

fn decode_prompt(payload: &str) -> Option<Decoded> {
    let p: PromptPayload = serde_json::from_str(payload).ok()?;
    let task = p
        .origin
        .as_ref()
        .and_then(|o| o.get("task")?.as_str()?.parse().ok());
    let team_origin = match (&task, &p.origin) {
        (Some(task), _) => Some(Origin::Task(*task)),
        (None, Some(origin)) => origin.get("team").map(|from| Origin::Team {
            from: from.as_str().map(Role::new),
        }),
        (None, None) => None,
    };
    Some(Decoded::Prompt {
        turn: p.turn,
        roles: p.roles,
        blocks: p.prompt,
        summary: p.summary,
        task,
        team_origin,
    })
}

#[derive(Deserialize)]
struct TokensPayload {
    turn: Option<u64>,
    usage: Tokens,
}

fn decode_tokens(role: Role, payload: &str) -> Option<Decoded> {
    let p: TokensPayload = serde_json::from_str(payload).ok()?;
    Some(Decoded::TurnTokens {
        role,
        turn: p.turn,
        tokens: p.usage,
    })
}

#[derive(Deserialize)]
struct NoticePayload {
    severity: Severity,
    title: String,
    #[serde(default)]
    description: Option<String>,
}

fn decode_notice(role: Option<Role>, payload: &str) -> Option<Decoded> {
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

fn decode_role_end(role: Role, payload: &str) -> Option<Decoded> {
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

fn decode_turn_end(payload: &str) -> Option<Decoded> {
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
mod tests;
