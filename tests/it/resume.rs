//! A team that outlives its editor: the event store records everything, and a new
//! proxy lists and loads a session — even after the old one was killed with SIGKILL
//! — replaying it as it was shown, then bringing the team back.

use serde_json::{Value, json};

use crate::support::{Peer as _, Proxy, WAIT, bounded, fake_team_with, updates};

const PLAIN: fn() -> Value = || json!({ "fs": { "readTextFile": false, "writeTextFile": false } });

/// alpha can resume its sessions, beta cannot.
fn team() -> String {
    let mut toml = fake_team_with(&["alpha", "beta"], "");
    toml = toml.replace(
        "args = [\"fake-agent\", \"--name\", \"alpha\"]",
        "args = [\"fake-agent\", \"--name\", \"alpha\", \"--resume-session\"]",
    );
    toml
}

fn role_of(update: &Value) -> Option<&str> {
    update["params"]["update"]["_meta"]["ourocodus"]["role"].as_str()
}

/// A role's own updates as the editor got them: speaker labels and the proxy's
/// notices left out.
fn updates_of<'a>(messages: &'a [Value], role: &str) -> Vec<&'a Value> {
    updates(messages)
        .into_iter()
        .filter(|m| role_of(m) == Some(role))
        .filter(|m| m["params"]["update"]["_meta"]["ourocodus"]["label"] != true)
        .filter(|m| m["params"]["update"]["_meta"]["ourocodus"]["notice"].is_null())
        .filter(|m| m["params"]["update"]["sessionUpdate"] != "notice")
        .collect()
}

/// `session/load` of `session`: the replay, then the answer.
async fn load(proxy: &mut Proxy, session: &str) -> (Vec<Value>, Value) {
    let cwd = proxy.cwd().to_string_lossy().to_string();
    let id = proxy
        .request(
            "session/load",
            json!({ "sessionId": session, "cwd": cwd, "mcpServers": [] }),
        )
        .await;
    proxy.until_response(id, |_| None).await
}

fn notice_titles(messages: &[Value]) -> Vec<String> {
    updates(messages)
        .into_iter()
        .filter_map(|m| {
            let update = &m["params"]["update"];
            update["_meta"]["ourocodus"]["notice"]["title"]
                .as_str()
                .or(update["title"]
                    .as_str()
                    .filter(|_| update["sessionUpdate"] == "notice"))
                .map(String::from)
        })
        .collect()
}

#[tokio::test]
async fn after_kill_9_right_after_an_answer_a_new_proxy_lists_and_replays_every_update_then_the_team_works()
 {
    bounded(WAIT * 4, async {
        let mut first = Proxy::start(&team()).await;
        let session = first.plain_session().await;
        let script = "@all stream 300 chunks of 80 bytes; tool call read as Read Look around; plan one | two; say done\\n";
        let (live, answer) = first.prompt(&session, script).await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        let dir = first.kill9().await;

        let mut second = Proxy::start_in(dir, &team(), &[]).await;
        let init = second.initialize(PLAIN()).await;
        assert_eq!(init["agentCapabilities"]["loadSession"], true);
        assert!(init["agentCapabilities"]["sessionCapabilities"]["list"].is_object());
        let cwd = second.cwd().to_string_lossy().to_string();
        let id = second.request("session/list", json!({ "cwd": cwd })).await;
        let (_, listed) = second.until_response(id, |_| None).await;
        let sessions = listed["result"]["sessions"].as_array().expect("sessions");
        assert_eq!(sessions.len(), 1, "{listed}");
        assert_eq!(sessions[0]["sessionId"], session);
        assert!(sessions[0]["title"].as_str().is_some_and(|t| t.starts_with("@all stream 300 chunks")), "{listed}");
        assert!(sessions[0]["updatedAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{listed}");

        let (replay, loaded) = load(&mut second, &session).await;
        assert!(loaded.get("result").is_some(), "{loaded}");
        for role in ["alpha", "beta"] {
            let was = updates_of(&live, role);
            let now = updates_of(&replay, role);
            assert!(was.len() >= 304, "{role} said {} things", was.len());
            assert_eq!(now, was, "{role}'s updates come back as they were shown, in order");
        }
        let prompts: Vec<&Value> = updates(&replay)
            .into_iter()
            .filter(|m| m["params"]["update"]["sessionUpdate"] == "user_message_chunk")
            .collect();
        assert_eq!(prompts.len(), 1);
        assert_eq!(prompts[0]["params"]["update"]["content"]["text"], script);

        let (after, answer) = second.prompt(&session, "@all say again\\n").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "the next prompt works");
        let titles = notice_titles(&after);
        assert!(titles.iter().any(|t| t == "alpha is back, with its session restored"), "{titles:?}");
        assert!(titles.iter().any(|t| t == "beta is back with a fresh session"), "{titles:?}");
        second.close().await;
    })
    .await;
}

