//! The starter configuration `ourocodus init` writes, which is also the built-in team
//! (one source of truth). Knows the starter's text; loading is `load`'s job.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::Path;

use super::{ConfigOrigin, Team, load_str};
use crate::error::Error;

const STARTER_TOML: &str = r#"# Ourocodus team configuration.
#
# Your editor sees one ACP agent. Behind it, Ourocodus runs one coding agent per
# role below; a prompt that names a role goes to that role, and a prompt that
# names none goes to the roles in `route`.
#
# Where Ourocodus looks for this file (the first one found wins):
#   1. the file given with `ourocodus acp --config FILE` (it must exist)
#   2. ./ourocodus.toml in the directory the editor starts Ourocodus in
#   3. $XDG_CONFIG_HOME/ourocodus/config.toml ($XDG_CONFIG_HOME defaults to ~/.config)
#   4. the built-in team, which is exactly this file as `ourocodus init` writes it
#
# `ourocodus config check [FILE]` validates a file and prints the resolved team.

# Settings every role inherits unless it sets the key itself. A role's value
# replaces the default; lists are replaced whole, while `env`, `restart` and
# `timeouts` merge key by key. Every role key may be set here.
[defaults]

# The ACP agent a role runs: a program and its arguments. Any ACP agent works,
# and a role may run a different one.
command = "npx"
args = ["-y", "@agentclientprotocol/claude-agent-acp"]

# Extra environment for the agent, on top of Ourocodus's own. Values are strings.
# env = { IS_SANDBOX = "1" }

# The ACP mode set on the agent after session/new, if the agent offers it.
# Without it the agent keeps its own default mode.
# mode = "default"

# The roles that get a prompt which names no role. Without it, the first role.
route = ["architect"]

# Who the role is, given to its agent as part of its instructions. Usually set
# per role, as below.
# persona = ""

# Where the role's file writes may land, relative to the session's working
# directory (or absolute). "." is the whole project.
directories = ["."]

# Permission policy, decided by Ourocodus before the editor asks you. Patterns
# match ACP tool kinds (read, edit, delete, move, search, execute, think, fetch)
# or the agent's own tool names (Claude's Bash, Write, ...), with * and ? as
# wildcards. A request matching tools_deny is rejected without asking; one
# matching a tools_allow entry other than "*" is allowed without asking; the
# rest are asked in the editor. tools_deny wins over tools_allow.
tools_allow = ["*"]
tools_deny = []

# The kernel sandbox (Linux Landlock) around the role's agent and everything it
# starts: it may write only to its directories, a private temporary directory
# (its TMPDIR), the state and cache directories its adapter needs, the
# sandbox_writable entries and the usual device files. "auto" applies it where
# the kernel can and says so once where it cannot; "require" refuses to start
# the role without it; "off" lets the agent write wherever you can.
sandbox = "auto"
sandbox_writable = []
# Reading stays open unless narrowed to these (plus what programs need to run):
# sandbox_readable = ["."]
# The agent may not make symlinks, so none can redirect a later write:
sandbox_symlinks = false
# Tasks: whether the role may hand tasks to other roles (by default only a role
# named architect may), how long one of its tasks may run before it counts as
# failed, and how often a task is handed back after its agent crashed on it.
# can_delegate = true
task_timeout = "30m"
task_retries = 3
# A git worktree of the role's own: with `worktree = true` its agent works in
# <worktree_dir>/<role> on branch ourocodus/<role>, made from the current HEAD
# (or the one made earlier, reused), and `/merge ROLE` merges that branch back.
# Its directories are then relative to its worktree. worktree_dir is relative to
# the repository's top level (or absolute); a session outside a git repository
# gets no agent for such a role, and says why.
worktree = false
worktree_dir = ".ourocodus/worktrees"
# The agent inherits the whole environment unless narrowed to these names (* and
# ? as wildcards); `env` above is added either way:
# env_inherit = ["PATH", "HOME", "LANG", "LC_*", "TERM", "ANTHROPIC_*"]

# MCP servers given to the agent, on top of the ones the editor passes. Either a
# program on stdio:
#   { name = "db", command = "db-mcp", args = [], env = {} }
# or a server over the network (type = "http" or "sse"):
#   { name = "docs", type = "http", url = "https://example.com/mcp", headers = {} }
mcp_servers = []

