//! The core with several connections on one session, all in memory: every client
//! sees every update in order, rendered for its own capabilities; permission
//! requests follow the turn's origin; a client leaving mid-turn disturbs nobody.

// A failed unwrap is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};

use support::{Agent, Client, Harness, texts_on, update_kinds};

const PLAIN: fn() -> Value = || json!({ "fs": { "readTextFile": false, "writeTextFile": false } });
const SUBAGENTS: fn() -> Value = || json!({ "subagents": {}, "session": { "notices": {} } });

/// `a` opens a session, `b` attaches to it; the team's agents come up.
async fn shared_session(
    harness: &mut Harness,
    a: &mut Client,
    b: &mut Client,
    roles: usize,
) -> (String, Vec<Agent>) {
    let session = a.new_session().await;
    let mut agents = Vec::new();
    for _ in 0..roles {
        agents.push(harness.agent().await);
    }
    agents.sort_by(|x, y| x.role.cmp(&y.role));
    let attached = b.join(&session).await;
    assert_eq!(attached["result"]["sessionId"], session, "{attached}");
    (session, agents)
}

fn role_of(message: &Value) -> Option<&str> {
    message["params"]["update"]["_meta"]["ourocodus"]["role"].as_str()
}

#[tokio::test]
async fn two_clients_on_one_session_each_see_every_update_in_order_rendered_for_their_own_capabilities()
 {
    let mut harness = Harness::start(&["alpha", "beta"]);
    let mut sub = harness.client(SUBAGENTS()).await;
    let mut plain = harness.client(PLAIN()).await;
    let (session, mut agents) = shared_session(&mut harness, &mut sub, &mut plain, 2).await;
    let prompt = sub.prompt(&session, "@all count").await;
    for agent in &mut agents {
        let request = agent.expect("session/prompt").await;
        for n in 1..=20 {
            agent.say(&format!("{} {n}\n", agent.role)).await;
        }
        agent.update(json!({ "sessionUpdate": "tool_call", "toolCallId": "call_1", "title": "Read", "kind": "read" })).await;
        agent
            .answer(&request, json!({ "stopReason": "end_turn" }))
            .await;
    }
    let (seen_by_sub, answer) = sub.until_answer(prompt).await;
    assert_eq!(answer["result"]["stopReason"], "end_turn");
    let (mut seen_by_plain, last) = plain
        .until(|m| {
            m["params"]["update"]["sessionUpdate"] == "tool_call" && role_of(m) == Some("beta")
        })
        .await;
    seen_by_plain.push(last);
    for role in ["alpha", "beta"] {
        let expected: Vec<String> = (1..=20).map(|n| format!("{role} {n}\n")).collect();
        let subagent = format!("{session}:{role}:1");
        assert_eq!(
            texts_on(&seen_by_sub, &subagent),
            expected,
            "the subagent client sees {role} in its own session, in order"
        );
        let plain_texts: Vec<String> = texts_on(&seen_by_plain, &session)
            .into_iter()
            .filter(|t| t.starts_with(role))
            .collect();
        assert_eq!(
            plain_texts, expected,
            "the plain client sees {role} in the one stream, in order"
        );
    }
    assert!(
        texts_on(&seen_by_sub, &session).is_empty(),
        "nothing of the roles on the subagent client's parent session"
    );
    let announced = seen_by_sub
        .iter()
        .filter(|m| m["params"]["update"]["sessionUpdate"] == "subagent_update")
        .count();
    assert!(announced >= 2, "each role announced as a subagent session");
    assert!(
        !update_kinds(&seen_by_plain).contains(&"subagent_update".to_string()),
        "no subagent sessions for the plain client"
    );
    let labels = seen_by_plain
        .iter()
        .filter(|m| m["params"]["update"]["_meta"]["ourocodus"]["label"] == true)
        .count();
    assert!(labels >= 2, "the plain client gets speaker labels");
    let titles: Vec<&str> = seen_by_plain
        .iter()
        .filter(|m| m["params"]["update"]["sessionUpdate"] == "tool_call")
        .filter_map(|m| m["params"]["update"]["title"].as_str())
        .collect();
    assert!(
        titles.contains(&"alpha: Read"),
        "plain clients see the role in tool titles: {titles:?}"
    );
    let sub_titles: Vec<&str> = seen_by_sub
        .iter()
        .filter(|m| m["params"]["update"]["sessionUpdate"] == "tool_call")
        .filter_map(|m| m["params"]["update"]["title"].as_str())
        .collect();
    assert_eq!(
        sub_titles,
        ["Read", "Read"],
        "subagent sessions name the role already"
    );
    let user_messages = update_kinds(&seen_by_plain)
        .iter()
        .filter(|k| *k == "user_message_chunk")
        .count();
    assert_eq!(user_messages, 1, "the other client sees the user's prompt");
    assert!(
        !update_kinds(&seen_by_sub).contains(&"user_message_chunk".to_string()),
        "the sender does not get its own prompt back"
    );
    harness.stop().await;
}

