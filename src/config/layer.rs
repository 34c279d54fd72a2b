//! One layer of role settings (`[defaults]` or `[roles.NAME]`) and how layers stack:
//! built-in values, then `[defaults]`, then the role. Knows role-level keys, not roles.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use toml::de::DeTable;

use super::diagnostic::ConfigError;
use super::fields::{Place, Value, in_written_order};
use super::mcp::read_mcp_servers;
use super::sandbox::SandboxLayer;
use super::tasks::TaskLayer;
use super::worktree::WorktreeLayer;
use super::{
    McpServerSpec, RestartPolicy, RoleSpec, SandboxSettings, TaskSettings, Timeouts,
    WorktreeSettings,
};
use crate::ids::Role;

/// Every key a role table may hold; `[defaults]` may hold these and `route`.
pub const ROLE_KEYS: &[&str] = &[
    "persona",
    "command",
    "args",
    "env",
    "mode",
    "directories",
    "tools_allow",
    "tools_deny",
    "mcp_servers",
    "restart",
    "timeouts",
    "sandbox",
    "sandbox_writable",
    "sandbox_readable",
    "sandbox_symlinks",
    "env_inherit",
    "can_delegate",
    "task_timeout",
    "task_retries",
    "worktree",
    "worktree_dir",
];

const RESTART_KEYS: &[&str] = &["attempts", "backoff_ms"];
const TIMEOUT_KEYS: &[&str] = &["initialize", "session_new", "silence"];

/// What a role gets when neither `[defaults]` nor the role says otherwise.
pub fn builtin_role_spec(role: Role) -> RoleSpec {
    RoleSpec {
        persona: String::new(),
        command: "npx".to_string(),
        args: vec![
            "-y".to_string(),
            "@agentclientprotocol/claude-agent-acp".to_string(),
        ],
        env: IndexMap::new(),
        mode: None,
        directories: vec![PathBuf::from(".")],
        tools_allow: vec!["*".to_string()],
        tools_deny: Vec::new(),
        mcp_servers: Vec::new(),
        restart: RestartPolicy::default(),
        timeouts: Timeouts::default(),
        sandbox: SandboxSettings::default(),
        tasks: TaskSettings::for_role(role.as_str()),
        worktree: WorktreeSettings::default(),
        role,
    }
}

/// The settings one table wrote; `None` means "inherit".
#[derive(Debug, Clone, Default)]
pub struct RoleLayer {
    persona: Option<String>,
    command: Option<String>,
    args: Option<Vec<String>>,
    env: Option<IndexMap<String, String>>,
    mode: Option<String>,
    directories: Option<Vec<PathBuf>>,
    tools_allow: Option<Vec<String>>,
    tools_deny: Option<Vec<String>>,
    mcp_servers: Option<Vec<McpServerSpec>>,
    restart: RestartLayer,
    timeouts: TimeoutsLayer,
    sandbox: SandboxLayer,
    tasks: TaskLayer,
    worktree: WorktreeLayer,
}

#[derive(Debug, Clone, Copy, Default)]
struct RestartLayer {
    attempts: Option<u32>,
    backoff: Option<Duration>,
}

#[derive(Debug, Clone, Copy, Default)]
struct TimeoutsLayer {
    initialize: Option<Duration>,
    session_new: Option<Duration>,
    silence: Option<Duration>,
}

impl RoleLayer {
    /// Reads the role-level keys of `table`; the caller has already checked for
    /// unknown keys, and reads any others (`route`) itself.
    pub fn read(place: &Place<'_>, table: &DeTable<'_>) -> Result<RoleLayer, ConfigError> {
        let mut layer = RoleLayer::default();
        for (key, value) in in_written_order(table) {
            layer.read_key(place, key.get_ref(), value)?;
        }
        Ok(layer)
    }

    fn read_key(
        &mut self,
        place: &Place<'_>,
        key: &str,
        value: &Value<'_>,
    ) -> Result<(), ConfigError> {
        match key {
            "persona" => self.persona = Some(place.string(key, value)?),
            "command" => self.command = Some(place.non_empty_string(key, value)?),
            "args" => self.args = Some(place.strings(key, value)?),
            "env" => self.env = Some(place.string_map(key, value)?),
            "mode" => self.mode = Some(place.non_empty_string(key, value)?),
            "directories" => self.directories = Some(read_directories(place, key, value)?),
            "tools_allow" => self.tools_allow = Some(place.non_empty_strings(key, value)?),
            "tools_deny" => self.tools_deny = Some(place.non_empty_strings(key, value)?),
            "mcp_servers" => self.mcp_servers = Some(read_mcp_servers(place, key, value)?),
            "restart" => self.restart = RestartLayer::read(place, key, value)?,
            "timeouts" => self.timeouts = TimeoutsLayer::read(place, key, value)?,
            // The caller checked the key is known: one of these groups reads it.
            _ if self.sandbox.read_key(place, key, value)? => {}
            _ if self.tasks.read_key(place, key, value)? => {}
            _ => {
                self.worktree.read_key(place, key, value)?;
            }
        }
        Ok(())
    }

