//! The Agent Host Protocol's envelope as the hub reads it: each text frame one
//! JSON-RPC message, sorted into requests, notifications and what is refused;
//! version negotiation; the root channel's description; the methods the hub does
//! not serve, refused by name. Knows nothing of sockets, tokens or sessions.

use ahp_types::commands::{Implementation, InitializeResult};
use ahp_types::errors::{ahp_error_codes, json_rpc_error_codes};
use ahp_types::state::{AgentInfo, RootState, Snapshot, SnapshotState};
use ahp_types::{ROOT_RESOURCE_URI, SUPPORTED_PROTOCOL_VERSIONS, negotiate_protocol_version};
use serde_json::Value;

use super::rpc::{RpcFailure, failure_frame};

/// The AHP provider id the team is listed under.
pub const PROVIDER: &str = "ourocodus";

/// AHP methods a client may send that the hub does not serve yet: refused as
/// "not implemented yet" rather than "unknown".
const NOT_YET: &[&str] = &[
    "createChat",
    "disposeChat",
    "moveChat",
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

/// One frame, sorted.
#[derive(Debug)]
pub enum Incoming<'a> {
    Request {
        id: Value,
        method: &'a str,
        params: &'a Value,
    },
    Notification {
        method: &'a str,
        params: &'a Value,
    },
    /// A response from the client (the hub sends no requests yet): nothing to do.
    Response,
    /// Not JSON-RPC 2.0: this error frame goes back.
    Invalid(String),
}

static NULL: Value = Value::Null;

/// Sorts a parsed frame (or answers a parse failure).
pub fn classify(message: &Result<Value, String>) -> Incoming<'_> {
    let message = match message {
        Ok(message) => message,
        Err(e) => {
            let failure = RpcFailure::new(json_rpc_error_codes::PARSE_ERROR, e.clone());
            return Incoming::Invalid(failure_frame(&Value::Null, &failure));
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
            return Incoming::Response;
        }
        let id = id.filter(|_| valid_id).unwrap_or(Value::Null);
        let failure = RpcFailure::new(
            json_rpc_error_codes::INVALID_REQUEST,
            "not a JSON-RPC 2.0 message",
        );
        return Incoming::Invalid(failure_frame(&id, &failure));
    };
    let params = message.get("params").unwrap_or(&NULL);
    match id {
        Some(id) => Incoming::Request { id, method, params },
        None => Incoming::Notification { method, params },
    }
}

/// The answer to a method the hub does not serve.
pub fn not_served(method: &str) -> RpcFailure {
    if NOT_YET.contains(&method) {
        return RpcFailure::new(
            json_rpc_error_codes::METHOD_NOT_FOUND,
            format!("`{method}` is not implemented yet by this hub"),
        );
    }
    RpcFailure::new(
        json_rpc_error_codes::METHOD_NOT_FOUND,
        format!("unknown method `{method}`"),
    )
}

/// The version `initialize` agrees on, from the client's offer.
pub fn negotiate(params: &Value) -> Result<String, RpcFailure> {
    let offered = string_list(params, "protocolVersions").ok_or_else(|| {
        RpcFailure::new(
            json_rpc_error_codes::INVALID_PARAMS,
            "`protocolVersions` must be a list of version strings",
        )
    })?;
    match negotiate_protocol_version(&offered) {
        Ok(Some(version)) => Ok(version.to_string()),
        Ok(None) => Err(unsupported_version(&offered)),
        Err(reason) => Err(RpcFailure::new(
            json_rpc_error_codes::INVALID_PARAMS,
            reason,
        )),
    }
}

/// The result of `initialize`, around the snapshots asked for.
pub fn initialize_result(
    version: String,
    server_seq: i64,
    snapshots: Vec<Snapshot>,
) -> InitializeResult {
    InitializeResult {
        protocol_version: version,
        server_seq,
        server_info: Some(Implementation {
            name: PROVIDER.to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            title: None,
        }),
        meta: None,
        snapshots,
        default_directory: None,
        completion_trigger_characters: None,
        terminal_command_prefix: None,
        telemetry: None,
        automations: None,
    }
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

pub fn string_list(params: &Value, key: &str) -> Option<Vec<String>> {
    let list = params.get(key)?.as_array()?;
    list.iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}
