//! Issue-3 supervision: an agent that ends is reported, restarted with backoff and
//! given its session back (resumed, loaded, or fresh with a note); after too many
//! failures it is marked failed and can be restarted by hand; the other roles are
//! not disturbed; a silent agent is reported.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{
    Peer as _, Proxy, WAIT, bounded, fake_team_flags, fake_team_with, ourocodus_bin, text_from,
    updates,
};

/// Text of every message the proxy sent (to search notices in).
fn all_text(proxy: &Proxy) -> String {
    let messages: Vec<Value> = proxy.transcript.iter().map(|(_, m)| m.clone()).collect();
    updates(&messages)
        .into_iter()
        .filter_map(|m| {
            m["params"]["update"]["content"]["text"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// Asks `_ourocodus/agents` until `role` has `status` (bounded).
pub(crate) async fn wait_for_status(proxy: &mut Proxy, role: &str, status: &str) -> Value {
    wait_for_status_after(proxy, role, status, 0).await
}

/// The same, once `role` has been restarted at least `restarts` times.
pub(crate) async fn wait_for_status_after(
    proxy: &mut Proxy,
    role: &str,
    status: &str,
    restarts: u64,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let id = proxy.request("_ourocodus/agents", json!({})).await;
        let (_, response) = proxy.until_response(id, |_| None).await;
        let agent = response["result"]["agents"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["role"] == role).cloned())
            .unwrap_or(Value::Null);
        if agent["status"] == status && agent["restarts"].as_u64() >= Some(restarts) {
            return agent;
        }
        assert!(
            Instant::now() < deadline,
            "{role} never became {status}: {agent}\n{}",
            proxy.debug_dump()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn fast_restart(extra: &str) -> String {
    format!("restart = {{ attempts = 2, backoff_ms = 50 }}\n{extra}")
}

#[tokio::test]
async fn a_crashed_agent_is_reported_restarted_and_answers_the_next_prompt() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team_with(&["alpha", "beta"], &fast_restart(""))).await;
        let session = proxy.plain_session().await;
        proxy.prompt(&session, "@alpha say first\\n").await;
        let (_, crashed) = proxy.prompt(&session, "@alpha stderr flood 3; crash").await;
        assert!(
            crashed["error"]["message"]
                .as_str()
                .unwrap()
                .contains("alpha"),
            "{crashed}"
        );
        let text = all_text(&proxy);
        assert!(
            text.contains("alpha stopped (exit code 3); restarting in 50ms (attempt 1 of 2)"),
            "{text}"
        );
        assert!(text.contains("Last stderr lines"), "{text}");
        wait_for_status(&mut proxy, "alpha", "idle").await;
        let (messages, answer) = proxy.prompt(&session, "@alpha say back\\n").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        // The "back with a fresh session" notice may come first.
        let said = text_from(&messages, "alpha");
        assert!(said.ends_with("back\n"), "{said:?}");
        assert!(all_text(&proxy).contains("alpha is back with a fresh session"));
    })
    .await;
}

#[tokio::test]
async fn one_role_crashing_mid_stream_does_not_disturb_the_others() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team_with(&["alpha", "beta"], &fast_restart(""))).await;
        let session = proxy.plain_session().await;
        let script = "@all alpha> stream 50 chunks; alpha> crash; beta> stream 2000 chunks; beta> say done\\n";
        let (messages, answer) = proxy.prompt(&session, script).await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "beta still finished its turn");
        let beta = text_from(&messages, "beta");
        assert_eq!(beta.matches('#').count(), 2000);
        assert!(beta.ends_with("done\n"));
    })
    .await;
}

#[tokio::test]
async fn a_crash_loop_ends_failed_and_a_restart_by_hand_revives_the_role() {
    bounded(WAIT * 3, async {
        let flag = tempfile::NamedTempFile::new().unwrap().into_temp_path();
        let flag_path = flag.to_path_buf();
        drop(flag);
        let command = format!(
            "test -e {} && exec {} fake-agent --name alpha || exit 7",
            flag_path.display(),
            ourocodus_bin()
        );
        let team = format!(
            "[roles.alpha]\ncommand = \"sh\"\nargs = [\"-c\", {command:?}]\nrestart = {{ attempts = 2, backoff_ms = 20 }}\n"
        );
        let mut proxy = Proxy::start(&team).await;
        let session = proxy.plain_session().await;
        let failed = wait_for_status(&mut proxy, "alpha", "failed").await;
        assert!(failed["reason"].as_str().unwrap().contains("exit code 7"), "{failed}");
        let text = all_text(&proxy);
        assert!(text.contains("attempt 1 of 2") && text.contains("attempt 2 of 2") && text.contains("2 restarts did not help"), "{text}");
        let (_, refused) = proxy.prompt(&session, "say hi").await;
        assert!(refused["error"]["message"].as_str().unwrap().contains("alpha"), "{refused}");
        std::fs::write(&flag_path, "").unwrap();
        let (_, restarted) = proxy.prompt(&session, "/restart alpha").await;
        assert_eq!(restarted["result"]["stopReason"], "end_turn");
        wait_for_status(&mut proxy, "alpha", "idle").await;
        let (messages, _) = proxy.prompt(&session, "say alive\\n").await;
        assert_eq!(text_from(&messages, "alpha"), "alive\n");
        std::fs::remove_file(&flag_path).ok();
    })
    .await;
}

