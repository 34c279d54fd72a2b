//! A role's git worktree: made (or found again) in the repository a session works
//! in, on branch `ourocodus/<role>`, and merged back (`merge`), all by running the
//! `git` binary. Blocking: callers run it off their loop. Knows git's command line
//! and paths; nothing of sessions, agents or the wire.

mod git;
mod merge;
#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

pub use merge::{Committed, MergeOutcome, MergeReport, merge};

use git::Git;

/// Prefix of every branch the proxy makes: `ourocodus/<role>`.
pub const BRANCH_PREFIX: &str = "ourocodus/";

/// Git commands that change worktrees and branches run one at a time in this
/// process (two sessions opening at once must not both add one worktree). A std
/// Mutex because only blocking-pool threads take it, never the loop.
static GIT_CHANGES: Mutex<()> = Mutex::new(());

/// A role's worktree, ready for its agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    /// The top level of the session's repository (its main worktree, or the linked
    /// one the session is in).
    pub repository: PathBuf,
    /// The worktree's top level: `<worktree_dir>/<role>`.
    pub root: PathBuf,
    /// Where the role works: the place in the worktree that the session's directory
    /// has in the repository.
    pub cwd: PathBuf,
    /// `ourocodus/<role>`.
    pub branch: String,
    /// It was there already (an earlier session, or a restart), and is used as it is.
    pub reused: bool,
}

/// Why a role gets no worktree, or a merge could not be done.
#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    #[error("{} is not inside a git repository", .0.display())]
    NotARepository(PathBuf),
    #[error("git is not installed (no `git` on PATH)")]
    GitMissing,
    #[error("git could not be run: {0}")]
    CannotRun(String),
    #[error("`{command}` failed in {}: {stderr}", dir.display())]
    Git {
        command: String,
        dir: PathBuf,
        stderr: String,
    },
    #[error(
        "{} exists and is not a git worktree of {}: move it away, or set another worktree_dir",
        path.display(),
        repository.display()
    )]
    PathTaken { path: PathBuf, repository: PathBuf },
    #[error("`{0}` cannot name a branch or a directory")]
    BadRole(String),
    #[error("{what}: {error}")]
    Io { what: String, error: std::io::Error },
    /// The merge was not started: why, in words for the user.
    #[error("{0}")]
    Refused(String),
}

/// Makes `role`'s worktree in the repository `session_cwd` is in (or finds the one
/// made earlier): `<base>/<role>`, `base` relative to the repository's top level
/// unless absolute, on branch `ourocodus/<role>` made from HEAD. A base inside the
/// repository is added to its `info/exclude`, so `git status` stays clean.
pub fn prepare(session_cwd: &Path, role: &str, base: &Path) -> Result<Worktree, WorktreeError> {
    let branch = branch_for(role)?;
    let _one_at_a_time = GIT_CHANGES.lock().unwrap_or_else(|e| e.into_inner());
    let place = locate(session_cwd)?;
    let base = lexically_normal(&place.repository.join(base));
    let root = base.join(role);
    let repo = Git::in_dir(&place.repository);
    let reused = match registered(&repo, &root)? {
        Registration::Live => true,
        Registration::Missing => {
            repo.check(["worktree", "prune"])?;
            add(&repo, &root, &branch, &place.repository)?;
            false
        }
        Registration::None => {
            add(&repo, &root, &branch, &place.repository)?;
            false
        }
    };
    if let Ok(inside) = base.strip_prefix(&place.repository) {
        exclude(&place.common_dir, inside)?;
    }
    // By components: git's prefix ends with `/`, and an empty one adds a `/` too.
    let mut cwd = root.clone();
    cwd.extend(place.prefix.components());
    std::fs::create_dir_all(&cwd).map_err(|error| WorktreeError::Io {
        what: format!("cannot make {}", cwd.display()),
        error,
    })?;
    tracing::info!(role, root = %root.display(), reused, "worktree ready");
    Ok(Worktree {
        repository: place.repository,
        root,
        cwd,
        branch,
        reused,
    })
}

/// `ourocodus/<role>`, for a name that is safe as a branch and a directory (config
/// already holds role names to `[a-z][a-z0-9_-]*`; this holds anyone else to it).
pub fn branch_for(role: &str) -> Result<String, WorktreeError> {
    if crate::config::is_valid_role_name(role) {
        Ok(format!("{BRANCH_PREFIX}{role}"))
    } else {
        Err(WorktreeError::BadRole(role.to_string()))
    }
}

/// Where a directory sits in its repository.
struct Place {
    repository: PathBuf,
    /// The directory's path below the top level (empty at the top).
    prefix: PathBuf,
    /// The repository's shared `.git` directory.
    common_dir: PathBuf,
}

