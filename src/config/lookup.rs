//! Where the team config lives: `--config FILE`, then `./ourocodus.toml`, then
//! `$XDG_CONFIG_HOME/ourocodus/config.toml` (default `~/.config`), else none (the
//! built-in team). Knows paths and the environment; nothing of what files say.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The config file looked for in the working directory.
pub const LOCAL_CONFIG_FILE: &str = "ourocodus.toml";

/// The config file looked for under the user's config directory.
pub const USER_CONFIG_FILE: &str = "ourocodus/config.toml";

/// The config file to load, reading the real environment; `None` means the built-in
/// team. An explicit path is returned whether or not it exists (loading it reports
/// a missing file).
pub fn find_config_file(explicit: Option<&Path>) -> Option<PathBuf> {
    let xdg_config_home = non_empty_env("XDG_CONFIG_HOME");
    let home = non_empty_env("HOME");
    find_config_file_in(
        explicit,
        Path::new("."),
        xdg_config_home.as_deref().map(Path::new),
        home.as_deref().map(Path::new),
    )
}

/// The lookup itself, given the environment instead of reading it. A relative
/// `xdg_config_home` is ignored, as the XDG spec asks.
pub fn find_config_file_in(
    explicit: Option<&Path>,
    cwd: &Path,
    xdg_config_home: Option<&Path>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    let local = cwd.join(LOCAL_CONFIG_FILE);
    let user = user_config_dir(xdg_config_home, home).map(|dir| dir.join(USER_CONFIG_FILE));
    [Some(local), user]
        .into_iter()
        .flatten()
        .find(|path| path.is_file())
}

fn user_config_dir(xdg_config_home: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
    match xdg_config_home.filter(|dir| dir.is_absolute()) {
        Some(dir) => Some(dir.to_path_buf()),
        None => home.map(|home| home.join(".config")),
    }
}

fn non_empty_env(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::TempDir;

    /// A scratch tree with a working directory, an XDG dir and a home dir.
    struct Dirs {
        _root: TempDir,
        cwd: PathBuf,
        xdg: PathBuf,
        home: PathBuf,
    }

    fn dirs(name: &str) -> Dirs {
        let root = TempDir::new(name);
        let [cwd, xdg, home] = ["cwd", "xdg", "home"].map(|dir| root.path().join(dir));
        for dir in [&cwd, &xdg, &home] {
            std::fs::create_dir_all(dir).expect("create scratch dir");
        }
        Dirs {
            _root: root,
            cwd,
            xdg,
            home,
        }
    }

    fn touch(path: &Path) -> PathBuf {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent dir");
        }
        std::fs::write(path, "").expect("write file");
        path.to_path_buf()
    }

    fn find(dirs: &Dirs, explicit: Option<&Path>) -> Option<PathBuf> {
        find_config_file_in(explicit, &dirs.cwd, Some(&dirs.xdg), Some(&dirs.home))
    }

    #[test]
    fn explicit_path_wins_over_every_other_file() {
        let dirs = dirs("explicit-wins");
        touch(&dirs.cwd.join(LOCAL_CONFIG_FILE));
        touch(&dirs.xdg.join(USER_CONFIG_FILE));
        let explicit = Path::new("elsewhere/team.toml");
        assert_eq!(find(&dirs, Some(explicit)), Some(explicit.to_path_buf()));
    }

    #[test]
    fn explicit_path_is_returned_even_when_missing_so_loading_can_report_it() {
        let dirs = dirs("explicit-missing");
        let missing = dirs.cwd.join("missing.toml");
        assert_eq!(find(&dirs, Some(&missing)), Some(missing));
    }

    #[test]
    fn working_directory_file_comes_before_the_user_file() {
        let dirs = dirs("cwd-first");
        let local = touch(&dirs.cwd.join(LOCAL_CONFIG_FILE));
        touch(&dirs.xdg.join(USER_CONFIG_FILE));
        assert_eq!(find(&dirs, None), Some(local));
    }

    #[test]
    fn xdg_config_home_file_is_used_when_the_working_directory_has_none() {
        let dirs = dirs("xdg-second");
        let user = touch(&dirs.xdg.join(USER_CONFIG_FILE));
        touch(&dirs.home.join(".config").join(USER_CONFIG_FILE));
        assert_eq!(find(&dirs, None), Some(user));
    }

    #[test]
    fn xdg_config_home_defaults_to_dot_config_under_home() {
        let dirs = dirs("xdg-default");
        let user = touch(&dirs.home.join(".config").join(USER_CONFIG_FILE));
        let found = find_config_file_in(None, &dirs.cwd, None, Some(&dirs.home));
        assert_eq!(found, Some(user));
    }

    #[test]
    fn relative_xdg_config_home_is_ignored() {
        let dirs = dirs("xdg-relative");
        let user = touch(&dirs.home.join(".config").join(USER_CONFIG_FILE));
        let found = find_config_file_in(None, &dirs.cwd, Some(Path::new("rel")), Some(&dirs.home));
        assert_eq!(found, Some(user));
    }

    #[test]
    fn no_file_anywhere_means_the_built_in_team() {
        let dirs = dirs("none");
        assert_eq!(find(&dirs, None), None);
        assert_eq!(find_config_file_in(None, &dirs.cwd, None, None), None);
    }

    #[test]
    fn a_directory_named_like_the_config_is_not_a_config() {
        let dirs = dirs("dir-not-file");
        std::fs::create_dir_all(dirs.cwd.join(LOCAL_CONFIG_FILE)).expect("create dir");
        assert_eq!(find(&dirs, None), None);
    }
}
