//! The hub's command-line clients, the real binary against a real hub with fake
//! agents: `send` streams a labelled reply and exits by how its turn ended, `tail`
//! follows (and after a disconnect resumes `--from` a serverSeq, each action once),
//! `agents` and `sessions` ask the hub, and every command without a hub exits 3.

use std::time::Duration;

use ahp::ahp_types::actions::StateAction;
use ahp::{ClientEvent, SubscriptionEvent};
use serde_json::{Value, json};

use crate::hub::Hub;
use crate::support::bounded;
use crate::support::hub_cli::{HubAt, Running, command, run, stderr_of, stdout_of};

const LIMIT: Duration = Duration::from_secs(90);
const WAIT: Duration = Duration::from_secs(20);

fn at(hub: &Hub) -> HubAt {
    HubAt {
        addr: hub.addr.clone(),
        token: hub.token.clone(),
    }
}

/// `ourocodus ARGS` against `hub`, run to its end.
async fn cli(hub: &Hub, args: &[&str]) -> std::process::Output {
    run(command(&at(hub), hub.dir(), args), WAIT).await
}

fn seq_of(json_line: &str) -> u64 {
    let envelope: Value = serde_json::from_str(json_line).unwrap();
    envelope["serverSeq"].as_u64().unwrap()
}

/// Whether a `tail --json` line ends a turn of the lead chat.
fn is_turn_end(json_line: &str) -> bool {
    let envelope: Value = serde_json::from_str(json_line).unwrap();
    envelope["channel"]
        .as_str()
        .is_some_and(|c| c.ends_with("/lead"))
        && matches!(
            envelope["action"]["type"].as_str(),
            Some("chat/turnComplete" | "chat/turnCancelled" | "chat/error")
        )
}

#[tokio::test]
async fn send_to_a_role_prints_its_reply_labelled_and_exits_0() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let sent = cli(&hub, &["send", "--role", "backend", "hello", "there"]).await;
        let (stdout, stderr) = (stdout_of(&sent), stderr_of(&sent));
        assert_eq!(sent.status.code(), Some(0), "{stdout}\n{stderr}");
        let reply = stdout
            .lines()
            .find(|l| l.starts_with("backend: "))
            .unwrap_or_else(|| panic!("a labelled reply: {stdout}\n{stderr}"));
        assert!(reply.contains("hello there"), "{reply}");
        assert!(
            !stdout.contains("**@backend**"),
            "the heading is the label: {stdout}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_refused_turn_exits_2_and_a_cancelled_one_130() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let refused = cli(&hub, &["send", "stop refusal"]).await;
        assert_eq!(refused.status.code(), Some(2), "{}", stderr_of(&refused));
        // A slow turn, cancelled by another client on the lead chat.
        let watcher = hub.client().await;
        watcher
            .initialize("watcher".into(), vec!["1.0.0".into()], vec![])
            .await
            .unwrap();
        let listed: Value = watcher.request("listSessions", json!({})).await.unwrap();
        let session = listed["items"][0]["resource"].as_str().unwrap().to_string();
        let (snapshot, _) = watcher.subscribe(session).await.unwrap();
        let meta = serde_json::to_value(snapshot.snapshot.unwrap().state).unwrap();
        let lead = meta["_meta"]["ourocodus"]["leadChat"]
            .as_str()
            .unwrap()
            .to_string();
        let mut events = watcher.events();
        watcher.subscribe(lead.clone()).await.unwrap();
        let slow = Running::spawn(command(&at(&hub), hub.dir(), &["send", "sleep 30s"]));
        let turn = started_turn(&mut events, &lead).await;
        let cancel: StateAction = serde_json::from_value(json!({
            "type": "chat/turnCancelled", "turnId": turn, "duration": 0 }))
        .unwrap();
        watcher.dispatch(lead, cancel).await.unwrap();
        let (code, stderr) = slow.wait(WAIT).await;
        assert_eq!(code, Some(130), "{stderr}");
        assert!(stderr.contains("cancelled"), "{stderr}");
    })
    .await;
}

/// The id of the next turn a command-line client starts on `chat`.
async fn started_turn(events: &mut ahp::ClientEventStream, chat: &str) -> String {
    loop {
        let Some(ClientEvent {
            event: SubscriptionEvent::Action(envelope),
            ..
        }) = tokio::time::timeout(WAIT, events.recv()).await.unwrap()
        else {
            continue;
        };
        let from_cli = envelope
            .origin
            .as_ref()
            .is_some_and(|o| o.client_id.starts_with("ourocodus-cli-"));
        if let StateAction::ChatTurnStarted(started) = &envelope.action
            && envelope.channel == chat
            && from_cli
        {
            return started.turn_id.clone();
        }
    }
}

