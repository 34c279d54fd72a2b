//! The core's state: one slot per role's agent, the sessions with their per-role
//! child sessions and attached connections, prompt turns, relayed requests, and what
//! every outstanding request to an agent is for. No rendering state: that belongs
//! to each connection.

use crate::transport::sandbox::SandboxState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::time::Instant;

use indexmap::IndexMap;
use serde_json::Value;
use smallvec::SmallVec;

use super::api::{ConnectionId, Origin};
use super::output::{AgentStatus, RelayRequest, RoleOutcome};
use super::tool_calls::ToolCalls;
use crate::acp::ChildCapabilities;
use crate::agent::Quirks;
use crate::config::RoleSpec;
use crate::ids::{ChildSessionId, Role, SessionId};
use crate::jsonrpc::RequestId;
use crate::transport::{AgentKey, AgentLink};

/// Maps on the per-message path use a fast non-cryptographic hash: keys come from
/// our own config and from agents we started, and are only compared, never trusted.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
pub type FastIndexMap<K, V> = IndexMap<K, V, foldhash::fast::RandomState>;

/// A prompt turn: one prompt and the roles working on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TurnId(pub u64);

/// One role's agent process (or remote worker) and everything in flight with it.
#[derive(Debug)]
pub struct AgentSlot {
    pub spec: RoleSpec,
    /// Bumped on every start, so events from an earlier incarnation are ignored.
    pub generation: u32,
    pub state: AgentState,
    pub link: Option<AgentLink>,
    /// The running agent's messages and end, in order.
    pub inbox: Option<tokio::sync::mpsc::Receiver<crate::transport::AgentEnvelope>>,
    /// Known once `initialize` answered.
    pub caps: Option<ChildCapabilities>,
    pub quirks: Quirks,
    pub started_at: Option<Instant>,
    next_request_id: i64,
    /// What each request the proxy sent this agent is for, by the id it used.
    pub pending: HashMap<i64, ToAgent>,
    /// The agent's session ids → the sessions they serve.
    pub sessions: FastMap<ChildSessionId, SessionId>,
    /// Child sessions being restored with `session/load`, whose replayed history the
    /// clients already have (dropped until the load answers).
    pub replaying: usize,
    /// Unexpected exits in a row; reset once the agent has run for a while.
    pub failures_in_a_row: u32,
    /// Restarts since the proxy started (any cause).
    pub restarts: u32,
    /// What to do when the running agent ends (set by /kill and /restart).
    pub on_exit: Option<ExitPlan>,
    /// Why the proxy ended an agent that did not come up (its exit then reports it).
    pub start_failure: Option<String>,
    /// When the agent last wrote anything (for the silence watchdog).
    pub last_activity: Instant,
    /// A silence check is scheduled.
    pub watchdog_armed: bool,
    /// The status last announced with `_ourocodus/agent_status`.
    pub reported_status: Option<AgentStatus>,
    /// The sandbox the agent last started in; `None` before its first start.
    pub sandbox: Option<SandboxState>,
    /// The user was told this role reached its limit of open requests (reset once
    /// it is under the limit again).
    pub told_request_limit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    /// Not running; started on first use.
    Idle,
    /// Spawned, `initialize` sent.
    Starting,
    Ready,
    /// Exited unexpectedly; starts again when the backoff timer fires.
    Restarting {
        attempt: u32,
    },
    /// Ended by hand (`/kill`); `/restart` starts it again.
    Stopped,
    /// Could not start, or exited too often; `/restart` tries again. Says why.
    Failed(String),
}

/// How a child session is brought back (after a restart, or a session's load).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restore {
    Resume,
    Load,
}

impl Restore {
    pub fn method(self) -> &'static str {
        match self {
            Restore::Resume => crate::acp::method::SESSION_RESUME,
            Restore::Load => crate::acp::method::SESSION_LOAD,
        }
    }
}

/// A deliberate end of an agent, decided before it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitPlan {
    /// `/kill`: stay stopped.
    Stay,
    /// `/restart`: start again at once.
    StartAgain,
}

/// Why the proxy sent a request to an agent: decides what the answer means.
#[derive(Debug, Clone)]
pub enum ToAgent {
    Initialize,
    NewSession {
        session: SessionId,
    },
    /// `session/resume` or `session/load` of a session the agent had before.
    RestoreSession {
        session: SessionId,
        child: ChildSessionId,
        how: Restore,
    },
    Prompt {
        turn: TurnId,
        session: SessionId,
    },
    SetMode {
        session: SessionId,
        mode: String,
        /// The client request waiting on this, if any.
        reply_to: Option<Reply>,
    },
    SetConfigOption {
        session: SessionId,
        /// The child's option id and the value asked for (recorded once it is set).
        option: String,
        value: Value,
        reply_to: Option<Reply>,
    },
    /// Nobody waits for the answer (e.g. `session/close`).
    FireAndForget,
}

/// A client request to answer once an agent has answered.
#[derive(Debug, Clone)]
pub struct Reply {
    pub origin: Origin,
    /// For `/mode` typed as a prompt: the turn (session numbering) to end with the
    /// answer, said in the chat.
    pub as_prompt: Option<u64>,
}