/// The numbers of `role`'s streamed chunks (`#N ...`) among `messages`, in order.
fn chunk_numbers(messages: &[Value], role: &str) -> Vec<u64> {
    updates_of(messages, role)
        .into_iter()
        .filter_map(|m| m["params"]["update"]["content"]["text"].as_str())
        .filter_map(|t| t.strip_prefix('#')?.split(' ').next()?.parse().ok())
        .collect()
}

#[tokio::test]
async fn after_kill_9_in_the_middle_of_a_stream_the_replay_is_a_gap_free_prefix_per_role() {
    bounded(WAIT * 4, async {
        let mut first = Proxy::start(&team()).await;
        let session = first.plain_session().await;
        first
            .prompt_id(&session, "@all stream 1000000 chunks of 100 bytes")
            .await;
        let mut seen = 0;
        while seen < 20_000 {
            let message = first.next().await;
            if message["method"] == "session/update" {
                seen += 1;
            }
        }
        let dir = first.kill9().await;

        let mut second = Proxy::start_in(dir, &team(), &[]).await;
        second.initialize(PLAIN()).await;
        let (replay, loaded) = load(&mut second, &session).await;
        assert!(loaded.get("result").is_some(), "{loaded}");
        let mut total = 0;
        for role in ["alpha", "beta"] {
            let numbers = chunk_numbers(&replay, role);
            let prefix: Vec<u64> = (1..=numbers.len() as u64).collect();
            assert_eq!(numbers, prefix, "{role}'s chunks: a gap-free prefix");
            total += numbers.len();
        }
        assert!(total > 0, "something was recorded before the kill");
        assert!(
            notice_titles(&replay)
                .iter()
                .any(|t| t == "The proxy stopped during the last turn"),
            "the interrupted turn is said to be over"
        );
        let (_, answer) = second.prompt(&session, "@all say again\\n").await;
        assert_eq!(
            answer["result"]["stopReason"], "end_turn",
            "the next prompt works"
        );
        second.close().await;
    })
    .await;
}

#[tokio::test]
async fn loading_a_session_that_does_not_exist_is_an_error_not_a_hang() {
    bounded(WAIT, async {
        let mut proxy = Proxy::start(&team()).await;
        proxy.initialize(PLAIN()).await;
        let (_, answer) = load(&mut proxy, "ouro-nosuchsession").await;
        assert_eq!(answer["error"]["code"], -32002, "{answer}");
        let session = proxy.new_session().await;
        let (_, answer) = proxy.prompt(&session, "@alpha say still here\\n").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        proxy.close().await;
    })
    .await;
}

/// Holds the store's write lock from another process (Python's sqlite3) until the
/// returned child is killed or `seconds` pass.
fn lock_store(path: &std::path::Path, seconds: f64) -> std::process::Child {
    let script = format!(
        "import sqlite3, sys, time\n\
         c = sqlite3.connect({path:?}, isolation_level=None)\n\
         c.execute('BEGIN IMMEDIATE')\n\
         print('locked', flush=True)\n\
         time.sleep({seconds})\n\
         c.execute('ROLLBACK')\n",
        path = path.to_string_lossy()
    );
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line.trim(), "locked");
    child
}