#[tokio::test]
async fn tail_shows_the_turns_actions_and_its_json_lines_parse() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        // The first send makes the session tail follows.
        assert_eq!(cli(&hub, &["send", "hi"]).await.status.code(), Some(0));
        let mut text = Running::spawn(command(&at(&hub), hub.dir(), &["tail"]));
        let mut json = Running::spawn(command(&at(&hub), hub.dir(), &["tail", "--json"]));
        let mut deltas = Running::spawn(command(
            &at(&hub),
            hub.dir(),
            &["tail", "--kind", "delta", "--role", "backend"],
        ));
        for running in [&mut text, &mut json, &mut deltas] {
            running.stderr_until(WAIT, "following session").await;
        }
        let sent = cli(&hub, &["send", "--role", "backend", "echo tailed words"]).await;
        assert_eq!(sent.status.code(), Some(0), "{}", stderr_of(&sent));
        let lines = json.lines_until(WAIT, is_turn_end).await;
        let parsed: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let kinds: Vec<&str> = parsed
            .iter()
            .map(|e| e["action"]["type"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"chat/turnStarted"), "{kinds:?}");
        assert!(kinds.contains(&"chat/delta"), "{kinds:?}");
        let seqs: Vec<u64> = parsed
            .iter()
            .map(|e| e["serverSeq"].as_u64().unwrap())
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        let readable = text
            .lines_until(WAIT, |l| l.contains("lead") && l.contains("turnComplete"))
            .await;
        // `seq role place kind text`: the lead chat and the role's own chat both.
        let shows = |role: &str, place: &str, kind: &str, text: &str| {
            readable.iter().any(|l| {
                let columns: Vec<&str> = l.split_whitespace().collect();
                columns.get(1..4) == Some(&[role, place, kind][..]) && l.contains(text)
            })
        };
        assert!(shows("backend", "lead", "delta", "words"), "{readable:#?}");
        assert!(shows("backend", "role", "delta", "words"), "{readable:#?}");
        assert!(
            shows("-", "lead", "turnComplete", "end_turn"),
            "{readable:#?}"
        );
        let first = readable[0].split_whitespace().next().unwrap();
        assert!(
            first.parse::<u64>().is_ok(),
            "a serverSeq first: {readable:#?}"
        );
        let only = deltas.lines_until(WAIT, |l| l.contains("words")).await;
        assert!(
            only.iter()
                .all(|l| l.contains(" backend ") && l.contains(" delta ")),
            "{only:#?}"
        );
        for running in [text, json, deltas] {
            running.stop().await;
        }
    })
    .await;
}

#[tokio::test]
async fn tail_from_a_seq_after_a_disconnect_prints_exactly_what_came_after_once() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        assert_eq!(cli(&hub, &["send", "hi"]).await.status.code(), Some(0));
        let tail = || Running::spawn(command(&at(&hub), hub.dir(), &["tail", "--json"]));
        // The reference sees everything from here on; the other one leaves midway.
        let mut reference = tail();
        let mut leaving = tail();
        reference.stderr_until(WAIT, "following session").await;
        leaving.stderr_until(WAIT, "following session").await;
        let first = cli(&hub, &["send", "echo one two three"]).await;
        assert_eq!(first.status.code(), Some(0));
        let seen = leaving.lines_until(WAIT, is_turn_end).await;
        let last_seen = seq_of(seen.last().unwrap());
        leaving.stop().await;
        let second = cli(&hub, &["send", "--role", "test", "echo four five"]).await;
        assert_eq!(second.status.code(), Some(0));
        let mut reference_lines = reference.lines_until(WAIT, is_turn_end).await;
        reference_lines.extend(reference.lines_until(WAIT, is_turn_end).await);
        let expected: Vec<u64> = reference_lines
            .iter()
            .map(|l| seq_of(l))
            .filter(|s| *s > last_seen)
            .collect();
        assert!(!expected.is_empty());
        let from = last_seen.to_string();
        let mut resumed = Running::spawn(command(
            &at(&hub),
            hub.dir(),
            &["tail", "--json", "--from", &from],
        ));
        let end = *expected.last().unwrap();
        let replayed: Vec<u64> = resumed
            .lines_until(WAIT, |l| seq_of(l) >= end)
            .await
            .iter()
            .map(|l| seq_of(l))
            .collect();
        assert_eq!(replayed, expected, "no gap, no duplicate");
        // Live after the replay, still once each.
        let third = cli(&hub, &["send", "echo six"]).await;
        assert_eq!(third.status.code(), Some(0));
        let live = resumed.lines_until(WAIT, is_turn_end).await;
        let reference_live = reference.lines_until(WAIT, is_turn_end).await;
        let seqs = |lines: &[String]| lines.iter().map(|l| seq_of(l)).collect::<Vec<_>>();
        assert_eq!(seqs(&live), seqs(&reference_live));
        for running in [reference, resumed] {
            running.stop().await;
        }
    })
    .await;
}

