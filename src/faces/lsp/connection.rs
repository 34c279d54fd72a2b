//! The LSP client as a connection of the core: commands arrive already decoded (the
//! LSP library parsed them off the core's task), and each output the client cares
//! about becomes an owned `Effect` in the runner's queue, never waiting. Knows no LSP
//! call and nothing of the core's state.

use std::time::Instant;

use serde::Deserialize;

use super::effects::{Effect, EffectSender, Ending};
use crate::core::{
    ClientCaps, Command, Connection, Delivery, Inbound, Origin, Output, Reply, RoleOutcome,
    RoleUpdate, StopReason, TeamEvent, UpdateKind, Waiter,
};
use crate::ids::SessionId;

/// One LSP client attached to the core.
pub struct LspConnection {
    effects: EffectSender,
    /// No files, terminals or questions: the core serves files from disk itself, and
    /// relays to this client only what a `window/showMessageRequest` can answer.
    caps: ClientCaps,
}

impl LspConnection {
    pub fn new(effects: EffectSender) -> Self {
        LspConnection {
            effects,
            caps: ClientCaps::default(),
        }
    }

    fn reply(
        &self,
        request: &crate::jsonrpc::RequestId,
        outcome: Result<Reply, crate::error::RpcError>,
    ) {
        let effect = match outcome {
            Ok(Reply::Welcome { roles, .. }) => Effect::Welcome { roles },
            Ok(Reply::Opened { session, .. }) => Effect::Opened { session },
            Ok(_) => Effect::Replied {
                request: request.clone(),
                error: None,
            },
            Err(e) => Effect::Replied {
                request: request.clone(),
                error: Some(e.message),
            },
        };
        self.effects.send(effect);
    }

    fn event(&self, _session: &SessionId, event: &TeamEvent<'_>, delivery: Delivery) {
        let Delivery::Live { yours } = delivery else {
            return;
        };
        let effect = match event {
            TeamEvent::Prompt {
                turn,
                origin,
                roles,
                ..
            } => Effect::TurnStarted {
                turn: *turn,
                roles: roles.to_vec(),
                request: own_request(yours, *origin),
            },
            TeamEvent::Update(update) => match update_effect(update) {
                Some(effect) => effect,
                None => return,
            },
            TeamEvent::RoleEnded {
                turn,
                role,
                outcome,
            } => Effect::RoleEnded {
                turn: *turn,
                role: (*role).clone(),
                ending: ending(outcome),
            },
            TeamEvent::Notice {
                role,
                severity,
                title,
                description,
            } => Effect::Notice {
                severity: *severity,
                text: notice_text(*role, title, *description),
            },
            TeamEvent::Say { text } => Effect::Notice {
                severity: crate::core::Severity::Info,
                text: text.to_string(),
            },
            _ => return,
        };
        self.effects.send(effect);
    }
}

/// The face's request that started a turn, when it was this client's.
fn own_request(yours: bool, origin: Option<&Origin>) -> Option<crate::jsonrpc::RequestId> {
    match origin {
        Some(Origin::Connection { request, .. }) if yours => Some(request.clone()),
        _ => None,
    }
}

fn update_effect(update: &RoleUpdate<'_>) -> Option<Effect> {
    let raw = update.params.get("update")?.value();
    let raw = serde_json::value::RawValue::from_string(raw.to_string()).ok()?;
    let text = match update.kind {
        UpdateKind::AgentMessageChunk => chunk_text(update),
        _ => None,
    };
    Some(Effect::Update {
        role: update.role.clone(),
        turn: update.turn,
        update: raw,
        text,
    })
}

/// A message chunk's text, when its content is a text block.
fn chunk_text(update: &RoleUpdate<'_>) -> Option<String> {
    #[derive(Deserialize)]
    struct TextBlock {
        #[serde(rename = "type")]
        kind: String,
        text: String,
    }
    let content = update.update.get("content")?.value();
    let block: TextBlock = serde_json::from_str(content).ok()?;
    (block.kind == "text").then_some(block.text)
}

fn ending(outcome: &RoleOutcome) -> Ending {
    match outcome {
        RoleOutcome::Done(StopReason::Cancelled) | RoleOutcome::Cancelled => Ending::Cancelled,
        // A refusal or a token limit still leaves what the role said.
        RoleOutcome::Working | RoleOutcome::Done(_) => Ending::Answered,
        RoleOutcome::Failed(e) => Ending::Failed(e.message.clone()),
    }
}

fn notice_text(role: Option<&crate::ids::Role>, title: &str, description: Option<&str>) -> String {
    let mut text = match role {
        Some(role) => format!("[{role}] {title}"),
        None => title.to_string(),
    };
    if let Some(description) = description {
        text.push_str(": ");
        text.push_str(description);
    }
    text
}

impl Connection for LspConnection {
    fn caps(&self) -> &ClientCaps {
        &self.caps
    }

    fn decode(&mut self, input: Inbound, commands: &mut Vec<Command>) {
        match input {
            Inbound::Decoded(command) => commands.push(command),
            // The LSP library reads the client's bytes: nothing else comes this way.
            Inbound::Message(_) | Inbound::Malformed(_) | Inbound::TooLong { .. } => {
                tracing::debug!("unexpected raw input on the lsp connection");
            }
            Inbound::Closed => {}
        }
    }

    fn deliver(&mut self, output: Output<'_>) {
        match output {
            Output::Reply { request, outcome } => self.reply(request, outcome),
            Output::Event {
                session,
                event,
                delivery,
            } => self.event(session, event, delivery),
            Output::Relay {
                relay,
                role,
                request,
                ..
            } => self.effects.send(Effect::Relay {
                relay,
                role: role.clone(),
                kind: request.kind,
                params: request.params.clone(),
            }),
            Output::Withdraw { relay } => self.effects.send(Effect::Withdraw { relay }),
            Output::AgentStatus(summary) => self.effects.send(Effect::RoleSeen {
                role: summary.role.clone(),
            }),
            Output::State { .. } | Output::Notification { .. } | Output::SessionOpened { .. } => {}
        }
    }

    fn flush(&mut self) {}

    fn congested(&self) -> bool {
        self.effects.congested()
    }

    fn drained(&self) -> Waiter {
        Box::pin(self.effects.drained())
    }

    fn next_tick(&self) -> Option<Instant> {
        None
    }

    fn tick(&mut self, _now: Instant) {}
}
