//! A client's `dispatchAction`: taken once per `(clientId, clientSeq)`, then a
//! prompt (`chat/turnStarted` on a lead chat), a cancel (`chat/turnCancelled`) or
//! an answer (`chat/toolCallConfirmed`) becomes a command to the core and is echoed
//! with its origin; anything else is echoed refused. Knows nothing of sockets.

use ahp_types::actions::{ActionOrigin, StateAction};
use serde_json::{Value, json};

use super::publish::{ChannelOf, Host};
use super::requests::Waiting;
use super::translate::Ending;
use crate::core::{CancelScope, Command};

impl Host {
    pub fn on_dispatch(&mut self, client: u64, params: &Value) {
        let Some(client_id) = self.clients.get(client).and_then(|c| c.id.clone()) else {
            return tracing::debug!(client, "a dispatch before initialize: dropped");
        };
        let (Some(channel), Some(seq)) = (
            params.get("channel").and_then(Value::as_str),
            params.get("clientSeq").and_then(Value::as_i64),
        ) else {
            return tracing::debug!(client, "a dispatch without channel or clientSeq: dropped");
        };
        let Some(action) = params
            .get("action")
            .and_then(|a| serde_json::from_value::<StateAction>(a.clone()).ok())
        else {
            return tracing::debug!(client, "a dispatch of no known action: dropped");
        };
        if !self.dispatches.take(&client_id, seq) {
            return tracing::debug!(client, seq, "a dispatch sent again: already taken");
        }
        let origin = ActionOrigin {
            client_id,
            client_seq: seq,
        };
        let Some(target) = self.channels.get(channel).cloned() else {
            return self.refuse(channel, action, origin, "no such channel on this hub");
        };
        match (target, action) {
            (ChannelOf::Chat(session, None), StateAction::ChatTurnStarted(a)) => {
                let text = a.message.text.clone();
                let turn_id = a.turn_id.clone();
                if let Some(open) = self
                    .sessions
                    .get(&session)
                    .and_then(|h| h.lead.active_turn().map(str::to_string))
                {
                    let how = Ending::Complete {
                        stop: None,
                        continues: true,
                    };
                    self.end_turn(&session, None, &open, how);
                }
                self.publish_for(channel, StateAction::ChatTurnStarted(a), origin);
                if let Some(chat) = self.chat_mut(&session, None) {
                    chat.turn_ended();
                    chat.started = Some(std::time::Instant::now());
                }
                let blocks = vec![json!({ "type": "text", "text": text })];
                let prompt_session = session.clone();
                let request = self.ask_core(|request| Command::Prompt {
                    request,
                    session: prompt_session,
                    blocks,
                    meta: None,
                });
                self.pending
                    .insert(request, Waiting::Prompt { session, turn_id });
            }
            (ChannelOf::Chat(session, role), StateAction::ChatTurnCancelled(a)) => {
                let scope = match &role {
                    None => Some(CancelScope::Session),
                    Some(role) => self.sessions.get(&session).and_then(|h| {
                        let turn = h.turns.iter().find(|(_, id)| **id == a.turn_id)?.0;
                        Some(CancelScope::Role {
                            role: role.clone(),
                            turn: *turn,
                        })
                    }),
                };
                let Some(scope) = scope else {
                    let why = "no running team turn has this id";
                    return self.refuse(channel, StateAction::ChatTurnCancelled(a), origin, why);
                };
                self.publish_for(channel, StateAction::ChatTurnCancelled(a), origin);
                self.tell_core(Command::Cancel { session, scope });
            }
            (ChannelOf::Chat(session, _), StateAction::ChatToolCallConfirmed(a)) => {
                self.confirm(channel, &session, a, origin);
            }
            (_, action) => {
                let why =
                    "this hub takes prompts, cancels and confirmations from clients; nothing else";
                self.refuse(channel, action, origin, why);
            }
        }
    }
}