    /// Writes this layer over `spec`: values replace, lists replace whole, `env`,
    /// `restart` and `timeouts` merge key by key.
    pub fn apply(&self, spec: &mut RoleSpec) {
        replace(&mut spec.persona, &self.persona);
        replace(&mut spec.command, &self.command);
        replace(&mut spec.args, &self.args);
        if let Some(env) = &self.env {
            spec.env.extend(env.clone());
        }
        if self.mode.is_some() {
            spec.mode.clone_from(&self.mode);
        }
        replace(&mut spec.directories, &self.directories);
        replace(&mut spec.tools_allow, &self.tools_allow);
        replace(&mut spec.tools_deny, &self.tools_deny);
        replace(&mut spec.mcp_servers, &self.mcp_servers);
        self.restart.apply(&mut spec.restart);
        self.timeouts.apply(&mut spec.timeouts);
        self.sandbox.apply(&mut spec.sandbox);
        self.tasks.apply(&mut spec.tasks);
        self.worktree.apply(&mut spec.worktree);
    }
}

fn replace<T: Clone>(slot: &mut T, layer_value: &Option<T>) {
    if let Some(value) = layer_value {
        slot.clone_from(value);
    }
}

fn read_directories(
    place: &Place<'_>,
    key: &str,
    value: &Value<'_>,
) -> Result<Vec<PathBuf>, ConfigError> {
    let directories = place.non_empty_strings(key, value)?;
    Ok(directories.into_iter().map(PathBuf::from).collect())
}

impl RestartLayer {
    fn read(place: &Place<'_>, key: &str, value: &Value<'_>) -> Result<Self, ConfigError> {
        let table = place.as_table(key, value)?;
        let place = place.table(key);
        place.check_keys(table, RESTART_KEYS)?;
        let mut layer = RestartLayer::default();
        if let Some(attempts) = table.get("attempts") {
            let attempts = place.unsigned("attempts", attempts, u64::from(u32::MAX))?;
            layer.attempts = u32::try_from(attempts).ok();
        }
        if let Some(backoff) = table.get("backoff_ms") {
            let millis = place.unsigned("backoff_ms", backoff, u64::MAX)?;
            layer.backoff = Some(Duration::from_millis(millis));
        }
        Ok(layer)
    }

    fn apply(&self, restart: &mut RestartPolicy) {
        replace(&mut restart.attempts, &self.attempts);
        replace(&mut restart.backoff, &self.backoff);
    }
}

impl TimeoutsLayer {
    fn read(place: &Place<'_>, key: &str, value: &Value<'_>) -> Result<Self, ConfigError> {
        let table = place.as_table(key, value)?;
        let place = place.table(key);
        place.check_keys(table, TIMEOUT_KEYS)?;
        let read = |name: &str| {
            table
                .get(name)
                .map(|value| place.duration(name, value))
                .transpose()
        };
        Ok(TimeoutsLayer {
            initialize: read("initialize")?,
            session_new: read("session_new")?,
            silence: read("silence")?,
        })
    }

    fn apply(&self, timeouts: &mut Timeouts) {
        replace(&mut timeouts.initialize, &self.initialize);
        replace(&mut timeouts.session_new, &self.session_new);
        replace(&mut timeouts.silence, &self.silence);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::load;

    /// The example from the product issue.
    const ISSUE_EXAMPLE: &str = r#"
[defaults]
command = "npx"
args = ["-y", "@agentclientprotocol/claude-agent-acp"]
env = { IS_SANDBOX = "1" }
mode = "default"
route = ["architect"]

[roles.architect]
persona = "Lead architect: plans the work and splits it for the other roles."
[roles.backend]
persona = "Backend developer: APIs, data, persistence."
directories = ["src/backend", "api"]
tools_allow = ["*"]
tools_deny = ["execute"]
[roles.test]
command = "ourocodus"
args = ["fake-agent"]
mcp_servers = [{ name = "db", command = "db-mcp", args = [] }]
"#;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    fn role<'t>(team: &'t crate::config::Team, name: &str) -> &'t RoleSpec {
        &team.roles[name]
    }

