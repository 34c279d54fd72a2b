//! `mcp_servers` entries: a program on stdio `{ name, command, args, env }` or a
//! server over the network `{ name, type = "http" | "sse", url, headers }`. Knows
//! these shapes; nothing of how servers are handed to agents.

use std::collections::HashSet;
use std::ops::Range;

use indexmap::IndexMap;
use toml::de::DeTable;

use super::McpServerSpec;
use super::diagnostic::ConfigError;
use super::fields::{Place, Value};

const STDIO_KEYS: &[&str] = &["name", "type", "command", "args", "env"];
const NETWORK_KEYS: &[&str] = &["name", "type", "url", "headers"];
const TRANSPORTS: &str = "stdio, http, sse";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Stdio,
    Http,
    Sse,
}

/// An array of server tables, with names unique within it.
pub fn read_mcp_servers(
    place: &Place<'_>,
    key: &str,
    value: &Value<'_>,
) -> Result<Vec<McpServerSpec>, ConfigError> {
    let entries = place.as_array(key, value, "an array of tables")?;
    let mut names = HashSet::new();
    let mut servers = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let table = place.as_table(&format!("{key}[{index}]"), entry)?;
        let entry_place = place.entry(key, index);
        let server = read_server(&entry_place, table, entry.span())?;
        if !names.insert(server_name(&server).to_string()) {
            return Err(duplicate_name(&entry_place, table, entry.span(), &server));
        }
        servers.push(server);
    }
    Ok(servers)
}

fn read_server(
    place: &Place<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
) -> Result<McpServerSpec, ConfigError> {
    let transport = read_transport(place, table)?;
    let allowed = match transport {
        Transport::Stdio => STDIO_KEYS,
        Transport::Http | Transport::Sse => NETWORK_KEYS,
    };
    place.check_keys(table, allowed)?;
    let name = place.non_empty_string("name", place.required(table, span.clone(), "name")?)?;
    match transport {
        Transport::Stdio => read_stdio(place, table, span, name),
        Transport::Http => {
            let (url, headers) = read_endpoint(place, table, span)?;
            Ok(McpServerSpec::Http { name, url, headers })
        }
        Transport::Sse => {
            let (url, headers) = read_endpoint(place, table, span)?;
            Ok(McpServerSpec::Sse { name, url, headers })
        }
    }
}

fn read_transport(place: &Place<'_>, table: &DeTable<'_>) -> Result<Transport, ConfigError> {
    let Some(value) = table.get("type") else {
        return Ok(Transport::Stdio);
    };
    match place.string("type", value)?.as_str() {
        "stdio" => Ok(Transport::Stdio),
        "http" => Ok(Transport::Http),
        "sse" => Ok(Transport::Sse),
        other => Err(place.error(
            value.span(),
            format!(
                "unknown mcp server type `{other}` {} (expected one of: {TRANSPORTS})",
                place.label()
            ),
        )),
    }
}

fn read_stdio(
    place: &Place<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
    name: String,
) -> Result<McpServerSpec, ConfigError> {
    let command = place.required(table, span, "command")?;
    Ok(McpServerSpec::Stdio {
        name,
        command: place.non_empty_string("command", command)?,
        args: optional(table, "args", |value| place.strings("args", value))?,
        env: optional(table, "env", |value| place.string_map("env", value))?,
    })
}

/// The `url` and `headers` of a server over the network.
fn read_endpoint(
    place: &Place<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
) -> Result<(String, IndexMap<String, String>), ConfigError> {
    let url = place.non_empty_string("url", place.required(table, span, "url")?)?;
    let headers = optional(table, "headers", |value| place.string_map("headers", value))?;
    Ok((url, headers))
}