/// A permission request from `agent` during its turn.
async fn ask_permission(agent: &Agent, id: &str) {
    let params = json!({
        "sessionId": agent.child(),
        "toolCall": { "toolCallId": format!("call_{id}"), "title": "Edit a file" },
        "options": [{ "optionId": "yes", "name": "Yes", "kind": "allow_once" }, { "optionId": "no", "name": "No", "kind": "reject_once" }],
    });
    agent
        .request(id, "session/request_permission", params)
        .await;
}

fn is_permission(message: &Value) -> bool {
    message["method"] == "session/request_permission"
}

#[tokio::test]
async fn a_permission_request_goes_to_the_turns_origin_only_while_it_is_attached() {
    let mut harness = Harness::start(&["alpha"]);
    let mut origin = harness.client(PLAIN()).await;
    let mut other = harness.client(PLAIN()).await;
    let (session, mut agents) = shared_session(&mut harness, &mut origin, &mut other, 1).await;
    let agent = &mut agents[0];
    let prompt = origin.prompt(&session, "edit").await;
    let request = agent.expect("session/prompt").await;
    ask_permission(agent, "p1").await;
    let (_, asked) = origin.until(is_permission).await;
    assert_eq!(asked["params"]["toolCall"]["title"], "alpha: Edit a file");
    origin
        .respond(
            &asked["id"],
            json!({ "outcome": { "outcome": "selected", "optionId": "yes" } }),
        )
        .await;
    let answer = agent.expect_answer().await;
    assert_eq!(answer["id"], "p1");
    assert_eq!(answer["result"]["outcome"]["optionId"], "yes");
    agent.say("done\n").await;
    agent
        .answer(&request, json!({ "stopReason": "end_turn" }))
        .await;
    origin.until_answer(prompt).await;
    let (seen, _) = other
        .until(|m| texts_on(std::slice::from_ref(m), &session) == ["done\n"])
        .await;
    assert!(
        !seen.iter().any(is_permission),
        "the other client was not asked: {seen:?}"
    );
    harness.stop().await;
}

#[tokio::test]
async fn with_the_origin_gone_every_client_is_asked_the_first_answer_wins_and_the_others_are_told()
{
    let mut harness = Harness::start(&["alpha"]);
    let mut origin = harness.client(PLAIN()).await;
    let mut first = harness.client(PLAIN()).await;
    let (session, mut agents) = shared_session(&mut harness, &mut origin, &mut first, 1).await;
    let mut second = harness.client(PLAIN()).await;
    second.join(&session).await;
    let agent = &mut agents[0];
    origin.prompt(&session, "edit").await;
    let request = agent.expect("session/prompt").await;
    // The origin asked, then left; the turn goes on.
    ask_permission(agent, "p1").await;
    origin.until(is_permission).await;
    origin.close().await;
    let (_, to_first) = first.until(is_permission).await;
    let (_, to_second) = second.until(is_permission).await;
    first
        .respond(
            &to_first["id"],
            json!({ "outcome": { "outcome": "selected", "optionId": "no" } }),
        )
        .await;
    let answer = agent.expect_answer().await;
    assert_eq!(
        answer["result"]["outcome"]["optionId"], "no",
        "the first answer reached the agent"
    );
    let (_, withdrawn) = second.until(|m| m["method"] == "$/cancel_request").await;
    assert_eq!(
        withdrawn["params"]["requestId"], to_second["id"],
        "the other client is told it was answered"
    );
    second
        .respond(
            &to_second["id"],
            json!({ "outcome": { "outcome": "selected", "optionId": "yes" } }),
        )
        .await;
    agent
        .answer(&request, json!({ "stopReason": "end_turn" }))
        .await;
    agent.say("after\n").await;
    second
        .until(|m| texts_on(std::slice::from_ref(m), &session) == ["after\n"])
        .await;
    assert!(
        tokio::time::timeout(Duration::from_millis(200), agent.next())
            .await
            .is_err(),
        "the late answer was dropped: the agent got one answer only"
    );
    harness.stop().await;
}

