//! A role's configured MCP servers in ACP's `McpServer` shape, as each child's
//! `session/new` carries them. Knows the config's shape and ACP's; nothing of
//! sessions.

use serde_json::{Value, json};

use crate::config::McpServerSpec;

fn name_value_list(map: &indexmap::IndexMap<String, String>) -> Value {
    Value::Array(
        map.iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect(),
    )
}

/// A configured MCP server in ACP's `McpServer` shape.
pub(super) fn mcp_server_json(server: &McpServerSpec) -> Value {
    match server {
        McpServerSpec::Stdio {
            name,
            command,
            args,
            env,
        } => {
            json!({ "name": name, "command": command, "args": args, "env": name_value_list(env) })
        }
        McpServerSpec::Http { name, url, headers } => {
            json!({ "type": "http", "name": name, "url": url, "headers": name_value_list(headers) })
        }
        McpServerSpec::Sse { name, url, headers } => {
            json!({ "type": "sse", "name": name, "url": url, "headers": name_value_list(headers) })
        }
    }
}