#[tokio::test]
async fn an_agent_that_can_resume_gets_its_session_back_after_a_crash() {
    bounded(WAIT * 2, async {
        let mut team = fake_team_flags(&["alpha"], &["--resume-session"]);
        team.push_str("restart = { attempts = 2, backoff_ms = 20 }\n");
        let mut proxy = Proxy::start(&team).await;
        let session = proxy.plain_session().await;
        let (before, _) = proxy.prompt(&session, "whoami").await;
        proxy.prompt(&session, "crash").await;
        wait_for_status(&mut proxy, "alpha", "idle").await;
        let (after, _) = proxy.prompt(&session, "whoami").await;
        let session_line = |text: String| {
            text.lines()
                .find(|l| l.starts_with("session:"))
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(
            session_line(text_from(&after, "alpha")),
            session_line(text_from(&before, "alpha"))
        );
        assert!(all_text(&proxy).contains("alpha is back, with its session restored"));
    })
    .await;
}

#[tokio::test]
async fn a_loaded_session_replays_history_the_editor_never_sees_twice() {
    bounded(WAIT * 2, async {
        let mut team = fake_team_flags(&["alpha"], &["--load-session"]);
        team.push_str("restart = { attempts = 2, backoff_ms = 20 }\n");
        let mut proxy = Proxy::start(&team).await;
        let session = proxy.plain_session().await;
        proxy.prompt(&session, "say hello\\n").await;
        proxy.prompt(&session, "crash").await;
        wait_for_status(&mut proxy, "alpha", "idle").await;
        let (messages, _) = proxy.prompt(&session, "say again\\n").await;
        assert_eq!(text_from(&messages, "alpha"), "again\n");
        let text = all_text(&proxy);
        assert!(
            !text.contains("(history of"),
            "replayed history reached the editor: {text}"
        );
        assert!(text.contains("with its session restored"));
    })
    .await;
}

#[tokio::test]
async fn a_role_restarted_before_its_session_opened_opens_it_again_and_answers() {
    bounded(WAIT * 2, async {
        // Its session/new is answered only after 300 ms: the restart comes first.
        let toml = fake_team_flags(&["alpha", "beta"], &["--session-delay", "300ms"]);
        let mut proxy = Proxy::start(&toml).await;
        let session = proxy.plain_session().await;
        let id = proxy
            .request("_ourocodus/restart", json!({ "role": "beta" }))
            .await;
        let (_, restarted) = proxy.until_response(id, |_| None).await;
        assert!(restarted.get("result").is_some(), "{restarted}");
        wait_for_status_after(&mut proxy, "beta", "idle", 1).await;
        let (messages, answer) = proxy.prompt(&session, "@beta say after").await;
        assert_eq!(
            answer["result"]["stopReason"],
            "end_turn",
            "{answer}\n{}",
            proxy.debug_dump()
        );
        assert!(text_from(&messages, "beta").ends_with("after"));
    })
    .await;
}

#[tokio::test]
async fn roles_are_spawned_killed_and_restarted_from_the_chat() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], "")).await;
        let session = proxy.plain_session().await;
        let spawn = format!(
            "/spawn reviewer Reviews every diff --command {} fake-agent --name reviewer",
            ourocodus_bin()
        );
        let (messages, _) = proxy.prompt(&session, &spawn).await;
        assert!(text_from(&messages, "ourocodus").contains("spawned reviewer"));
        let (messages, _) = proxy.prompt(&session, "@reviewer whoami").await;
        let said = text_from(&messages, "reviewer");
        assert!(
            said.contains("name: reviewer") && said.contains("Your persona: Reviews every diff."),
            "{said}"
        );
        let (messages, _) = proxy.prompt(&session, "/agents").await;
        let listed = text_from(&messages, "ourocodus");
        assert!(
            listed.contains("**alpha**: idle") && listed.contains("**reviewer**: idle · pid"),
            "{listed}"
        );
        proxy.prompt(&session, "/kill reviewer").await;
        wait_for_status(&mut proxy, "reviewer", "stopped").await;
        let (_, refused) = proxy.prompt(&session, "@reviewer say hi").await;
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("stopped"),
            "{refused}"
        );
        proxy.prompt(&session, "/restart reviewer").await;
        wait_for_status(&mut proxy, "reviewer", "idle").await;
        let (messages, _) = proxy.prompt(&session, "@reviewer say back\\n").await;
        // The restarted role's "back with a fresh session" notice may come first.
        let said = text_from(&messages, "reviewer");
        assert!(said.ends_with("back\n"), "{said:?}");
        let (_, bad) = proxy.prompt(&session, "/spawn all").await;
        assert_eq!(bad["result"]["stopReason"], "end_turn");
        assert!(all_text(&proxy).contains("role name `all` is reserved"));
    })
    .await;
}

