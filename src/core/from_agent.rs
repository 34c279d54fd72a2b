//! Messages from agents: answers to the core's requests (by what each was for),
//! notifications — above all `session/update`, the per-message path — and requests,
//! which go on to `relay`.

use serde_json::Value;

use super::Core;
use super::output::{Output, RoleOutcome, RoleUpdate, StopReason, TeamEvent, UpdateKind};
use super::state::ToAgent;
use super::usage::Tokens;
use crate::acp::method;
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::{Body, IndexedObject, Message, ObjectFields, RequestId};
use crate::transport::{AgentEnvelope, AgentEvent, AgentKey};

impl Core {
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
            ToAgent::Prompt { turn, session } => {
                let outcome = match outcome {
                    Ok(result) => {
                        let (reason, tokens) = read_prompt_answer(role, result);
                        self.note_turn_tokens(&session, role, turn, tokens);
                        RoleOutcome::Done(reason)
                    }
                    Err(e) => RoleOutcome::Failed(e),
                };
                self.settle_role(turn, role, outcome);
            }
            ToAgent::SetMode {
                session,
                mode,
                reply_to,
            } => self.on_child_mode_set(&session, role, &mode, reply_to, outcome.map(|_| ())),
            ToAgent::SetConfigOption {
                session,
                option,
                value,
                reply_to,
            } => {
                let change = (option.as_str(), &value);
                self.on_child_config_set(&session, role, change, reply_to, outcome)
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
            Some(method::ELICITATION_COMPLETE) => self.forward_elicitation_complete(message),
            other => {
                tracing::debug!(role = %key.role, method = ?other, "agent notification ignored")
            }
        }
    }

    /// An update the core made up (from params text rather than an agent's line).
    pub(super) fn handle_session_update(&mut self, role: &Role, params: &str) {
        match IndexedObject::new(params) {
            Some(indexed) => self.handle_update(role, params, indexed.fields()),
            None => not_an_update(role),
        }
    }

    /// The per-message path: one of a role's updates, recorded and shown to every
    /// connection attached to its session, read from the index its line was read
    /// with; nothing here parses it again or builds a JSON value.
    fn handle_update(&mut self, role: &Role, params_text: &str, params: ObjectFields<'_>) {
        let (mut child_id, mut update) = (None, None);
        for field in params.iter() {
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
        let kind = UpdateKind::from_wire(update.get_str("sessionUpdate").as_deref().unwrap_or(""));
        // Rare kinds are looked into as a whole (a key given twice anywhere refuses
        // them); the per-chunk path never builds a Value.
        let whole_update =
            || crate::jsonrpc::from_str_strict(params_text).map(|mut p| p["update"].take());
        let as_state = || whole_update().unwrap_or(Value::Null);
        if self.handled_as_session_state(&session_id, role, kind, as_state) {
            return;
        }
        let turn = self.current_turn(&session_id, role);
        let turn_seq = turn.and_then(|t| self.turns.get(&t)).map(|t| t.seq);
        let tool_call_id = if kind.is_tool_call() {
            let Ok(whole) = whole_update() else {
                return tracing::warn!(role = %role, "tool call update that is not JSON with each key once; dropped");
            };
            self.note_tool_call(&session_id, role, turn_seq, &whole)
        } else {
            None
        };
        if kind == UpdateKind::Usage {
            self.note_usage_update(&session_id, role, turn_seq, update);
        }
        let event = TeamEvent::Update(RoleUpdate {
            role,
            turn: turn_seq,
            kind,
            tool_call_id: tool_call_id.as_deref(),
            params_text,
            params,
            update,
        });
        self.emit(&session_id, &event);
    }

    /// Whether `role` is reloading its session in `session_id` after a restart (its
    /// replayed history is already known).
    fn replaying_history(&self, role: &Role, session_id: &SessionId) -> bool {
        self.sessions
            .get(session_id)
            .and_then(|s| s.roles.get(role))
            .is_some_and(|rs| matches!(rs.child, super::state::ChildSession::Restoring(_)))
    }

    /// Updates that describe session state the core merges (commands, modes,
    /// options) instead of passing on.
    fn handled_as_session_state(
        &mut self,
        session: &SessionId,
        role: &Role,
        kind: UpdateKind,
        parse: impl FnOnce() -> Value,
    ) -> bool {
        match kind {
            UpdateKind::AvailableCommands => self.on_child_commands(session, role, parse()),
            UpdateKind::CurrentMode => self.on_child_mode_update(session, role, parse()),
            UpdateKind::ConfigOption => self.on_child_config_update(session, role, parse()),
            _ => return false,
        }
        true
    }

    /// An agent cancels a request it had relayed: the clients that have it are told;
    /// their answer (an error, usually) still goes back to the agent.
    fn forward_agent_cancel_request(&mut self, key: &AgentKey, params: Option<&str>) {
        let Ok(params) = crate::acp::parse_params::<crate::acp::CancelRequestParams>(params) else {
            return;
        };
        let relay = self
            .relays
            .iter()
            .find(|(_, r)| r.key == *key && r.agent_request() == Some(&params.request_id))
            .map(|(id, r)| (*id, r.sent_to.clone()));
        if let Some((id, sent_to)) = relay {
            for target in sent_to {
                self.connections
                    .deliver(target, Output::Withdraw { relay: id });
            }
        }
    }

    /// An agent says a URL elicitation finished: every client that takes
    /// elicitations hears it.
    fn forward_elicitation_complete(&mut self, message: &Message) {
        let ids: Vec<_> = self
            .connections
            .ids()
            .filter(|id| {
                self.connections
                    .get(*id)
                    .is_some_and(|a| a.connection.caps().elicitation.is_some())
            })
            .collect();
        for id in ids {
            let output = Output::Notification {
                method: method::ELICITATION_COMPLETE,
                params: message.params(),
            };
            self.connections.deliver(id, output);
        }
    }
}

