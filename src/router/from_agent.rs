//! Messages from agents: answers to the proxy's requests (by what each was for),
//! notifications — above all `session/update`, the per-message path — and requests,
//! which go on to `relay`.

use serde_json::Value;

use super::Router;
use super::floor::ItemKind;
use super::rewrite::{ObjectWriter, write_role_meta};
use super::state::{RoleOutcome, ToAgent, ToEditor};
use crate::acp::method;
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::{self, Body, IndexedObject, Message, ObjectFields, RequestId};
use crate::transport::{AgentEnvelope, AgentEvent, AgentKey};

const UPDATE_HEAD: &[u8] = br#"{"jsonrpc":"2.0","method":"session/update","params":"#;

impl Router {
    pub(super) fn handle_agent_envelope(&mut self, envelope: AgentEnvelope) {
        let key = envelope.key;
        let live = self
            .agents
            .get(&key.role)
            .is_some_and(|slot| slot.generation == key.generation);
        if !live {
            tracing::debug!(agent = %key, "event from an earlier incarnation; dropped");
            return;
        }
        match envelope.event {
            AgentEvent::Messages(messages) => {
                self.note_activity(&key);
                for message in &messages {
                    self.handle_agent_message(&key, message);
                }
            }
            AgentEvent::Ended(report) => self.handle_agent_ended(&key, report),
        }
    }

    /// One message of a live agent. (The incarnation is checked once per batch: no
    /// agent message starts a new incarnation of its own role.)
    fn handle_agent_message(&mut self, key: &AgentKey, message: &Message) {
        match message.body() {
            Body::Response { .. } => self.handle_agent_response(key, message),
            Body::Notification { .. } => self.handle_agent_notification(key, message),
            Body::Request { .. } => self.handle_agent_request(key, message),
        }
    }

    fn handle_agent_response(&mut self, key: &AgentKey, message: &Message) {
        let role = &key.role;
        let purpose = message
            .id()
            .and_then(RequestId::as_number)
            .and_then(|id| self.agents.get_mut(role)?.pending.remove(&id));
        let (Some(purpose), Some(outcome)) = (purpose, message.outcome()) else {
            tracing::warn!(role = %role, id = ?message.id(), "answer to an unknown or already answered request; dropped");
            return;
        };
        let outcome = outcome.map_err(parse_error_object);
        match purpose {
            ToAgent::Initialize => match outcome {
                Ok(result) => self.on_agent_initialized(role, result),
                Err(e) => self.fail_agent_start(role, format!("initialize failed: {}", e.message)),
            },
            ToAgent::NewSession { session } => match outcome {
                Ok(result) => self.on_child_session_created(role, &session, result),
                Err(e) => self.fail_child_session(
                    &session,
                    role,
                    format!("session/new failed: {}", e.message),
                ),
            },
            ToAgent::RestoreSession {
                session,
                child,
                how,
            } => self.on_child_session_restored(role, &session, child, how, outcome),
            ToAgent::Prompt { turn, .. } => {
                let outcome = match outcome {
                    Ok(result) => RoleOutcome::Done(crate::acp::stop_reason_of(result)),
                    Err(e) => RoleOutcome::Failed(e),
                };
                self.settle_role(turn, role, outcome);
            }
            ToAgent::SetMode {
                session,
                mode,
                reply_to,
            } => self.on_child_mode_set(&session, role, &mode, reply_to, outcome.map(|_| ())),
            ToAgent::SetConfigOption { session, reply_to } => {
                self.on_child_config_set(&session, role, reply_to, outcome)
            }
            ToAgent::FireAndForget => {}
        }
    }

    fn handle_agent_notification(&mut self, key: &AgentKey, message: &Message) {
        match message.method() {
            Some(method::SESSION_UPDATE) => match (message.params(), message.params_fields()) {
                (Some(params), Some(fields)) => self.handle_update(&key.role, params, fields),
                (Some(_), None) => not_an_update(&key.role),
                (None, _) => {}
            },
            Some(method::CANCEL_REQUEST) => {
                self.forward_agent_cancel_request(key, message.params())
            }
            Some(method::ELICITATION_COMPLETE) if self.editor.caps.elicitation.is_some() => {
                self.send_editor(jsonrpc::notification(
                    method::ELICITATION_COMPLETE,
                    message.params(),
                ));
            }
            other => {
                tracing::debug!(role = %key.role, method = ?other, "agent notification ignored")
            }
        }
    }

