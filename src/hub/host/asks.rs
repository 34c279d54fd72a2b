//! Tool calls and questions in chats: a role's tool call starts (already
//! confirmed) and completes; a relayed permission request or approval gate waits
//! for confirmation in the role's chat and the lead chat; the first
//! `chat/toolCallConfirmed` from any client answers the core, a later one is
//! refused, a withdrawn question is settled as skipped. Knows nothing of sockets.

use ahp_types::actions::{ActionOrigin, ChatToolCallConfirmedAction};
use serde_json::{Value, json};

use super::publish::{Ask, Host};
use super::translate::{Ending, action, role_meta};
use crate::core::{Command, RelayId, RelayKind};
use crate::ids::{Role, SessionId};

impl Host {
    /// A role's `tool_call` / `tool_call_update` in one chat's active turn `id`.
    pub fn tool_update(
        &mut self,
        session: &SessionId,
        chat: Option<&Role>,
        role: &Role,
        id: &str,
        call: &str,
        update: &Value,
    ) {
        let title = update.get("title").and_then(Value::as_str);
        let tool = update.get("kind").and_then(Value::as_str).unwrap_or("tool");
        if !self.start_tool(session, chat, role, id, call, title, tool, true) {
            return;
        }
        let status = update.get("status").and_then(Value::as_str);
        if !matches!(status, Some("completed" | "failed")) {
            return;
        }
        let Some(uri) = self.chat_uri(session, chat) else {
            return;
        };
        let done = json!({
            "type": "chat/toolCallComplete", "turnId": id, "toolCallId": call,
            "result": {
                "success": status == Some("completed"),
                "pastTenseMessage": title.unwrap_or(tool),
            },
            "_meta": role_meta(role.as_str()),
        });
        if let Some(done) = action(done) {
            self.publish(&uri, done);
        }
    }

    /// Starts a tool call in a chat's active turn `id` unless it has; `running`
    /// marks it confirmed at once. False if the chat is not on that turn.
    #[allow(clippy::too_many_arguments)]
    fn start_tool(
        &mut self,
        session: &SessionId,
        chat: Option<&Role>,
        role: &Role,
        id: &str,
        call: &str,
        title: Option<&str>,
        tool: &str,
        running: bool,
    ) -> bool {
        let Some(c) = self.chat_mut(session, chat) else {
            return false;
        };
        if c.active_turn() != Some(id) {
            return false;
        }
        if !c.tools.insert(call.to_string()) {
            return true;
        }
        let uri = c.uri.clone();
        let title = title.unwrap_or(tool);
        let meta = role_meta(role.as_str());
        let start = json!({
            "type": "chat/toolCallStart", "turnId": id, "toolCallId": call,
            "toolName": tool, "displayName": title, "_meta": meta,
        });
        if let Some(start) = action(start) {
            self.publish(&uri, start);
        }
        if running {
            let ready = json!({
                "type": "chat/toolCallReady", "turnId": id, "toolCallId": call,
                "invocationMessage": title, "confirmed": "not-needed", "_meta": meta,
            });
            if let Some(ready) = action(ready) {
                self.publish(&uri, ready);
            }
        }
        true
    }

    /// A question relayed to the hub: pending confirmation where it shows.
    pub fn on_ask(
        &mut self,
        relay: RelayId,
        session: &SessionId,
        role: &Role,
        turn: Option<u64>,
        kind: RelayKind,
        params: &Value,
    ) {
        if kind != RelayKind::Permission {
            return;
        }
        let Some(hosted) = self.sessions.get(session) else {
            return;
        };
        let call = params
            .pointer("/toolCall/toolCallId")
            .and_then(Value::as_str);
        let call = call.map_or_else(|| format!("ourocodus-ask-{}", relay.0), str::to_string);
        let title = params
            .pointer("/toolCall/title")
            .and_then(Value::as_str)
            .unwrap_or("Permission requested")
            .to_string();
        let turn_id = turn.map(|t| hosted.turn_id(t));
        let mut chats: Vec<Option<Role>> = Vec::new();
        let shows_in = |chat: Option<&super::sessions::Chat>| {
            chat.zip(turn_id.as_deref())
                .is_some_and(|(c, id)| c.active_turn() == Some(id))
        };
        if shows_in(hosted.chat(Some(role))) {
            chats.push(Some(role.clone()));
        }
        if shows_in(hosted.chat(None)) {
            chats.push(None);
        }
        let mut own_turn = false;
        let turn_id = match turn_id.filter(|_| !chats.is_empty()) {
            Some(id) => id,
            None => {
                // Asked outside any shown turn (an approval gate): a turn of its own.
                let id = format!("ask-{}", relay.0);
                self.start_turn(session, None, &id, &title);
                chats = vec![None];
                own_turn = true;
                id
            }
        };
        let options = acp_options(params);
        for chat in &chats {
            self.start_tool(
                session,
                chat.as_ref(),
                role,
                &turn_id,
                &call,
                Some(&title),
                "permission",
                false,
            );
            self.ready_for_confirmation(
                session,
                chat.as_ref(),
                role,
                &turn_id,
                &call,
                &title,
                &options,
            );
        }
        let ask = Ask {
            session: session.clone(),
            role: role.clone(),
            chats,
            turn_id,
            tool_call_id: call,
            options,
            own_turn,
        };
        self.asks.insert(relay, ask);
    }