fn locate(dir: &Path) -> Result<Place, WorktreeError> {
    if !dir.is_dir() {
        return Err(WorktreeError::NotARepository(dir.to_path_buf()));
    }
    let git = Git::in_dir(dir);
    let ran = git.run([
        "rev-parse",
        "--show-toplevel",
        "--show-prefix",
        "--git-common-dir",
    ])?;
    if !ran.ok() {
        tracing::debug!(dir = %dir.display(), stderr = %ran.stderr, "not in a git work tree");
        return Err(WorktreeError::NotARepository(dir.to_path_buf()));
    }
    let mut lines = ran.stdout.split('\n');
    let mut next = || lines.next().unwrap_or_default().to_string();
    let (repository, prefix, common_dir) = (next(), next(), next());
    if repository.is_empty() || common_dir.is_empty() {
        return Err(WorktreeError::NotARepository(dir.to_path_buf()));
    }
    Ok(Place {
        repository: PathBuf::from(repository),
        prefix: PathBuf::from(prefix),
        // Relative to the directory git ran in, when relative.
        common_dir: dir.join(common_dir),
    })
}

enum Registration {
    /// A worktree of this repository, there on disk.
    Live,
    /// Registered, but its directory is gone.
    Missing,
    None,
}

/// The admin directory of the worktree at `root` in the main repository
/// (`<common>/worktrees/NAME`, whose `gitdir` names `<root>/.git`): what git in
/// the worktree must use, since the worktree's own `.git` file is the role's.
fn admin_dir(common_dir: &Path, root: &Path) -> Result<PathBuf, WorktreeError> {
    let expected = lexically_normal(&root.join(".git"));
    let listed = common_dir.join("worktrees");
    let entries = std::fs::read_dir(&listed).map_err(|error| WorktreeError::Io {
        what: format!("cannot list {}", listed.display()),
        error,
    })?;
    for entry in entries.flatten() {
        let gitdir = std::fs::read_to_string(entry.path().join("gitdir")).unwrap_or_default();
        if lexically_normal(Path::new(gitdir.trim())) == expected {
            return Ok(entry.path());
        }
    }
    Err(WorktreeError::Refused(format!(
        "{} is not registered as a worktree of this repository",
        root.display()
    )))
}

/// Whether `root` is one of the repository's worktrees. A symlink in its place is
/// not: the role could point it anywhere.
fn registered(repo: &Git, root: &Path) -> Result<Registration, WorktreeError> {
    if std::fs::symlink_metadata(root).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(WorktreeError::PathTaken {
            path: root.to_path_buf(),
            repository: repo.dir().to_path_buf(),
        });
    }
    let listing = repo.check(["worktree", "list", "--porcelain"])?;
    for entry in listing.split("\n\n") {
        let path = entry.lines().find_map(|l| l.strip_prefix("worktree "));
        if path.is_some_and(|path| same_path(Path::new(path), root)) {
            let gone = entry.lines().any(|l| l.starts_with("prunable")) || !root.is_dir();
            return Ok(if gone {
                Registration::Missing
            } else {
                Registration::Live
            });
        }
    }
    Ok(Registration::None)
}

/// `git worktree add`: on the role's branch when it exists (work from an earlier
/// worktree), else on a new one made from HEAD.
fn add(repo: &Git, root: &Path, branch: &str, repository: &Path) -> Result<(), WorktreeError> {
    let taken = std::fs::read_dir(root).is_ok_and(|mut entries| entries.next().is_some());
    if taken || root.is_file() {
        return Err(WorktreeError::PathTaken {
            path: root.to_path_buf(),
            repository: repository.to_path_buf(),
        });
    }
    let full_ref = format!("refs/heads/{branch}");
    let exists = repo
        .run(["show-ref", "--verify", "--quiet", full_ref.as_str()])?
        .ok();
    let mut args: Vec<OsString> = vec!["worktree".into(), "add".into()];
    if !exists {
        args.extend(["-b".into(), branch.into()]);
    }
    args.extend(["--".into(), root.into()]);
    args.push(if exists { branch } else { "HEAD" }.into());
    repo.check(args)?;
    Ok(())
}

/// Adds `/<inside>/` to the repository's `info/exclude` unless a line says it already.
fn exclude(common_dir: &Path, inside: &Path) -> Result<(), WorktreeError> {
    let words: Vec<String> = inside
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if words.is_empty() {
        return Ok(());
    }
    let pattern = format!("/{}/", words.join("/"));
    let info = common_dir.join("info");
    let file = info.join("exclude");
    let io = |what: &str| {
        let what = format!("{what} {}", file.display());
        move |error| WorktreeError::Io { what, error }
    };
    let current = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(io("cannot read")(error)),
    };
    if current.lines().any(|line| line.trim() == pattern) {
        return Ok(());
    }
    std::fs::create_dir_all(&info).map_err(io("cannot make the directory of"))?;
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .map_err(io("cannot open"))?;
    let separator = if current.is_empty() || current.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    let text = format!("{separator}# role worktrees made by ourocodus\n{pattern}\n");
    out.write_all(text.as_bytes()).map_err(io("cannot write"))
}

/// The same place, through symlinks when both exist.
fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => lexically_normal(a) == lexically_normal(b),
    }
}

/// `.` dropped and `..` applied to the words before it, without touching the disk.
fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}
