//! The team: roles and their policies, loaded once from TOML (or built in) and
//! validated at load with errors that name the file, line and key. Knows nothing of
//! processes or the wire.

mod describe;
mod diagnostic;
mod duration;
mod fields;
mod layer;
mod load;
mod lookup;
mod mcp;
mod roles;
mod sandbox;
pub mod starter;
mod tasks;
mod worktree;

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

use crate::ids::Role;

pub use describe::{describe_role_json, describe_team};
pub use diagnostic::{BUILT_IN_SOURCE_NAME, ConfigError, Position};
pub use load::{load_file, load_str, load_team};
pub use lookup::{LOCAL_CONFIG_FILE, USER_CONFIG_FILE, find_config_file, find_config_file_in};
pub(crate) use roles::is_valid_role_name;
pub use roles::role_name_problem;
pub use sandbox::{SandboxMode, SandboxSettings};
pub use starter::{builtin_team, starter_toml};
pub use tasks::{DEFAULT_TASK_RETRIES, TaskSettings};
pub use worktree::{DEFAULT_WORKTREE_DIR, WorktreeSettings};

/// A validated team, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    /// Where this team came from (a file, or the built-in default).
    pub origin: ConfigOrigin,
    /// Roles that get a prompt which names no role.
    pub route: Vec<Role>,
    /// The roles, in the order they were written.
    pub roles: IndexMap<Role, RoleSpec>,
    /// What a role spawned at runtime (`/spawn`) inherits: the built-in values with
    /// `[defaults]` over them. Its `role` is empty; the spawner names it.
    pub defaults: RoleSpec,
    /// `[store] path`: where the event store is, when the config says.
    pub store_path: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    File(PathBuf),
    BuiltIn,
}

/// Everything the proxy needs to run and police one role.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    pub role: Role,
    /// Who this role is; delivered as a system-prompt addition or a first-turn preamble.
    pub persona: String,
    pub command: String,
    pub args: Vec<String>,
    /// Extra environment for the child, on top of the proxy's own.
    pub env: IndexMap<String, String>,
    /// ACP mode set on the child after `session/new`, if the child offers it.
    pub mode: Option<String>,
    /// Where the role's file writes may land, relative to the session cwd (or absolute).
    pub directories: Vec<PathBuf>,
    /// Permission policy patterns (tool kinds or Claude tool names; `*` and `?` globs).
    pub tools_allow: Vec<String>,
    pub tools_deny: Vec<String>,
    /// MCP servers given to this role's agent, on top of the editor's.
    pub mcp_servers: Vec<McpServerSpec>,
    pub restart: RestartPolicy,
    pub timeouts: Timeouts,
    /// The kernel sandbox around the role's agent, and the environment it inherits.
    pub sandbox: SandboxSettings,
    /// Whether it may delegate, and how its tasks time out and are retried.
    pub tasks: TaskSettings,
    /// Whether the role's agent works in a git worktree of its own, and where.
    pub worktree: WorktreeSettings,
}

/// An MCP server from the config, in ACP's `McpServer` shapes.
#[derive(Debug, Clone, PartialEq)]
pub enum McpServerSpec {
    Stdio {
        name: String,
        command: String,
        args: Vec<String>,
        env: IndexMap<String, String>,
    },
    Http {
        name: String,
        url: String,
        headers: IndexMap<String, String>,
    },
    Sse {
        name: String,
        url: String,
        headers: IndexMap<String, String>,
    },
}

/// `restart = { attempts = 3, backoff_ms = 500 }`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub attempts: u32,
    pub backoff: Duration,
}

/// `timeouts = { initialize = "30s", session_new = "60s", silence = "2m" }`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// How long `initialize` may take before the child is treated as failed.
    pub initialize: Duration,
    /// How long `session/new` may take.
    pub session_new: Duration,
    /// A prompt with no update for this long gets a "silent" notice.
    pub silence: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            attempts: 3,
            backoff: Duration::from_millis(500),
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            initialize: Duration::from_secs(30),
            session_new: Duration::from_secs(60),
            silence: Duration::from_secs(120),
        }
    }
}

/// Names that cannot be roles because mentions and modes use them.
pub const RESERVED_ROLE_NAMES: &[&str] = &["all", "team", "ourocodus"];

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers shared by the config tests: load from a string, scratch directories.

    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{ConfigOrigin, Team, load_str};

    /// The file name test configs pretend to come from.
    pub const TEST_FILE: &str = "team.toml";

    pub fn load(text: &str) -> Team {
        match load_str(text, ConfigOrigin::File(TEST_FILE.into())) {
            Ok(team) => team,
            Err(error) => panic!("test config should load, got: {error}"),
        }
    }

    /// The error a test config fails with, as the user would read it.
    pub fn load_error(text: &str) -> String {
        match load_str(text, ConfigOrigin::File(TEST_FILE.into())) {
            Ok(team) => panic!("test config should fail, loaded: {team:?}"),
            Err(error) => error.to_string(),
        }
    }

    /// A directory under the system temp dir, removed on drop.
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(name: &str) -> TempDir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let unique = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "ourocodus-config-{}-{unique}-{name}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
