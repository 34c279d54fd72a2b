//! Running the `git` binary: one command in one directory, never interactive, with
//! none of the proxy's own `GIT_*` redirections, its output captured. Knows how to run
//! git; nothing of worktrees.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::WorktreeError;

/// Variables that would point git at another repository, index or work tree than
/// the directory it is run in (set when the proxy itself runs under a git hook).
const REDIRECTING_VARIABLES: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
];

/// What one git command did.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Git, run in one directory.
pub struct Git {
    dir: PathBuf,
    /// The repository to use, when it must not be the one `dir` names itself (a
    /// worktree's `.git` file is the role's to rewrite).
    git_dir: Option<PathBuf>,
}

impl Git {
    pub fn in_dir(dir: &Path) -> Git {
        Git {
            dir: dir.to_path_buf(),
            git_dir: None,
        }
    }

    /// Git in a role's worktree `root`, with the repository pinned to its admin
    /// directory in the main repository (never what the worktree's `.git` says).
    pub fn in_worktree(root: &Path, admin: &Path) -> Git {
        Git {
            dir: root.to_path_buf(),
            git_dir: Some(admin.to_path_buf()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `git -C DIR ARGS...`; a failure to run git at all is an error, a
    /// non-zero exit is for the caller to read.
    pub fn run<I, S>(&self, args: I) -> Result<Ran, WorktreeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let mut command = Command::new("git");
        command.arg("-C").arg(&self.dir);
        if let Some(git_dir) = &self.git_dir {
            command
                .arg("--git-dir")
                .arg(git_dir)
                .arg("--work-tree")
                .arg(&self.dir);
        }
        command
            .args(&args)
            .stdin(Stdio::null())
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_EDITOR", "true");
        for name in REDIRECTING_VARIABLES {
            command.env_remove(name);
        }
        let output = command.output().map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => WorktreeError::GitMissing,
            _ => WorktreeError::CannotRun(error.to_string()),
        })?;
        let ran = Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        };
        tracing::debug!(dir = %self.dir.display(), args = ?args, code = ?ran.code, "git");
        Ok(ran)
    }

    /// Runs git and wants it to succeed; its output.
    pub fn check<I, S>(&self, args: I) -> Result<String, WorktreeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let ran = self.run(&args)?;
        if ran.ok() {
            Ok(ran.stdout)
        } else {
            Err(self.failed(&args, ran))
        }
    }

    /// The error for a command that ran and failed.
    pub fn failed(&self, args: &[std::ffi::OsString], ran: Ran) -> WorktreeError {
        let words: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        WorktreeError::Git {
            command: format!("git {}", words.join(" ")),
            dir: self.dir.clone(),
            stderr: ran.stderr,
        }
    }
}

/// The lines of git's output that say something.
pub fn lines(output: &str) -> Vec<String> {
    output
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}
