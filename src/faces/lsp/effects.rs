//! What the core's outputs become for an LSP client, as owned values (`Effect`s) in
//! a queue from the core's task to the face's runner, with byte accounting so the
//! core stops taking agents' output while the client is not keeping up. Knows no
//! LSP call, no core state.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::backlog::Backlog;
use crate::core::{RelayId, RelayKind, Severity};
use crate::faces::{HIGH_WATER_BYTES, LOW_WATER_BYTES};
use crate::ids::{Role, SessionId};
use crate::jsonrpc::RequestId;

/// One thing the runner does for the client, in the order the core said it.
#[derive(Debug)]
pub enum Effect {
    /// The team at start-up.
    Welcome {
        roles: Vec<Role>,
    },
    /// A role has a status: it is on the team (roles can be added at runtime).
    RoleSeen {
        role: Role,
    },
    /// The workspace's session is open.
    Opened {
        session: SessionId,
    },
    /// One of the face's commands was answered (`error` when it failed).
    Replied {
        request: RequestId,
        error: Option<String>,
    },
    /// A turn began; `request` is the face's own prompt that started it, if it was.
    TurnStarted {
        turn: u64,
        roles: Vec<Role>,
        request: Option<RequestId>,
    },
    /// One of a role's updates (the ACP `update` object as the agent wrote it), and
    /// its text when it is a message chunk.
    Update {
        role: Role,
        turn: Option<u64>,
        update: Box<serde_json::value::RawValue>,
        text: Option<String>,
    },
    /// A role is done with its part of a turn.
    RoleEnded {
        turn: u64,
        role: Role,
        ending: Ending,
    },
    Notice {
        severity: Severity,
        text: String,
    },
    /// An agent's request for the user to answer.
    Relay {
        relay: RelayId,
        role: Role,
        kind: RelayKind,
        params: Value,
    },
    /// A relayed request needs no answer any more.
    Withdraw {
        relay: RelayId,
    },
}

/// How a role's part of a turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Answered,
    Cancelled,
    /// The core's notice says why; this is the error's message.
    Failed(String),
}

impl Ending {
    /// What its progress ends with.
    pub fn describe(&self) -> String {
        match self {
            Ending::Answered => "done".into(),
            Ending::Cancelled => "cancelled".into(),
            Ending::Failed(why) => format!("failed: {why}"),
        }
    }
}

impl Effect {
    /// Roughly what it holds, for the queue's accounting.
    fn weight(&self) -> usize {
        const BASE: usize = 64;
        BASE + match self {
            Effect::Update { update, text, .. } => {
                update.get().len() + text.as_ref().map_or(0, String::len)
            }
            Effect::Notice { text, .. } => text.len(),
            Effect::Replied { error, .. } => error.as_ref().map_or(0, String::len),
            _ => 0,
        }
    }
}

/// The core's side of the queue: sending never waits.
#[derive(Debug)]
pub struct EffectSender {
    effects: mpsc::UnboundedSender<(usize, Effect)>,
    /// Weight sent and not yet done.
    backlog: Arc<Backlog>,
}

/// The runner's side: take an effect, do it, then `release` it.
#[derive(Debug)]
pub struct EffectReceiver {
    effects: mpsc::UnboundedReceiver<(usize, Effect)>,
    backlog: Arc<Backlog>,
}

pub fn queue() -> (EffectSender, EffectReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let backlog = Backlog::new(HIGH_WATER_BYTES, LOW_WATER_BYTES);
    let sender = EffectSender {
        effects: tx,
        backlog: backlog.clone(),
    };
    (
        sender,
        EffectReceiver {
            effects: rx,
            backlog,
        },
    )
}

impl EffectSender {
    pub fn send(&self, effect: Effect) {
        let weight = effect.weight();
        self.backlog.add(weight);
        if self.effects.send((weight, effect)).is_err() {
            tracing::debug!("lsp client gone; effect dropped");
        }
    }

    pub fn congested(&self) -> bool {
        self.backlog.congested()
    }

    /// Resolves once the queue is at the low-water mark.
    pub fn drained(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.backlog.drained()
    }
}

impl EffectReceiver {
    /// The next effect and its weight; `None` once the core let go.
    pub async fn recv(&mut self) -> Option<(usize, Effect)> {
        self.effects.recv().await
    }

    /// An effect is done: its weight no longer counts.
    pub fn release(&self, weight: usize) {
        self.backlog.release(weight);
    }
}
