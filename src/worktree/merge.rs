//! Merging a role's branch into the branch checked out where the session works: what
//! the role left uncommitted in its worktree is committed first (authored as the
//! role), then `git merge --no-ff`; a conflict is reported with its files and the
//! merge aborted, so the user's tree is left as it was. Knows git; nothing of the chat.

use std::ffi::OsString;
use std::path::Path;

use super::git::{Git, lines};
use super::{GIT_CHANGES, WorktreeError, branch_for, locate};

/// Changed files named in a refusal, at most.
const FILES_NAMED: usize = 5;

/// The commit made of a role's uncommitted work before merging it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub commit: String,
    pub files: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The merge commit, the files it brought, and git's one-line summary of them.
    Merged {
        commit: String,
        files: Vec<String>,
        summary: String,
    },
    /// The branch has nothing the target does not have already.
    NothingToMerge,
    /// These files conflicted; the merge was aborted.
    Conflict { files: Vec<String> },
}

/// What `/merge` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeReport {
    /// `ourocodus/<role>`.
    pub branch: String,
    /// The branch merged into (`HEAD` when it is detached).
    pub into: String,
    pub committed: Option<Committed>,
    pub outcome: MergeOutcome,
}

/// Merges `role`'s branch (its worktree at `worktree_root`) into what is checked out
/// at `session_cwd`. Refused, touching nothing, while a merge is in progress there or
/// its tracked files have changes (an aborted merge could not give them back exactly).
pub fn merge(
    session_cwd: &Path,
    worktree_root: &Path,
    role: &str,
) -> Result<MergeReport, WorktreeError> {
    let branch = branch_for(role)?;
    let _one_at_a_time = GIT_CHANGES.lock().unwrap_or_else(|e| e.into_inner());
    let place = locate(session_cwd)?;
    let main = Git::in_dir(&place.repository);
    ready_to_merge(&main)?;
    if !worktree_root.is_dir() {
        return Err(WorktreeError::Refused(format!(
            "its worktree {} is gone",
            worktree_root.display()
        )));
    }
    let admin = super::admin_dir(&place.common_dir, worktree_root)?;
    let committed = commit_leftovers(&Git::in_worktree(worktree_root, &admin), role)?;
    let into = match main.run(["symbolic-ref", "--short", "-q", "HEAD"])? {
        ran if ran.ok() => ran.stdout.trim().to_string(),
        _ => "HEAD".to_string(),
    };
    let outcome = merge_branch(&main, &branch)?;
    Ok(MergeReport {
        branch,
        into,
        committed,
        outcome,
    })
}

/// No merge in progress, no change to a tracked file.
fn ready_to_merge(main: &Git) -> Result<(), WorktreeError> {
    if merge_in_progress(main)? {
        return Err(WorktreeError::Refused(format!(
            "a merge is already in progress in {}: finish or abort it first",
            main.dir().display()
        )));
    }
    let changed = changed_files(main, false)?;
    if changed.is_empty() {
        return Ok(());
    }
    let mut named = changed
        .iter()
        .take(FILES_NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if changed.len() > FILES_NAMED {
        named.push_str(&format!(" and {} more", changed.len() - FILES_NAMED));
    }
    Err(WorktreeError::Refused(format!(
        "{} has uncommitted changes ({named}): commit or stash them first, so that a merge \
         that conflicts can be undone exactly",
        main.dir().display()
    )))
}

fn merge_in_progress(git: &Git) -> Result<bool, WorktreeError> {
    Ok(git.run(["rev-parse", "-q", "--verify", "MERGE_HEAD"])?.ok())
}

/// The paths `git status` names (untracked ones too when asked).
fn changed_files(git: &Git, untracked: bool) -> Result<Vec<String>, WorktreeError> {
    let untracked = if untracked {
        "--untracked-files=all"
    } else {
        "--untracked-files=no"
    };
    let status = git.check(["status", "--porcelain", untracked])?;
    // `XY path`: the two status letters may be spaces, so the line is not trimmed.
    Ok(status
        .lines()
        .filter_map(|line| line.get(3..))
        .map(str::to_string)
        .collect())
}

/// Commits everything the role left in its worktree, as the role; `None` when it
/// left nothing.
fn commit_leftovers(worktree: &Git, role: &str) -> Result<Option<Committed>, WorktreeError> {
    let files = changed_files(worktree, true)?.len();
    if files == 0 {
        return Ok(None);
    }
    worktree.check(["add", "-A"])?;
    let message = format!("{role}: uncommitted work, committed by ourocodus for /merge");
    let author = format!("--author={role} (ourocodus) <{role}@ourocodus.invalid>");
    worktree.check(["commit", "-q", "-m", message.as_str(), author.as_str()])?;
    let commit = worktree.check(["rev-parse", "--short", "HEAD"])?;
    Ok(Some(Committed {
        commit: commit.trim().to_string(),
        files,
    }))
}

/// `git merge --no-ff`; on a conflict, the files and `git merge --abort`.
fn merge_branch(main: &Git, branch: &str) -> Result<MergeOutcome, WorktreeError> {
    match main.run(["merge-base", "--is-ancestor", branch, "HEAD"])? {
        ran if ran.ok() => return Ok(MergeOutcome::NothingToMerge),
        ran if ran.code == Some(1) => {}
        ran => {
            let args: Vec<OsString> = ["merge-base", "--is-ancestor", branch, "HEAD"]
                .map(OsString::from)
                .into();
            return Err(main.failed(&args, ran));
        }
    }
    let args: Vec<OsString> = ["merge", "--no-ff", "--no-edit", "--", branch]
        .map(OsString::from)
        .into();
    let ran = main.run(&args)?;
    if ran.ok() {
        let commit = main.check(["rev-parse", "--short", "HEAD"])?;
        let files = lines(&main.check(["diff", "--name-only", "HEAD^1", "HEAD"])?);
        let summary = main.check(["diff", "--shortstat", "HEAD^1", "HEAD"])?;
        return Ok(MergeOutcome::Merged {
            commit: commit.trim().to_string(),
            files,
            summary: summary.trim().to_string(),
        });
    }
    let conflicts = lines(&main.check(["diff", "--name-only", "--diff-filter=U"])?);
    if merge_in_progress(main)? {
        main.check(["merge", "--abort"])?;
    }
    if conflicts.is_empty() {
        Err(main.failed(&args, ran))
    } else {
        Ok(MergeOutcome::Conflict { files: conflicts })
    }
}
