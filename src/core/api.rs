//! The core's seams: what a connection (a client of some face) and a recorder (the
//! event store) must offer the core, and the ids the core hands out for them. Knows
//! no face, no protocol of a client, no SQL.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use serde_json::Value;

use super::command::Command;
use super::output::Output;
use crate::ids::Role;
use crate::jsonrpc::{Message, ParseError, RequestId};

/// One client attached to the core, for its whole life (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// An agent's request the core relays to clients, by the number the core gave it.
/// Unique for the core's life; faces may use it as their own request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelayId(pub u64);

/// Where a turn (or any request with an answer due) came from: its answer, the
/// requests relayed during it and its cancellation follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A client's request, answered on that connection while it is attached.
    Connection {
        connection: ConnectionId,
        request: RequestId,
    },
    /// A task of the session's graph, handed to its role by the dispatcher: nobody
    /// waits for the answer (the task's own status says how it went).
    Task(super::tasks::TaskId),
    /// The team itself: a role's `send_message` (`from`), or the proxy telling a role
    /// something (a task of its failed). Nobody waits for the answer either.
    Team { from: Option<Role> },
}

impl Origin {
    pub fn connection(&self) -> Option<ConnectionId> {
        match self {
            Origin::Connection { connection, .. } => Some(*connection),
            Origin::Task(_) | Origin::Team { .. } => None,
        }
    }
}

/// What a client can do that the core acts on: where file access, terminals and
/// questions can be relayed. (How a client shows things is its face's business.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientCaps {
    pub fs_read: bool,
    pub fs_write: bool,
    pub terminal: bool,
    /// The client's elicitation capability object, handed to agents as is.
    pub elicitation: Option<Value>,
    /// The client's `session.configOptions` capability object, handed to agents as is.
    pub config_options: Option<Value>,
}

/// One thing a client sent, framed and parsed (every face speaks JSON-RPC).
#[derive(Debug)]
pub enum Inbound {
    Message(Message),
    /// A line that is not a usable JSON-RPC message.
    Malformed(ParseError),
    /// A line over the size cap was skipped.
    TooLong {
        bytes: usize,
    },
    /// A command the face decoded itself, off the core's task (a face whose protocol
    /// library parses its client's messages, such as the LSP face).
    Decoded(Command),
    /// The client closed its end: the connection detaches.
    Closed,
}

/// A future that owns what it needs.
pub type Waiter = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A client of some face, as the core sees it. The core calls it on its own task:
/// `decode` turns what the client sent into commands (answering protocol matters
/// such as malformed input itself), `deliver` renders what the core says. Neither
/// may block or wait: output goes to a queue whose size `congested` reports.
pub trait Connection: Send {
    fn caps(&self) -> &ClientCaps;
    /// Decodes one input; commands for the core are pushed to `commands`.
    fn decode(&mut self, input: Inbound, commands: &mut Vec<Command>);
    /// Renders one output for this client.
    fn deliver(&mut self, output: Output<'_>);
    /// Hands everything rendered so far to the client's writer.
    fn flush(&mut self);
    /// The client is not taking its output: the core stops taking agents' output.
    fn congested(&self) -> bool;
    /// Resolves once the client has taken enough of its output.
    fn drained(&self) -> Waiter;
    /// When `tick` is due, if ever (e.g. a speaker's patience running out).
    fn next_tick(&self) -> Option<Instant>;
    fn tick(&mut self, now: Instant);
    /// A watcher (the hub's host) joins every session as it opens, whoever opened
    /// it, is told so with `Output::SessionOpened`, and is asked every question
    /// relayed in it alongside the turn's origin.
    fn watches_all_sessions(&self) -> bool {
        false
    }
}

/// The event store as the core sees it: events go in without waiting; the store
/// says when they are settled through `LocalEvent::StoreSettled`.
pub trait Recorder: Send {
    /// Appends one event (its payload written by `payload`, one JSON value); returns
    /// its number, counting from 1, for `settled` reports.
    fn record(
        &mut self,
        session: &crate::ids::SessionId,
        role: Option<&crate::ids::Role>,
        kind: &str,
        payload: &mut dyn FnMut(&mut Vec<u8>),
    ) -> u64;
    /// Hands what was recorded to the store; `urgent` when an answer waits for it to
    /// be committed (otherwise the store may gather more before committing).
    fn flush(&mut self, urgent: bool);
    fn congested(&self) -> bool;
    fn drained(&self) -> Waiter;
}
