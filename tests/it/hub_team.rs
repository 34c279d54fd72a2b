//! The team through the hub's AHP face: sessions, the lead chat and role chats,
//! prompts, permissions answered by the first of several clients, reconnect with
//! replay, and a hub killed and restarted; driven by the third-party `ahp` client.

use std::collections::BTreeSet;
use std::time::Duration;

use ahp::ahp_types::actions::{ActionEnvelope, StateAction};
use ahp::ahp_types::commands::ReconnectResult;
use ahp::ahp_types::state::SnapshotState;
use ahp::{Client, SessionSubscription, SubscriptionEvent};
use serde_json::{Value, json};

use crate::hub::Hub;
use crate::support::bounded;

const LIMIT: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(15);

/// A client initialized with the root subscribed.
async fn ready_client(hub: &Hub, id: &str) -> Client {
    let client = hub.client().await;
    client
        .initialize(id.into(), vec!["1.0.0".into()], vec!["ahp-root://".into()])
        .await
        .unwrap();
    client
}

/// The chats of a session, from its snapshot's `_meta.ourocodus`.
struct Chats {
    lead: String,
    roles: Value,
}

async fn create_session(client: &Client, uri: &str, cwd: &std::path::Path) -> Chats {
    let created: Value = client
        .request(
            "createSession",
            json!({"channel": uri, "provider": "ourocodus", "workingDirectories": [format!("file://{}", cwd.display())]}),
        )
        .await
        .unwrap();
    assert_eq!(created, json!({}));
    chats_of(client, uri).await
}

async fn chats_of(client: &Client, uri: &str) -> Chats {
    let (subscribed, _sub) = client.subscribe(uri.to_string()).await.unwrap();
    let Some(SnapshotState::Session(session)) = subscribed.snapshot.map(|s| s.state) else {
        panic!("a session snapshot for {uri}")
    };
    assert_eq!(session.provider, "ourocodus");
    let meta = serde_json::to_value(&session.meta).unwrap();
    let ours = &meta["ourocodus"];
    Chats {
        lead: ours["leadChat"].as_str().unwrap().to_string(),
        roles: ours["roleChats"].clone(),
    }
}

fn prompt(turn: &str, text: &str) -> StateAction {
    serde_json::from_value(json!({
        "type": "chat/turnStarted", "turnId": turn, "startedAt": "2026-11-30T10:00:00.000Z",
        "message": {"text": text, "origin": {"kind": "user"}},
    }))
    .unwrap()
}

async fn next_action(sub: &mut SessionSubscription) -> ActionEnvelope {
    loop {
        let event = tokio::time::timeout(WAIT, sub.recv())
            .await
            .unwrap()
            .unwrap();
        if let SubscriptionEvent::Action(envelope) = event {
            return envelope;
        }
    }
}

fn kind(envelope: &ActionEnvelope) -> String {
    serde_json::to_value(&envelope.action).unwrap()["type"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Actions until the turn `turn` ends (complete, cancelled or error), inclusive.
async fn until_turn_ends(sub: &mut SessionSubscription, turn: &str) -> Vec<ActionEnvelope> {
    let mut seen = Vec::new();
    loop {
        let envelope = next_action(sub).await;
        let value = serde_json::to_value(&envelope.action).unwrap();
        let ends = matches!(
            value["type"].as_str(),
            Some("chat/turnComplete" | "chat/turnCancelled" | "chat/error")
        ) && value["turnId"] == turn;
        seen.push(envelope);
        if ends {
            return seen;
        }
    }
}

/// The text a chat's actions wrote into one part (its first content, then deltas).
fn part_text(actions: &[ActionEnvelope], part: &str) -> String {
    let mut text = String::new();
    for envelope in actions {
        let value = serde_json::to_value(&envelope.action).unwrap();
        match value["type"].as_str() {
            Some("chat/responsePart") if value["part"]["id"] == part => {
                text.push_str(value["part"]["content"].as_str().unwrap_or(""));
            }
            Some("chat/delta") if value["partId"] == part => {
                text.push_str(value["content"].as_str().unwrap_or(""));
            }
            _ => {}
        }
    }
    text
}

#[tokio::test]
async fn a_prompt_on_the_lead_chat_streams_the_roles_reply_there_and_in_its_own_chat() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let client = ready_client(&hub, "it-1").await;
        let chats = create_session(&client, "ahp-session:/one", hub.dir()).await;
        let backend = chats.roles["backend"].as_str().unwrap().to_string();
        let (_, mut lead) = client.subscribe(chats.lead.clone()).await.unwrap();
        let (_, mut role) = client.subscribe(backend).await.unwrap();
        client
            .dispatch(
                chats.lead.clone(),
                prompt("u1", "@backend echo hello from the hub"),
            )
            .await
            .unwrap();
        let on_lead = until_turn_ends(&mut lead, "u1").await;
        let started = &on_lead[0];
        assert_eq!(kind(started), "chat/turnStarted");
        assert_eq!(started.origin.as_ref().unwrap().client_id, "it-1");
        assert!(started.rejection_reason.is_none());
        let text = part_text(&on_lead, "backend");
        assert!(text.starts_with("**@backend**"), "{text}");
        assert!(text.contains("hello from the hub"), "{text}");
        let end = serde_json::to_value(&on_lead.last().unwrap().action).unwrap();
        assert_eq!(end["type"], "chat/turnComplete", "{end}");
        assert_eq!(end["_meta"]["ourocodus"]["stopReason"], "end_turn");
        let on_role = until_turn_ends(&mut role, "u1").await;
        assert!(part_text(&on_role, "text").contains("hello from the hub"));
        let seqs: Vec<u64> = on_lead.iter().map(|e| e.server_seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "increasing: {seqs:?}");
        let listed: Value = client.request("listSessions", json!({})).await.unwrap();
        assert_eq!(listed["items"][0]["resource"], "ahp-session:/one");
        assert_eq!(
            listed["items"][0]["title"],
            "@backend echo hello from the hub"
        );
    })
    .await;
}

