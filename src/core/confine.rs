//! What a role's agent may write, as a plan for the transport's kernel sandbox: the
//! role's directories resolved against where it works in the sessions it serves (their
//! working directories, or its worktrees), its adapter's own state and caches, and the
//! config's extras. Knows paths and
//! role settings; nothing of Landlock or processes.

use std::path::{Component, Path, PathBuf};

use crate::agent::{Quirks, StateKind};
use crate::config::{RoleSpec, SandboxMode};
use crate::transport::sandbox::{Anchored, SandboxPlan};

/// The sandbox plan for `spec`'s agent, working in `cwds` (the proxy's own working
/// directory when there are none yet); `None` when the role turned it off.
pub fn sandbox_plan(spec: &RoleSpec, cwds: &[PathBuf]) -> Option<SandboxPlan> {
    let settings = &spec.sandbox;
    if settings.mode == SandboxMode::Off {
        return None;
    }
    // Only an absolute home: a relative one would make state paths land in the
    // proxy's working directory.
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute());
    let fallback;
    let cwds = if cwds.is_empty() {
        fallback = [std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))];
        &fallback[..]
    } else {
        cwds
    };
    let place = |entries: &[PathBuf]| -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in entries {
            let entry = expand_home(entry, home.as_deref());
            if entry.is_absolute() {
                out.push(entry);
            } else {
                out.extend(cwds.iter().map(|cwd| cwd.join(&entry)));
            }
        }
        out.dedup();
        out
    };
    let (anchored, mut writable) = anchor(&spec.directories, cwds);
    let mut create = Vec::new();
    writable.extend(place(&settings.writable));
    if let Some(home) = &home {
        let quirks = Quirks::from_command_line(&spec.command, &spec.args);
        for (path, kind) in quirks.state_paths() {
            writable.push(home.join(path));
            if *kind == StateKind::Directory {
                create.push(home.join(path));
            }
        }
    }
    let readable = settings.readable.as_deref().map(|entries| {
        let mut readable = place(entries);
        // The agent's own program must stay readable, wherever it is installed (a
        // relative one is found from the proxy's directory, where it is spawned).
        let program = Path::new(&spec.command);
        if let Some(dir) = program
            .parent()
            .filter(|_| program.components().count() > 1)
        {
            readable.push(std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()));
        }
        readable
    });
    Some(SandboxPlan {
        required: settings.mode == SandboxMode::Require,
        writable,
        anchored,
        create,
        readable,
        symlinks: settings.symlinks,
    })
}

/// The role's directories, read as the write policy reads them (`policy::check_write`:
/// relative to the session's directory, no `~`): those of plain names below it are
/// anchored there (no symlink below it is followed); others (absolute, `..`) are the
/// user's word, taken as written.
fn anchor(directories: &[PathBuf], cwds: &[PathBuf]) -> (Vec<Anchored>, Vec<PathBuf>) {
    let (mut anchored, mut written) = (Vec::new(), Vec::new());
    for entry in directories {
        if entry.is_absolute() {
            written.push(entry.clone());
            continue;
        }
        let below: PathBuf = entry
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect();
        let plain = below
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        for cwd in cwds {
            if below.as_os_str().is_empty() {
                written.push(cwd.clone());
            } else if plain {
                anchored.push(Anchored {
                    base: cwd.clone(),
                    below: below.clone(),
                });
            } else {
                written.push(cwd.join(entry));
            }
        }
    }
    written.dedup();
    (anchored, written)
}

/// `~` and `~/...` name the home directory.
fn expand_home(path: &Path, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builtin_team;

    fn spec() -> RoleSpec {
        let team = builtin_team();
        team.roles.values().next().expect("a role").clone()
    }

    #[test]
    fn relative_directories_count_from_each_sessions_cwd_and_home_entries_from_home() {
        let mut spec = spec();
        spec.directories = vec![PathBuf::from("src"), PathBuf::from("/abs")];
        spec.sandbox.writable = vec![PathBuf::from("~/.cache/tool")];
        let plan = sandbox_plan(&spec, &[PathBuf::from("/w/a"), PathBuf::from("/w/b")])
            .expect("on by default");
        let home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
        for base in ["/w/a", "/w/b"] {
            let src = Anchored {
                base: PathBuf::from(base),
                below: PathBuf::from("src"),
            };
            assert!(
                plan.anchored.contains(&src),
                "{src:?} in {:?}",
                plan.anchored
            );
        }
        for path in [PathBuf::from("/abs"), home.join(".cache/tool")] {
            assert!(
                plan.writable.contains(&path),
                "{path:?} in {:?}",
                plan.writable
            );
        }
        assert!(!plan.required);
        assert!(!plan.symlinks);
        assert_eq!(plan.readable, None);
    }

    #[test]
    fn off_gives_no_plan_and_require_a_required_one() {
        let mut spec = spec();
        spec.sandbox.mode = SandboxMode::Off;
        assert_eq!(sandbox_plan(&spec, &[]), None);
        spec.sandbox.mode = SandboxMode::Require;
        assert!(sandbox_plan(&spec, &[]).expect("a plan").required);
    }
}
