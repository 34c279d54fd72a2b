//! What clients ask of the core, decoded by their face: typed commands, each with the
//! client's request id when an answer is due. Knows no face.

use std::path::PathBuf;

use serde_json::Value;

use super::api::RelayId;
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::RequestId;

/// One command from one connection.
#[derive(Debug)]
pub enum Command {
    /// The client says hello: the answer carries the team.
    Hello { request: RequestId },
    NewSession {
        request: RequestId,
        params: SessionParams,
    },
    /// Opens a session from its history (replayed first unless `replay` is false),
    /// or attaches to it when it is live in this process.
    LoadSession {
        request: RequestId,
        session: SessionId,
        params: SessionParams,
        replay: bool,
    },
    ListSessions {
        request: RequestId,
        cwd: Option<PathBuf>,
        cursor: Option<String>,
    },
    CloseSession {
        request: RequestId,
        session: SessionId,
    },
    Prompt {
        request: RequestId,
        session: SessionId,
        blocks: Vec<Value>,
        meta: Option<Value>,
    },
    /// Stops work in a session: all of it, or one role's part of one turn.
    Cancel {
        session: SessionId,
        scope: CancelScope,
    },
    /// The client gave up on one of its requests (a prompt: its turn is cancelled).
    CancelRequest { request: RequestId },
    SetMode {
        request: RequestId,
        session: SessionId,
        mode: String,
    },
    SetConfigOption {
        request: RequestId,
        session: SessionId,
        option: String,
        value: Value,
        kind: Option<String>,
    },
    Team {
        request: RequestId,
        command: TeamCommand,
    },
    /// The client's answer to a request relayed to it.
    Answer {
        relay: RelayId,
        outcome: Result<String, RpcError>,
    },
}

/// `session/new` and `session/load` alike.
#[derive(Debug, Clone, Default)]
pub struct SessionParams {
    pub cwd: PathBuf,
    /// The client's MCP servers, given to every agent as they are.
    pub mcp_servers: Vec<Value>,
    pub additional_directories: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelScope {
    Session,
    /// One role's part of the turn with this number in the session.
    Role {
        role: Role,
        turn: u64,
    },
}

/// The team at runtime.
#[derive(Debug)]
pub enum TeamCommand {
    Agents,
    Spawn(SpawnRequest),
    Kill(String),
    Restart(String),
    /// A session's task graph.
    Tasks(SessionId),
    /// Decide a task's approval gate: approve (`feedback` none) or reject.
    Gate {
        session: SessionId,
        task: String,
        feedback: Option<String>,
    },
    /// A session's usage, per role and per task.
    Usage(SessionId),
    /// Merges a role's worktree branch in a session (answered once it is done).
    Merge {
        session: SessionId,
        role: String,
    },
}

/// What `/spawn` and `_ourocodus/spawn` take.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnRequest {
    pub role: String,
    #[serde(default)]
    pub persona: Option<String>,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
}