# If the agent exits, start it again up to `attempts` times, waiting
# `backoff_ms` milliseconds first.
restart = { attempts = 3, backoff_ms = 500 }

# Durations are "500ms", "30s", "2m", "1h" or a whole number of seconds.
#   initialize   how long the agent may take to answer `initialize`
#   session_new  how long it may take to open a session
#   silence      a prompt with no update for this long is reported as silent
timeouts = { initialize = "30s", session_new = "60s", silence = "2m" }

# The roles, one table each, in the order they are listed everywhere. A name
# starts with a lowercase letter, then lowercase letters, digits, - or _;
# "all", "team" and "ourocodus" are reserved.

[roles.architect]
persona = """\
Lead architect. You plan the work: read the code, settle the design, and split \
it into tasks for backend, frontend and test. Plan with the tools of the \
`ourocodus` MCP server, not in prose: `delegate` one task per piece of work \
(role, a short title, a description with the context that role needs, \
acceptance criteria, `depends_on` for the order, `requires_approval` where the \
user should check the result), `list_tasks` to follow the plan, `update_task` \
to re-plan or retry, `send_message` to tell a role something, `ask_user` when \
only the user can decide. The proxy hands each task to its role when it is \
free and tells you when one fails. You write plans and design notes, not \
code."""
directories = ["docs"]
tools_deny = ["execute", "delete"]

[roles.backend]
persona = """\
Backend developer. You own server-side code: APIs, data models, persistence, \
migrations and background jobs. Keep interfaces small and documented, and tell \
the test role what needs covering."""
directories = ["src", "server", "api", "db", "migrations"]

[roles.frontend]
persona = """\
Frontend developer. You own the user interface: components, pages, styles and \
client-side state. Follow the existing design system, keep the interface \
accessible, and agree API shapes with the backend role."""
directories = ["web", "frontend", "ui", "public", "assets"]

[roles.test]
persona = """\
Test engineer. You write and run the tests: reproduce a reported bug with a \
failing test first, cover new behaviour, and report failures with the exact \
command and output. You change test code, not the code under test."""
directories = ["tests", "test", "spec", "e2e"]
tools_deny = ["delete"]
# A role may run another agent and have its own MCP servers, for example:
# command = "ourocodus"
# args = ["fake-agent"]
# mcp_servers = [{ name = "db", command = "db-mcp", args = [] }]
"#;

/// The commented starter file, exactly as `ourocodus init` writes it.
pub fn starter_toml() -> &'static str {
    STARTER_TOML
}

/// The team used when no config file is found: the starter file, parsed.
pub fn builtin_team() -> Team {
    match load_str(STARTER_TOML, ConfigOrigin::BuiltIn) {
        Ok(team) => team,
        // The starter is compiled in and a unit test loads it; this cannot happen.
        Err(error) => panic!("the built-in starter config is invalid: {error}"),
    }
}