    #[allow(clippy::too_many_arguments)]
    fn ready_for_confirmation(
        &mut self,
        session: &SessionId,
        chat: Option<&Role>,
        role: &Role,
        id: &str,
        call: &str,
        title: &str,
        options: &[(String, String, String)],
    ) {
        let Some(uri) = self.chat_uri(session, chat) else {
            return;
        };
        let options: Vec<Value> = options
            .iter()
            .map(|(option, name, kind)| {
                let approve = kind.starts_with("allow");
                json!({ "id": option, "label": name, "kind": if approve { "approve" } else { "deny" } })
            })
            .collect();
        let ready = json!({
            "type": "chat/toolCallReady", "turnId": id, "toolCallId": call,
            "invocationMessage": title, "options": options, "_meta": role_meta(role.as_str()),
        });
        if let Some(ready) = action(ready) {
            self.publish(&uri, ready);
        }
    }

    /// A client's `chat/toolCallConfirmed`: the first answer to an open question wins.
    pub fn confirm(
        &mut self,
        channel: &str,
        session: &SessionId,
        a: ChatToolCallConfirmedAction,
        origin: ActionOrigin,
    ) {
        let open = self
            .asks
            .iter()
            .find(|(_, ask)| ask.session == *session && ask.tool_call_id == a.tool_call_id)
            .map(|(relay, _)| *relay);
        let wrap = |a: ChatToolCallConfirmedAction| {
            ahp_types::actions::StateAction::ChatToolCallConfirmed(a)
        };
        let Some(relay) = open else {
            let why =
                "no question is waiting for this tool call (answered already, or never asked)";
            return self.refuse(channel, wrap(a), origin, why);
        };
        let Some(ask) = self.asks.get(&relay) else {
            return;
        };
        let Some(option) = chosen_option(&ask.options, a.approved, a.selected_option_id.as_deref())
        else {
            return self.refuse(
                channel,
                wrap(a),
                origin,
                "none of the question's options fits",
            );
        };
        let Some(ask) = self.asks.remove(&relay) else {
            return;
        };
        let answer = json!({ "outcome": { "outcome": "selected", "optionId": option } });
        self.tell_core(Command::Answer {
            relay,
            outcome: Ok(answer.to_string()),
        });
        for chat in &ask.chats {
            let Some(uri) = self.chat_uri(session, chat.as_ref()) else {
                continue;
            };
            if uri == channel {
                self.publish_for(channel, wrap(a.clone()), origin.clone());
            } else {
                self.publish(&uri, wrap(a.clone()));
            }
        }
        self.end_own_turn(&ask);
    }

    /// The question needs no answer any more: settled as skipped where it shows.
    pub fn on_withdraw(&mut self, relay: RelayId) {
        let Some(ask) = self.asks.remove(&relay) else {
            return;
        };
        for chat in &ask.chats {
            let Some(uri) = self.chat_uri(&ask.session, chat.as_ref()) else {
                continue;
            };
            let skipped = json!({
                "type": "chat/toolCallConfirmed", "turnId": ask.turn_id,
                "toolCallId": ask.tool_call_id, "approved": false, "reason": "skipped",
                "_meta": role_meta(ask.role.as_str()),
            });
            if let Some(skipped) = action(skipped) {
                self.publish(&uri, skipped);
            }
        }
        self.end_own_turn(&ask);
    }

    fn end_own_turn(&mut self, ask: &Ask) {
        if ask.own_turn {
            let done = Ending::Complete {
                stop: None,
                continues: false,
            };
            self.end_turn(&ask.session, None, &ask.turn_id, done);
        }
    }
}

/// The ACP options of a permission request: (optionId, name, kind).
fn acp_options(params: &Value) -> Vec<(String, String, String)> {
    let Some(options) = params.get("options").and_then(Value::as_array) else {
        return Vec::new();
    };
    options
        .iter()
        .filter_map(|o| {
            let id = o.get("optionId")?.as_str()?.to_string();
            let name = o
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_string();
            let kind = o
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            Some((id, name, kind))
        })
        .collect()
}

/// The option a confirmation picks: the one named, if it is one of the request's
/// and agrees with `approved`; else the first allowing (or rejecting) one.
fn chosen_option(
    options: &[(String, String, String)],
    approved: bool,
    selected: Option<&str>,
) -> Option<String> {
    let agrees = |kind: &str| kind.starts_with("allow") == approved;
    if let Some(selected) = selected {
        return options
            .iter()
            .find(|(id, _, kind)| id == selected && agrees(kind))
            .map(|(id, _, _)| id.clone());
    }
    options
        .iter()
        .find(|(_, _, kind)| agrees(kind))
        .map(|(id, _, _)| id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Vec<(String, String, String)> {
        [
            ("a", "allow_once"),
            ("aa", "allow_always"),
            ("r", "reject_once"),
        ]
        .iter()
        .map(|(id, kind)| (id.to_string(), id.to_string(), kind.to_string()))
        .collect()
    }

    #[test]
    fn a_confirmation_picks_the_named_option_only_if_it_agrees_with_approved() {
        assert_eq!(chosen_option(&options(), true, None).as_deref(), Some("a"));
        assert_eq!(chosen_option(&options(), false, None).as_deref(), Some("r"));
        assert_eq!(
            chosen_option(&options(), true, Some("aa")).as_deref(),
            Some("aa")
        );
        assert_eq!(chosen_option(&options(), true, Some("r")), None);
        assert_eq!(chosen_option(&options(), false, Some("nope")), None);
    }
}
