//! What an ACP client sends, as core commands: its requests (sessions, prompts,
//! modes, `_ourocodus/*`), notifications (cancel) and answers to requests relayed to
//! it. Protocol matters — `initialize`'s capabilities, `authenticate`, malformed
//! input, unknown methods — are settled here without the core.

use serde::Deserialize;
use serde_json::{Value, json};

use super::AcpConnection;
use super::render::subagent_of;
use crate::acp::{self, EditorCapabilities, method};
use crate::core::{
    CancelScope, Command, Inbound, RelayId, SessionParams, SpawnRequest, TeamCommand,
};
use crate::error::RpcError;
use crate::ids::SessionId;
use crate::jsonrpc::{self, Body, Message, ParseErrorKind, RequestId};

pub fn decode(face: &mut AcpConnection, input: Inbound, commands: &mut Vec<Command>) {
    match input {
        Inbound::Message(message) => match message.body() {
            Body::Request { .. } => decode_request(face, &message, commands),
            Body::Notification { .. } => decode_notification(&message, commands),
            Body::Response { .. } => decode_response(&message, commands),
        },
        Inbound::Malformed(error) => {
            tracing::warn!(detail = %error.detail, "malformed message from the client");
            let (id, rpc) = match error.kind {
                ParseErrorKind::NotJson => (RequestId::null(), RpcError::parse_error(error.detail)),
                ParseErrorKind::InvalidRequest => (
                    error.id.unwrap_or_else(RequestId::null),
                    RpcError::invalid_request(error.detail),
                ),
            };
            face.respond_error(&id, &rpc);
        }
        Inbound::TooLong { bytes } => {
            tracing::warn!(bytes, "over-long message from the client; skipped");
            let detail = format!("message of {bytes} bytes is over the size limit; skipped");
            face.respond_error(&RequestId::null(), &RpcError::invalid_request(detail));
        }
        Inbound::Decoded(command) => commands.push(command),
        Inbound::Closed => {}
    }
}

fn decode_request(face: &mut AcpConnection, message: &Message, commands: &mut Vec<Command>) {
    let (Some(id), Some(name)) = (message.id().cloned(), message.method()) else {
        return;
    };
    tracing::debug!(method = name, id = %id, "client request");
    let params = message.params();
    let command = match name {
        method::INITIALIZE => initialize(face, id.clone(), params),
        method::AUTHENTICATE => {
            face.respond(&id, "{}");
            return;
        }
        method::SESSION_NEW => new_session(id.clone(), params),
        method::SESSION_LOAD => load_session(id.clone(), params, true),
        method::SESSION_RESUME => load_session(id.clone(), params, false),
        method::SESSION_LIST => list_sessions(id.clone(), params),
        method::SESSION_PROMPT => prompt(id.clone(), params),
        method::SESSION_SET_MODE => set_mode(id.clone(), params),
        method::SESSION_SET_CONFIG_OPTION => set_config_option(id.clone(), params),
        method::SESSION_CLOSE => close_session(id.clone(), params),
        name if name.starts_with(EXTENSION_PREFIX) => team_command(id.clone(), name, params),
        other => Err(RpcError::method_not_found(other)),
    };
    match command {
        Ok(command) => commands.push(command),
        Err(error) => face.respond_error(&id, &error),
    }
}

/// Our extension methods' prefix.
const EXTENSION_PREFIX: &str = "_ourocodus/";

/// Takes the client's capabilities; the core answers with the team.
fn initialize(
    face: &mut AcpConnection,
    request: RequestId,
    params: Option<&str>,
) -> Result<Command, RpcError> {
    let params: Value = acp::parse_params(params).map_err(RpcError::invalid_params)?;
    let caps = params.get("clientCapabilities").unwrap_or(&Value::Null);
    let caps = EditorCapabilities::from_client_capabilities(caps);
    tracing::info!(caps = ?caps, "client initialized");
    face.caps = crate::core::ClientCaps {
        fs_read: caps.fs_read,
        fs_write: caps.fs_write,
        terminal: caps.terminal,
        elicitation: caps.elicitation.clone(),
        config_options: caps.config_options.clone(),
    };
    face.render.subagents = caps.subagents;
    face.render.notices = caps.notices;
    Ok(Command::Hello { request })
}

