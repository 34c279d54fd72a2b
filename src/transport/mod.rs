//! The seam between the router and one agent: lines go out, parsed messages come in,
//! and an end is reported once. A child process is one transport; a remote worker is
//! just another. Knows nothing of sessions or routing.

mod memory;
mod process;
pub mod sandbox;
mod stderr_tail;

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use tokio::sync::mpsc;

use crate::ids::Role;
use crate::jsonrpc::Message;

pub use memory::{AgentVoice, MemoryAgent, MemoryTransport};
pub use process::ProcessTransport;

/// Which incarnation of a role's agent an event came from: a restarted agent gets a
/// new generation, so late events from the old one can be told apart and dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentKey {
    pub role: Role,
    pub generation: u32,
}

impl fmt::Display for AgentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.role, self.generation)
    }
}

/// What to start: an ACP agent command.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    pub command: String,
    pub args: Vec<String>,
    /// Set on top of what the agent inherits.
    pub env: IndexMap<String, String>,
    /// Names (or `*` globs) of the proxy's environment the agent inherits; all of it
    /// when `None`.
    pub env_inherit: Option<Vec<String>>,
    /// The kernel sandbox to start it in; `None` when the role's config turned it off.
    pub sandbox: Option<sandbox::SandboxPlan>,
}

/// Something that happened on an agent's connection, in the order it happened.
#[derive(Debug)]
pub enum AgentEvent {
    /// Messages in the order the agent wrote them: everything one read produced, so
    /// a fast agent costs one hand-off per batch rather than per message.
    Messages(Vec<Message>),
    /// The agent is gone; sent once, after every message it wrote.
    Ended(ExitReport),
}

/// An event tagged with the agent it came from.
#[derive(Debug)]
pub struct AgentEnvelope {
    pub key: AgentKey,
    pub event: AgentEvent,
}

/// How an agent ended, for the notice the user sees.
#[derive(Debug, Clone, Default)]
pub struct ExitReport {
    /// "exit code 3", "killed by SIGKILL", "connection closed", ...
    pub status: String,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// The last lines the agent wrote to stderr.
    pub stderr_tail: Vec<String>,
}

/// Why a line could not be handed to an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The agent is not reading its input and its queue is full.
    Full,
    /// The agent is gone.
    Closed,
}

/// The router's handle on one running agent.
#[derive(Debug, Clone)]
pub struct AgentLink {
    outbox: mpsc::Sender<Vec<u8>>,
    control: Arc<dyn AgentControl>,
    sandbox: sandbox::SandboxState,
}

/// Transport-specific controls behind a link.
pub trait AgentControl: fmt::Debug + Send + Sync {
    /// Ends the agent: close its input, ask it to stop, force it after a grace period.
    fn shutdown(&self);
    /// The OS process id, for transports that have one.
    fn pid(&self) -> Option<u32>;
}

impl AgentLink {
    pub fn new(outbox: mpsc::Sender<Vec<u8>>, control: Arc<dyn AgentControl>) -> Self {
        AgentLink {
            outbox,
            control,
            sandbox: sandbox::SandboxState::Off,
        }
    }

    /// Says what sandbox the agent runs in (a transport without one leaves `Off`).
    pub fn with_sandbox(mut self, state: sandbox::SandboxState) -> Self {
        self.sandbox = state;
        self
    }

    pub fn sandbox(&self) -> &sandbox::SandboxState {
        &self.sandbox
    }

    /// Queues one line for the agent without waiting: a full queue is the caller's
    /// decision, never a blocked router.
    pub fn send(&self, line: Vec<u8>) -> Result<(), SendError> {
        self.outbox.try_send(line).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Full,
            mpsc::error::TrySendError::Closed(_) => SendError::Closed,
        })
    }

    pub fn shutdown(&self) {
        self.control.shutdown();
    }

    pub fn pid(&self) -> Option<u32> {
        self.control.pid()
    }
}

/// Starts agents. Every event of the started agent goes to `events`, tagged with `key`.
pub trait Transport: Send + Sync {
    fn start(
        &self,
        spec: &LaunchSpec,
        key: AgentKey,
        events: mpsc::Sender<AgentEnvelope>,
    ) -> Result<AgentLink, crate::error::Error>;
}

/// How many lines may wait for one agent before `send` reports `Full`.
pub const AGENT_OUTBOX_CAPACITY: usize = 1024;
