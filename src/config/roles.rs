//! The `[roles]` table and the route: role names (`^[a-z][a-z0-9_-]*$`, not
//! reserved), each role's spec stacked over `[defaults]`, and which roles get
//! prompts that name no role. Knows names and routing; role keys live in `layer`.

use std::ops::Range;

use indexmap::IndexMap;
use toml::de::DeTable;

use super::diagnostic::ConfigError;
use super::fields::{Key, Place, Value, in_written_order};
use super::layer::{ROLE_KEYS, RoleLayer, builtin_role_spec};
use super::{RESERVED_ROLE_NAMES, RoleSpec};
use crate::ids::Role;

/// The `[defaults]` key naming the roles that get prompts which name no role.
pub const ROUTE_KEY: &str = "route";
const ROLE_NAME_RULE: &str =
    "role names start with a lowercase letter, then lowercase letters, digits, `-` or `_`";

pub fn read_roles(
    top: &Place<'_>,
    document: &DeTable<'_>,
    defaults: &RoleLayer,
) -> Result<IndexMap<Role, RoleSpec>, ConfigError> {
    let Some((key, value)) = document.get_key_value("roles") else {
        return Err(top.error(0..0, no_roles_message()));
    };
    let table = top.as_table("roles", value)?;
    let roles_place = top.table("roles");
    let mut roles = IndexMap::new();
    for (name, role_value) in in_written_order(table) {
        let role = check_role_name(&roles_place, name)?;
        let spec = read_role(&roles_place, role.clone(), role_value, defaults)?;
        roles.insert(role, spec);
    }
    if roles.is_empty() {
        return Err(top.error(key.span(), no_roles_message()));
    }
    Ok(roles)
}

fn no_roles_message() -> String {
    "no roles defined: add at least one [roles.NAME] table".to_string()
}

fn read_role(
    roles_place: &Place<'_>,
    role: Role,
    value: &Value<'_>,
    defaults: &RoleLayer,
) -> Result<RoleSpec, ConfigError> {
    let table = roles_place.as_table(role.as_str(), value)?;
    let place = roles_place.table(role.as_str());
    place.check_keys(table, ROLE_KEYS)?;
    let layer = RoleLayer::read(&place, table)?;
    let mut spec = builtin_role_spec(role);
    defaults.apply(&mut spec);
    layer.apply(&mut spec);
    Ok(spec)
}

/// A role name: not empty, `^[a-z][a-z0-9_-]*$`, not reserved.
fn check_role_name(place: &Place<'_>, name: &Key<'_>) -> Result<Role, ConfigError> {
    let text = name.get_ref().as_ref();
    let label = place.label();
    if text.is_empty() {
        return Err(place.error(
            name.span(),
            format!("empty role name {label} ({ROLE_NAME_RULE})"),
        ));
    }
    if !is_valid_role_name(text) {
        let message = format!("invalid role name `{text}` {label} ({ROLE_NAME_RULE})");
        return Err(place.error(name.span(), message));
    }
    if RESERVED_ROLE_NAMES.contains(&text) {
        let message = format!(
            "role name `{text}` is reserved (reserved names: {})",
            RESERVED_ROLE_NAMES.join(", ")
        );
        return Err(place.error(name.span(), message));
    }
    Ok(Role::new(text))
}

/// Why `name` cannot be a role (for roles added at runtime), if it can't.
pub fn role_name_problem(name: &str) -> Option<String> {
    if !is_valid_role_name(name) {
        return Some(format!("invalid role name `{name}` ({ROLE_NAME_RULE})"));
    }
    RESERVED_ROLE_NAMES
        .contains(&name)
        .then(|| format!("role name `{name}` is reserved"))
}

pub(crate) fn is_valid_role_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    first_is_letter
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `route`: at least one role, each defined, none twice.
pub fn read_route(
    place: &Place<'_>,
    value: &Value<'_>,
    roles: &IndexMap<Role, RoleSpec>,
) -> Result<Vec<Role>, ConfigError> {
    let entries = place.spanned_strings(ROUTE_KEY, value)?;
    if entries.is_empty() {
        let message = format!(
            "empty `route` {}: name at least one role to get prompts that name no role",
            place.label()
        );
        return Err(place.error(value.span(), message));
    }
    let mut route = Vec::with_capacity(entries.len());
    for entry in entries {
        let role = routed_role(place, entry.get_ref(), entry.span(), roles)?;
        if route.contains(&role) {
            let message = format!("role `{role}` appears more than once in `route`");
            return Err(place.error(entry.span(), message));
        }
        route.push(role);
    }
    Ok(route)
}

