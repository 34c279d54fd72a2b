//! Requests agents make of clients (permissions, files, terminals, questions), once
//! policy let them through: which connections get each one, the first answer that
//! wins, and the others told it was answered. A request follows its turn's origin
//! while that connection is attached; otherwise every attached connection able to
//! answer gets it.

use serde_json::json;
use smallvec::SmallVec;

use serde_json::Value;

use super::Core;
use super::api::{ClientCaps, ConnectionId, RelayId};
use super::output::{Output, RelayKind, RelayRequest, Severity, TeamEvent};
use super::state::{Asker, Relay, TurnId};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::RequestId;
use crate::transport::AgentKey;

/// Requests of one role that may wait for a client's answer at once; past it the
/// agent is answered with an error at once (its requests cannot grow the core's state
/// without bound).
pub const MAX_OPEN_REQUESTS_PER_ROLE: usize = 64;

impl Core {
    /// Refuses a request of `role` while it has as many open as it may; the user is
    /// told once each time the role reaches the limit.
    pub(super) fn admit_open_request(
        &mut self,
        role: &Role,
        params: &Value,
    ) -> Result<(), RpcError> {
        // The proxy's approval gates wait on the user for a role's task, not for
        // the role: they do not count against it.
        let open = self
            .relays
            .values()
            .filter(|r| r.key.role == *role && r.asks_for_role())
            .count();
        let Some(slot) = self.agents.get_mut(role) else {
            return Ok(());
        };
        if open < MAX_OPEN_REQUESTS_PER_ROLE {
            slot.told_request_limit = false;
            return Ok(());
        }
        let told = slot.told_request_limit;
        let why = format!(
            "{role} has too many open requests ({MAX_OPEN_REQUESTS_PER_ROLE} wait for an answer); refused"
        );
        if let (false, Ok(session)) = (told, self.session_of_request(role, params)) {
            self.notify(&session, Some(role), Severity::Warning, &why, None);
            if let Some(slot) = self.agents.get_mut(role) {
                slot.told_request_limit = true;
            }
        }
        Err(RpcError::internal(why))
    }

    /// Hands an agent's request to the client(s) that should answer it, without any
    /// `_meta.ourocodus` of the agent's (at any depth). With none attached it waits for one (the
    /// team outlives its clients).
    pub(super) fn relay(
        &mut self,
        key: &AgentKey,
        agent_request: &RequestId,
        session: &SessionId,
        request: RelayRequest,
    ) {
        let mut request = request;
        strip_our_meta(&mut request.params);
        let turn = self.current_turn(session, &key.role);
        self.next_relay += 1;
        let id = RelayId(self.next_relay);
        let relay = Relay {
            key: key.clone(),
            asker: Asker::Agent(agent_request.clone()),
            session: session.clone(),
            turn,
            request,
            sent_to: SmallVec::new(),
        };
        self.relays.insert(id, relay);
        self.send_relay(id, None);
    }

    /// Sends a relay to its targets (other than `except`), and remembers them.
    pub(super) fn send_relay(&mut self, id: RelayId, except: Option<ConnectionId>) {
        let Some(relay) = self.relays.get(&id) else {
            return;
        };
        let targets: SmallVec<[ConnectionId; 2]> = self
            .relay_targets(&relay.session, relay.turn, relay.request.kind)
            .into_iter()
            .filter(|c| Some(*c) != except)
            .collect();
        if targets.is_empty() {
            tracing::info!(relay = id.0, role = %relay.key.role, "no client can answer this request now; it waits for one");
        }
        let turn_seq = relay.turn.and_then(|t| self.turns.get(&t)).map(|t| t.seq);
        for target in &targets {
            let output = Output::Relay {
                relay: id,
                session: &relay.session,
                role: &relay.key.role,
                turn: turn_seq,
                request: &relay.request,
            };
            self.connections.deliver(*target, output);
        }
        if let Some(relay) = self.relays.get_mut(&id) {
            relay.sent_to.extend(targets);
        }
    }

    /// The connections a request of this kind goes to: the turn's origin if it is
    /// attached and able; else every able one for a question, the first for an action.
    fn relay_targets(
        &self,
        session: &SessionId,
        turn: Option<TurnId>,
        kind: RelayKind,
    ) -> SmallVec<[ConnectionId; 2]> {
        let Some(s) = self.sessions.get(session) else {
            return SmallVec::new();
        };
        let able: SmallVec<[ConnectionId; 2]> = s
            .attached
            .iter()
            .copied()
            .filter(|c| {
                self.connections
                    .get(*c)
                    .is_some_and(|a| can_answer(a.connection.caps(), kind))
            })
            .collect();
        let origin = turn
            .and_then(|t| self.turns.get(&t))
            .and_then(|t| t.origin.connection());
        if let Some(origin) = origin.filter(|o| able.contains(o)) {
            let mut targets = SmallVec::from_slice(&[origin]);
            if matches!(kind, RelayKind::Permission | RelayKind::Elicitation) {
                // A watcher (the hub) is asked too: the first answer wins.
                let watchers = able.iter().copied().filter(|c| {
                    *c != origin
                        && self
                            .connections
                            .get(*c)
                            .is_some_and(|a| a.connection.watches_all_sessions())
                });
                targets.extend(watchers);
            }
            return targets;
        }
        match kind {
            RelayKind::Permission | RelayKind::Elicitation => able,
            _ => able.into_iter().take(1).collect(),
        }
    }