fn new_session(request: RequestId, params: Option<&str>) -> Result<Command, RpcError> {
    let params: acp::NewSessionParams =
        acp::parse_params(params).map_err(RpcError::invalid_params)?;
    Ok(Command::NewSession {
        request,
        params: session_params(params),
    })
}

fn session_params(params: acp::NewSessionParams) -> SessionParams {
    SessionParams {
        cwd: params.cwd.into(),
        mcp_servers: params.mcp_servers,
        additional_directories: params.additional_directories.unwrap_or_default(),
    }
}

fn load_session(
    request: RequestId,
    params: Option<&str>,
    replay: bool,
) -> Result<Command, RpcError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct LoadParams {
        session_id: String,
        #[serde(flatten)]
        session: acp::NewSessionParams,
    }
    let params: LoadParams = acp::parse_params(params).map_err(RpcError::invalid_params)?;
    Ok(Command::LoadSession {
        request,
        session: SessionId::new(params.session_id),
        params: session_params(params.session),
        replay,
    })
}

fn list_sessions(request: RequestId, params: Option<&str>) -> Result<Command, RpcError> {
    #[derive(Deserialize)]
    struct ListParams {
        #[serde(default)]
        cwd: Option<String>,
        #[serde(default)]
        cursor: Option<String>,
    }
    let params: ListParams = acp::parse_params(params).map_err(RpcError::invalid_params)?;
    Ok(Command::ListSessions {
        request,
        cwd: params.cwd.map(Into::into),
        cursor: params.cursor,
    })
}

fn prompt(request: RequestId, params: Option<&str>) -> Result<Command, RpcError> {
    let params: acp::PromptParams = acp::parse_params(params).map_err(RpcError::invalid_params)?;
    Ok(Command::Prompt {
        request,
        session: SessionId::new(params.session_id),
        blocks: params.prompt,
        meta: params.meta,
    })
}

fn set_mode(request: RequestId, params: Option<&str>) -> Result<Command, RpcError> {
    let params: acp::SetModeParams = acp::parse_params(params).map_err(RpcError::invalid_params)?;
    Ok(Command::SetMode {
        request,
        session: SessionId::new(params.session_id),
        mode: params.mode_id,
    })
}

fn set_config_option(request: RequestId, params: Option<&str>) -> Result<Command, RpcError> {
    let params: acp::SetConfigOptionParams =
        acp::parse_params(params).map_err(RpcError::invalid_params)?;
    Ok(Command::SetConfigOption {
        request,
        session: SessionId::new(params.session_id),
        option: params.config_id,
        value: params.value,
        kind: params.kind,
    })
}

fn close_session(request: RequestId, params: Option<&str>) -> Result<Command, RpcError> {
    let params: acp::SessionRef<'_> =
        acp::parse_params(params).map_err(RpcError::invalid_params)?;
    Ok(Command::CloseSession {
        request,
        session: SessionId::new(params.session_id.as_ref()),
    })
}

