//! The ACP face: one editor (or any ACP client) as a connection of the core. It
//! decodes the client's ACP requests into core commands, renders the core's outputs
//! as ACP for this client's capabilities — subagent sessions for clients that show
//! them, one labelled stream (the speaker floor) and merged plans for the rest,
//! notices as text where the client has none — and carries `_ourocodus/*`. Knows
//! nothing of agents' processes or of the core's state.

mod chat;
mod decode;
pub(crate) mod floor;
pub mod memory;
#[cfg(test)]
mod proptests;
mod render;
mod stdio;
pub(crate) mod update;

use std::collections::HashMap;
use std::time::Instant;

use crate::core::{ClientCaps, Command, Connection, Inbound, Output, Waiter};
use crate::faces::outbox::Outbox;
use crate::ids::SessionId;

pub use stdio::{StdioFace, serve_stdio_editor};

/// How this client wants things shown (what the core need not know).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderCaps {
    /// `clientCapabilities.subagents`: each role of a turn is its own session.
    pub subagents: bool,
    /// `session.notices`: notices as ACP `notice` updates, else quoted text.
    pub notices: bool,
}

/// One ACP client attached to the core.
pub struct AcpConnection {
    outbox: Outbox,
    caps: ClientCaps,
    render: RenderCaps,
    /// What this client is shown of each session it is attached to.
    views: HashMap<SessionId, render::SessionView>,
}

impl AcpConnection {
    pub fn new(outbox: Outbox) -> Self {
        AcpConnection {
            outbox,
            caps: ClientCaps::default(),
            render: RenderCaps::default(),
            views: HashMap::new(),
        }
    }
}

impl Connection for AcpConnection {
    fn caps(&self) -> &ClientCaps {
        &self.caps
    }

    fn decode(&mut self, input: Inbound, commands: &mut Vec<Command>) {
        decode::decode(self, input, commands);
    }

    fn deliver(&mut self, output: Output<'_>) {
        render::deliver(self, output);
    }

    fn flush(&mut self) {
        self.outbox.flush();
    }

    fn congested(&self) -> bool {
        self.outbox.congested()
    }

    fn drained(&self) -> Waiter {
        Box::pin(self.outbox.drained())
    }

    fn next_tick(&self) -> Option<Instant> {
        self.views.values().filter_map(|v| v.deadline()).min()
    }

    fn tick(&mut self, now: Instant) {
        render::tick(self, now);
    }
}
