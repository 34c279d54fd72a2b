//! Per-adapter deviations, chosen by the `agentInfo.name` a child reports. The Claude
//! Code adapter takes a persona through `_meta.systemPrompt.append` and SDK options
//! through `_meta.claudeCode.options`; other agents get a first-turn preamble.

use serde_json::{Value, json};

use crate::config::RoleSpec;
use crate::ids::Role;

/// What an adapter's state path is: a directory (made if missing) or a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    Directory,
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirks {
    /// `@agentclientprotocol/claude-agent-acp` and its predecessor `@zed-industries/claude-code-acp`.
    ClaudeCode,
    /// Any other ACP agent.
    Generic,
}

/// Claude Code tools per ACP tool kind, to pass a role's denials to the adapter too.
const CLAUDE_TOOLS_BY_KIND: &[(&str, &[&str])] = &[
    ("execute", &["Bash", "BashOutput", "KillShell"]),
    ("edit", &["Edit", "MultiEdit", "Write", "NotebookEdit"]),
    ("fetch", &["WebFetch", "WebSearch"]),
    ("read", &["Read"]),
    ("search", &["Glob", "Grep"]),
];

impl Quirks {
    pub fn from_agent_name(name: &str) -> Self {
        let name = name.to_ascii_lowercase();
        if name.contains("claude-agent-acp") || name.contains("claude-code-acp") {
            Quirks::ClaudeCode
        } else {
            Quirks::Generic
        }
    }

    /// The adapter a command line starts, as far as it can be told before it runs (the
    /// sandbox is made before the agent can name itself).
    pub fn from_command_line(command: &str, args: &[String]) -> Self {
        let named = std::iter::once(command)
            .chain(args.iter().map(String::as_str))
            .any(|word| Quirks::from_agent_name(word) == Quirks::ClaudeCode);
        if named {
            Quirks::ClaudeCode
        } else {
            Quirks::Generic
        }
    }

    /// What the adapter writes besides the project, relative to the home directory,
    /// and whether each is a directory: npm's cache for every agent (agents start
    /// through `npx`), and Claude Code's settings, sessions and credentials.
    pub fn state_paths(self) -> &'static [(&'static str, StateKind)] {
        use StateKind::{Directory, File};
        match self {
            Quirks::ClaudeCode => &[
                (".npm", Directory),
                (".claude", Directory),
                (".claude.json", File),
                (".claude.json.backup", File),
                (".cache/claude-cli-nodejs", Directory),
            ],
            Quirks::Generic => &[(".npm", Directory)],
        }
    }

    /// Whether the persona travels in `session/new` (else as a first-turn preamble).
    pub fn takes_system_prompt(self) -> bool {
        self == Quirks::ClaudeCode
    }

    /// `_meta` for the child's `session/new`, if this adapter takes one.
    pub fn session_new_meta(self, spec: &RoleSpec, team: &[Role]) -> Option<Value> {
        match self {
            Quirks::ClaudeCode => {
                let mut meta = json!({
                    // `append` keeps Claude Code's own system prompt; a plain string would replace it.
                    "systemPrompt": { "append": persona_preamble(spec, team) },
                });
                let disallowed = claude_disallowed_tools(&spec.tools_deny);
                if !disallowed.is_empty() {
                    meta["claudeCode"] = json!({ "options": { "disallowedTools": disallowed } });
                }
                Some(meta)
            }
            Quirks::Generic => None,
        }
    }

    /// What to tell the user when this adapter says authentication is required.
    pub fn auth_hint(self) -> &'static str {
        match self {
            Quirks::ClaudeCode => {
                "log in with `claude /login` in a terminal, or set ANTHROPIC_API_KEY in the role's env"
            }
            Quirks::Generic => "authenticate this agent outside the editor, then /restart the role",
        }
    }
}

/// Claude tool names for the role's denied kinds and names (a second line of defence;
/// the proxy's own permission and write checks stay the guarantee).
fn claude_disallowed_tools(deny: &[String]) -> Vec<String> {
    let mut tools = Vec::new();
    for pattern in deny {
        let by_kind = CLAUDE_TOOLS_BY_KIND
            .iter()
            .find(|(kind, _)| kind.eq_ignore_ascii_case(pattern));
        match by_kind {
            Some((_, names)) => tools.extend(names.iter().map(|n| n.to_string())),
            None if !pattern.contains(['*', '?']) && pattern.starts_with(char::is_uppercase) => {
                tools.push(pattern.clone())
            }
            None => {}
        }
    }
    tools.dedup();
    tools
}

/// Who the role is and how the team works, for a system prompt or a first turn.
pub fn persona_preamble(spec: &RoleSpec, team: &[Role]) -> String {
    let others: Vec<&str> = team
        .iter()
        .filter(|r| **r != spec.role)
        .map(Role::as_str)
        .collect();
    let mut text = format!(
        "You are the `{}` role in a team of coding agents run by Ourocodus.",
        spec.role
    );
    if !spec.persona.is_empty() {
        let persona = spec.persona.trim_end();
        let stop = if persona.ends_with(['.', '!', '?']) {
            ""
        } else {
            "."
        };
        text.push_str(&format!(" Your persona: {persona}{stop}"));
    }
    if !others.is_empty() {
        text.push_str(&format!(" The other roles are: {}.", others.join(", ")));
    }
    let dirs: Vec<String> = spec
        .directories
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    if dirs != ["."] {
        text.push_str(&format!(
            " Your file writes may only land under: {} (relative to the project root).",
            dirs.join(", ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claude_adapter_is_recognised_by_its_agent_name() {
        assert_eq!(
            Quirks::from_agent_name("@agentclientprotocol/claude-agent-acp"),
            Quirks::ClaudeCode
        );
        assert_eq!(
            Quirks::from_agent_name("@zed-industries/claude-code-acp"),
            Quirks::ClaudeCode
        );
        assert_eq!(
            Quirks::from_agent_name("ourocodus-fake-agent"),
            Quirks::Generic
        );
    }

    #[test]
    fn denied_kinds_become_claude_tool_names() {
        let tools =
            claude_disallowed_tools(&["execute".into(), "WebFetch".into(), "mcp__*".into()]);
        assert_eq!(tools, vec!["Bash", "BashOutput", "KillShell", "WebFetch"]);
    }
}
