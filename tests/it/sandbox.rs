//! The kernel sandbox around each role's agent: what a hostile agent writing past the
//! protocol (itself, through a shell, through a symlink, into a sibling directory)
//! manages with the sandbox on and off, and what `require` and `auto` do on a kernel
//! without Landlock (simulated).

use std::path::Path;

use serde_json::Value;

use crate::support::{Dir, Proxy, WAIT, bounded, fake_team_with, text_from};

fn team(policy: &str) -> String {
    fake_team_with(
        &["alpha"],
        &format!("directories = [\"allowed\"]\n{policy}"),
    )
}

/// `allowed/` (the role's), `outside/`, `allowed-sibling/`, and a symlink made by
/// someone else inside `allowed/` that points outside.
fn lay_out(cwd: &Path) {
    for dir in ["allowed", "outside", "allowed-sibling"] {
        std::fs::create_dir_all(cwd.join(dir)).unwrap();
    }
    std::os::unix::fs::symlink(cwd.join("outside"), cwd.join("allowed/planted")).unwrap();
}

const ESCAPES: &str = "disk write allowed/inside.txt ok; \
     disk write outside/direct.txt x; \
     shell echo x > outside/shell.txt; \
     shell ln -s ../outside allowed/made-link; \
     disk write allowed/planted/through-link.txt x; \
     disk write allowed-sibling/sibling.txt x; \
     shell echo private > \"$TMPDIR/t\" && cat \"$TMPDIR/t\"";

fn escaped(cwd: &Path) -> Vec<&'static str> {
    [
        (
            "outside/direct.txt",
            cwd.join("outside/direct.txt").exists(),
        ),
        ("outside/shell.txt", cwd.join("outside/shell.txt").exists()),
        (
            "allowed/made-link",
            cwd.join("allowed/made-link").symlink_metadata().is_ok(),
        ),
        (
            "outside/through-link.txt",
            cwd.join("outside/through-link.txt").exists(),
        ),
        (
            "allowed-sibling/sibling.txt",
            cwd.join("allowed-sibling/sibling.txt").exists(),
        ),
    ]
    .into_iter()
    .filter(|(_, landed)| *landed)
    .map(|(name, _)| name)
    .collect()
}

#[tokio::test]
async fn inside_works_and_direct_shell_symlink_and_sibling_escapes_are_refused_by_the_kernel() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team("")).await;
        lay_out(proxy.cwd());
        let session = proxy.plain_session().await;
        let (messages, _) = proxy.prompt(&session, ESCAPES).await;
        let said = text_from(&messages, "alpha");
        assert!(proxy.cwd().join("allowed/inside.txt").exists(), "{said}");
        assert_eq!(escaped(proxy.cwd()), Vec::<&str>::new(), "{said}");
        assert_eq!(said.matches("disk write failed").count(), 3, "{said}");
        assert!(said.contains("Permission denied"), "{said}");
        assert!(
            said.contains("shell exit 0: private"),
            "its TMPDIR is writable: {said}"
        );
        let (agents, _) = proxy.prompt(&session, "/agents").await;
        let listed = proxy_text(&agents);
        assert!(
            listed.contains("sandbox enforced (Landlock ABI"),
            "{listed}"
        );
    })
    .await;
}

#[tokio::test]
async fn with_the_sandbox_off_the_same_escapes_land_so_the_sandbox_is_what_refuses_them() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team("sandbox = \"off\"")).await;
        lay_out(proxy.cwd());
        let session = proxy.plain_session().await;
        let (messages, _) = proxy.prompt(&session, ESCAPES).await;
        let said = text_from(&messages, "alpha");
        assert_eq!(escaped(proxy.cwd()).len(), 5, "{said}");
    })
    .await;
}

#[tokio::test]
async fn require_without_landlock_refuses_to_start_the_role_and_says_so() {
    bounded(WAIT * 2, async {
        let env = [("OUROCODUS_SANDBOX_SIMULATE", "unavailable")];
        let mut proxy = Proxy::start_with_env(&team("sandbox = \"require\""), &env).await;
        lay_out(proxy.cwd());
        let session = proxy.plain_session().await;
        let (messages, answer) = proxy
            .prompt(&session, "disk write outside/direct.txt x")
            .await;
        let everything = format!("{}{messages:?}{answer}", transcript_text(&proxy));
        assert!(
            everything.contains("alpha cannot start in its sandbox")
                && everything.contains("Landlock is unavailable"),
            "{everything}"
        );
        assert!(!proxy.cwd().join("outside/direct.txt").exists());
    })
    .await;
}

#[tokio::test]
async fn auto_without_landlock_starts_the_role_and_says_once_that_it_runs_unsandboxed() {
    bounded(WAIT * 2, async {
        let env = [("OUROCODUS_SANDBOX_SIMULATE", "unavailable")];
        let mut proxy = Proxy::start_with_env(&team(""), &env).await;
        lay_out(proxy.cwd());
        let session = proxy.plain_session().await;
        proxy
            .prompt(&session, "disk write outside/direct.txt x")
            .await;
        proxy.prompt(&session, "/restart alpha").await;
        crate::supervision::wait_for_status_after(&mut proxy, "alpha", "idle", 1).await;
        proxy.prompt(&session, "say back").await;
        assert!(proxy.cwd().join("outside/direct.txt").exists());
        let warnings = proxy
            .transcript
            .iter()
            .filter(|(dir, m)| {
                *dir == Dir::FromProxy && m.to_string().contains("alpha runs without its sandbox")
            })
            .count();
        assert_eq!(warnings, 1, "said once, not per start");
    })
    .await;
}