    /// An update the proxy made up (from params text rather than an agent's line).
    pub(super) fn handle_session_update(&mut self, role: &Role, params: &str) {
        match IndexedObject::new(params) {
            Some(indexed) => self.handle_update(role, params, indexed.fields()),
            None => not_an_update(role),
        }
    }

    /// The per-message path: rewrite one update for the editor and send it on. `fields`
    /// index `params` (read when the agent's line was).
    fn handle_update(&mut self, role: &Role, params: &str, fields: ObjectFields<'_>) {
        let (mut child_id, mut update) = (None, None);
        for field in fields.iter() {
            if field.key_is("update") {
                let Some(object) = field.object() else {
                    return not_an_update(role);
                };
                update = update.or(Some(object));
            } else if child_id.is_none() && field.key_is("sessionId") {
                child_id = field.as_str();
            }
        }
        let (Some(child_id), Some(update)) = (child_id, update) else {
            return tracing::warn!(role = %role, "session/update without sessionId or update; dropped");
        };
        let Some((session_id, replaying)) = self.agents.get(role).and_then(|s| {
            let session = s.sessions.get(child_id.as_ref())?;
            Some((session.clone(), s.replaying > 0))
        }) else {
            return tracing::debug!(role = %role, child = %child_id, "update for an unknown session; dropped");
        };
        if replaying && self.replaying_history(role, &session_id) {
            return tracing::debug!(role = %role, "history replayed by session/load; dropped");
        }
        let kind = update.get_str("sessionUpdate");
        let kind = kind.as_deref().unwrap_or("");
        // Rare kinds are looked into as a whole; the per-chunk path never builds a Value.
        let whole_update = || {
            serde_json::from_str::<Value>(params)
                .map(|mut p| p["update"].take())
                .unwrap_or(Value::Null)
        };
        if self.handled_as_session_state(&session_id, role, kind, whole_update) {
            return;
        }
        let is_tool_call = kind == "tool_call" || kind == "tool_call_update";
        let tool_call_id = if is_tool_call {
            self.note_tool_call(&session_id, role, &whole_update())
        } else {
            None
        };
        let subagent = self.subagent_of(&session_id, role);
        let rewrite = Rewrite {
            session: subagent.as_ref().unwrap_or(&session_id).as_str(),
            role: role.as_str(),
            prefix_title: subagent.is_none() && is_tool_call,
            tool_call_id: tool_call_id.as_deref(),
        };
        let write = |out: &mut Vec<u8>| write_update_line(out, fields, &rewrite);
        match subagent {
            Some(_) if !self.editor.closed => self.editor.outbox.send_with(write),
            Some(_) => {}
            None => self.emit_role_update(&session_id, role, item_kind(kind, update), write),
        }
    }

    /// Whether `role` is reloading its session in `session_id` after a restart (its
    /// replayed history is already in the editor).
    fn replaying_history(&self, role: &Role, session_id: &SessionId) -> bool {
        self.sessions
            .get(session_id)
            .and_then(|s| s.roles.get(role))
            .is_some_and(|rs| matches!(rs.child, super::state::ChildSession::Restoring(_)))
    }

    /// Updates that describe session state the proxy merges (commands, modes,
    /// options, plans, notices for editors without them) instead of passing on.
    fn handled_as_session_state(
        &mut self,
        session: &SessionId,
        role: &Role,
        kind: &str,
        parse: impl FnOnce() -> Value,
    ) -> bool {
        match kind {
            "available_commands_update" => self.on_child_commands(session, role, parse()),
            "current_mode_update" => self.on_child_mode_update(session, role, parse()),
            "config_option_update" => self.on_child_config_update(session, role, parse()),
            "plan" if !self.shows_subagents() => self.on_child_plan(session, role, parse()),
            "notice" if !self.editor.caps.notices => self.on_child_notice(session, role, parse()),
            _ => return false,
        }
        true
    }

    /// The subagent session a role's updates go to right now, if the editor shows subagents.
    pub(super) fn subagent_of(&self, session: &SessionId, role: &Role) -> Option<SessionId> {
        if !self.shows_subagents() {
            return None;
        }
        let turn = self.sessions.get(session)?.roles.get(role)?.turns.back()?;
        self.turns.get(turn)?.subagents.get(role).cloned()
    }

