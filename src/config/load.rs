//! Loading a team: find the file, parse the TOML with spans, check every key, stack
//! `[defaults]` over built-in values and each role over that, and check the route.
//! Knows the document's top-level shape; the typed reads live in `fields`.

use std::path::Path;

use toml::de::DeTable;

use super::diagnostic::{ConfigError, ConfigText, source_name};
use super::fields::Place;
use super::layer::{ROLE_KEYS, RoleLayer, builtin_role_spec};
use super::lookup::find_config_file;
use super::roles::{ROUTE_KEY, read_roles, read_route};
use super::{ConfigOrigin, Team};
use crate::ids::Role;

const TOP_KEYS: &[&str] = &["defaults", "roles", "store"];
/// Keys of `[store]`.
const STORE_KEYS: &[&str] = &["path"];

/// The team for `ourocodus acp` and `config check`: the first config file found
/// (see `find_config_file`), or the built-in team.
pub fn load_team(explicit: Option<&Path>) -> Result<Team, ConfigError> {
    match find_config_file(explicit) {
        Some(path) => load_file(&path),
        None => Ok(super::builtin_team()),
    }
}

pub fn load_file(path: &Path) -> Result<Team, ConfigError> {
    let origin = ConfigOrigin::File(path.to_path_buf());
    let text = std::fs::read_to_string(path).map_err(|error| {
        let message = match error.kind() {
            std::io::ErrorKind::NotFound => "config file not found".to_string(),
            _ => format!("cannot read config file: {error}"),
        };
        ConfigError {
            source_name: source_name(&origin),
            position: None,
            message,
        }
    })?;
    load_str(&text, origin)
}

/// Parses and validates a team; errors are named after `origin`.
pub fn load_str(text: &str, origin: ConfigOrigin) -> Result<Team, ConfigError> {
    let source = ConfigText::new(&origin, text);
    let document = DeTable::parse(text).map_err(|error| source.syntax_error(&error))?;
    let top = Place::top(&source);
    let document = document.get_ref();
    top.check_keys(document, TOP_KEYS)?;

    let defaults_place = top.table("defaults");
    let defaults_table = optional_table(&top, document, "defaults")?;
    let defaults_layer = match defaults_table {
        Some(table) => read_defaults(&defaults_place, table)?,
        None => RoleLayer::default(),
    };
    let roles = read_roles(&top, document, &defaults_layer)?;
    let route = match defaults_table.and_then(|table| table.get(ROUTE_KEY)) {
        Some(route) => read_route(&defaults_place, route, &roles)?,
        None => roles.keys().take(1).cloned().collect(),
    };
    let mut defaults = builtin_role_spec(Role::new(""));
    defaults_layer.apply(&mut defaults);
    let store_path = read_store(&top, document, &origin)?;
    Ok(Team {
        origin,
        route,
        roles,
        defaults,
        store_path,
    })
}

/// `[store] path = "..."`: relative to the config file's directory.
fn read_store(
    top: &Place<'_>,
    document: &DeTable<'_>,
    origin: &ConfigOrigin,
) -> Result<Option<std::path::PathBuf>, ConfigError> {
    let Some(table) = optional_table(top, document, "store")? else {
        return Ok(None);
    };
    let place = top.table("store");
    place.check_keys(table, STORE_KEYS)?;
    let Some(path) = table.get("path") else {
        return Ok(None);
    };
    let path = std::path::PathBuf::from(place.non_empty_string("path", path)?);
    let base = match origin {
        ConfigOrigin::File(file) => file.parent().map(Path::to_path_buf),
        ConfigOrigin::BuiltIn => None,
    };
    Ok(Some(match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path,
    }))
}

fn optional_table<'t, 'i>(
    place: &Place<'_>,
    document: &'t DeTable<'i>,
    key: &str,
) -> Result<Option<&'t DeTable<'i>>, ConfigError> {
    document
        .get(key)
        .map(|value| place.as_table(key, value))
        .transpose()
}

