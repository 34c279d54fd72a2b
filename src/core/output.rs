//! What the core says to connections: answers to their commands, the events of the
//! sessions they are attached to, requests relayed from agents, and the team's
//! status. Typed; every face renders them for its own client. Knows no face.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::{Origin, RelayId};
use crate::error::RpcError;
use crate::ids::{ChildSessionId, Role, SessionId};
use crate::jsonrpc::ObjectFields;
use crate::jsonrpc::RequestId;

/// One thing for one connection to render.
#[derive(Debug)]
pub enum Output<'a> {
    /// The answer to one of this connection's commands.
    Reply {
        request: &'a RequestId,
        outcome: Result<Reply, RpcError>,
    },
    /// Something that happened in a session this connection is attached to.
    Event {
        session: &'a SessionId,
        event: &'a TeamEvent<'a>,
        delivery: Delivery,
    },
    /// A session's merged state changed (or is being told to a new client).
    State {
        session: &'a SessionId,
        state: SessionState<'a>,
    },
    /// An agent's request for this client to answer (with `Command::Answer`).
    Relay {
        relay: RelayId,
        session: &'a SessionId,
        role: &'a Role,
        /// The turn the role is working on, if any (in that session's numbering).
        turn: Option<u64>,
        request: &'a RelayRequest,
    },
    /// A relayed request needs no answer any more (answered elsewhere, cancelled,
    /// or its agent is gone).
    Withdraw { relay: RelayId },
    /// A role's status changed.
    AgentStatus(&'a AgentSummary),
    /// A session another connection opened (new or loaded), to a watcher, which is
    /// now attached to it (see `Connection::watches_all_sessions`).
    SessionOpened {
        session: &'a SessionId,
        cwd: &'a std::path::Path,
    },
    /// A notification from an agent that clients take as it is (e.g.
    /// `elicitation/complete`).
    Notification {
        method: &'a str,
        params: Option<&'a str>,
    },
}

/// How an event reaches a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// As it happens; `yours` when this connection is the origin of its turn.
    Live { yours: bool },
    /// From the session's history, to a connection that is loading it.
    Replay,
}

/// The answer to a command.
#[derive(Debug)]
pub enum Reply {
    Welcome {
        roles: Vec<Role>,
        route: Vec<Role>,
        /// Past sessions can be listed and loaded (there is a store).
        history: bool,
    },
    /// A session is open (new, loaded, resumed or attached to).
    Opened {
        session: SessionId,
        modes: Value,
        config_options: Value,
    },
    Sessions {
        sessions: Vec<SessionListing>,
        next_cursor: Option<String>,
    },
    TurnEnded(StopReason),
    Empty,
    ConfigOptions(Value),
    Agents(Vec<AgentSummary>),
    Agent(AgentSummary),
    /// A JSON result as it is (`_ourocodus/tasks`, ...).
    Json(Value),
    /// A session's usage, per role and per task.
    Usage(super::usage::UsageSummary),
    /// What a role's merge did.
    Merged {
        role: Role,
        report: crate::worktree::MergeReport,
    },
}

/// One session as `session/list` shows it.
#[derive(Debug, Clone)]
pub struct SessionListing {
    pub session: SessionId,
    pub cwd: PathBuf,
    pub title: Option<String>,
    /// ISO 8601, UTC.
    pub updated_at: String,
}

