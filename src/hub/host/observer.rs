//! The hub's host as a connection of the core: a watcher attached to every session,
//! whose `deliver` copies what the core says into owned `News` for the host task
//! (counted by a `Backlog`, so a host that falls behind slows the agents instead of
//! growing without bound), and whose commands arrive already decoded. Knows no AHP.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::backlog::Backlog;
use crate::core::{
    AgentSummary, Output, RelayId, RelayKind, Reply, RoleOutcome, Severity, StopReason, TeamEvent,
    UpdateKind,
};
use crate::core::{ClientCaps, Command, Connection, Inbound, Waiter};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};

/// Bytes of news the host may leave unread before the core stops taking agents' output.
const HIGH_WATER: usize = 8 * 1024 * 1024;

/// What the core said, owned, for the host task.
#[derive(Debug)]
pub enum News {
    /// The answer to the host's request `request`.
    Reply {
        request: i64,
        outcome: Result<Reply, RpcError>,
    },
    Event {
        session: SessionId,
        /// From the session's history (the host loading it), not live.
        replay: bool,
        event: Happening,
    },
    /// The session's task graph as ACP plan entries.
    Plan {
        session: SessionId,
        plan: Value,
    },
    /// A question for a user (a role's permission request, an approval gate).
    Ask {
        relay: RelayId,
        session: SessionId,
        role: Role,
        turn: Option<u64>,
        kind: RelayKind,
        params: Value,
    },
    Withdraw(RelayId),
    AgentStatus(AgentSummary),
    /// A session another client opened; the host is attached to it now.
    Opened {
        session: SessionId,
        cwd: PathBuf,
    },
}

/// One shown event of a session, owned.
#[derive(Debug)]
pub enum Happening {
    Prompt {
        turn: u64,
        /// The host's request, when the host started the turn.
        request: Option<i64>,
        roles: Vec<Role>,
        text: String,
        summary: String,
    },
    Update {
        role: Role,
        turn: Option<u64>,
        kind: UpdateKind,
        tool_call_id: Option<String>,
        /// The ACP `update` object as the agent wrote it.
        update: String,
    },
    Notice {
        role: Option<Role>,
        severity: Severity,
        title: String,
        description: Option<String>,
    },
    Say(String),
    RoleEnded {
        turn: u64,
        role: Role,
        outcome: RoleOutcome,
    },
    TurnEnded {
        turn: u64,
        outcome: Result<StopReason, RpcError>,
    },
}

/// The host's connection, on the core's task.
pub struct Observer {
    caps: ClientCaps,
    pending: Vec<News>,
    pending_bytes: usize,
    news: mpsc::UnboundedSender<(Vec<News>, usize)>,
    backlog: Arc<Backlog>,
}

impl Observer {
    pub fn new(news: mpsc::UnboundedSender<(Vec<News>, usize)>) -> (Observer, Arc<Backlog>) {
        let backlog = Backlog::new(HIGH_WATER, HIGH_WATER / 2);
        let observer = Observer {
            caps: ClientCaps::default(),
            pending: Vec::new(),
            pending_bytes: 0,
            news,
            backlog: backlog.clone(),
        };
        (observer, backlog)
    }

    fn push(&mut self, news: News, bytes: usize) {
        self.pending.push(news);
        self.pending_bytes += bytes + 64;
    }
}

impl Connection for Observer {
    fn caps(&self) -> &ClientCaps {
        &self.caps
    }

    fn decode(&mut self, input: Inbound, commands: &mut Vec<Command>) {
        if let Inbound::Decoded(command) = input {
            commands.push(command);
        }
    }