    /// An agent cancels a request it had us relay: pass it on with the editor-side id.
    fn forward_agent_cancel_request(&mut self, key: &AgentKey, params: Option<&str>) {
        let Ok(params) = crate::acp::parse_params::<crate::acp::CancelRequestParams>(params) else {
            return;
        };
        let ours = self
            .editor
            .pending
            .iter()
            .find_map(|(id, ToEditor::Relayed(r))| {
                (r.key == *key && r.agent_request == params.request_id && !r.answered)
                    .then_some(*id)
            });
        if let Some(id) = ours {
            let params = serde_json::json!({ "requestId": id }).to_string();
            self.send_editor(jsonrpc::notification(method::CANCEL_REQUEST, Some(&params)));
        }
    }
}

fn not_an_update(role: &Role) {
    tracing::warn!(role = %role, "session/update params are not an object with an object update; dropped");
}

fn parse_error_object(raw: &str) -> RpcError {
    serde_json::from_str(raw)
        .unwrap_or_else(|_| RpcError::internal(format!("malformed error: {raw}")))
}

/// How a role's update is rewritten for the editor.
pub(super) struct Rewrite<'a> {
    /// The editor-side session (the parent, or the role's subagent session).
    pub session: &'a str,
    pub role: &'a str,
    /// Plain editors see `role: ` in tool call titles.
    pub prefix_title: bool,
    /// The tool call's editor-side id when it is not `role/<agent's id>`.
    pub tool_call_id: Option<&'a str>,
}

/// Builds the editor's copy of a role's update: its session id, `role/`-namespaced
/// tool call ids, the role in `update._meta.ourocodus.role`, everything else verbatim.
pub(super) fn write_update_line(out: &mut Vec<u8>, params: ObjectFields<'_>, rewrite: &Rewrite) {
    out.extend_from_slice(UPDATE_HEAD);
    let mut writer = ObjectWriter::new(out);
    for field in params.iter() {
        let key = field.key();
        match field.object() {
            Some(update) if key == "update" => {
                writer.with(&key, |out| write_update(out, update, rewrite))
            }
            _ if key == "sessionId" => writer.string(&key, rewrite.session),
            _ => writer.verbatim(field.text()),
        }
    }
    writer.finish();
    out.extend_from_slice(b"}\n");
}

fn write_update(out: &mut Vec<u8>, update: ObjectFields<'_>, rewrite: &Rewrite) {
    let role = rewrite.role;
    let mut writer = ObjectWriter::new(out);
    let mut had_meta = false;
    for field in update.iter() {
        let (key, value) = (field.key(), field.value());
        match key.as_ref() {
            "toolCallId" => match (rewrite.tool_call_id, field.as_str()) {
                (Some(editor_id), _) => writer.string(&key, editor_id),
                (None, Some(id)) => writer.prefixed_string(&key, &[role, "/"], &id),
                (None, None) => writer.raw(&key, value),
            },
            "title" if rewrite.prefix_title => match field.as_str() {
                Some(title) => writer.prefixed_string(&key, &[role, ": "], &title),
                None => writer.raw(&key, value),
            },
            "_meta" => {
                had_meta = true;
                writer.with(&key, |out| write_role_meta(out, Some(value), role));
            }
            _ => writer.verbatim(field.text()),
        }
    }
    if !had_meta {
        writer.with("_meta", |out| write_role_meta(out, None, role));
    }
    writer.finish();
}

/// Text chunks take part in line discipline; everything else stands apart.
fn item_kind(kind: &str, update: ObjectFields<'_>) -> ItemKind {
    /// The two fields of a content block that matter here, read without allocating.
    #[derive(serde::Deserialize)]
    struct ContentView<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        text: Option<&'a serde_json::value::RawValue>,
    }
    if kind != "agent_message_chunk" && kind != "agent_thought_chunk" {
        return ItemKind::Other;
    }
    if let Some(ends_line) = update
        .get("content")
        .and_then(|c| plain_text_block_ends_line(c.value()))
    {
        return ItemKind::Text { ends_line };
    }
    let content = update
        .get("content")
        .and_then(|c| serde_json::from_str::<ContentView>(c.value()).ok());
    match content {
        Some(ContentView {
            kind: Some(kind),
            text: Some(raw),
        }) if kind == "text" => ItemKind::Text {
            ends_line: literal_ends_with_newline(raw.get()),
        },
        _ => ItemKind::Other,
    }
}

