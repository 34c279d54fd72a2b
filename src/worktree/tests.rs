//! Worktrees made, found again and merged back, in scratch repositories with the
//! real `git`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// A repository with one commit on `main`, removed on drop.
struct Repo(tempfile::TempDir);

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = Repo(dir);
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "Tester"]);
        repo.git(&["config", "user.email", "tester@example.com"]);
        repo.write("README.md", "hello\n");
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "first"]);
        repo
    }

    fn path(&self) -> PathBuf {
        self.0.path().canonicalize().expect("real path")
    }

    fn write(&self, file: &str, text: &str) {
        let path = self.path().join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(path, text).expect("write");
    }

    fn git(&self, args: &[&str]) -> String {
        git_in(&self.path(), args)
    }
}

fn git_in(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn base() -> PathBuf {
    PathBuf::from(crate::config::DEFAULT_WORKTREE_DIR)
}

#[test]
fn a_worktree_is_made_on_the_roles_branch_and_kept_out_of_git_status() {
    let repo = Repo::new();
    let worktree = prepare(&repo.path(), "backend", &base()).expect("made");
    assert_eq!(
        worktree.root,
        repo.path().join(".ourocodus/worktrees/backend")
    );
    assert_eq!(worktree.cwd, worktree.root);
    assert_eq!(worktree.branch, "ourocodus/backend");
    assert!(!worktree.reused);
    assert_eq!(
        git_in(&worktree.root, &["branch", "--show-current"]).trim(),
        "ourocodus/backend"
    );
    assert!(worktree.root.join("README.md").is_file());
    assert_eq!(
        repo.git(&["status", "--porcelain"]),
        "",
        "the main tree stays clean"
    );
    let again = prepare(&repo.path(), "backend", &base()).expect("found");
    assert!(again.reused);
    assert_eq!(again.root, worktree.root);
    let exclude = std::fs::read_to_string(repo.path().join(".git/info/exclude")).expect("exclude");
    assert_eq!(
        exclude.matches("/.ourocodus/worktrees/").count(),
        1,
        "{exclude}"
    );
}

#[test]
fn a_session_in_a_subdirectory_works_in_the_same_subdirectory_of_the_worktree() {
    let repo = Repo::new();
    repo.write("src/lib.rs", "\n");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "src"]);
    let worktree = prepare(&repo.path().join("src"), "test", &base()).expect("made");
    assert_eq!(worktree.repository, repo.path());
    assert_eq!(worktree.cwd, worktree.root.join("src"));
    assert!(worktree.cwd.join("lib.rs").is_file());
}

#[test]
fn a_worktree_whose_directory_was_removed_is_made_again_with_the_roles_work() {
    let repo = Repo::new();
    let first = prepare(&repo.path(), "backend", &base()).expect("made");
    std::fs::write(first.root.join("work.txt"), "done\n").expect("write");
    git_in(&first.root, &["add", "-A"]);
    git_in(&first.root, &["commit", "-q", "-m", "work"]);
    std::fs::remove_dir_all(&first.root).expect("remove");
    let again = prepare(&repo.path(), "backend", &base()).expect("made again");
    assert!(!again.reused);
    assert!(
        again.root.join("work.txt").is_file(),
        "back on the role's branch"
    );
}

#[test]
fn outside_a_repository_the_error_names_the_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let error = prepare(dir.path(), "backend", &base()).expect_err("no repository");
    assert_eq!(
        error.to_string(),
        format!("{} is not inside a git repository", dir.path().display())
    );
}

#[test]
fn a_directory_in_the_way_is_not_taken_over() {
    let repo = Repo::new();
    repo.write(".ourocodus/worktrees/backend/mine.txt", "keep\n");
    let error = prepare(&repo.path(), "backend", &base()).expect_err("taken");
    assert!(matches!(error, WorktreeError::PathTaken { .. }), "{error}");
    assert!(
        repo.path()
            .join(".ourocodus/worktrees/backend/mine.txt")
            .is_file()
    );
}

#[test]
fn names_that_could_escape_or_pass_for_options_are_refused() {
    for role in ["../x", "-x", "a/b", "", "A"] {
        assert!(
            matches!(branch_for(role), Err(WorktreeError::BadRole(_))),
            "{role}"
        );
    }
    assert_eq!(branch_for("qa-2_x").expect("safe"), "ourocodus/qa-2_x");
}