fn read_defaults(place: &Place<'_>, table: &DeTable<'_>) -> Result<RoleLayer, ConfigError> {
    let mut allowed = ROLE_KEYS.to_vec();
    allowed.push(ROUTE_KEY);
    place.check_keys(table, &allowed)?;
    RoleLayer::read(place, table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{TEST_FILE, TempDir, load_error};

    const ROLE_KEY_LIST: &str = "persona, command, args, env, mode, directories, tools_allow, \
                                 tools_deny, mcp_servers, restart, timeouts, sandbox, \
                                 sandbox_writable, sandbox_readable, sandbox_symlinks, env_inherit, \
                                 can_delegate, task_timeout, task_retries, worktree, worktree_dir";

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "\
[roles.architect]
persona = \"Lead architect\"

[roles.backend]
persona = \"Backend developer\"
directories = [\"src/backend\"]
tool_deny = [\"execute\"]
";
        let expected = format!(
            "team.toml:7:1: unknown key `tool_deny` in [roles.backend] (expected one of: {ROLE_KEY_LIST})"
        );
        assert_eq!(load_error(text), expected);
    }

    #[test]
    fn a_store_path_is_read_relative_to_the_config_file() {
        let origin = ConfigOrigin::File("/home/u/project/team.toml".into());
        let team = load_str("[store]\npath = \"data/store.db\"\n[roles.a]\n", origin).unwrap();
        assert_eq!(
            team.store_path.as_deref(),
            Some(std::path::Path::new("/home/u/project/data/store.db"))
        );
        assert!(
            load_error("[store]\nfile = \"x\"\n[roles.a]\n")
                .contains("unknown key `file` in [store]")
        );
    }

    #[test]
    fn unknown_top_level_key_is_rejected() {
        let text = "[roles.a]\n[role.b]\n";
        assert_eq!(
            load_error(text),
            "team.toml:2:2: unknown key `role` at the top level (expected one of: defaults, roles, store)"
        );
    }

    #[test]
    fn unknown_key_in_defaults_lists_route_as_allowed() {
        let error = load_error("[defaults]\nroutes = [\"a\"]\n[roles.a]\n");
        assert_eq!(
            error,
            format!(
                "team.toml:2:1: unknown key `routes` in [defaults] (expected one of: {ROLE_KEY_LIST}, route)"
            )
        );
    }

    #[test]
    fn route_inside_a_role_is_an_unknown_key() {
        let error = load_error("[roles.a]\nroute = [\"a\"]\n");
        assert!(
            error.starts_with("team.toml:2:1: unknown key `route` in [roles.a]"),
            "{error}"
        );
    }

    #[test]
    fn unknown_keys_in_nested_tables_name_the_nested_table() {
        let error = load_error("[roles.a]\nrestart = { attempts = 1, backof_ms = 5 }\n");
        assert_eq!(
            error,
            "team.toml:2:27: unknown key `backof_ms` in [roles.a.restart] \
             (expected one of: attempts, backoff_ms)"
        );
        let error = load_error("[roles.a.timeouts]\nidle = \"5s\"\n");
        assert_eq!(
            error,
            "team.toml:2:1: unknown key `idle` in [roles.a.timeouts] \
             (expected one of: initialize, session_new, silence)"
        );
    }

    #[test]
    fn duplicate_keys_carry_file_and_line() {
        let error = load_error("[roles.a]\ncommand = \"x\"\ncommand = \"y\"\n");
        assert_eq!(error, "team.toml:3:1: duplicate key `command`");
    }

    #[test]
    fn syntax_errors_start_with_file_line_and_column_and_keep_the_explanation() {
        let error = load_error("[roles.a]\npersona = \n");
        assert_eq!(
            error,
            "team.toml:2:11: string values must be quoted, expected literal string"
        );
        let error = load_error("[roles.a\n");
        assert_eq!(error, "team.toml:1:9: unclosed table, expected `]`");
    }

    #[test]
    fn built_in_errors_are_named_built_in() {
        let error = load_str("[roles.all]\n", ConfigOrigin::BuiltIn).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.starts_with("<built-in>:1:8: role name `all` is reserved"),
            "{message}"
        );
    }

    #[test]
    fn missing_explicit_file_is_a_config_error_naming_the_path() {
        let dir = TempDir::new("missing-explicit");
        let path = dir.path().join("nope.toml");
        let error = load_team(Some(&path)).err().map(|e| e.to_string());
        assert_eq!(
            error,
            Some(format!("{}: config file not found", path.display()))
        );
    }

    #[test]
    fn an_explicit_file_loads_with_its_path_as_origin() {
        let dir = TempDir::new("explicit-file");
        let path = dir.path().join(TEST_FILE);
        std::fs::write(&path, "[roles.solo]\npersona = \"alone\"\n").expect("write config");
        let team = load_team(Some(&path)).ok();
        assert_eq!(
            team.as_ref().map(|t| &t.origin),
            Some(&ConfigOrigin::File(path.clone()))
        );
        assert_eq!(team.map(|t| t.route), Some(vec![Role::new("solo")]));
    }

    #[test]
    fn errors_in_a_file_name_its_path() {
        let dir = TempDir::new("file-error");
        let path = dir.path().join(TEST_FILE);
        std::fs::write(&path, "[roles.a]\nbogus = 1\n").expect("write config");
        let error = load_file(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with(&format!("{}:2:1: unknown key `bogus`", path.display())),
            "{error}"
        );
    }
}