    fn deliver(&mut self, output: Output<'_>) {
        match output {
            Output::Reply { request, outcome } => {
                let Some(request) = request.as_number() else {
                    return;
                };
                self.push(News::Reply { request, outcome }, 256);
            }
            Output::Event {
                session,
                event,
                delivery,
            } => {
                let replay = matches!(delivery, crate::core::Delivery::Replay);
                if let Some((event, bytes)) = happening(event) {
                    let session = session.clone();
                    self.push(
                        News::Event {
                            session,
                            replay,
                            event,
                        },
                        bytes,
                    );
                }
            }
            Output::State { session, state } => {
                if let crate::core::SessionState::Tasks(plan) = state {
                    let session = session.clone();
                    self.push(
                        News::Plan {
                            session,
                            plan: plan.clone(),
                        },
                        1024,
                    );
                }
            }
            Output::Relay {
                relay,
                session,
                role,
                turn,
                request,
            } => {
                let news = News::Ask {
                    relay,
                    session: session.clone(),
                    role: role.clone(),
                    turn,
                    kind: request.kind,
                    params: request.params.clone(),
                };
                self.push(news, 1024);
            }
            Output::Withdraw { relay } => self.push(News::Withdraw(relay), 16),
            Output::AgentStatus(summary) => self.push(News::AgentStatus(summary.clone()), 256),
            Output::SessionOpened { session, cwd } => {
                let news = News::Opened {
                    session: session.clone(),
                    cwd: cwd.to_path_buf(),
                };
                self.push(news, 128);
            }
            Output::Notification { .. } => {}
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let bytes = std::mem::take(&mut self.pending_bytes);
        self.backlog.add(bytes);
        if self.news.send((batch, bytes)).is_err() {
            // The host is gone (the hub is stopping): nothing is waited for.
            self.backlog.release(bytes);
        }
    }

    fn congested(&self) -> bool {
        self.backlog.congested()
    }

    fn drained(&self) -> Waiter {
        Box::pin(self.backlog.drained())
    }

    fn next_tick(&self) -> Option<Instant> {
        None
    }

    fn tick(&mut self, _now: Instant) {}

    fn watches_all_sessions(&self) -> bool {
        true
    }
}

/// The shown events the host maps, owned, with their rough size.
fn happening(event: &TeamEvent<'_>) -> Option<(Happening, usize)> {
    let owned = match event {
        TeamEvent::Prompt {
            turn,
            origin,
            roles,
            blocks,
            summary,
        } => {
            let request = origin.and_then(|o| match o {
                crate::core::Origin::Connection { request, .. } => request.as_number(),
                _ => None,
            });
            let text = prompt_text(blocks);
            let bytes = text.len() + summary.len();
            let prompt = Happening::Prompt {
                turn: *turn,
                request,
                roles: roles.to_vec(),
                text,
                summary: summary.to_string(),
            };
            return Some((prompt, bytes));
        }
        TeamEvent::Update(update) => {
            let raw = update.params.get("update").map(|f| f.value())?;
            let owned = Happening::Update {
                role: update.role.clone(),
                turn: update.turn,
                kind: update.kind,
                tool_call_id: update.tool_call_id.map(str::to_string),
                update: raw.to_string(),
            };
            return Some((owned, raw.len()));
        }
        TeamEvent::Notice {
            role,
            severity,
            title,
            description,
        } => Happening::Notice {
            role: role.cloned(),
            severity: *severity,
            title: title.to_string(),
            description: description.map(str::to_string),
        },
        TeamEvent::Say { text } => Happening::Say(text.to_string()),
        TeamEvent::RoleEnded {
            turn,
            role,
            outcome,
        } => Happening::RoleEnded {
            turn: *turn,
            role: (*role).clone(),
            outcome: (*outcome).clone(),
        },
        TeamEvent::TurnEnded { turn, outcome } => Happening::TurnEnded {
            turn: *turn,
            outcome: (*outcome).clone(),
        },
        _ => return None,
    };
    Some((owned, 256))
}

/// A prompt's text blocks joined (mentions included), as the user wrote it.
fn prompt_text(blocks: &[Value]) -> String {
    let texts: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    texts.join("\n")
}