    /// Whether any client attached to the session could answer this kind of request.
    pub(super) fn client_can(&self, session: &SessionId, kind: RelayKind) -> bool {
        self.sessions.get(session).is_some_and(|s| {
            s.attached.iter().any(|c| {
                self.connections
                    .get(*c)
                    .is_some_and(|a| can_answer(a.connection.caps(), kind))
            })
        })
    }

    /// A client answered: the first answer from a connection the request went to
    /// goes to the agent; the others are told it was answered.
    pub(super) fn handle_answer(
        &mut self,
        from: ConnectionId,
        id: RelayId,
        outcome: Result<String, RpcError>,
    ) {
        let sent_here = self
            .relays
            .get(&id)
            .is_some_and(|r| r.sent_to.contains(&from));
        if !sent_here {
            return tracing::warn!(connection = %from, relay = id.0, "an answer to a request this client does not have; dropped");
        }
        let Some(relay) = self.relays.remove(&id) else {
            return;
        };
        if relay.request.kind == RelayKind::Terminal {
            self.note_terminal_answer(&relay, &outcome);
        }
        if relay.request.kind == RelayKind::Permission {
            let answer = match &outcome {
                Ok(result) => result.as_str(),
                Err(_) => r#"{"outcome":{"outcome":"cancelled"}}"#,
            };
            let event = TeamEvent::PermissionAnswer {
                role: &relay.key.role,
                answer,
            };
            self.emit(&relay.session, &event);
        }
        match relay.asker {
            Asker::Agent(request) => self.answer_agent(&relay.key, &request, outcome),
            Asker::Proxy(question) => self.on_proxy_answer(&relay.session, question, outcome),
        }
        for other in relay.sent_to.iter().filter(|c| **c != from) {
            self.connections
                .deliver(*other, Output::Withdraw { relay: id });
        }
    }

    /// Withdraws the matching open relays from every client they went to; returns
    /// them (the caller decides what the agent hears, if anything).
    pub(super) fn withdraw_relays(&mut self, matches: impl Fn(&Relay) -> bool) -> Vec<Relay> {
        let ids: Vec<RelayId> = self
            .relays
            .iter()
            .filter(|(_, r)| matches(r))
            .map(|(id, _)| *id)
            .collect();
        let mut withdrawn = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(relay) = self.relays.remove(&id) {
                for target in &relay.sent_to {
                    self.connections
                        .deliver(*target, Output::Withdraw { relay: id });
                }
                withdrawn.push(relay);
            }
        }
        withdrawn
    }

    /// Answers `cancelled` to the role's permission requests still open in a session.
    pub(super) fn cancel_relayed_permissions(&mut self, session: &SessionId, role: &Role) {
        let withdrawn = self.withdraw_relays(|r| {
            r.session == *session
                && r.key.role == *role
                && r.request.kind == RelayKind::Permission
                && r.agent_request().is_some()
        });
        let cancelled = json!({ "outcome": { "outcome": "cancelled" } }).to_string();
        for relay in withdrawn {
            let event = TeamEvent::PermissionAnswer {
                role: &relay.key.role,
                answer: &cancelled,
            };
            self.emit(&relay.session, &event);
            if let Some(request) = relay.agent_request() {
                self.answer_agent(&relay.key, request, Ok(cancelled.clone()));
            }
        }
    }

    /// A connection left: what waited on it alone goes to whoever can answer now.
    pub(super) fn reroute_relays_of(&mut self, gone: ConnectionId) {
        let orphaned: Vec<RelayId> = self
            .relays
            .iter_mut()
            .filter_map(|(id, relay)| {
                let had = relay.sent_to.contains(&gone);
                relay.sent_to.retain(|c| *c != gone);
                (had && relay.sent_to.is_empty()).then_some(*id)
            })
            .collect();
        for id in orphaned {
            self.send_relay(id, Some(gone));
        }
    }

    /// A newly attached connection gets the requests of a session that wait for anyone.
    pub(super) fn offer_waiting_relays(&mut self, session: &SessionId) {
        let waiting: Vec<RelayId> = self
            .relays
            .iter()
            .filter(|(_, r)| r.session == *session && r.sent_to.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            self.send_relay(id, None);
        }
    }

    /// Whether a permission request (or other question) from `role` waits for a user.
    pub(super) fn waiting_on_user(&self, role: &Role) -> bool {
        self.relays.values().any(|r| {
            r.key.role == *role && r.request.kind == RelayKind::Permission && r.asks_for_role()
        })
    }

    /// The turn `role` is working on in `session`, if any.
    pub(super) fn current_turn(&self, session: &SessionId, role: &Role) -> Option<TurnId> {
        self.sessions
            .get(session)?
            .roles
            .get(role)?
            .turns
            .back()
            .copied()
    }
}

/// Removes every `_meta.ourocodus` from an agent's params, at any depth (the
/// params, a permission's `toolCall`, its options...): only the proxy sets it.
/// Parsed values are depth-limited, so the recursion is bounded.
fn strip_our_meta(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(meta) = object.get_mut("_meta").and_then(Value::as_object_mut) {
                meta.remove("ourocodus");
            }
            object.values_mut().for_each(strip_our_meta);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_our_meta),
        _ => {}
    }
}

fn can_answer(caps: &ClientCaps, kind: RelayKind) -> bool {
    match kind {
        RelayKind::Permission => true,
        RelayKind::ReadFile => caps.fs_read,
        RelayKind::WriteFile => caps.fs_write,
        RelayKind::Terminal => caps.terminal,
        RelayKind::Elicitation => caps.elicitation.is_some(),
    }
}