#[tokio::test]
async fn a_client_leaving_during_a_turn_leaves_the_turn_running_and_the_other_client_served() {
    let mut harness = Harness::start(&["alpha"]);
    let mut leaving = harness.client(SUBAGENTS()).await;
    let mut staying = harness.client(PLAIN()).await;
    let (session, mut agents) = shared_session(&mut harness, &mut leaving, &mut staying, 1).await;
    let agent = &mut agents[0];
    leaving.prompt(&session, "long job").await;
    let request = agent.expect("session/prompt").await;
    agent.say("one\n").await;
    staying
        .until(|m| texts_on(std::slice::from_ref(m), &session) == ["one\n"])
        .await;
    leaving.close().await;
    agent.say("two\n").await;
    agent.say("three\n").await;
    agent
        .answer(&request, json!({ "stopReason": "end_turn" }))
        .await;
    let (seen, _) = staying
        .until(|m| texts_on(std::slice::from_ref(m), &session) == ["three\n"])
        .await;
    assert_eq!(texts_on(&seen, &session), ["two\n"]);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), agent.next())
            .await
            .is_err(),
        "the agent was not cancelled"
    );
    // The staying client's own turn works.
    let mine = staying.prompt(&session, "again").await;
    let request = agent.expect("session/prompt").await;
    agent.say("for you\n").await;
    agent
        .answer(&request, json!({ "stopReason": "end_turn" }))
        .await;
    let (seen, answer) = staying.until_answer(mine).await;
    assert_eq!(answer["result"]["stopReason"], "end_turn");
    assert_eq!(texts_on(&seen, &session), ["for you\n"]);
    harness.stop().await;
}

#[tokio::test]
async fn a_tool_call_id_reused_in_a_later_turn_is_the_same_fresh_id_in_its_updates_and_its_elicitation()
 {
    let mut harness = Harness::start(&["alpha"]);
    let caps = json!({ "elicitation": { "form": {} } });
    let mut client = harness.client(caps).await;
    let session = client.new_session().await;
    let mut agent = harness.agent().await;
    let mut ids = Vec::new();
    for turn in 1..=2 {
        let prompt = client.prompt(&session, "go").await;
        let request = agent.expect("session/prompt").await;
        agent.update(json!({ "sessionUpdate": "tool_call", "toolCallId": "call_1", "title": "Ask", "kind": "other" })).await;
        let params = json!({ "sessionId": agent.child(), "toolCallId": "call_1", "mode": "form", "message": "which?", "requestedSchema": { "type": "object", "properties": {} } });
        agent
            .request(&format!("e{turn}"), "elicitation/create", params)
            .await;
        let (seen, asked) = client.until(|m| m["method"] == "elicitation/create").await;
        let card = seen
            .iter()
            .rev()
            .find(|m| m["params"]["update"]["sessionUpdate"] == "tool_call")
            .expect("the card");
        assert_eq!(
            asked["params"]["toolCallId"], card["params"]["update"]["toolCallId"],
            "turn {turn}: the question names its card"
        );
        ids.push(asked["params"]["toolCallId"].clone());
        client
            .respond(&asked["id"], json!({ "action": "cancel" }))
            .await;
        agent.expect_answer().await;
        agent
            .answer(&request, json!({ "stopReason": "end_turn" }))
            .await;
        client.until_answer(prompt).await;
    }
    assert_eq!(ids, [json!("alpha/call_1"), json!("alpha/call_1.1")]);
    harness.stop().await;
}

#[tokio::test]
async fn a_client_joining_a_live_session_gets_its_history_then_live_updates_each_once_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut harness = Harness::start_with_store(&["alpha"], &dir.path().join("store.db")).await;
    let mut first = harness.client(PLAIN()).await;
    let session = first.new_session().await;
    let mut agent = harness.agent().await;
    let prompt = first.prompt(&session, "count").await;
    let request = agent.expect("session/prompt").await;
    let speaker = agent.voice.clone();
    let child = agent.child();
    // The agent streams while the second client joins.
    let stream = tokio::spawn(async move {
        for n in 1..=6000 {
            let update = json!({ "sessionUpdate": "agent_message_chunk", "content": { "type": "text", "text": format!("{n}\n") } });
            let message = json!({ "jsonrpc": "2.0", "method": "session/update", "params": { "sessionId": child, "update": update } });
            assert!(speaker.send(&message).await);
            if n % 50 == 0 {
                // A steady stream, so the join surely overlaps it.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    first
        .until(|m| texts_on(std::slice::from_ref(m), &session) == ["500\n"])
        .await;
    let mut second = harness.client(PLAIN()).await;
    let join = second
        .send_request(
            "session/load",
            json!({ "sessionId": session, "cwd": "/tmp", "mcpServers": [] }),
        )
        .await;
    let (mut seen, answer) = second.until_answer(join).await;
    assert!(answer.get("result").is_some(), "{answer}");
    assert!(
        !stream.is_finished(),
        "the client joined while the agent was streaming"
    );
    stream.await.expect("streamed");
    agent
        .answer(&request, json!({ "stopReason": "end_turn" }))
        .await;
    first.until_answer(prompt).await;
    let (rest, last) = second
        .until(|m| texts_on(std::slice::from_ref(m), &session) == ["6000\n"])
        .await;
    seen.extend(rest);
    seen.push(last);
    let expected: Vec<String> = (1..=6000).map(|n| format!("{n}\n")).collect();
    assert_eq!(
        texts_on(&seen, &session),
        expected,
        "history then live: each update once, in order"
    );
    harness.stop().await;
}
