//! Whether a role works in a git worktree of its own, as the config writes it
//! (`worktree`, `worktree_dir`), and how a layer stacks on it. Knows keys and values;
//! nothing of git.

use std::path::{Component, Path, PathBuf};

use super::diagnostic::ConfigError;
use super::fields::{Place, Value};

/// Where worktrees go when the config does not say: inside the repository, hidden.
pub const DEFAULT_WORKTREE_DIR: &str = ".ourocodus/worktrees";

/// A role's worktree: off by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeSettings {
    /// The role's agent works in `<dir>/<role>`, on branch `ourocodus/<role>`.
    pub enabled: bool,
    /// The directory worktrees are made in: relative to the repository's top level,
    /// or absolute.
    pub dir: PathBuf,
}

impl Default for WorktreeSettings {
    fn default() -> Self {
        WorktreeSettings {
            enabled: false,
            dir: PathBuf::from(DEFAULT_WORKTREE_DIR),
        }
    }
}

/// The worktree keys one table wrote; `None` means "inherit".
#[derive(Debug, Clone, Default)]
pub struct WorktreeLayer {
    enabled: Option<bool>,
    dir: Option<PathBuf>,
}

impl WorktreeLayer {
    /// Reads `key` if it is a worktree key; false when it is not.
    pub fn read_key(
        &mut self,
        place: &Place<'_>,
        key: &str,
        value: &Value<'_>,
    ) -> Result<bool, ConfigError> {
        match key {
            "worktree" => self.enabled = Some(place.boolean(key, value)?),
            "worktree_dir" => {
                let dir = PathBuf::from(place.non_empty_string(key, value)?);
                if let Some(problem) = dir_problem(&dir) {
                    let message = format!("`{key}` {} {problem}", place.label());
                    return Err(place.error(value.span(), message));
                }
                self.dir = Some(dir);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub fn apply(&self, settings: &mut WorktreeSettings) {
        if let Some(enabled) = self.enabled {
            settings.enabled = enabled;
        }
        if let Some(dir) = &self.dir {
            settings.dir.clone_from(dir);
        }
    }
}

/// Why a base directory cannot be used, if it cannot: `~` is not expanded, and the
/// repository's own top level (or its `.git`) would put worktrees among its files.
fn dir_problem(dir: &Path) -> Option<&'static str> {
    if dir.starts_with("~") {
        return Some(
            "is not expanded from `~`: write the full path, or one relative to the repository",
        );
    }
    let below: Vec<Component<'_>> = dir
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    match below.first() {
        None => {
            Some("must name a directory below the repository's top level, not the top level itself")
        }
        Some(Component::Normal(first)) if *first == ".git" => {
            Some("must not be inside the repository's .git directory")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::config::test_support::{load, load_error};

    #[test]
    fn worktrees_are_off_unless_a_role_or_the_defaults_turn_them_on() {
        let team = load(
            "[defaults]\nworktree_dir = \"../wt\"\n[roles.a]\n[roles.b]\nworktree = true\n\
             [roles.c]\nworktree = true\nworktree_dir = \"/srv/worktrees\"\n",
        );
        let worktree = |name: &str| team.roles[name].worktree.clone();
        assert!(!worktree("a").enabled);
        assert!(worktree("b").enabled);
        assert_eq!(worktree("b").dir, PathBuf::from("../wt"), "from [defaults]");
        assert_eq!(worktree("c").dir, PathBuf::from("/srv/worktrees"));
        let on_for_all =
            load("[defaults]\nworktree = true\n[roles.a]\n[roles.b]\nworktree = false\n");
        assert!(on_for_all.roles["a"].worktree.enabled);
        assert!(!on_for_all.roles["b"].worktree.enabled);
        assert_eq!(
            on_for_all.roles["a"].worktree.dir,
            PathBuf::from(super::DEFAULT_WORKTREE_DIR)
        );
        assert!(
            on_for_all.defaults.worktree.enabled,
            "a spawned role inherits it"
        );
    }

    #[test]
    fn a_worktree_key_of_the_wrong_type_names_its_line() {
        let error = load_error("[roles.a]\npersona = \"x\"\nworktree = \"yes\"\n");
        assert_eq!(
            error,
            "team.toml:3:12: wrong type for `worktree` in [roles.a]: expected true or false, found a string"
        );
        let error = load_error("[defaults]\nworktree_dir = 3\n[roles.a]\n");
        assert!(
            error.starts_with("team.toml:2:16: wrong type for `worktree_dir` in [defaults]"),
            "{error}"
        );
    }

    #[test]
    fn a_base_directory_that_cannot_hold_worktrees_is_refused() {
        for (dir, why) in [
            ("~/worktrees", "is not expanded from `~`"),
            (".", "not the top level itself"),
            ("./", "not the top level itself"),
            (".git/wt", "inside the repository's .git"),
            ("", "empty `worktree_dir`"),
        ] {
            let error = load_error(&format!("[roles.a]\nworktree_dir = {dir:?}\n"));
            assert!(error.starts_with("team.toml:2:"), "{dir}: {error}");
            assert!(error.contains(why), "{dir}: {error}");
        }
    }
}
