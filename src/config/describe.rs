//! The resolved team as `ourocodus config check` prints it: plain aligned text, no
//! colour. Knows how to show a `Team`; nothing of loading one.

use std::fmt::Write;

use super::diagnostic::source_name;
use super::duration::format_duration;
use super::{
    ConfigOrigin, McpServerSpec, RestartPolicy, RoleSpec, SandboxMode, SandboxSettings,
    TaskSettings, Team, Timeouts, WorktreeSettings,
};
use crate::ids::Role;

/// Labels are padded to this width, so values line up.
const LABEL_WIDTH: usize = 13;
/// Long values (personas) wrap to keep lines within this many columns.
const LINE_WIDTH: usize = 80;
const ROLE_INDENT: &str = "  ";

/// Origin, route, then each role with every setting it resolved to.
pub fn describe_team(team: &Team) -> String {
    let mut out = String::new();
    let role_names: Vec<&str> = team.roles.keys().map(Role::as_str).collect();
    write_row(&mut out, "", "origin", &[describe_origin(&team.origin)]);
    write_row(&mut out, "", "route", &[join_roles(&team.route)]);
    write_row(&mut out, "", "roles", &[role_names.join(", ")]);
    for spec in team.roles.values() {
        out.push('\n');
        describe_role(&mut out, spec);
    }
    out
}

fn describe_origin(origin: &ConfigOrigin) -> String {
    match origin {
        ConfigOrigin::File(_) => source_name(origin),
        ConfigOrigin::BuiltIn => "built-in team (no config file found)".to_string(),
    }
}

fn join_roles(roles: &[Role]) -> String {
    let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
    names.join(", ")
}

fn describe_role(out: &mut String, spec: &RoleSpec) {
    let _ = writeln!(out, "[{}]", spec.role);
    let row =
        |out: &mut String, label: &str, lines: &[String]| write_row(out, ROLE_INDENT, label, lines);
    row(out, "command", &[command_line(&spec.command, &spec.args)]);
    row(out, "persona", &wrap(or_none(&spec.persona, "(none)")));
    row(
        out,
        "mode",
        &[spec
            .mode
            .clone()
            .unwrap_or_else(|| "(agent default)".into())],
    );
    row(out, "env", &[names_or_none(spec.env.keys())]);
    row(
        out,
        "directories",
        &[list_or_none(
            spec.directories.iter().map(|d| d.display().to_string()),
        )],
    );
    row(
        out,
        "allow",
        &[list_or_none(spec.tools_allow.iter().cloned())],
    );
    row(
        out,
        "deny",
        &[list_or_none(spec.tools_deny.iter().cloned())],
    );
    row(out, "mcp servers", &mcp_lines(&spec.mcp_servers));
    row(out, "restart", &[describe_restart(&spec.restart)]);
    row(out, "timeouts", &[describe_timeouts(&spec.timeouts)]);
    row(out, "sandbox", &describe_sandbox(&spec.sandbox));
    row(out, "tasks", &[describe_tasks(&spec.tasks)]);
    row(
        out,
        "worktree",
        &[describe_worktree(&spec.role, &spec.worktree)],
    );
}

/// `off`, or where the role's worktree goes and on which branch.
fn describe_worktree(role: &Role, worktree: &WorktreeSettings) -> String {
    if !worktree.enabled {
        return "off".to_string();
    }
    let dir = worktree.dir.join(role.as_str());
    let place = if dir.is_absolute() {
        dir.display().to_string()
    } else {
        format!("{} in the repository", dir.display())
    };
    format!("{place}, branch ourocodus/{role}")
}

fn describe_tasks(tasks: &TaskSettings) -> String {
    format!(
        "{}; timeout {}, {} retries",
        if tasks.can_delegate {
            "may delegate"
        } else {
            "does not delegate"
        },
        format_duration(tasks.timeout),
        tasks.retries
    )
}