/// Merged session state (not events: only the latest value matters).
#[derive(Debug, Clone, Copy)]
pub enum SessionState<'a> {
    /// The proxy's slash commands and each role's, namespaced (ACP `AvailableCommand`s).
    Commands(&'a Value),
    /// The route option and each role's options (ACP `SessionConfigOption`s).
    ConfigOptions(&'a Value),
    /// The session's route changed (ACP mode id: `team` or a role).
    CurrentMode(&'a str),
    /// The task graph as ACP plan entries.
    Tasks(&'a Value),
}

/// A request from an agent, policy already applied, for a client to answer.
#[derive(Debug, Clone)]
pub struct RelayRequest {
    pub kind: RelayKind,
    /// The ACP method (`session/request_permission`, `terminal/create`, ...).
    pub method: String,
    /// The agent's params, tool call ids already the team's; `sessionId` is the
    /// child's and is for the face to replace.
    pub params: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayKind {
    Permission,
    ReadFile,
    WriteFile,
    Terminal,
    Elicitation,
}

/// Something that happened in a session: the store records every one of them and
/// replays them; connections render those that `is_shown`.
#[derive(Debug)]
pub enum TeamEvent<'a> {
    Opened(&'a SessionRecord),
    Prompt {
        turn: u64,
        origin: Option<&'a Origin>,
        roles: &'a [Role],
        /// The prompt as the client sent it (mentions included).
        blocks: &'a [Value],
        /// Its text in short, mentions removed (a subagent's task).
        summary: &'a str,
    },
    Update(RoleUpdate<'a>),
    Notice {
        role: Option<&'a Role>,
        severity: Severity,
        title: &'a str,
        description: Option<&'a str>,
    },
    /// The proxy's own words in the chat (answers to slash commands).
    Say {
        text: &'a str,
    },
    /// The token counts a role's prompt answer gave (for the record: a loaded
    /// session's usage is rebuilt from them). `turn` is `None` when the turn had
    /// already ended.
    TurnTokens {
        role: &'a Role,
        turn: Option<u64>,
        tokens: &'a super::usage::Tokens,
    },
    /// A role is done with its part of a turn.
    RoleEnded {
        turn: u64,
        role: &'a Role,
        outcome: &'a RoleOutcome,
    },
    TurnEnded {
        turn: u64,
        outcome: &'a Result<StopReason, RpcError>,
    },
    Permission {
        role: &'a Role,
        tool_call_id: Option<&'a str>,
        title: &'a str,
        decision: PermissionDecision,
        reason: Option<&'a str>,
    },
    PermissionAnswer {
        role: &'a Role,
        /// The agent's answer as sent (`{"outcome": ...}`).
        answer: &'a str,
    },
    FileWrite {
        role: &'a Role,
        path: &'a str,
        resolved: &'a str,
        allowed: bool,
        reason: Option<&'a str>,
    },
    Agent {
        role: &'a Role,
        change: AgentChange<'a>,
    },
    ChildSession {
        role: &'a Role,
        child: &'a ChildSessionId,
        how: ChildHow,
    },
    Mode {
        role: Option<&'a Role>,
        option: &'a str,
        value: &'a Value,
    },
    /// A task of the session's graph as it is now (recorded for a load to rebuild the
    /// graph; clients see the plan and the notices instead).
    Task(&'a super::tasks::Task),
}

impl TeamEvent<'_> {
    /// Whether clients see this event (the rest is for the record).
    pub fn is_shown(&self) -> bool {
        matches!(
            self,
            TeamEvent::Prompt { .. }
                | TeamEvent::Update(_)
                | TeamEvent::Notice { .. }
                | TeamEvent::Say { .. }
                | TeamEvent::RoleEnded { .. }
                | TeamEvent::TurnEnded { .. }
        )
    }
}

/// One of a role's `session/update`s, as the agent sent it.
#[derive(Debug)]
pub struct RoleUpdate<'a> {
    pub role: &'a Role,
    /// The turn the role is working on (in the session's numbering), if any.
    pub turn: Option<u64>,
    pub kind: UpdateKind,
    /// The team's id of the tool call this update is about (see `ToolCalls`).
    pub tool_call_id: Option<&'a str>,
    /// The agent's notification params as written (`sessionId`, `update`, maybe
    /// `_meta`), and their fields as found when the line was read.
    pub params_text: &'a str,
    pub params: ObjectFields<'a>,
    /// The `update` object's fields.
    pub update: ObjectFields<'a>,
}

/// The `sessionUpdate` variants the proxy tells apart; the rest pass through as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    AgentMessageChunk,
    AgentThoughtChunk,
    UserMessageChunk,
    ToolCall,
    ToolCallUpdate,
    Plan,
    AvailableCommands,
    CurrentMode,
    ConfigOption,
    Usage,
    Notice,
    Other,
}

impl UpdateKind {
    pub fn from_wire(kind: &str) -> UpdateKind {
        match kind {
            "agent_message_chunk" => UpdateKind::AgentMessageChunk,
            "agent_thought_chunk" => UpdateKind::AgentThoughtChunk,
            "user_message_chunk" => UpdateKind::UserMessageChunk,
            "tool_call" => UpdateKind::ToolCall,
            "tool_call_update" => UpdateKind::ToolCallUpdate,
            "plan" => UpdateKind::Plan,
            "available_commands_update" => UpdateKind::AvailableCommands,
            "current_mode_update" => UpdateKind::CurrentMode,
            "config_option_update" => UpdateKind::ConfigOption,
            "usage_update" => UpdateKind::Usage,
            "notice" => UpdateKind::Notice,
            _ => UpdateKind::Other,
        }
    }

    pub fn is_tool_call(self) -> bool {
        matches!(self, UpdateKind::ToolCall | UpdateKind::ToolCallUpdate)
    }
}

/// A session's facts as recorded when it opened.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub cwd: PathBuf,
    pub additional_directories: Vec<String>,
    pub route: Vec<Role>,
    /// Each role's configuration (never its environment's values).
    pub team: indexmap::IndexMap<Role, Value>,
}

/// How a notice should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn wire_name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Why a turn (or one role's part of it) ended, as ACP names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    MaxTurnRequests,
    Refusal,
    Cancelled,
}

impl StopReason {
    pub fn wire_name(self) -> &'static str {
        match self {
            StopReason::EndTurn => "end_turn",
            StopReason::MaxTokens => "max_tokens",
            StopReason::MaxTurnRequests => "max_turn_requests",
            StopReason::Refusal => "refusal",
            StopReason::Cancelled => "cancelled",
        }
    }

    /// Reads an agent's stop reason; one ACP does not know is `None`.
    pub fn from_wire(name: &str) -> Option<StopReason> {
        serde_json::from_value(Value::String(name.to_string())).ok()
    }
}