    #[test]
    fn issue_example_loads_with_defaults_inherited() {
        let team = load(ISSUE_EXAMPLE);
        assert_eq!(team.route, [Role::new("architect")]);
        let architect = role(&team, "architect");
        assert_eq!(architect.command, "npx");
        assert_eq!(
            architect.args,
            strings(&["-y", "@agentclientprotocol/claude-agent-acp"])
        );
        assert_eq!(
            architect.env.get("IS_SANDBOX").map(String::as_str),
            Some("1")
        );
        assert_eq!(architect.mode.as_deref(), Some("default"));
        assert_eq!(architect.directories, [PathBuf::from(".")]);
        let backend = role(&team, "backend");
        assert_eq!(
            backend.directories,
            [PathBuf::from("src/backend"), PathBuf::from("api")]
        );
        assert_eq!(backend.tools_deny, strings(&["execute"]));
        let test = role(&team, "test");
        assert_eq!(
            (test.command.as_str(), test.args.clone()),
            ("ourocodus", strings(&["fake-agent"]))
        );
        assert_eq!(test.mode.as_deref(), Some("default"));
    }

    #[test]
    fn built_in_values_apply_when_nothing_is_set() {
        let team = load("[roles.solo]\n");
        let expected = builtin_role_spec(Role::new("solo"));
        assert_eq!(role(&team, "solo"), &expected);
        assert_eq!(expected.command, "npx");
        assert_eq!(expected.directories, [PathBuf::from(".")]);
        assert_eq!(expected.tools_allow, strings(&["*"]));
        assert_eq!(
            expected.restart,
            RestartPolicy {
                attempts: 3,
                backoff: Duration::from_millis(500)
            }
        );
        assert_eq!(expected.timeouts.silence, Duration::from_secs(120));
        assert_eq!(
            (expected.persona.as_str(), expected.mode.clone()),
            ("", None)
        );
    }

    #[test]
    fn a_role_value_replaces_the_default_value() {
        let team = load(
            "[defaults]\npersona = \"generic\"\ncommand = \"agent-a\"\nmode = \"plan\"\n\
             [roles.a]\ncommand = \"agent-b\"\nmode = \"default\"\n[roles.b]\n",
        );
        assert_eq!(role(&team, "a").command, "agent-b");
        assert_eq!(role(&team, "a").mode.as_deref(), Some("default"));
        assert_eq!(role(&team, "a").persona, "generic");
        assert_eq!(role(&team, "b").command, "agent-a");
    }

    #[test]
    fn lists_replace_the_default_list_whole() {
        let team = load(
            "[defaults]\nargs = [\"--one\", \"--two\"]\ntools_deny = [\"execute\", \"delete\"]\n\
             [roles.a]\nargs = [\"--three\"]\ntools_deny = []\n",
        );
        assert_eq!(role(&team, "a").args, strings(&["--three"]));
        assert!(role(&team, "a").tools_deny.is_empty());
    }

    #[test]
    fn env_maps_merge_key_by_key_with_role_entries_winning() {
        let team = load(
            "[defaults]\nenv = { A = \"1\", B = \"2\" }\n[roles.a]\nenv = { B = \"20\", C = \"30\" }\n",
        );
        let env: Vec<(&str, &str)> = role(&team, "a")
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(env, [("A", "1"), ("B", "20"), ("C", "30")]);
    }

    #[test]
    fn restart_and_timeouts_merge_field_by_field() {
        let team = load(
            "[defaults]\nrestart = { attempts = 5 }\ntimeouts = { initialize = 10, silence = \"5m\" }\n\
             [roles.a]\nrestart = { backoff_ms = 0x10 }\ntimeouts = { silence = \"1h\" }\n",
        );
        let spec = role(&team, "a");
        assert_eq!(
            spec.restart,
            RestartPolicy {
                attempts: 5,
                backoff: Duration::from_millis(16)
            }
        );
        assert_eq!(
            spec.timeouts,
            Timeouts {
                initialize: Duration::from_secs(10),
                session_new: Duration::from_secs(60),
                silence: Duration::from_secs(3600),
            }
        );
    }

    #[test]
    fn defaults_become_what_a_spawned_role_inherits() {
        let team = load(
            "[defaults]\ncommand = \"agent\"\nenv = { K = \"v\" }\n[roles.a]\ncommand = \"other\"\n",
        );
        assert_eq!(team.defaults.command, "agent");
        assert_eq!(team.defaults.env.get("K").map(String::as_str), Some("v"));
        assert_eq!(team.defaults.role.as_str(), "");
    }

    #[test]
    fn every_role_key_may_sit_in_defaults() {
        let team = load(
            r#"[defaults]
persona = "p"
command = "c"
args = ["a"]
env = { E = "e" }
mode = "m"
directories = ["d"]
tools_allow = ["read"]
tools_deny = ["execute"]
mcp_servers = [{ name = "s", command = "s-mcp" }]
restart = { attempts = 1, backoff_ms = 2 }
timeouts = { initialize = "3s", session_new = "4s", silence = "5s" }
[roles.a]
"#,
        );
        let mut expected = team.defaults.clone();
        expected.role = Role::new("a");
        assert_eq!(role(&team, "a"), &expected);
        assert_eq!(expected.mcp_servers.len(), 1);
        assert_eq!(expected.timeouts.session_new, Duration::from_secs(4));
    }
}