/// The mode, then what it allows beyond the role's directories.
fn describe_sandbox(sandbox: &SandboxSettings) -> Vec<String> {
    let paths =
        |items: &[std::path::PathBuf]| list_or_none(items.iter().map(|p| p.display().to_string()));
    let mut lines = vec![sandbox.mode.as_str().to_string()];
    if sandbox.mode != SandboxMode::Off {
        lines.push(format!("writable also {}", paths(&sandbox.writable)));
        if let Some(readable) = &sandbox.readable {
            lines.push(format!("readable only {}", paths(readable)));
        }
        if sandbox.symlinks {
            lines.push("may make symlinks".to_string());
        }
    }
    if let Some(names) = &sandbox.env_inherit {
        lines.push(format!(
            "inherits env {}",
            list_or_none(names.iter().cloned())
        ));
    }
    lines
}

/// `label  first line`, then any further lines under the first.
fn write_row(out: &mut String, indent: &str, label: &str, lines: &[String]) {
    let mut lines = lines.iter();
    let first = lines.next().map_or("", String::as_str);
    let _ = writeln!(out, "{indent}{label:<LABEL_WIDTH$}{first}");
    for line in lines {
        let _ = writeln!(out, "{indent}{:LABEL_WIDTH$}{line}", "");
    }
}

fn or_none<'a>(text: &'a str, none: &'a str) -> &'a str {
    if text.trim().is_empty() { none } else { text }
}

fn list_or_none(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

/// Names only: values may be secrets.
fn names_or_none<'a>(names: impl Iterator<Item = &'a String>) -> String {
    list_or_none(names.cloned())
}

/// The command as a shell would take it, quoting what needs quoting.
fn command_line(command: &str, args: &[String]) -> String {
    let words: Vec<String> = std::iter::once(command)
        .chain(args.iter().map(String::as_str))
        .map(shell_quote)
        .collect();
    words.join(" ")
}

fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Splits text into lines of at most the room a value has, at spaces; keeps the
/// text's own line breaks.
fn wrap(text: &str) -> Vec<String> {
    let room = LINE_WIDTH - ROLE_INDENT.len() - LABEL_WIDTH;
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > room {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

fn mcp_lines(servers: &[McpServerSpec]) -> Vec<String> {
    if servers.is_empty() {
        return vec!["(none)".to_string()];
    }
    servers.iter().map(describe_mcp_server).collect()
}

fn describe_mcp_server(server: &McpServerSpec) -> String {
    match server {
        McpServerSpec::Stdio {
            name,
            command,
            args,
            env,
        } => with_names(
            format!("{name} (stdio): {}", command_line(command, args)),
            "env",
            env.keys(),
        ),
        McpServerSpec::Http { name, url, headers } => {
            with_names(format!("{name} (http): {url}"), "headers", headers.keys())
        }
        McpServerSpec::Sse { name, url, headers } => {
            with_names(format!("{name} (sse): {url}"), "headers", headers.keys())
        }
    }
}

/// Appends `; what: A, B` when there are names to show.
fn with_names<'a>(text: String, what: &str, names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        text
    } else {
        format!("{text}; {what}: {}", names.join(", "))
    }
}

fn describe_restart(restart: &RestartPolicy) -> String {
    let attempts = match restart.attempts {
        0 => "never".to_string(),
        1 => "1 attempt".to_string(),
        n => format!("{n} attempts"),
    };
    if restart.attempts == 0 {
        attempts
    } else {
        format!("{attempts}, {} backoff", format_duration(restart.backoff))
    }
}

fn describe_timeouts(timeouts: &Timeouts) -> String {
    format!(
        "initialize {}, session_new {}, silence {}",
        format_duration(timeouts.initialize),
        format_duration(timeouts.session_new),
        format_duration(timeouts.silence)
    )
}