/// Writes the starter file to `path`; an existing file is kept unless `force`.
pub fn write_starter(path: &Path, force: bool) -> Result<(), Error> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let write_error = |source| Error::WriteFile {
        path: path.to_path_buf(),
        source,
    };
    let mut file = options.open(path).map_err(|source| match source.kind() {
        ErrorKind::AlreadyExists => Error::Other(format!(
            "{} already exists (use --force to overwrite it)",
            path.display()
        )),
        _ => write_error(source),
    })?;
    file.write_all(STARTER_TOML.as_bytes()).map_err(write_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::layer::ROLE_KEYS;
    use crate::config::test_support::TempDir;
    use crate::ids::Role;

    #[test]
    fn starter_file_loads_cleanly() {
        let team = load_str(starter_toml(), ConfigOrigin::File("ourocodus.toml".into()));
        assert!(team.is_ok(), "{:?}", team.err().map(|e| e.to_string()));
    }

    #[test]
    fn starter_has_the_four_roles_in_order_with_personas() {
        let team = builtin_team();
        let names: Vec<&str> = team.roles.keys().map(Role::as_str).collect();
        assert_eq!(names, ["architect", "backend", "frontend", "test"]);
        assert_eq!(team.route, [Role::new("architect")]);
        for spec in team.roles.values() {
            assert!(
                spec.persona.len() > 40,
                "{} needs a real persona",
                spec.role
            );
            assert!(
                !spec.persona.contains('\n'),
                "{} persona is one paragraph",
                spec.role
            );
        }
    }

    #[test]
    fn the_built_in_architect_plans_with_the_coordination_tools_and_alone_may_delegate() {
        let team = builtin_team();
        let delegates: Vec<&str> = team
            .roles
            .values()
            .filter(|s| s.tasks.can_delegate)
            .map(|s| s.role.as_str())
            .collect();
        assert_eq!(delegates, ["architect"]);
        let persona = &team.roles[&Role::new("architect")].persona;
        for tool in [
            "delegate",
            "depends_on",
            "requires_approval",
            "list_tasks",
            "ask_user",
        ] {
            assert!(persona.contains(tool), "the persona names {tool}");
        }
    }

    #[test]
    fn builtin_team_is_the_starter_file_parsed_with_builtin_origin() {
        let team = builtin_team();
        assert_eq!(team.origin, ConfigOrigin::BuiltIn);
        let parsed = load_str(starter_toml(), ConfigOrigin::BuiltIn).ok();
        assert_eq!(Some(team), parsed);
    }

    #[test]
    fn starter_comments_explain_every_key_and_the_lookup_order() {
        let comments: String = starter_toml()
            .lines()
            .filter(|line| line.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        for key in ROLE_KEYS.iter().chain(&["route"]) {
            assert!(
                starter_toml().contains(&format!("{key} =")),
                "no `{key} =` line"
            );
        }
        for words in [
            "--config",
            "./ourocodus.toml",
            "$XDG_CONFIG_HOME/ourocodus/config.toml",
            "~/.config",
            "built-in",
            "env",
            "persona",
            "mode",
        ] {
            assert!(comments.contains(words), "comments never mention {words}");
        }
    }

    #[test]
    fn commented_out_examples_in_the_starter_load_when_uncommented() {
        let is_example = |line: &str| {
            let rest = line.strip_prefix("# ").unwrap_or_default();
            rest.split_once(" = ")
                .is_some_and(|(key, _)| ROLE_KEYS.contains(&key))
        };
        let uncommented: String = starter_toml()
            .lines()
            .map(|line| if is_example(line) { &line[2..] } else { line })
            .map(|line| format!("{line}\n"))
            .collect();
        assert_ne!(uncommented, starter_toml());
        let team = load_str(&uncommented, ConfigOrigin::BuiltIn);
        let team = team.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(team.roles["test"].command, "ourocodus");
        assert_eq!(team.roles["test"].mcp_servers.len(), 1);
        assert_eq!(team.defaults.mode.as_deref(), Some("default"));
    }

    #[test]
    fn write_starter_creates_the_file() {
        let dir = TempDir::new("starter-create");
        let path = dir.path().join("ourocodus.toml");
        assert!(write_starter(&path, false).is_ok());
        assert_eq!(
            std::fs::read_to_string(&path).ok().as_deref(),
            Some(starter_toml())
        );
    }

    #[test]
    fn write_starter_refuses_to_overwrite_without_force() {
        let dir = TempDir::new("starter-refuse");
        let path = dir.path().join("ourocodus.toml");
        std::fs::write(&path, "# mine\n").expect("write file");
        let error = write_starter(&path, false).err().map(|e| e.to_string());
        let expected = format!(
            "{} already exists (use --force to overwrite it)",
            path.display()
        );
        assert_eq!(error, Some(expected));
        assert_eq!(
            std::fs::read_to_string(&path).ok().as_deref(),
            Some("# mine\n")
        );
    }

    #[test]
    fn write_starter_overwrites_with_force() {
        let dir = TempDir::new("starter-force");
        let path = dir.path().join("ourocodus.toml");
        std::fs::write(&path, "# mine, and much longer than nothing at all\n").expect("write");
        assert!(write_starter(&path, true).is_ok());
        assert_eq!(
            std::fs::read_to_string(&path).ok().as_deref(),
            Some(starter_toml())
        );
    }

    #[test]
    fn write_starter_reports_an_unwritable_path() {
        let dir = TempDir::new("starter-unwritable");
        let path = dir.path().join("no-such-dir").join("ourocodus.toml");
        let error = write_starter(&path, false).err();
        assert!(matches!(error, Some(Error::WriteFile { .. })), "{error:?}");
    }
}
