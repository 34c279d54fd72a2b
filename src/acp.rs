//! The few ACP v1 shapes the proxy looks inside. Everything else stays raw JSON text;
//! parsing here is lenient where the schema says "default on error".

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Method names of ACP v1 that the proxy serves, calls or relays.
pub mod method {
    pub const INITIALIZE: &str = "initialize";
    pub const AUTHENTICATE: &str = "authenticate";
    pub const SESSION_NEW: &str = "session/new";
    pub const SESSION_LOAD: &str = "session/load";
    pub const SESSION_RESUME: &str = "session/resume";
    pub const SESSION_LIST: &str = "session/list";
    pub const SESSION_CLOSE: &str = "session/close";
    pub const SESSION_PROMPT: &str = "session/prompt";
    pub const SESSION_CANCEL: &str = "session/cancel";
    pub const SESSION_SET_MODE: &str = "session/set_mode";
    pub const SESSION_SET_CONFIG_OPTION: &str = "session/set_config_option";
    pub const SESSION_UPDATE: &str = "session/update";
    pub const REQUEST_PERMISSION: &str = "session/request_permission";
    pub const FS_READ: &str = "fs/read_text_file";
    pub const FS_WRITE: &str = "fs/write_text_file";
    pub const ELICITATION_CREATE: &str = "elicitation/create";
    pub const ELICITATION_COMPLETE: &str = "elicitation/complete";
    pub const CANCEL_REQUEST: &str = "$/cancel_request";
    pub const TERMINAL_CREATE: &str = "terminal/create";
    pub const TERMINAL_OUTPUT: &str = "terminal/output";
    pub const TERMINAL_WAIT_FOR_EXIT: &str = "terminal/wait_for_exit";
    pub const TERMINAL_KILL: &str = "terminal/kill";
    pub const TERMINAL_RELEASE: &str = "terminal/release";
}

pub const PROTOCOL_VERSION: u64 = 1;

/// What an ACP client said it can do, reduced to what the proxy acts on.
#[derive(Debug, Clone, Default)]
pub struct EditorCapabilities {
    pub fs_read: bool,
    pub fs_write: bool,
    pub terminal: bool,
    pub notices: bool,
    pub subagents: bool,
    /// The editor's `elicitation` object, relayed to children as is.
    pub elicitation: Option<Value>,
    /// The editor's `session.configOptions` object, relayed to children as is.
    pub config_options: Option<Value>,
}

impl EditorCapabilities {
    /// Reads `clientCapabilities`; anything malformed counts as unsupported.
    pub fn from_client_capabilities(caps: &Value) -> Self {
        let flag = |v: Option<&Value>| v.and_then(Value::as_bool).unwrap_or(false);
        let object = |v: Option<&Value>| v.filter(|v| v.is_object()).cloned();
        let fs = caps.get("fs");
        let session = caps.get("session");
        EditorCapabilities {
            fs_read: flag(fs.and_then(|f| f.get("readTextFile"))),
            fs_write: flag(fs.and_then(|f| f.get("writeTextFile"))),
            terminal: flag(caps.get("terminal")),
            notices: object(session.and_then(|s| s.get("notices"))).is_some(),
            subagents: object(caps.get("subagents")).is_some(),
            elicitation: object(caps.get("elicitation")),
            config_options: object(session.and_then(|s| s.get("configOptions"))),
        }
    }
}

/// What a child said it can do, reduced to what the proxy acts on.
#[derive(Debug, Clone, Default)]
pub struct ChildCapabilities {
    pub load_session: bool,
    pub resume: bool,
    pub close: bool,
    pub image: bool,
    pub audio: bool,
    pub embedded_context: bool,
    pub mcp_http: bool,
    pub mcp_sse: bool,
    pub additional_directories: bool,
    pub agent_name: String,
    pub agent_version: String,
}