/// Where a role stands on a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum RoleOutcome {
    Working,
    Done(StopReason),
    Failed(RpcError),
    /// Cancelled by the proxy (the agent never answered in time, or never got it).
    Cancelled,
}

/// How the proxy decided a permission request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionDecision {
    /// Relayed: a user decides.
    Asked,
    /// Answered `allow_once` by a `tools_allow` entry.
    Allowed,
    /// Answered `reject_once` by `tools_deny` or the role's directories.
    Refused,
}

/// A change in a role's agent.
#[derive(Debug, Clone, Copy)]
pub enum AgentChange<'a> {
    Started { pid: Option<u32> },
    Ended { status: &'a str },
    Restarting { attempt: u32, delay_ms: u64 },
    Stopped,
    Failed { reason: &'a str },
}

/// How a role's child session came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChildHow {
    New,
    Resumed,
    Loaded,
}

/// A role's status, as `/agents` shows it and `_ourocodus/agent_status` announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AgentStatus {
    #[serde(rename = "not started")]
    NotStarted,
    #[serde(rename = "starting")]
    Starting,
    #[serde(rename = "idle")]
    Idle,
    #[serde(rename = "working")]
    Working,
    #[serde(rename = "waiting-on-you")]
    WaitingOnYou,
    #[serde(rename = "restarting")]
    Restarting,
    #[serde(rename = "stopped")]
    Stopped,
    #[serde(rename = "failed")]
    Failed,
}

impl AgentStatus {
    pub fn wire_name(self) -> &'static str {
        match self {
            AgentStatus::NotStarted => "not started",
            AgentStatus::Starting => "starting",
            AgentStatus::Idle => "idle",
            AgentStatus::Working => "working",
            AgentStatus::WaitingOnYou => "waiting-on-you",
            AgentStatus::Restarting => "restarting",
            AgentStatus::Stopped => "stopped",
            AgentStatus::Failed => "failed",
        }
    }
}

/// One role's state for `/agents`, `_ourocodus/agents` and status notifications.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSummary {
    pub role: Role,
    pub status: AgentStatus,
    pub restarts: u32,
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The kernel sandbox: what the agent last started in, or the config's mode.
    pub sandbox: String,
}