fn routed_role(
    place: &Place<'_>,
    name: &str,
    span: Range<usize>,
    roles: &IndexMap<Role, RoleSpec>,
) -> Result<Role, ConfigError> {
    match roles.get_key_value(name) {
        Some((role, _)) => Ok(role.clone()),
        None => {
            let known: Vec<&str> = roles.keys().map(Role::as_str).collect();
            let message = format!(
                "unknown role `{name}` in `route` {} (roles: {})",
                place.label(),
                known.join(", ")
            );
            Err(place.error(span, message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{load, load_error};

    #[test]
    fn unknown_route_role_points_at_the_route_entry() {
        let text =
            "[defaults]\nroute = [\"architect\", \"qa\"]\n[roles.architect]\n[roles.backend]\n";
        assert_eq!(
            load_error(text),
            "team.toml:2:23: unknown role `qa` in `route` in [defaults] (roles: architect, backend)"
        );
    }

    #[test]
    fn empty_route_is_rejected() {
        let error = load_error("[defaults]\nroute = []\n[roles.a]\n");
        assert_eq!(
            error,
            "team.toml:2:9: empty `route` in [defaults]: name at least one role to get prompts \
             that name no role"
        );
    }

    #[test]
    fn a_role_named_twice_in_route_is_rejected() {
        let error = load_error("[defaults]\nroute = [\"a\", \"a\"]\n[roles.a]\n");
        assert_eq!(
            error,
            "team.toml:2:15: role `a` appears more than once in `route`"
        );
    }

    #[test]
    fn route_defaults_to_the_first_role_written() {
        let team = load("[roles.zeta]\n[roles.alpha]\n");
        assert_eq!(team.route, [Role::new("zeta")]);
    }

    #[test]
    fn roles_keep_the_order_they_were_written() {
        let team = load("[roles.zeta]\n[roles.alpha]\n[roles.mid]\n");
        let names: Vec<&str> = team.roles.keys().map(Role::as_str).collect();
        assert_eq!(names, ["zeta", "alpha", "mid"]);
        assert!(team.roles.iter().all(|(role, spec)| *role == spec.role));
    }

    #[test]
    fn empty_role_name_is_rejected() {
        let error = load_error("[roles.\"\"]\npersona = \"x\"\n");
        assert_eq!(
            error,
            format!("team.toml:1:8: empty role name in [roles] ({ROLE_NAME_RULE})")
        );
    }

    #[test]
    fn badly_formed_role_names_say_what_is_allowed() {
        for name in ["Backend", "1st", "back end", "_x", "-x", "bäck", "a.b"] {
            let error = load_error(&format!("[roles]\n\"{name}\" = {{}}\n"));
            let expected =
                format!("team.toml:2:1: invalid role name `{name}` in [roles] ({ROLE_NAME_RULE})");
            assert_eq!(error, expected);
        }
        let team = load("[roles.a]\n[roles.b2]\n[roles.c-d]\n[roles.e_f]\n");
        assert_eq!(team.roles.len(), 4);
    }

    #[test]
    fn reserved_role_names_are_rejected() {
        for name in RESERVED_ROLE_NAMES {
            let error = load_error(&format!("[roles.{name}]\n"));
            let expected = format!(
                "team.toml:1:8: role name `{name}` is reserved (reserved names: all, team, ourocodus)"
            );
            assert_eq!(error, expected);
        }
    }

    #[test]
    fn duplicate_role_tables_carry_file_and_line() {
        let error = load_error("[roles.a]\npersona = \"x\"\n\n[roles.a]\npersona = \"y\"\n");
        assert_eq!(
            error,
            "team.toml:4:8: duplicate key `a`: table `[roles.a]` is defined more than once"
        );
        let error = load_error("[roles]\na = {}\n[roles.a]\n");
        assert!(
            error.starts_with("team.toml:3:8: duplicate key `a`"),
            "{error}"
        );
    }

    #[test]
    fn no_roles_at_all_is_rejected() {
        let expected = "no roles defined: add at least one [roles.NAME] table";
        assert_eq!(load_error(""), format!("team.toml:1:1: {expected}"));
        assert_eq!(
            load_error("[defaults]\ncommand = \"x\"\n"),
            format!("team.toml:1:1: {expected}")
        );
        assert_eq!(
            load_error("# team\n[roles]\n"),
            format!("team.toml:2:2: {expected}")
        );
    }
}