#[tokio::test]
async fn agents_and_sessions_answer_from_the_hub() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        assert_eq!(cli(&hub, &["send", "hi"]).await.status.code(), Some(0));
        let agents = cli(&hub, &["agents"]).await;
        let table = stdout_of(&agents);
        assert_eq!(agents.status.code(), Some(0), "{}", stderr_of(&agents));
        assert!(table.starts_with("ROLE"), "{table}");
        for role in ["backend", "test"] {
            assert!(
                table.lines().any(|l| l.starts_with(role)),
                "{role} in {table}"
            );
        }
        let json = stdout_of(&cli(&hub, &["agents", "--json"]).await);
        let roles: Vec<String> = json
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["role"].to_string())
            .collect();
        assert_eq!(roles.len(), 2, "{json}");
        let sessions = cli(&hub, &["sessions"]).await;
        let listed = stdout_of(&sessions);
        assert_eq!(sessions.status.code(), Some(0), "{}", stderr_of(&sessions));
        assert!(
            !stderr_of(&sessions).contains("no hub"),
            "asked the hub: {}",
            stderr_of(&sessions)
        );
        assert_eq!(listed.lines().count(), 1, "{listed}");
        assert!(listed.contains("  hi"), "the title: {listed}");
        let as_json = stdout_of(&cli(&hub, &["sessions", "--json"]).await);
        let session: Value = serde_json::from_str(as_json.trim()).unwrap();
        assert!(
            session["uri"]
                .as_str()
                .unwrap()
                .starts_with("ahp-session:/")
        );
        let tasks = cli(&hub, &["tasks"]).await;
        assert_eq!(tasks.status.code(), Some(0), "{}", stderr_of(&tasks));
        assert!(
            stdout_of(&tasks).starts_with("session "),
            "{}",
            stdout_of(&tasks)
        );
    })
    .await;
}

#[tokio::test]
async fn every_command_without_a_hub_exits_3_and_says_to_start_one() {
    bounded(LIMIT, async {
        let dir = tempfile::tempdir().unwrap();
        // A port nothing listens on: bound, then freed.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap().to_string();
        drop(free);
        let nowhere = HubAt {
            addr,
            token: "0".repeat(64),
        };
        for args in [
            &["send", "hi"][..],
            &["tail"],
            &["agents"],
            &["sessions"],
            &["tasks"],
        ] {
            let mut command = command(&nowhere, dir.path(), args);
            command
                .env("XDG_DATA_HOME", dir.path())
                .env("XDG_CONFIG_HOME", dir.path());
            let output = run(command, WAIT).await;
            let stderr = stderr_of(&output);
            assert_eq!(output.status.code(), Some(3), "{args:?}: {stderr}");
            assert!(
                stderr.contains("no hub is running at") && stderr.contains("ourocodus serve"),
                "{args:?}: {stderr}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn traced_to_the_last_detail_a_client_still_never_logs_the_token() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let mut traced = command(&at(&hub), hub.dir(), &["agents"]);
        traced.env("OUROCODUS_LOG", "trace");
        let output = run(traced, WAIT).await;
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        let logged = stderr_of(&output);
        assert!(logged.contains("DEBUG"), "traced: {logged}");
        assert!(
            !logged.contains(&hub.token),
            "the token is in the trace: {logged}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_tail_nobody_reads_while_thousands_of_actions_stream_prints_every_one_once_read() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        assert_eq!(cli(&hub, &["send", "hi"]).await.status.code(), Some(0));
        let tail = || Running::spawn(command(&at(&hub), hub.dir(), &["tail", "--json"]));
        let mut reference = tail();
        let mut stalled = tail();
        for running in [&mut reference, &mut stalled] {
            running.stderr_until(WAIT, "following session").await;
        }
        // The stalled tail's pipe is full after 64 KiB; 6,000 chunks make some
        // 12,000 actions (lead and role chat), far past what its client buffers.
        let stream = [
            "send",
            "--role",
            "backend",
            "stream 6000 chunks of 3000 bytes",
        ];
        let (sent, seen) =
            tokio::join!(cli(&hub, &stream), reference.lines_until(WAIT, is_turn_end));
        assert_eq!(sent.status.code(), Some(0), "{}", stderr_of(&sent));
        assert!(seen.len() > 12_000, "{} actions", seen.len());
        let late = stalled.lines_until(WAIT, is_turn_end).await;
        let seqs = |lines: &[String]| lines.iter().map(|l| seq_of(l)).collect::<Vec<_>>();
        assert_eq!(
            seqs(&late),
            seqs(&seen),
            "every action, once and in order, however late the reading"
        );
        for running in [reference, stalled] {
            running.stop().await;
        }
    })
    .await;
}