/// The pending-confirmation tool call a chat's actions show, if any: (turn, call, options).
fn pending_confirmation(actions: &[ActionEnvelope]) -> Option<(String, String)> {
    actions.iter().find_map(|envelope| {
        let value = serde_json::to_value(&envelope.action).unwrap();
        let pending = value["type"] == "chat/toolCallReady" && value.get("confirmed").is_none();
        pending.then(|| {
            let turn = value["turnId"].as_str().unwrap().to_string();
            (turn, value["toolCallId"].as_str().unwrap().to_string())
        })
    })
}

async fn until_pending(sub: &mut SessionSubscription) -> (String, String) {
    let mut seen = Vec::new();
    loop {
        seen.push(next_action(sub).await);
        if let Some(pending) = pending_confirmation(&seen) {
            return pending;
        }
    }
}

fn confirmation(turn: &str, call: &str, approved: bool) -> StateAction {
    serde_json::from_value(json!({
        "type": "chat/toolCallConfirmed", "turnId": turn, "toolCallId": call, "approved": approved,
    }))
    .unwrap()
}

#[tokio::test]
async fn a_permission_request_is_answered_by_the_first_client_and_a_later_answer_is_refused() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let first = ready_client(&hub, "first").await;
        let second = ready_client(&hub, "second").await;
        let chats = create_session(&first, "ahp-session:/ask", hub.dir()).await;
        let (_, mut first_lead) = first.subscribe(chats.lead.clone()).await.unwrap();
        let (_, mut second_lead) = second.subscribe(chats.lead.clone()).await.unwrap();
        first
            .dispatch(
                chats.lead.clone(),
                prompt("p1", "@backend ask permission edit Edit main.rs"),
            )
            .await
            .unwrap();
        let (turn, call) = until_pending(&mut second_lead).await;
        assert_eq!(
            until_pending(&mut first_lead).await,
            (turn.clone(), call.clone())
        );
        second
            .dispatch(chats.lead.clone(), confirmation(&turn, &call, true))
            .await
            .unwrap();
        // Two connections' frames have no order between them: the first answers once
        // the second's answer is known to be in.
        loop {
            let seen = next_action(&mut second_lead).await;
            if kind(&seen) == "chat/toolCallConfirmed" {
                break;
            }
        }
        first
            .dispatch(chats.lead.clone(), confirmation(&turn, &call, false))
            .await
            .unwrap();
        let mut on_lead = until_turn_ends(&mut first_lead, "p1").await;
        // The later answer may be refused after the turn is over.
        while !on_lead.iter().any(|e| {
            kind(e) == "chat/toolCallConfirmed"
                && e.origin.as_ref().is_some_and(|o| o.client_id == "first")
        }) {
            on_lead.push(next_action(&mut first_lead).await);
        }
        let confirmations: Vec<&ActionEnvelope> = on_lead
            .iter()
            .filter(|e| kind(e) == "chat/toolCallConfirmed")
            .collect();
        assert_eq!(confirmations.len(), 2, "{confirmations:?}");
        let won = confirmations[0];
        assert_eq!(won.origin.as_ref().unwrap().client_id, "second");
        assert!(won.rejection_reason.is_none());
        let lost = confirmations[1];
        assert_eq!(lost.origin.as_ref().unwrap().client_id, "first");
        assert!(lost.rejection_reason.is_some(), "{lost:?}");
        let text = part_text(&on_lead, "backend");
        assert!(text.contains("permission: allow-once"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn a_client_that_reconnects_mid_stream_gets_every_action_it_missed_exactly_once() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let watcher = ready_client(&hub, "watcher").await;
        let chats = create_session(&watcher, "ahp-session:/gap", hub.dir()).await;
        let (_, mut all) = watcher.subscribe(chats.lead.clone()).await.unwrap();
        let leaving = ready_client(&hub, "leaving").await;
        let (_, mut partial) = leaving.subscribe(chats.lead.clone()).await.unwrap();
        let script =
            "@backend stream 30 chunks of 20 bytes; sleep 600ms; stream 30 chunks of 20 bytes";
        watcher
            .dispatch(chats.lead.clone(), prompt("g1", script))
            .await
            .unwrap();
        // The leaving client reads a few actions, then its connection goes.
        let mut got: Vec<u64> = Vec::new();
        for _ in 0..5 {
            got.push(next_action(&mut partial).await.server_seq);
        }
        let last_seen = *got.last().unwrap();
        leaving.shutdown().await;
        drop(partial);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let back = hub.client().await;
        let mut live = back.attach_subscription(&chats.lead).await;
        let result = back
            .reconnect("leaving".into(), last_seen as i64, vec![chats.lead.clone()])
            .await
            .unwrap();
        let ReconnectResult::Replay(replay) = result else {
            panic!("a replay, not snapshots: {result:?}")
        };
        got.extend(replay.actions.iter().map(|e| e.server_seq));
        let everything = until_turn_ends(&mut all, "g1").await;
        let last = everything.last().unwrap().server_seq;
        while got.last().is_none_or(|seq| *seq < last) {
            got.push(next_action(&mut live).await.server_seq);
        }
        let expected: Vec<u64> = everything.iter().map(|e| e.server_seq).collect();
        let unique: BTreeSet<u64> = got.iter().copied().collect();
        assert_eq!(unique.len(), got.len(), "nothing twice: {got:?}");
        assert_eq!(got, expected, "nothing lost, in order");
    })
    .await;
}

