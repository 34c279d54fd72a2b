//! Roles with `worktree = true`: each works in a git worktree of its own, on branch
//! `ourocodus/<role>`, with its policy counted from there; `/merge ROLE` brings its
//! work back or reports a conflict and leaves the user's tree as it was; outside a git
//! repository such a role gets no agent, says why, and the others go on.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{Peer as _, Proxy, WAIT, bounded, ourocodus_bin, text_from};

/// The fake agent in every role, each table with its own extra lines.
fn team(roles: &[(&str, &str)]) -> String {
    let mut toml = format!(
        "[defaults]\ncommand = {:?}\nroute = [{:?}]\n",
        ourocodus_bin(),
        roles[0].0
    );
    for (role, extra) in roles {
        toml.push_str(&format!(
            "\n[roles.{role}]\nargs = [\"fake-agent\", \"--name\", \"{role}\"]\n{extra}\n"
        ));
    }
    toml
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A project that is a git repository: one commit on `main`, the proxy's own files
/// (config, store, stderr) kept out of `git status`.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    make_repository(dir.path());
    dir
}

fn make_repository(path: &Path) {
    git(path, &["init", "-q", "-b", "main"]);
    git(path, &["config", "user.name", "Tester"]);
    git(path, &["config", "user.email", "tester@example.com"]);
    std::fs::write(path.join("README.md"), "hello\n").unwrap();
    std::fs::write(
        path.join(".git/info/exclude"),
        "team.toml\nstore.db*\nproxy*.stderr\n",
    )
    .unwrap();
    git(path, &["add", "-A"]);
    git(path, &["commit", "-q", "-m", "first"]);
}

/// Where `role`'s worktree is (git names it by the repository's real path).
fn worktree_of(cwd: &Path, role: &str) -> std::path::PathBuf {
    cwd.canonicalize()
        .unwrap()
        .join(".ourocodus/worktrees")
        .join(role)
}

async fn proxy_in_repository(team_toml: &str) -> (Proxy, String) {
    let mut proxy = Proxy::start_in(repository(), team_toml, &[]).await;
    let session = proxy.plain_session().await;
    (proxy, session)
}

/// Everything the proxy said in the chat in answer to `text`.
async fn said(proxy: &mut Proxy, session: &str, text: &str) -> (String, Value) {
    let (messages, answer) = proxy.prompt(session, text).await;
    (text_from(&messages, "ourocodus"), answer)
}

/// What `git status` shows in the main tree: tracked changes, untracked files, and a
/// merge left in progress.
fn main_tree_state(cwd: &Path) -> (String, bool) {
    let status = git(cwd, &["status", "--porcelain"]);
    (status, cwd.join(".git/MERGE_HEAD").exists())
}

#[tokio::test]
async fn a_worktree_role_works_in_its_worktree_on_its_branch_and_a_plain_role_stays_put() {
    bounded(WAIT * 2, async {
        let toml = team(&[("alpha", "worktree = true"), ("beta", "")]);
        let (mut proxy, session) = proxy_in_repository(&toml).await;
        let cwd = proxy.cwd().to_path_buf();
        let script = "disk write notes.txt by alpha; write file served.txt by the proxy; whoami";
        let (messages, _) = proxy.prompt(&session, &format!("@alpha {script}")).await;
        let alpha = text_from(&messages, "alpha");
        let worktree = worktree_of(&cwd, "alpha");
        let wrote = |file: &str| format!("wrote {}", worktree.join(file).display());
        assert!(
            alpha.contains(&wrote("notes.txt")) && alpha.contains(&wrote("served.txt")),
            "{alpha}"
        );
        let its_cwd = format!("cwd: {}\n", worktree.display());
        assert!(alpha.contains(&its_cwd), "its cwd is the worktree: {alpha}");
        assert!(alpha.contains("alpha works in its own worktree"), "{alpha}");
        assert_eq!(
            std::fs::read_to_string(worktree.join("notes.txt")).unwrap(),
            "by alpha"
        );
        assert_eq!(
            std::fs::read_to_string(worktree.join("served.txt")).unwrap(),
            "by the proxy"
        );
        assert!(!cwd.join("notes.txt").exists() && !cwd.join("served.txt").exists());
        assert_eq!(
            git(&worktree, &["branch", "--show-current"]).trim(),
            "ourocodus/alpha"
        );
        let (messages, _) = proxy
            .prompt(&session, "@beta disk write beta.txt by beta")
            .await;
        let beta = text_from(&messages, "beta");
        assert!(
            beta.contains(&format!("disk wrote {}", cwd.join("beta.txt").display())),
            "{beta}"
        );
        assert!(
            cwd.join("beta.txt").is_file(),
            "beta stays in the session directory"
        );
        let (status, _) = main_tree_state(&cwd);
        assert_eq!(
            status, "?? beta.txt\n",
            "the worktrees are kept out of git status"
        );
        proxy.close().await;
    })
    .await;
}