/// The value under `key`, read by `read`, or the empty default when absent.
fn optional<T: Default>(
    table: &DeTable<'_>,
    key: &str,
    read: impl FnOnce(&Value<'_>) -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    table
        .get(key)
        .map(read)
        .transpose()
        .map(Option::unwrap_or_default)
}

fn server_name(server: &McpServerSpec) -> &str {
    match server {
        McpServerSpec::Stdio { name, .. }
        | McpServerSpec::Http { name, .. }
        | McpServerSpec::Sse { name, .. } => name,
    }
}

fn duplicate_name(
    place: &Place<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
    server: &McpServerSpec,
) -> ConfigError {
    let span = table.get("name").map_or(span, |name| name.span());
    let message = format!(
        "duplicate mcp server name `{}` {}",
        server_name(server),
        place.label()
    );
    place.error(span, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{load, load_error};

    fn servers(text: &str) -> Vec<McpServerSpec> {
        load(text).roles["a"].mcp_servers.clone()
    }

    #[test]
    fn stdio_http_and_sse_servers_all_parse() {
        let found = servers(
            r#"[roles.a]
mcp_servers = [
  { name = "db", command = "db-mcp", args = ["--ro"], env = { DB = "x" } },
  { name = "docs", type = "http", url = "https://example.com/mcp", headers = { Authorization = "t" } },
  { name = "feed", type = "sse", url = "https://example.com/sse" },
  { name = "plain", type = "stdio", command = "plain-mcp" },
]
"#,
        );
        let header =
            |key: &str, value: &str| IndexMap::from([(key.to_string(), value.to_string())]);
        assert_eq!(
            found,
            [
                McpServerSpec::Stdio {
                    name: "db".into(),
                    command: "db-mcp".into(),
                    args: vec!["--ro".into()],
                    env: header("DB", "x"),
                },
                McpServerSpec::Http {
                    name: "docs".into(),
                    url: "https://example.com/mcp".into(),
                    headers: header("Authorization", "t"),
                },
                McpServerSpec::Sse {
                    name: "feed".into(),
                    url: "https://example.com/sse".into(),
                    headers: IndexMap::new(),
                },
                McpServerSpec::Stdio {
                    name: "plain".into(),
                    command: "plain-mcp".into(),
                    args: Vec::new(),
                    env: IndexMap::new(),
                },
            ]
        );
    }

    #[test]
    fn servers_may_be_written_as_an_array_of_tables() {
        let found =
            servers("[roles.a]\n[[roles.a.mcp_servers]]\nname = \"db\"\ncommand = \"db-mcp\"\n");
        assert!(matches!(&found[..], [McpServerSpec::Stdio { name, .. }] if name == "db"));
    }

    #[test]
    fn missing_keys_point_at_the_entry() {
        assert_eq!(
            load_error("[roles.a]\nmcp_servers = [{ command = \"x\" }]\n"),
            "team.toml:2:16: missing key `name` in [roles.a.mcp_servers] entry 1"
        );
        assert_eq!(
            load_error("[roles.a]\nmcp_servers = [{ name = \"x\" }]\n"),
            "team.toml:2:16: missing key `command` in [roles.a.mcp_servers] entry 1"
        );
        assert_eq!(
            load_error("[roles.a]\n[[roles.a.mcp_servers]]\nname = \"x\"\ntype = \"http\"\n"),
            "team.toml:2:1: missing key `url` in [roles.a.mcp_servers] entry 1"
        );
    }

    #[test]
    fn keys_of_the_other_transport_are_unknown() {
        assert_eq!(
            load_error(
                "[roles.a]\nmcp_servers = [{ name = \"x\", command = \"c\", url = \"u\" }]\n"
            ),
            "team.toml:2:45: unknown key `url` in [roles.a.mcp_servers] entry 1 \
             (expected one of: name, type, command, args, env)"
        );
        assert_eq!(
            load_error(
                "[roles.a]\nmcp_servers = [{ name = \"x\", type = \"sse\", url = \"u\", args = [] }]\n"
            ),
            "team.toml:2:55: unknown key `args` in [roles.a.mcp_servers] entry 1 \
             (expected one of: name, type, url, headers)"
        );
    }

    #[test]
    fn unknown_transport_type_is_rejected() {
        assert_eq!(
            load_error("[roles.a]\nmcp_servers = [{ name = \"x\", type = \"ws\", url = \"u\" }]\n"),
            "team.toml:2:37: unknown mcp server type `ws` in [roles.a.mcp_servers] entry 1 \
             (expected one of: stdio, http, sse)"
        );
    }

    #[test]
    fn empty_mcp_command_name_or_url_is_rejected() {
        assert_eq!(
            load_error("[roles.a]\nmcp_servers = [{ name = \"x\", command = \"\" }]\n"),
            "team.toml:2:40: empty `command` in [roles.a.mcp_servers] entry 1"
        );
        assert_eq!(
            load_error("[roles.a]\nmcp_servers = [{ name = \"\", command = \"c\" }]\n"),
            "team.toml:2:25: empty `name` in [roles.a.mcp_servers] entry 1"
        );
        assert_eq!(
            load_error(
                "[roles.a]\nmcp_servers = [{ name = \"x\", type = \"http\", url = \"\" }]\n"
            ),
            "team.toml:2:51: empty `url` in [roles.a.mcp_servers] entry 1"
        );
    }

    #[test]
    fn duplicate_server_names_in_one_role_are_rejected() {
        assert_eq!(
            load_error(
                "[roles.a]\nmcp_servers = [\n  { name = \"db\", command = \"a\" },\n  { name = \"db\", command = \"b\" },\n]\n"
            ),
            "team.toml:4:12: duplicate mcp server name `db` in [roles.a.mcp_servers] entry 2"
        );
    }

    #[test]
    fn wrongly_shaped_server_lists_are_rejected() {
        assert_eq!(
            load_error("[roles.a]\nmcp_servers = { name = \"x\" }\n"),
            "team.toml:2:15: wrong type for `mcp_servers` in [roles.a]: expected an array of tables, found a table"
        );
        assert_eq!(
            load_error("[roles.a]\nmcp_servers = [\"db\"]\n"),
            "team.toml:2:16: wrong type for `mcp_servers[0]` in [roles.a]: expected a table, found a string"
        );
    }
}