/// A prompt answer as a child gives it: its stop reason (one ACP does not know, or
/// none, counts as `end_turn`) and the token counts of its `usage`, if any.
fn read_prompt_answer(role: &Role, result: &str) -> (StopReason, Option<Tokens>) {
    let Some(indexed) = IndexedObject::new(result) else {
        return (StopReason::EndTurn, None);
    };
    let fields = indexed.fields();
    let usage = fields.get("usage").and_then(|f| f.object());
    let tokens = usage.and_then(super::usage::read_tokens);
    let reason = fields.get_str("stopReason");
    let reason = match reason.as_deref().map(StopReason::from_wire) {
        Some(Some(reason)) => reason,
        Some(None) => {
            tracing::warn!(role = %role, reason = ?reason, "unknown stop reason; taken as end_turn");
            StopReason::EndTurn
        }
        None => StopReason::EndTurn,
    };
    (reason, tokens)
}

fn not_an_update(role: &Role) {
    tracing::warn!(role = %role, "session/update params are not an object with an object update; dropped");
}

fn parse_error_object(raw: &str) -> RpcError {
    serde_json::from_str(raw)
        .unwrap_or_else(|_| RpcError::internal(format!("malformed error: {raw}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop_reason_of(role: &Role, result: &str) -> StopReason {
        read_prompt_answer(role, result).0
    }

    #[test]
    fn stop_reasons_are_typed_and_unknown_ones_end_the_turn() {
        let role = Role::new("a");
        assert_eq!(
            stop_reason_of(&role, r#"{"stopReason":"max_tokens"}"#),
            StopReason::MaxTokens
        );
        assert_eq!(
            stop_reason_of(&role, r#"{"stopReason":"gave_up"}"#),
            StopReason::EndTurn
        );
        assert_eq!(stop_reason_of(&role, "{}"), StopReason::EndTurn);
        assert_eq!(stop_reason_of(&role, "[1]"), StopReason::EndTurn);
        assert_eq!(
            stop_reason_of(&role, r#"{"stopReason":7}"#),
            StopReason::EndTurn
        );
    }

    #[test]
    fn a_prompt_answer_gives_its_token_counts_and_a_hostile_usage_none() {
        let role = Role::new("a");
        let answer = r#"{"stopReason":"end_turn","usage":{"totalTokens":9,"inputTokens":6,"outputTokens":3}}"#;
        let (reason, tokens) = read_prompt_answer(&role, answer);
        assert_eq!(reason, StopReason::EndTurn);
        assert_eq!(
            tokens.map(|t| (t.total_tokens, t.input_tokens)),
            Some((9, 6))
        );
        for hostile in [
            r#"{"stopReason":"end_turn","usage":"lots"}"#,
            r#"{"stopReason":"end_turn","usage":{"totalTokens":-9}}"#,
            r#"{"stopReason":"end_turn","usage":null}"#,
            r#"{"stopReason":"end_turn"}"#,
        ] {
            assert_eq!(
                read_prompt_answer(&role, hostile),
                (StopReason::EndTurn, None),
                "{hostile}"
            );
        }
    }
}