/// `_ourocodus/<verb>` requests from editor plugins.
fn team_command(request: RequestId, name: &str, params: Option<&str>) -> Result<Command, RpcError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RoleRequest {
        role: String,
    }
    let params = params.unwrap_or("{}");
    let role = || {
        serde_json::from_str::<RoleRequest>(params)
            .map(|r| r.role)
            .map_err(|e| RpcError::invalid_params(e.to_string()))
    };
    let command = match name {
        "_ourocodus/agents" => TeamCommand::Agents,
        "_ourocodus/spawn" => TeamCommand::Spawn(
            serde_json::from_str::<SpawnRequest>(params)
                .map_err(|e| RpcError::invalid_params(e.to_string()))?,
        ),
        "_ourocodus/kill" => TeamCommand::Kill(role()?),
        "_ourocodus/restart" => TeamCommand::Restart(role()?),
        "_ourocodus/tasks" => TeamCommand::Tasks(parse::<SessionRequest>(params)?.session_id),
        "_ourocodus/approve" | "_ourocodus/reject" => {
            let gate = parse::<GateRequest>(params)?;
            let feedback = (name == "_ourocodus/reject").then(|| gate.feedback.unwrap_or_default());
            TeamCommand::Gate {
                session: gate.session_id,
                task: gate.task,
                feedback,
            }
        }
        "_ourocodus/usage" => TeamCommand::Usage(parse::<SessionRequest>(params)?.session_id),
        "_ourocodus/merge" => {
            let merge = parse::<MergeRequest>(params)?;
            TeamCommand::Merge {
                session: merge.session_id,
                role: merge.role,
            }
        }
        other => return Err(RpcError::method_not_found(other)),
    };
    Ok(Command::Team { request, command })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SessionRequest {
    session_id: SessionId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GateRequest {
    session_id: SessionId,
    task: String,
    #[serde(default)]
    feedback: Option<String>,
}

fn parse<'a, T: Deserialize<'a>>(params: &'a str) -> Result<T, RpcError> {
    serde_json::from_str(params).map_err(|e| RpcError::invalid_params(e.to_string()))
}

/// `_ourocodus/merge`: a role's worktree branch, merged in a session.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MergeRequest {
    session_id: SessionId,
    role: String,
}

fn decode_notification(message: &Message, commands: &mut Vec<Command>) {
    let Some(name) = message.method() else {
        return;
    };
    match name {
        method::SESSION_CANCEL => {
            let Ok(params) = acp::parse_params::<acp::SessionRef<'_>>(message.params()) else {
                return tracing::warn!("session/cancel without a sessionId");
            };
            let id = SessionId::new(params.session_id.as_ref());
            let (session, scope) = match subagent_of(&id) {
                Some((session, role, turn)) => (session, CancelScope::Role { role, turn }),
                None => (id, CancelScope::Session),
            };
            commands.push(Command::Cancel { session, scope });
        }
        method::CANCEL_REQUEST => {
            if let Ok(params) = acp::parse_params::<acp::CancelRequestParams>(message.params()) {
                commands.push(Command::CancelRequest {
                    request: params.request_id,
                });
            }
        }
        other => tracing::debug!(method = other, "client notification ignored"),
    }
}

/// The client's answer to a relayed request: its id is the core's relay number.
fn decode_response(message: &Message, commands: &mut Vec<Command>) {
    let relay = message
        .id()
        .and_then(RequestId::as_number)
        .and_then(|n| u64::try_from(n).ok());
    let (Some(relay), Some(outcome)) = (relay, message.outcome()) else {
        return tracing::warn!("the client answered a request the proxy never sent");
    };
    let outcome = match outcome {
        Ok(result) => Ok(result.to_string()),
        Err(error) => Err(serde_json::from_str(error)
            .unwrap_or_else(|_| RpcError::internal("the client answered with a malformed error"))),
    };
    commands.push(Command::Answer {
        relay: RelayId(relay),
        outcome,
    });
}

impl AcpConnection {
    pub(super) fn respond(&mut self, id: &RequestId, result: &str) {
        self.outbox.send(&jsonrpc::response_raw(id, result));
    }

    pub(super) fn respond_error(&mut self, id: &RequestId, error: &RpcError) {
        self.outbox.send(&jsonrpc::error_response(id, error));
    }

    pub(super) fn respond_json(&mut self, id: &RequestId, result: &Value) {
        self.respond(id, &result.to_string());
    }

    /// An empty result (`{}`).
    pub(super) fn respond_empty(&mut self, id: &RequestId) {
        self.respond_json(id, &json!({}));
    }
}