/// Everything the proxy sent, as one string.
fn transcript_text(proxy: &Proxy) -> String {
    proxy
        .transcript
        .iter()
        .filter(|(dir, _)| *dir == Dir::FromProxy)
        .map(|(_, message)| message.to_string())
        .collect()
}

/// The proxy's own words in the chat (answers to slash commands).
fn proxy_text(messages: &[Value]) -> String {
    messages.iter().map(Value::to_string).collect()
}

#[tokio::test]
async fn env_inherit_narrows_what_the_agent_gets_of_the_proxys_environment() {
    bounded(WAIT * 2, async {
        let policy = "env_inherit = [\"PATH\", \"OURO_KEEP*\"]\nenv = { SET_BY_ROLE = \"yes\" }";
        let env = [("OURO_KEEP_ME", "kept"), ("OURO_SECRET", "leaked")];
        let mut proxy = Proxy::start_with_env(&team(policy), &env).await;
        let session = proxy.plain_session().await;
        let script = "shell echo \"[$OURO_KEEP_ME][$OURO_SECRET][$SET_BY_ROLE][$HOME]\"";
        let (messages, _) = proxy.prompt(&session, script).await;
        let said = text_from(&messages, "alpha");
        assert!(said.contains("shell exit 0: [kept][][yes][]"), "{said}");
    })
    .await;
}

#[tokio::test]
async fn sandbox_readable_narrows_reading_and_the_agent_still_runs() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team("sandbox_readable = [\"allowed\"]")).await;
        lay_out(proxy.cwd());
        std::fs::write(proxy.cwd().join("outside/secret.txt"), "s3cret").unwrap();
        std::fs::write(proxy.cwd().join("allowed/notes.txt"), "notes").unwrap();
        let session = proxy.plain_session().await;
        let script = "shell cat allowed/notes.txt; shell cat outside/secret.txt";
        let (messages, _) = proxy.prompt(&session, script).await;
        let said = text_from(&messages, "alpha");
        assert!(said.contains("shell exit 0: notes"), "{said}");
        assert!(
            !said.contains("s3cret") && said.contains("Permission denied"),
            "{said}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_sandboxed_agent_cannot_signal_the_proxy_and_has_a_session_of_its_own() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team("")).await;
        let config = proxy.cwd().join("team.toml");
        let proxy_pid = crate::procs::child_with_argument(config.to_str().unwrap()).unwrap();
        let session = proxy.plain_session().await;
        // $PPID in the shell is the agent; its session is its own, not the proxy's
        // (so no terminal the proxy runs in can be typed into).
        let script = format!(
            "shell kill -CONT {proxy_pid}; \
             shell test \"$(ps -o sid= -p $PPID | tr -d ' ')\" = \"$PPID\" && echo own-session"
        );
        let (messages, _) = proxy.prompt(&session, &script).await;
        let said = text_from(&messages, "alpha");
        assert!(said.contains("Operation not permitted"), "{said}");
        assert!(said.contains("shell exit 0: own-session"), "{said}");
    })
    .await;
}

#[tokio::test]
async fn a_symlink_planted_in_place_of_a_role_directory_does_not_widen_the_sandbox_after_a_restart()
{
    bounded(WAIT * 3, async {
        let policy = "directories = [\"allowed\", \"allowed/sub\"]\nsandbox_symlinks = true";
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], policy)).await;
        lay_out(proxy.cwd());
        let session = proxy.plain_session().await;
        let plant = "shell rmdir allowed/sub && ln -s ../outside allowed/sub && echo planted";
        let (messages, _) = proxy.prompt(&session, plant).await;
        assert!(text_from(&messages, "alpha").contains("planted"));
        proxy.prompt(&session, "/restart alpha").await;
        crate::supervision::wait_for_status_after(&mut proxy, "alpha", "idle", 1).await;
        let (messages, _) = proxy
            .prompt(&session, "disk write allowed/sub/after.txt x")
            .await;
        let said = text_from(&messages, "alpha");
        assert!(!proxy.cwd().join("outside/after.txt").exists(), "{said}");
        assert!(said.contains("disk write failed"), "{said}");
    })
    .await;
}

#[tokio::test]
async fn a_sandboxed_agent_keeps_no_capability_even_when_the_proxy_runs_as_root() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team("")).await;
        let session = proxy.plain_session().await;
        let (messages, _) = proxy
            .prompt(
                &session,
                "shell grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status",
            )
            .await;
        let said = text_from(&messages, "alpha");
        for set in ["CapEff", "CapBnd", "CapAmb"] {
            assert!(
                said.contains(&format!("{set}:\t0000000000000000")),
                "{set} not empty: {said}"
            );
        }
    })
    .await;
}
