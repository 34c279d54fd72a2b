//! The Agent Host Protocol spoken on one hub connection: each text frame is one
//! JSON-RPC message, answered with at most one frame. So far the connection-level
//! commands (`ping`, `initialize`, `reconnect`, `subscribe` to the root channel);
//! every other method is refused by name. Knows nothing of sockets, tokens or the
//! team's sessions (the root state it serves is the hub's own description).

use ahp_types::commands::{
    Implementation, InitializeResult, ReconnectResult, ReconnectSnapshotResult, SubscribeResult,
};
use ahp_types::errors::{ahp_error_codes, json_rpc_error_codes};
use ahp_types::state::{AgentInfo, RootState, Snapshot, SnapshotState};
use ahp_types::{ROOT_RESOURCE_URI, SUPPORTED_PROTOCOL_VERSIONS, negotiate_protocol_version};
use serde_json::Value;

use super::rpc::{RpcFailure, failure_frame, success_frame, to_value};

/// The AHP provider id the team is listed under.
pub const PROVIDER: &str = "ourocodus";

/// AHP methods a client may send that the hub does not serve yet: refused as
/// "not implemented yet" rather than "unknown".
const NOT_YET: &[&str] = &[
    "createSession",
    "disposeSession",
    "createChat",
    "disposeChat",
    "moveChat",
    "listSessions",
    "fetchTurns",
    "authenticate",
    "createTerminal",
    "disposeTerminal",
    "resolveSessionConfig",
    "sessionConfigCompletions",
    "completions",
    "invokeChangesetOperation",
    "listAutomationTriggerDefinitions",
    "runAutomation",
    "fetchAutomationRuns",
    "resourceRead",
    "resourceWrite",
    "resourceList",
    "resourceCopy",
    "resourceDelete",
    "resourceMove",
    "resourceResolve",
    "resourceMkdir",
    "resourceRequest",
    "createResourceWatch",
];

/// What one connection has agreed so far.
#[derive(Debug, Default)]
pub struct ConnectionState {
    /// The protocol version `initialize` negotiated (or `reconnect` assumed).
    pub version: Option<String>,
}

/// What to do after one frame.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// A notification, or a response from the client: nothing to send.
    Nothing,
    /// One frame back.
    Send(String),
    /// One frame back, then close the connection with this reason.
    SendThenClose(String, &'static str),
}

/// Answers one text frame.
pub fn handle_frame(state: &mut ConnectionState, text: &str) -> Reply {
    // Strict: a key given twice is refused, so what the hub acts on is what any reader sees.
    let message: Value = match crate::jsonrpc::from_str_strict(text) {
        Ok(value) => value,
        Err(e) => {
            let failure = RpcFailure::new(json_rpc_error_codes::PARSE_ERROR, e.to_string());
            return Reply::Send(failure_frame(&Value::Null, &failure));
        }
    };
    let id = message.get("id").cloned();
    let method = message.get("method").and_then(Value::as_str);
    let valid_id = matches!(
        id,
        None | Some(Value::Null | Value::Number(_) | Value::String(_))
    );
    let is_rpc = message.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let (Some(method), true, true) = (method, valid_id, is_rpc) else {
        if is_rpc
            && method.is_none()
            && (message.get("result").is_some() || message.get("error").is_some())
        {
            // A response to a request the hub never sends yet: nothing to do.
            return Reply::Nothing;
        }
        let id = id.filter(|_| valid_id).unwrap_or(Value::Null);
        let failure = RpcFailure::new(
            json_rpc_error_codes::INVALID_REQUEST,
            "not a JSON-RPC 2.0 message",
        );
        return Reply::Send(failure_frame(&id, &failure));
    };
    let Some(id) = id else {
        // Notifications (`dispatchAction`, `unsubscribe`): nothing is subscribable
        // beyond the root yet, and the root has no actions.
        return Reply::Nothing;
    };
    let params = message.get("params").unwrap_or(&Value::Null);
    match answer(state, method, params) {
        Ok(result) => Reply::Send(success_frame(&id, &result)),
        Err(failure) if failure.code == ahp_error_codes::UNSUPPORTED_PROTOCOL_VERSION => {
            Reply::SendThenClose(failure_frame(&id, &failure), "no common protocol version")
        }
        Err(failure) => Reply::Send(failure_frame(&id, &failure)),
    }
}

fn answer(state: &mut ConnectionState, method: &str, params: &Value) -> Result<Value, RpcFailure> {
    match method {
        "ping" => Ok(Value::Null),
        "initialize" => initialize(state, params).and_then(to_value),
        "reconnect" => reconnect(state, params).and_then(to_value),
        "subscribe" => subscribe(params).and_then(to_value),
        known if NOT_YET.contains(&known) => Err(RpcFailure::new(
            json_rpc_error_codes::METHOD_NOT_FOUND,
            format!("`{known}` is not implemented yet by this hub"),
        )),
        unknown => Err(RpcFailure::new(
            json_rpc_error_codes::METHOD_NOT_FOUND,
            format!("unknown method `{unknown}`"),
        )),
    }
}