#[tokio::test]
async fn a_prompt_is_answered_only_once_its_events_are_committed() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team()).await;
        let session = proxy.plain_session().await;
        proxy.prompt(&session, "@all say warm\\n").await;
        let mut lock = lock_store(&proxy.store_path(), 1.5);
        let locked_at = std::time::Instant::now();
        let id = proxy.prompt_id(&session, "@all say while the store is locked\\n").await;
        let mut said = 0;
        while said < 2 {
            let message = proxy.next().await;
            assert!(message.get("result").is_none(), "answered while the store was locked: {message}");
            let text = &message["params"]["update"]["content"]["text"];
            said += usize::from(*text == "while the store is locked\n");
        }
        let shown = locked_at.elapsed();
        let (_, answer) = proxy.until_response(id, |_| None).await;
        let waited = locked_at.elapsed();
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        assert!(
            shown < std::time::Duration::from_millis(1000),
            "the updates are shown at once ({shown:?}), only the answer waits"
        );
        assert!(
            waited >= std::time::Duration::from_millis(1200),
            "the answer came {waited:?} after the store was locked, before its events could be committed"
        );
        let _ = lock.wait();
        let dir = proxy.kill9().await;
        let mut second = Proxy::start_in(dir, &team(), &[]).await;
        second.initialize(PLAIN()).await;
        let (replay, _) = load(&mut second, &session).await;
        for role in ["alpha", "beta"] {
            let texts: Vec<&str> = updates_of(&replay, role)
                .into_iter()
                .filter_map(|m| m["params"]["update"]["content"]["text"].as_str())
                .collect();
            assert_eq!(texts, ["warm\n", "while the store is locked\n"], "{role}");
        }
        second.close().await;
    })
    .await;
}