#[tokio::test]
async fn merge_brings_the_roles_work_into_the_main_branch() {
    bounded(WAIT * 3, async {
        // Unsandboxed, so the agent may commit in the repository's .git itself.
        let toml = team(&[("alpha", "worktree = true\nsandbox = \"off\"")]);
        let (mut proxy, session) = proxy_in_repository(&toml).await;
        let cwd = proxy.cwd().to_path_buf();
        let commit =
            "disk write api.txt paging; shell git add -A && git commit -qm 'alpha: paging'";
        let (messages, _) = proxy.prompt(&session, commit).await;
        assert!(
            text_from(&messages, "alpha").contains("shell exit 0"),
            "{}",
            text_from(&messages, "alpha")
        );
        let (text, answer) = said(&mut proxy, &session, "/merge alpha").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        assert!(
            text.contains("Merged ourocodus/alpha into main") && text.contains("- api.txt"),
            "{text}"
        );
        assert!(!text.contains("uncommitted"), "{text}");
        assert_eq!(
            std::fs::read_to_string(cwd.join("api.txt")).unwrap(),
            "paging"
        );
        let parents = git(&cwd, &["log", "-1", "--format=%P"]);
        assert_eq!(
            parents.split_whitespace().count(),
            2,
            "a merge commit (--no-ff)"
        );
        let (text, _) = said(&mut proxy, &session, "/merge alpha").await;
        assert!(text.contains("Nothing to merge"), "{text}");

        proxy
            .prompt(&session, "disk write left.txt not committed")
            .await;
        let id = proxy
            .request(
                "_ourocodus/merge",
                json!({ "sessionId": session, "role": "alpha" }),
            )
            .await;
        let (_, merged) = proxy.until_response(id, |_| None).await;
        let result = &merged["result"];
        assert_eq!(result["outcome"], "merged", "{merged}");
        assert_eq!(
            result["committed"]["files"], 1,
            "what it left was committed first"
        );
        assert_eq!(result["files"], json!(["left.txt"]));
        let author = git(&cwd, &["log", "-1", "--format=%an", "ourocodus/alpha"]);
        assert_eq!(author.trim(), "alpha (ourocodus)");
        assert!(cwd.join("left.txt").is_file());
        proxy.close().await;
    })
    .await;
}