#[tokio::test]
async fn plugins_get_the_same_operations_and_a_status_notification_per_change() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], "")).await;
        let session = proxy.plain_session().await;
        let id = proxy.request("_ourocodus/spawn", json!({ "role": "helper", "command": ourocodus_bin(), "args": ["fake-agent", "--name", "helper"] })).await;
        let (_, spawned) = proxy.until_response(id, |_| None).await;
        assert_eq!(spawned["result"]["role"], "helper");
        proxy.prompt(&session, "@helper sleep 200ms; say ok\\n").await;
        let id = proxy.request("_ourocodus/kill", json!({ "role": "helper" })).await;
        proxy.until_response(id, |_| None).await;
        wait_for_status(&mut proxy, "helper", "stopped").await;
        let statuses: Vec<String> = proxy
            .transcript
            .iter()
            .map(|(_, m)| m)
            .filter(|m| m["method"] == "_ourocodus/agent_status" && m["params"]["role"] == "helper")
            .map(|m| m["params"]["status"].as_str().unwrap().to_string())
            .collect();
        for expected in ["starting", "idle", "working", "stopped"] {
            assert!(statuses.iter().any(|s| s == expected), "{expected} missing from {statuses:?}");
        }
        let id = proxy.request("_ourocodus/restart", json!({ "role": "nobody" })).await;
        let (_, error) = proxy.until_response(id, |_| None).await;
        assert_eq!(error["error"]["code"], -32602);
    })
    .await;
}

#[tokio::test]
async fn a_silent_agent_is_reported_while_it_works() {
    bounded(WAIT * 2, async {
        let team = fake_team_with(&["alpha"], "timeouts = { silence = \"1s\" }");
        let mut proxy = Proxy::start(&team).await;
        let session = proxy.plain_session().await;
        let (messages, answer) = proxy.prompt(&session, "sleep 1600ms; say done\\n").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        let text: String = updates(&messages)
            .iter()
            .filter_map(|m| m["params"]["update"]["content"]["text"].as_str())
            .collect();
        let notice = text
            .find("alpha has been silent for")
            .expect("a silence notice");
        assert!(
            notice < text.find("done").unwrap(),
            "the notice came while it was silent"
        );
        assert!(text.contains("/restart alpha"));
    })
    .await;
}

#[tokio::test]
async fn an_agent_that_never_answers_initialize_times_out_and_is_restarted() {
    bounded(WAIT * 2, async {
        let mut team = fake_team_flags(&["alpha"], &["--startup-delay", "5s"]);
        team.push_str(
            "timeouts = { initialize = \"300ms\" }\nrestart = { attempts = 1, backoff_ms = 20 }\n",
        );
        let mut proxy = Proxy::start(&team).await;
        proxy.plain_session().await;
        let failed = wait_for_status(&mut proxy, "alpha", "failed").await;
        assert!(
            failed["reason"]
                .as_str()
                .unwrap()
                .contains("initialize timed out after 300ms"),
            "{failed}"
        );
        assert!(all_text(&proxy).contains("attempt 1 of 1"));
    })
    .await;
}

#[tokio::test]
async fn restart_after_kill_9_takes_little_more_than_the_backoff() {
    bounded(WAIT * 6, async {
        let mut times = Vec::new();
        for _ in 0..20 {
            let team = fake_team_with(&["alpha"], "restart = { attempts = 3, backoff_ms = 1 }");
            let mut proxy = Proxy::start(&team).await;
            proxy.plain_session().await;
            let agent = wait_for_status(&mut proxy, "alpha", "idle").await;
            let pid = agent["pid"].as_i64().unwrap() as i32;
            let killed = Instant::now();
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
            // The status notification arrives as soon as the new agent is ready.
            loop {
                let message = proxy.next().await;
                let params = &message["params"];
                let ready = message["method"] == "_ourocodus/agent_status" && params["status"] == "idle";
                if ready && params["pid"].as_i64() != Some(i64::from(pid)) {
                    break;
                }
            }
            times.push(killed.elapsed());
        }
        times.sort();
        eprintln!(
            "restart after kill -9 (kill -> ready again, backoff 1 ms, 20 runs): median {:?}, min {:?}, max {:?}",
            times[10], times[0], times[19]
        );
        assert!(times[10] < Duration::from_secs(2));
    })
    .await;
}