#[test]
fn merge_commits_what_the_role_left_and_brings_it_into_the_main_branch() {
    let repo = Repo::new();
    let worktree = prepare(&repo.path(), "backend", &base()).expect("made");
    std::fs::write(worktree.root.join("api.txt"), "paging\n").expect("write");
    let report = merge(&repo.path(), &worktree.root, "backend").expect("merged");
    assert_eq!(report.into, "main");
    let committed = report.committed.expect("the leftover was committed");
    assert_eq!(committed.files, 1);
    let author = git_in(&worktree.root, &["log", "-1", "--format=%an <%ae>"]);
    assert_eq!(
        author.trim(),
        "backend (ourocodus) <backend@ourocodus.invalid>"
    );
    let MergeOutcome::Merged { files, .. } = report.outcome else {
        panic!("not merged: {:?}", report.outcome);
    };
    assert_eq!(files, ["api.txt"]);
    assert_eq!(
        std::fs::read_to_string(repo.path().join("api.txt")).expect("merged"),
        "paging\n"
    );
    let again = merge(&repo.path(), &worktree.root, "backend").expect("ran");
    assert_eq!(again.outcome, MergeOutcome::NothingToMerge);
}

#[test]
fn a_conflict_names_its_files_and_leaves_the_main_tree_as_it_was() {
    let repo = Repo::new();
    let worktree = prepare(&repo.path(), "backend", &base()).expect("made");
    std::fs::write(worktree.root.join("README.md"), "theirs\n").expect("write");
    repo.write("README.md", "ours\n");
    repo.git(&["commit", "-q", "-am", "ours"]);
    let head = repo.git(&["rev-parse", "HEAD"]);
    let report = merge(&repo.path(), &worktree.root, "backend").expect("ran");
    assert_eq!(
        report.outcome,
        MergeOutcome::Conflict {
            files: vec!["README.md".to_string()]
        }
    );
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert!(!repo.path().join(".git/MERGE_HEAD").exists());
}

#[test]
fn merge_refuses_to_start_over_uncommitted_changes_in_the_main_tree() {
    let repo = Repo::new();
    let worktree = prepare(&repo.path(), "backend", &base()).expect("made");
    std::fs::write(worktree.root.join("api.txt"), "x\n").expect("write");
    repo.write("README.md", "edited, not committed\n");
    let error = merge(&repo.path(), &worktree.root, "backend").expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("uncommitted changes (README.md)"),
        "{error}"
    );
    assert!(worktree.root.join("api.txt").is_file());
    assert_eq!(
        git_in(&worktree.root, &["status", "--porcelain"]),
        "?? api.txt\n",
        "nothing was committed"
    );
}

#[test]
fn merge_uses_the_repository_the_worktree_was_made_in_whatever_its_git_file_says() {
    let repo = Repo::new();
    let worktree = prepare(&repo.path(), "backend", &base()).expect("made");
    std::fs::write(worktree.root.join("api.txt"), "paging\n").expect("write");
    // The role points its worktree at a repository of its own (whose config could
    // run anything when the proxy's git reads it).
    let elsewhere = tempfile::tempdir().expect("temp dir");
    git_in(elsewhere.path(), &["init", "-q"]);
    let gitdir = format!("gitdir: {}\n", elsewhere.path().join(".git").display());
    std::fs::write(worktree.root.join(".git"), gitdir).expect("rewrite .git");
    let report = merge(&repo.path(), &worktree.root, "backend").expect("merged");
    assert_eq!(report.committed.expect("committed").files, 1);
    assert!(
        matches!(report.outcome, MergeOutcome::Merged { .. }),
        "{:?}",
        report.outcome
    );
    assert_eq!(
        std::fs::read_to_string(repo.path().join("api.txt")).expect("merged"),
        "paging\n"
    );
}

#[test]
fn a_symlink_in_a_worktrees_place_is_not_taken_for_it() {
    let repo = Repo::new();
    prepare(&repo.path(), "backend", &base()).expect("made");
    let root = repo.path().join(base()).join("backend");
    let other = Repo::new();
    std::fs::rename(&root, repo.path().join("moved")).expect("move");
    std::os::unix::fs::symlink(other.path(), &root).expect("symlink");
    let error = prepare(&repo.path(), "backend", &base()).expect_err("refused");
    assert!(matches!(error, WorktreeError::PathTaken { .. }), "{error}");
}