/// The common case read without a parse: a content block written exactly as
/// `{"type":"text","text":"..."}`. `None` for anything else (then it is parsed).
fn plain_text_block_ends_line(content: &str) -> Option<bool> {
    const PREFIX: &str = r#"{"type":"text","text":""#;
    let body = content.strip_prefix(PREFIX)?;
    let bytes = body.as_bytes();
    let mut at = 0;
    // Find the text literal's closing quote: the first quote not escaped.
    let close = loop {
        let found = at + memchr::memchr2(b'"', b'\\', &bytes[at..])?;
        if bytes[found] == b'\\' {
            at = found + 2;
            continue;
        }
        break found;
    };
    (close + 2 == bytes.len() && bytes[close + 1] == b'}')
        .then(|| literal_ends_with_newline(&content[PREFIX.len() - 1..PREFIX.len() + close + 1]))
}

/// Whether a JSON string literal's text ends in `\n`, without unescaping it: the
/// literal ends in `\n"` with the backslash not itself escaped.
fn literal_ends_with_newline(literal: &str) -> bool {
    if literal.ends_with("\\u000a\"") || literal.ends_with("\\u000A\"") {
        let body = &literal[..literal.len() - 7];
        return body.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 0;
    }
    let Some(body) = literal.strip_suffix("n\"") else {
        return false;
    };
    let backslashes = body.bytes().rev().take_while(|b| *b == b'\\').count();
    backslashes % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editor_copy_namespaces_tool_calls_and_tags_the_role() {
        let params = r#"{"sessionId":"child-1","update":{"sessionUpdate":"tool_call","toolCallId":"toolu_01","title":"Read","_meta":{"claudeCode":{"toolName":"Read"}}},"_meta":{"x":1}}"#;
        let p = IndexedObject::new(params).unwrap();
        let rewrite = Rewrite {
            session: "ouro-1",
            role: "backend",
            prefix_title: true,
            tool_call_id: None,
        };
        let line = {
            let mut out = Vec::new();
            write_update_line(&mut out, p.fields(), &rewrite);
            out
        };
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["params"]["sessionId"], "ouro-1");
        assert_eq!(v["params"]["_meta"]["x"], 1);
        let update = &v["params"]["update"];
        assert_eq!(update["toolCallId"], "backend/toolu_01");
        assert_eq!(update["title"], "backend: Read");
        assert_eq!(update["_meta"]["claudeCode"]["toolName"], "Read");
        assert_eq!(update["_meta"]["ourocodus"]["role"], "backend");
    }

    #[test]
    fn unknown_variants_pass_through_with_only_the_role_added() {
        let params = r#"{"sessionId":"c","update":{"sessionUpdate":"future_thing","payload":{"deep":[1,{"a":null}]}}}"#;
        let p = IndexedObject::new(params).unwrap();
        let rewrite = Rewrite {
            session: "s",
            role: "test",
            prefix_title: false,
            tool_call_id: None,
        };
        let v: Value = serde_json::from_slice(&{
            let mut out = Vec::new();
            write_update_line(&mut out, p.fields(), &rewrite);
            out
        })
        .unwrap();
        assert_eq!(
            v["params"]["update"]["payload"],
            serde_json::json!({"deep":[1,{"a":null}]})
        );
        assert_eq!(v["params"]["update"]["_meta"]["ourocodus"]["role"], "test");
    }

    #[test]
    fn plain_text_blocks_are_read_without_a_parse_and_others_are_left_to_it() {
        assert_eq!(
            plain_text_block_ends_line(r#"{"type":"text","text":"a\n"}"#),
            Some(true)
        );
        assert_eq!(
            plain_text_block_ends_line(r#"{"type":"text","text":"a \"q\" b"}"#),
            Some(false)
        );
        assert_eq!(
            plain_text_block_ends_line(r#"{"type":"text","text":"a\\"}"#),
            Some(false)
        );
        assert_eq!(
            plain_text_block_ends_line(r#"{"type":"text","text":"a\n","x":"y"}"#),
            None
        );
        assert_eq!(
            plain_text_block_ends_line(r#"{"text":"a\n","type":"text"}"#),
            None
        );
        assert_eq!(
            plain_text_block_ends_line(r#"{"type": "text", "text": "a"}"#),
            None
        );
    }

    #[test]
    fn newline_endings_are_read_from_the_literal() {
        assert!(literal_ends_with_newline(r#""abc\n""#));
        assert!(!literal_ends_with_newline(r#""abc\\n""#));
        assert!(literal_ends_with_newline(r#""abc\\\n""#));
        assert!(!literal_ends_with_newline(r#""abc""#));
    }
}