#[tokio::test]
async fn a_hub_killed_and_started_again_hosts_its_sessions_with_their_history_and_agents() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let client = ready_client(&hub, "before").await;
        let chats = create_session(&client, "ourocodus:/kept", hub.dir()).await;
        let (_, mut lead) = client.subscribe(chats.lead.clone()).await.unwrap();
        client
            .dispatch(chats.lead.clone(), prompt("k1", "@backend say remembered"))
            .await
            .unwrap();
        let last_before = until_turn_ends(&mut lead, "k1")
            .await
            .last()
            .unwrap()
            .server_seq;
        drop(client);
        let dir = hub.kill9().await;
        let hub = Hub::start_in(dir, &[]).await;
        let client = ready_client(&hub, "after").await;
        let listed: Value = client.request("listSessions", json!({})).await.unwrap();
        assert_eq!(
            listed["items"][0]["resource"], "ourocodus:/kept",
            "{listed}"
        );
        // Loaded again from the store: `creating` until its history is back.
        let (subscribed, mut session) = client.subscribe("ourocodus:/kept".into()).await.unwrap();
        let creating = serde_json::to_value(subscribed.snapshot.unwrap().state).unwrap();
        if creating["lifecycle"] == "creating" {
            while kind(&next_action(&mut session).await) != "session/ready" {}
        }
        let chats = chats_of(&client, "ourocodus:/kept").await;
        let (snapshot, mut lead) = client.subscribe(chats.lead.clone()).await.unwrap();
        let Some(SnapshotState::Chat(chat)) = snapshot.snapshot.map(|s| s.state) else {
            panic!("a chat snapshot")
        };
        let history = serde_json::to_string(&chat.turns).unwrap();
        assert!(history.contains("remembered"), "{history}");
        // The old hub's numbers mean nothing to the new one: a client coming back with
        // one gets snapshots, never another hub's actions replayed as the ones it missed.
        let back = hub.client().await;
        let result = back
            .reconnect(
                "before".into(),
                last_before as i64,
                vec![chats.lead.clone()],
            )
            .await
            .unwrap();
        assert!(
            matches!(result, ReconnectResult::Snapshot(_)),
            "snapshots after a restart: {result:?}"
        );
        client
            .dispatch(chats.lead.clone(), prompt("k2", "@backend say back again"))
            .await
            .unwrap();
        let on_lead = until_turn_ends(&mut lead, "k2").await;
        assert!(part_text(&on_lead, "backend").contains("back again"));
    })
    .await;
}