fn initialize(state: &mut ConnectionState, params: &Value) -> Result<InitializeResult, RpcFailure> {
    let offered = string_list(params, "protocolVersions").ok_or_else(|| {
        RpcFailure::new(
            json_rpc_error_codes::INVALID_PARAMS,
            "`protocolVersions` must be a list of version strings",
        )
    })?;
    let version = match negotiate_protocol_version(&offered) {
        Ok(Some(version)) => version.to_string(),
        Ok(None) => return Err(unsupported_version(&offered)),
        Err(reason) => {
            return Err(RpcFailure::new(
                json_rpc_error_codes::INVALID_PARAMS,
                reason,
            ));
        }
    };
    state.version = Some(version.clone());
    let wanted = string_list(params, "initialSubscriptions").unwrap_or_default();
    Ok(InitializeResult {
        protocol_version: version,
        server_seq: 0,
        server_info: Some(Implementation {
            name: PROVIDER.to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            title: None,
        }),
        meta: None,
        snapshots: snapshots_of(&wanted),
        default_directory: None,
        completion_trigger_characters: None,
        terminal_command_prefix: None,
        telemetry: None,
        automations: None,
    })
}

fn unsupported_version(offered: &[String]) -> RpcFailure {
    let supported: Vec<String> = SUPPORTED_PROTOCOL_VERSIONS
        .iter()
        .map(|v| v.to_string())
        .collect();
    RpcFailure {
        code: ahp_error_codes::UNSUPPORTED_PROTOCOL_VERSION,
        message: format!(
            "none of the offered protocol versions {offered:?} is supported (this hub speaks {})",
            supported.join(", ")
        ),
        data: Some(serde_json::json!({ "supportedVersions": supported })),
    }
}

/// `reconnect` as a connection's first message (or later). Lenient: a missing
/// `channel` (VS Code) is the root. There is nothing to replay yet, so the answer
/// is always fresh snapshots.
fn reconnect(state: &mut ConnectionState, params: &Value) -> Result<ReconnectResult, RpcFailure> {
    let channel = params
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or(ROOT_RESOURCE_URI);
    if channel != ROOT_RESOURCE_URI {
        return Err(RpcFailure::new(
            json_rpc_error_codes::INVALID_PARAMS,
            format!("`reconnect` belongs on {ROOT_RESOURCE_URI}, not {channel}"),
        ));
    }
    state
        .version
        .get_or_insert_with(|| ahp_types::PROTOCOL_VERSION.to_string());
    let subscriptions = string_list(params, "subscriptions").unwrap_or_default();
    Ok(ReconnectResult::Snapshot(ReconnectSnapshotResult {
        snapshots: snapshots_of(&subscriptions),
    }))
}

fn subscribe(params: &Value) -> Result<SubscribeResult, RpcFailure> {
    match params.get("channel").and_then(Value::as_str) {
        Some(ROOT_RESOURCE_URI) => Ok(SubscribeResult {
            snapshot: Some(root_snapshot()),
        }),
        Some(other) => Err(RpcFailure::new(
            ahp_error_codes::NOT_FOUND,
            format!("no channel {other}: only {ROOT_RESOURCE_URI} is served yet"),
        )),
        None => Err(RpcFailure::new(
            json_rpc_error_codes::INVALID_PARAMS,
            "`subscribe` needs a `channel`",
        )),
    }
}

/// Snapshots for the channels asked for that exist (only the root, so far).
fn snapshots_of(channels: &[String]) -> Vec<Snapshot> {
    let root = channels.iter().any(|c| c == ROOT_RESOURCE_URI);
    root.then(root_snapshot).into_iter().collect()
}

/// The root channel: the one agent the hub offers, the team.
pub fn root_snapshot() -> Snapshot {
    let team = AgentInfo {
        provider: PROVIDER.to_string(),
        display_name: "Ourocodus team".to_string(),
        description: "A team of coding agents behind one conversation".to_string(),
        models: Vec::new(),
        protected_resources: None,
        customizations: None,
        capabilities: None,
    };
    let root = RootState {
        agents: vec![team],
        active_sessions: Some(0),
        terminals: None,
        config: None,
        meta: None,
    };
    Snapshot {
        resource: ROOT_RESOURCE_URI.to_string(),
        state: SnapshotState::Root(Box::new(root)),
        from_seq: 0,
    }
}

fn string_list(params: &Value, key: &str) -> Option<Vec<String>> {
    let list = params.get(key)?.as_array()?;
    list.iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
#[path = "ahp_tests.rs"]
mod tests;