/// A role's configuration as a record keeps it: what it runs and its policy, with
/// the names of its environment variables but never their values (they may be
/// credentials).
pub fn describe_role_json(spec: &RoleSpec) -> serde_json::Value {
    let directories: Vec<String> = spec
        .directories
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    let env: Vec<&String> = spec.env.keys().collect();
    serde_json::json!({
        "command": spec.command,
        "args": spec.args,
        "persona": spec.persona,
        "directories": directories,
        "toolsAllow": spec.tools_allow,
        "toolsDeny": spec.tools_deny,
        "mode": spec.mode,
        "envNames": env,
        "sandbox": spec.sandbox.mode.as_str(),
        "worktree": spec.worktree.enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builtin_team;
    use crate::config::test_support::load;

    const TEAM: &str = r#"
[defaults]
route = ["backend", "test"]
env = { TOKEN = "secret-value" }
[roles.backend]
persona = "Backend developer: APIs, data, persistence."
directories = ["src/backend", "api"]
tools_deny = ["execute"]
mode = "default"
worktree = true
[roles.test]
command = "ourocodus"
args = ["fake-agent", "--script", "my script.json"]
restart = { attempts = 0 }
timeouts = { silence = "90s" }
mcp_servers = [
  { name = "db", command = "db-mcp", env = { DB_PASSWORD = "hunter2" } },
  { name = "docs", type = "sse", url = "https://example.com/sse", headers = { Authorization = "Bearer x" } },
]
"#;

    #[test]
    fn describe_names_origin_route_and_roles_first() {
        let text = describe_team(&load(TEAM));
        let head: Vec<&str> = text.lines().take(3).collect();
        assert_eq!(
            head,
            [
                "origin       team.toml",
                "route        backend, test",
                "roles        backend, test",
            ]
        );
    }

    #[test]
    fn describe_shows_every_setting_of_a_role_aligned() {
        let text = describe_team(&load(TEAM));
        let backend = "\
[backend]
  command      npx -y @agentclientprotocol/claude-agent-acp
  persona      Backend developer: APIs, data, persistence.
  mode         default
  env          TOKEN
  directories  src/backend, api
  allow        *
  deny         execute
  mcp servers  (none)
  restart      3 attempts, 500ms backoff
  timeouts     initialize 30s, session_new 1m, silence 2m
  sandbox      auto
               writable also (none)
  tasks        does not delegate; timeout 30m, 3 retries
  worktree     .ourocodus/worktrees/backend in the repository, branch ourocodus/backend
";
        assert!(text.contains(backend), "{text}");
    }

    #[test]
    fn describe_quotes_arguments_and_lists_mcp_servers_one_per_line() {
        let text = describe_team(&load(TEAM));
        assert!(
            text.contains("  command      ourocodus fake-agent --script 'my script.json'\n"),
            "{text}"
        );
        assert!(
            text.contains("  mcp servers  db (stdio): db-mcp; env: DB_PASSWORD\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "               docs (sse): https://example.com/sse; headers: Authorization\n"
            ),
            "{text}"
        );
        assert!(text.contains("  restart      never\n"), "{text}");
        assert!(text.contains("silence 90s\n"), "{text}");
        assert!(text.contains("  persona      (none)\n"), "{text}");
        assert!(text.contains("  mode         (agent default)\n"), "{text}");
        assert!(text.contains("  worktree     off\n"), "{text}");
    }

    #[test]
    fn describe_never_prints_env_or_header_values() {
        let text = describe_team(&load(TEAM));
        for secret in ["secret-value", "hunter2", "Bearer"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }

    #[test]
    fn describe_wraps_long_personas_under_the_value_column() {
        let text = describe_team(&builtin_team());
        assert!(
            text.starts_with("origin       built-in team (no config file found)\n"),
            "{text}"
        );
        assert!(
            text.lines().all(|line| line.chars().count() <= LINE_WIDTH),
            "{text}"
        );
        let persona_continues = text
            .lines()
            .skip_while(|line| !line.starts_with("  persona"))
            .nth(1)
            .is_some_and(|line| line.starts_with(&" ".repeat(ROLE_INDENT.len() + LABEL_WIDTH)));
        assert!(persona_continues, "{text}");
    }

    #[test]
    fn shell_quoting_leaves_plain_words_alone() {
        assert_eq!(shell_quote("-y"), "-y");
        assert_eq!(shell_quote("@scope/pkg"), "@scope/pkg");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