/// One session and the team working in it.
#[derive(Debug)]
pub struct Session {
    pub id: SessionId,
    pub cwd: PathBuf,
    /// The client's MCP servers, given to every child as they are.
    pub client_mcp_servers: Vec<Value>,
    pub additional_directories: Vec<String>,
    /// Where prompts without mentions go: `None` is the team's `route`.
    pub route: Option<Role>,
    pub roles: FastIndexMap<Role, RoleSession>,
    /// The connections this session's events go to, in the order they attached.
    pub attached: SmallVec<[ConnectionId; 2]>,
    /// Which role last wrote or edited each path (to warn about two roles on one file).
    pub file_owners: HashMap<PathBuf, Role>,
    /// The terminals clients created for roles, by terminal id: only the role that
    /// created one may use it.
    pub terminals: HashMap<String, Role>,
    /// Counts turns: the session's own numbering, kept across loads.
    pub turn_seq: u64,
    /// The store's number of the last event recorded for this session (a client
    /// catching up on it has seen everything once its replay is past this).
    pub last_record: u64,
    /// The store's failure to write was told in this session.
    pub told_store_failed: bool,
    /// The tasks roles delegated in this session.
    pub tasks: super::tasks::TaskGraph,
    /// What its roles spent, per role and per task.
    pub usage: super::usage::SessionUsage,
}

/// One role's child session inside a session.
#[derive(Debug, Default)]
pub struct RoleSession {
    pub child: ChildSession,
    /// Prompts waiting for the child session to exist.
    pub queued: Vec<QueuedPrompt>,
    /// Turns this role is working on, oldest first.
    pub turns: VecDeque<TurnId>,
    /// Whether the first-turn persona preamble went out (for agents without system-prompt support).
    pub persona_sent: bool,
    /// The child session the role had before its agent ended (or before the session
    /// was loaded), to restore it.
    pub previous_child: Option<ChildSessionId>,
    /// The child's `modes` (SessionModeState), if it has modes.
    pub modes: Option<Value>,
    /// The child's `configOptions`.
    pub config_options: Vec<Value>,
    /// The child's slash commands.
    pub commands: Vec<Value>,
    /// What this role's tool calls announced, and the ids the team knows them by.
    pub tool_calls: ToolCalls,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum ChildSession {
    /// Not created yet: waits for the agent to be ready.
    #[default]
    Pending,
    /// `session/new` is in flight.
    Opening,
    /// `session/resume` or `session/load` of this (earlier) child session is in flight.
    Restoring(ChildSessionId),
    Ready(ChildSessionId),
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct QueuedPrompt {
    pub turn: TurnId,
    pub blocks: Vec<Value>,
    pub meta: Option<Value>,
}

/// One prompt and where each routed role stands on it.
#[derive(Debug)]
pub struct Turn {
    pub session: SessionId,
    /// The turn's number in its session (subagent sessions and records use it).
    pub seq: u64,
    pub origin: Origin,
    pub roles: IndexMap<Role, RoleOutcome>,
    pub cancelled: bool,
    /// The prompt's text, shortened (for `/agents`).
    pub summary: String,
    /// Whether `session/cancel` went to each role's agent already.
    pub cancel_sent: HashSet<Role>,
    pub started: Instant,
}

/// An agent's request (or the proxy's own question) relayed to clients, until one
/// answers or it is withdrawn.
#[derive(Debug)]
pub struct Relay {
    /// The role it is about (the asker, or the role whose task waits for approval).
    pub key: AgentKey,
    pub asker: Asker,
    pub session: SessionId,
    /// The turn the role was working on when it asked, if any.
    pub turn: Option<TurnId>,
    pub request: RelayRequest,
    /// The connections it went to; the first of them to answer wins.
    pub sent_to: SmallVec<[ConnectionId; 2]>,
}

/// Who waits for a relayed request's answer.
#[derive(Debug)]
pub enum Asker {
    /// The role's agent, under its own request id.
    Agent(RequestId),
    /// The proxy itself.
    Proxy(ProxyQuestion),
}

/// A question the proxy asks a user for the team.
#[derive(Debug)]
pub enum ProxyQuestion {
    /// Approve or reject a task its role completed.
    Approval(super::tasks::TaskId),
    /// A role's `ask_user`: the answer is its tool's result.
    AskUser(tokio::sync::oneshot::Sender<Result<Value, String>>),
}

impl Relay {
    /// Whether it is the role's own question (its agent's request or `ask_user`),
    /// not an approval gate on its task.
    pub fn asks_for_role(&self) -> bool {
        !matches!(self.asker, Asker::Proxy(ProxyQuestion::Approval(_)))
    }

    /// The agent request it answers, if an agent asked.
    pub fn agent_request(&self) -> Option<&RequestId> {
        match &self.asker {
            Asker::Agent(id) => Some(id),
            Asker::Proxy(_) => None,
        }
    }
}

impl AgentSlot {
    pub fn new(spec: RoleSpec) -> Self {
        AgentSlot {
            spec,
            generation: 0,
            state: AgentState::Idle,
            link: None,
            inbox: None,
            caps: None,
            quirks: Quirks::Generic,
            started_at: None,
            next_request_id: 0,
            pending: HashMap::new(),
            sessions: FastMap::default(),
            replaying: 0,
            failures_in_a_row: 0,
            restarts: 0,
            on_exit: None,
            start_failure: None,
            last_activity: Instant::now(),
            watchdog_armed: false,
            reported_status: None,
            sandbox: None,
            told_request_limit: false,
        }
    }

    pub fn key(&self) -> AgentKey {
        AgentKey {
            role: self.spec.role.clone(),
            generation: self.generation,
        }
    }

    /// The next id for a request to this agent (ids are per connection).
    pub fn next_request_id(&mut self) -> i64 {
        self.next_request_id += 1;
        self.next_request_id
    }
}