#[tokio::test]
async fn two_proxies_on_one_store_at_once_both_work_and_both_record() {
    bounded(WAIT * 4, async {
        let shared = tempfile::tempdir().expect("temp dir");
        let store = shared
            .path()
            .join("shared.db")
            .to_string_lossy()
            .to_string();
        let mut one = Proxy::start_with_args(&team(), &["--store", &store]).await;
        let mut two = Proxy::start_with_args(&team(), &["--store", &store]).await;
        let first = one.plain_session().await;
        let second = two.plain_session().await;
        let a = one
            .prompt_id(
                &first,
                "@all stream 3000 chunks of 100 bytes; say one done\\n",
            )
            .await;
        let b = two
            .prompt_id(
                &second,
                "@all stream 3000 chunks of 100 bytes; say two done\\n",
            )
            .await;
        let (_, answer) = one.until_response(a, |_| None).await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        let (_, answer) = two.until_response(b, |_| None).await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        one.close().await;
        two.close().await;

        let mut reader = Proxy::start_with_args(&team(), &["--store", &store]).await;
        reader.initialize(PLAIN()).await;
        let id = reader.request("session/list", json!({})).await;
        let (_, listed) = reader.until_response(id, |_| None).await;
        let ids: Vec<&str> = listed["result"]["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .filter_map(|s| s["sessionId"].as_str())
            .collect();
        assert!(
            ids.contains(&first.as_str()) && ids.contains(&second.as_str()),
            "{listed}"
        );
        for (session, last) in [(&first, "one done\n"), (&second, "two done\n")] {
            let (replay, _) = load(&mut reader, session).await;
            for role in ["alpha", "beta"] {
                let numbers = chunk_numbers(&replay, role);
                assert_eq!(
                    numbers,
                    (1..=3000).collect::<Vec<u64>>(),
                    "{role} in {session}"
                );
                let said = updates_of(&replay, role);
                let tail =
                    said.last().expect("something")["params"]["update"]["content"]["text"].clone();
                assert_eq!(tail, last);
            }
        }
        reader.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_store_path_holding_foreign_bytes_is_left_byte_for_byte_and_the_session_goes_on_unsaved()
{
    bounded(WAIT * 2, async {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notes.db");
        let foreign = b"not a database, but somebody's notes\n\0\x01\x02".repeat(100);
        std::fs::write(&path, &foreign).expect("write");
        let store = path.to_string_lossy().to_string();
        let mut proxy = Proxy::start_with_args(&team(), &["--store", &store]).await;
        let init = proxy.initialize(PLAIN()).await;
        assert_eq!(
            init["agentCapabilities"]["loadSession"], false,
            "nothing can be loaded"
        );
        let session = proxy.new_session().await;
        let (messages, answer) = proxy.prompt(&session, "@all say still working\\n").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        let titles = notice_titles(&messages);
        assert!(
            titles
                .iter()
                .any(|t| t == "This session is not being saved"),
            "{titles:?}"
        );
        let stderr = proxy.stderr();
        assert!(
            stderr.contains("event store") && stderr.contains("left untouched"),
            "{stderr}"
        );
        proxy.close().await;
        assert_eq!(
            std::fs::read(&path).expect("read"),
            foreign,
            "byte for byte"
        );
        let beside: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(beside.len(), 1, "no files made beside it");
    })
    .await;
}

#[tokio::test]
async fn a_full_disk_is_a_notice_and_the_team_goes_on() {
    bounded(WAIT * 3, async {
        // A store of at most 64 pages (1 MiB of 16 KiB pages): full within the first big
        // turn (each role streams 1 MB of text).
        let mut proxy =
            Proxy::start_with_env(&team(), &[("OUROCODUS_STORE_MAX_PAGES", "64")]).await;
        let session = proxy.plain_session().await;
        let (messages, answer) = proxy
            .prompt(
                &session,
                "@all stream 5000 chunks of 200 bytes; say done\\n",
            )
            .await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "no hang");
        let titles = notice_titles(&messages);
        let failures = titles
            .iter()
            .filter(|t| *t == "The session history could not be saved")
            .count();
        let (more, answer) = proxy
            .prompt(&session, "@all say after the failure\\n")
            .await;
        assert_eq!(
            answer["result"]["stopReason"], "end_turn",
            "the next prompt works"
        );
        let failures = failures
            + notice_titles(&more)
                .iter()
                .filter(|t| *t == "The session history could not be saved")
                .count();
        assert_eq!(failures, 1, "told once, not per batch: {titles:?}");
        let status = proxy.close().await;
        assert!(status.success(), "a clean exit, no panic");
    })
    .await;
}

#[tokio::test]
async fn a_client_with_subagents_gets_the_replay_in_each_roles_subagent_session() {
    bounded(WAIT * 2, async {
        let mut first = Proxy::start(&team()).await;
        let session = first.plain_session().await;
        first.prompt(&session, "@all say one\\n").await;
        first.prompt(&session, "@beta say two\\n").await;
        let dir = first.close_keeping_dir().await;

        let mut second = Proxy::start_in(dir, &team(), &[]).await;
        second.initialize(json!({ "subagents": {} })).await;
        let (replay, _) = load(&mut second, &session).await;
        let on = |sub: &str| -> Vec<String> {
            updates(&replay)
                .into_iter()
                .filter(|m| m["params"]["sessionId"] == sub)
                .filter_map(|m| {
                    m["params"]["update"]["content"]["text"]
                        .as_str()
                        .map(String::from)
                })
                .collect()
        };
        assert_eq!(on(&format!("{session}:alpha:1")), ["one\n"]);
        assert_eq!(on(&format!("{session}:beta:1")), ["one\n"]);
        assert_eq!(on(&format!("{session}:beta:2")), ["two\n"]);
        let states: Vec<&str> = updates(&replay)
            .into_iter()
            .filter(|m| m["params"]["update"]["sessionUpdate"] == "subagent_update")
            .filter(|m| m["params"]["update"]["state"]["state"] == "idle")
            .filter_map(|m| m["params"]["update"]["_meta"]["ourocodus"]["outcome"].as_str())
            .collect();
        assert_eq!(
            states,
            ["completed", "completed", "completed"],
            "each part closed as it was"
        );
        second.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_log_command_shows_what_a_session_recorded() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team()).await;
        let session = proxy.plain_session().await;
        proxy.prompt(&session, "@alpha say logged\\n").await;
        let store = proxy.store_path();
        let dir = proxy.close_keeping_dir().await;
        let output = std::process::Command::new(crate::support::ourocodus_bin())
            .args(["log", "--json", "--session", &session, "--store"])
            .arg(&store)
            .output()
            .expect("ourocodus log");
        assert!(output.status.success(), "{output:?}");
        let events: Vec<Value> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
        for kind in [
            "session",
            "agent",
            "child_session",
            "prompt",
            "update",
            "role_end",
            "turn_end",
        ] {
            assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
        }
        let said = events
            .iter()
            .find(|e| e["kind"] == "update" && e["role"] == "alpha")
            .expect("alpha's update");
        assert_eq!(
            said["payload"]["params"]["update"]["content"]["text"],
            "logged\n"
        );
        let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "gap-free"
        );
        drop(dir);
    })
    .await;
}