#[tokio::test]
async fn while_a_roles_branch_is_merged_its_prompts_wait_and_a_second_merge_is_refused() {
    bounded(WAIT * 3, async {
        let toml = team(&[("alpha", "worktree = true")]);
        let (mut proxy, session) = proxy_in_repository(&toml).await;
        let cwd = proxy.cwd().to_path_buf();
        // Left uncommitted: the merge commits it first (git, a few processes, off the loop).
        proxy.prompt(&session, "disk write left.txt first").await;
        let merge = json!({ "sessionId": session, "role": "alpha" });
        let first = proxy.request("_ourocodus/merge", merge.clone()).await;
        let second = proxy.request("_ourocodus/merge", merge).await;
        let during = proxy
            .prompt_id(&session, "@alpha disk write during.txt while merging")
            .await;
        let (before_second, refused) = proxy.until_response(second, |_| None).await;
        assert!(
            refused["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("being merged already")),
            "{refused}"
        );
        let (before_merged, merged) = proxy.until_response(first, |_| None).await;
        assert_eq!(merged["result"]["outcome"], "merged", "{merged}");
        assert_eq!(merged["result"]["files"], json!(["left.txt"]), "{merged}");
        let early: Vec<_> = before_second.iter().chain(&before_merged).collect();
        assert!(
            !early.iter().any(|m| m.to_string().contains("during.txt")),
            "the prompt reached alpha before the merge was done"
        );
        let (messages, answer) = proxy.until_response(during, |_| None).await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
        assert!(
            text_from(&messages, "alpha").contains("disk wrote"),
            "then it ran"
        );
        assert!(
            !cwd.join("during.txt").exists(),
            "in alpha's worktree, after the merge"
        );
        proxy.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_conflict_is_reported_with_its_files_and_the_main_tree_is_left_as_it_was() {
    bounded(WAIT * 2, async {
        let toml = team(&[("alpha", "worktree = true")]);
        let (mut proxy, session) = proxy_in_repository(&toml).await;
        let cwd = proxy.cwd().to_path_buf();
        proxy
            .prompt(&session, "disk write README.md alpha's readme")
            .await;
        std::fs::write(cwd.join("README.md"), "the user's readme\n").unwrap();
        git(&cwd, &["commit", "-q", "-am", "the user's readme"]);
        let head = git(&cwd, &["rev-parse", "HEAD"]);
        let (text, answer) = said(&mut proxy, &session, "/merge alpha").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        assert!(
            text.contains("CONFLICT") && text.contains("README.md"),
            "{text}"
        );
        assert!(text.contains("The merge was aborted"), "{text}");
        assert_eq!(git(&cwd, &["rev-parse", "HEAD"]), head, "no merge commit");
        assert_eq!(
            main_tree_state(&cwd),
            (String::new(), false),
            "clean, no merge in progress"
        );
        assert_eq!(
            std::fs::read_to_string(cwd.join("README.md")).unwrap(),
            "the user's readme\n"
        );
        proxy.close().await;
    })
    .await;
}

#[tokio::test]
async fn outside_a_git_repository_a_worktree_role_gets_no_agent_says_why_and_the_other_answers() {
    bounded(WAIT * 2, async {
        let toml = team(&[("alpha", "worktree = true"), ("beta", "")]);
        let mut proxy = Proxy::start(&toml).await;
        let session = proxy.plain_session().await;
        let cwd = proxy.cwd().display().to_string();
        let (messages, answer) = proxy
            .prompt(&session, "@alpha disk write stray.txt x")
            .await;
        let expected =
            format!("worktree = true for role alpha, but {cwd} is not inside a git repository");
        let error = answer["error"].to_string();
        assert!(error.contains(&expected), "{answer}");
        assert!(
            text_from(&messages, "alpha").contains(&expected),
            "told in the chat too"
        );
        assert!(
            !proxy.cwd().join("stray.txt").exists(),
            "it did not run in the wrong place"
        );
        let (messages, answer) = proxy.prompt(&session, "@beta say still here").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        assert_eq!(text_from(&messages, "beta"), "still here");
        let (agents, _) = said(&mut proxy, &session, "/agents").await;
        assert!(agents.contains("**alpha**: not started"), "{agents}");
        let (text, _) = said(&mut proxy, &session, "/merge beta").await;
        assert!(text.contains("beta has no worktree"), "{text}");
        proxy.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_roles_directories_count_from_its_worktree() {
    bounded(WAIT * 2, async {
        let toml = team(&[("alpha", "worktree = true\ndirectories = [\"src\"]")]);
        let (mut proxy, session) = proxy_in_repository(&toml).await;
        let cwd = proxy.cwd().to_path_buf();
        let (messages, _) = proxy
            .prompt(
                &session,
                "write file src/ok.txt fine; write file top.txt no; \
                 disk write src/own.txt kernel allows; disk write own-top.txt kernel refuses",
            )
            .await;
        let alpha = text_from(&messages, "alpha");
        let worktree = worktree_of(&cwd, "alpha");
        assert!(
            alpha.contains(&format!("wrote {}", worktree.join("src/ok.txt").display())),
            "{alpha}"
        );
        let refused = format!(
            "write to {} refused by ourocodus policy: outside this role's directories ({})",
            worktree.join("top.txt").display(),
            worktree.join("src").display()
        );
        assert!(alpha.contains(&refused), "{alpha}");
        // The kernel sandbox counts them from there too.
        assert!(worktree.join("src/own.txt").is_file(), "{alpha}");
        assert!(
            alpha.contains("disk write failed") && alpha.contains("Permission denied"),
            "{alpha}"
        );
        assert!(!worktree.join("own-top.txt").exists());
        assert_eq!(
            std::fs::read_to_string(worktree.join("src/ok.txt")).unwrap(),
            "fine"
        );
        assert!(!worktree.join("top.txt").exists() && !cwd.join("top.txt").exists());
        assert!(
            !cwd.join("src").exists(),
            "nothing in the session directory's src"
        );
        proxy.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_later_proxy_finds_the_roles_worktree_with_its_work() {
    bounded(WAIT * 3, async {
        let toml = team(&[("alpha", "worktree = true")]);
        let (mut proxy, session) = proxy_in_repository(&toml).await;
        proxy
            .prompt(&session, "disk write draft.txt first day")
            .await;
        let dir = proxy.close_keeping_dir().await;
        let mut proxy = Proxy::start_in(dir, &toml, &[]).await;
        let session = proxy.plain_session().await;
        let (messages, _) = proxy.prompt(&session, "shell cat draft.txt").await;
        let alpha = text_from(&messages, "alpha");
        assert!(alpha.contains("kept from an earlier session"), "{alpha}");
        assert!(alpha.contains("shell exit 0: first day"), "{alpha}");
        proxy.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_worktree_roles_terminal_starts_in_its_worktree_even_when_it_names_no_cwd() {
    bounded(WAIT * 2, async {
        let toml = team(&[("alpha", "worktree = true")]);
        let mut proxy = Proxy::start_in(repository(), &toml, &[]).await;
        proxy.initialize(json!({ "terminal": true })).await;
        let session = proxy.new_session().await;
        let create = json!({"jsonrpc": "2.0", "id": "t1", "method": "terminal/create",
            "params": {"sessionId": "fake-1", "command": "pwd"}});
        let id = proxy
            .prompt_id(&session, &format!("raw {create}; sleep 200ms"))
            .await;
        let (messages, _) = proxy
            .until_response(id, |request| {
                (request["method"] == "terminal/create").then(|| json!({"terminalId": "term-1"}))
            })
            .await;
        let created: Vec<&Value> = messages
            .iter()
            .filter(|m| m["method"] == "terminal/create")
            .collect();
        assert_eq!(created.len(), 1, "{messages:?}");
        let worktree = worktree_of(proxy.cwd(), "alpha");
        assert_eq!(
            created[0]["params"]["cwd"],
            json!(worktree),
            "{}",
            created[0]
        );
        proxy.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_restart_after_git_init_makes_the_worktree_and_starts_the_role_in_it() {
    bounded(WAIT * 2, async {
        let toml = team(&[("alpha", "worktree = true\ndirectories = [\"src\"]")]);
        let mut proxy = Proxy::start(&toml).await;
        let session = proxy.plain_session().await;
        let (_, answer) = proxy.prompt(&session, "say hi").await;
        assert!(
            answer["error"]
                .to_string()
                .contains("is not inside a git repository"),
            "{answer}"
        );
        make_repository(proxy.cwd());
        proxy.prompt(&session, "/restart alpha").await;
        crate::supervision::wait_for_status(&mut proxy, "alpha", "idle").await;
        let (messages, _) = proxy
            .prompt(&session, "disk write src/x.txt kernel allows")
            .await;
        let alpha = text_from(&messages, "alpha");
        let worktree = worktree_of(proxy.cwd(), "alpha");
        assert!(
            worktree.join("src/x.txt").is_file(),
            "its sandbox was made with its worktree: {alpha}"
        );
        proxy.close().await;
    })
    .await;
}

#[tokio::test]
async fn without_git_on_the_path_a_worktree_role_says_so_and_gets_no_agent() {
    bounded(WAIT * 2, async {
        let toml = team(&[("alpha", "worktree = true"), ("beta", "")]);
        let no_git = [("PATH", "/nonexistent")];
        let mut proxy = Proxy::start_in(repository(), &toml, &no_git).await;
        let session = proxy.plain_session().await;
        let (_, answer) = proxy.prompt(&session, "@alpha say hi").await;
        let expected =
            "worktree = true for role alpha, but git is not installed (no `git` on PATH)";
        assert!(answer["error"].to_string().contains(expected), "{answer}");
        let (messages, _) = proxy.prompt(&session, "@beta say here").await;
        assert_eq!(text_from(&messages, "beta"), "here");
        proxy.close().await;
    })
    .await;
}