impl ChildCapabilities {
    /// Reads an `initialize` result; anything malformed counts as unsupported.
    pub fn from_initialize_result(result: &Value) -> Self {
        let caps = result
            .get("agentCapabilities")
            .cloned()
            .unwrap_or(Value::Null);
        let flag = |path: &[&str]| {
            let mut v = &caps;
            for key in path {
                v = match v.get(key) {
                    Some(next) => next,
                    None => return false,
                };
            }
            v.as_bool().unwrap_or(false) || v.is_object()
        };
        let info = result.get("agentInfo");
        let text = |key| {
            info.and_then(|i| i.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        ChildCapabilities {
            load_session: flag(&["loadSession"]),
            resume: flag(&["sessionCapabilities", "resume"]),
            close: flag(&["sessionCapabilities", "close"]),
            image: flag(&["promptCapabilities", "image"]),
            audio: flag(&["promptCapabilities", "audio"]),
            embedded_context: flag(&["promptCapabilities", "embeddedContext"]),
            mcp_http: flag(&["mcpCapabilities", "http"]),
            mcp_sse: flag(&["mcpCapabilities", "sse"]),
            additional_directories: flag(&["sessionCapabilities", "additionalDirectories"]),
            agent_name: text("name"),
            agent_version: text("version"),
        }
    }
}

/// `session/new` params from the editor.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSessionParams {
    pub cwd: String,
    #[serde(default)]
    pub mcp_servers: Vec<Value>,
    #[serde(default)]
    pub additional_directories: Option<Vec<String>>,
}

/// `session/prompt` params from the editor.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptParams {
    pub session_id: String,
    pub prompt: Vec<Value>,
    #[serde(default, rename = "_meta")]
    pub meta: Option<Value>,
}

/// Params that only name a session (`session/cancel`, `session/close`, ...).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRef<'a> {
    #[serde(borrow)]
    pub session_id: std::borrow::Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetModeParams {
    pub session_id: String,
    pub mode_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetConfigOptionParams {
    pub session_id: String,
    pub config_id: String,
    pub value: Value,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequestParams {
    pub request_id: crate::jsonrpc::RequestId,
}

/// Parses params into `T`, naming the problem for a -32602 reply.
pub fn parse_params<'a, T: Deserialize<'a>>(params: Option<&'a str>) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_str(params.unwrap_or("{}"));
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || inner.to_string().contains("missing field") {
            inner.to_string()
        } else {
            format!("field `{path}`: {inner}")
        }
    })
}

/// A stop reason as the children report it.
pub fn stop_reason_of(result: &str) -> String {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PromptResult {
        stop_reason: Option<String>,
    }
    serde_json::from_str::<PromptResult>(result)
        .ok()
        .and_then(|r| r.stop_reason)
        .unwrap_or_else(|| "end_turn".to_string())
}

/// The text of a text content block, if it is one.
pub fn text_of_block(block: &Value) -> Option<&str> {
    (block.get("type")?.as_str()? == "text")
        .then(|| block.get("text")?.as_str())
        .flatten()
}

/// A `_meta` object that carries `_meta.ourocodus.role`.
pub fn role_meta(role: &str) -> Value {
    json!({ "ourocodus": { "role": role } })
}

/// Sets `_meta.ourocodus.role` on a JSON object, keeping every other `_meta` key.
pub fn set_role_meta(object: &mut Map<String, Value>, role: &str) {
    let meta = object
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Some(meta) = meta.as_object_mut() {
        let ours = meta
            .entry("ourocodus")
            .or_insert_with(|| Value::Object(Map::new()));
        if !ours.is_object() {
            *ours = Value::Object(Map::new());
        }
        ours["role"] = Value::String(role.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_capabilities_read_flags_and_presence_objects() {
        let caps = EditorCapabilities::from_client_capabilities(&json!({
            "fs": {"readTextFile": true, "writeTextFile": false},
            "terminal": true,
            "session": {"notices": {}},
            "subagents": {},
        }));
        assert!(caps.fs_read && !caps.fs_write && caps.terminal && caps.notices && caps.subagents);
        let none =
            EditorCapabilities::from_client_capabilities(&json!({"fs": 3, "terminal": "yes"}));
        assert!(!none.fs_read && !none.terminal && !none.subagents);
    }

    #[test]
    fn params_errors_name_the_field() {
        let e =
            parse_params::<PromptParams>(Some(r#"{"sessionId": 1, "prompt": []}"#)).unwrap_err();
        assert!(e.starts_with("field `sessionId`:"), "{e}");
        let e = parse_params::<PromptParams>(Some(r#"{"prompt": []}"#)).unwrap_err();
        assert!(e.contains("missing field `sessionId`"), "{e}");
    }

    #[test]
    fn set_role_meta_keeps_foreign_meta() {
        let mut obj = json!({"_meta": {"claudeCode": {"toolName": "Bash"}}});
        set_role_meta(obj.as_object_mut().unwrap(), "backend");
        assert_eq!(obj["_meta"]["claudeCode"]["toolName"], "Bash");
        assert_eq!(obj["_meta"]["ourocodus"]["role"], "backend");
    }
}
