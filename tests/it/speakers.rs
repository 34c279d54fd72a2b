//! Point 4: editors that advertise subagents see each role as a subagent session;
//! plain editors get one readable stream where two roles' text never shares a line
//! and a label marks each change of speaker.

use serde_json::{Value, json};

use crate::support::transcript::assert_golden;
use crate::support::{Peer as _, Proxy, WAIT, bounded, fake_team, updates};

/// Reassembles the text a plain editor shows, with `[role]` for label chunks.
fn rendered(messages: &[Value]) -> Vec<(String, String)> {
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut current = (String::new(), String::new());
    for update in updates(messages)
        .into_iter()
        .map(|m| &m["params"]["update"])
    {
        if update["sessionUpdate"] != "agent_message_chunk" {
            continue;
        }
        let role = update["_meta"]["ourocodus"]["role"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        let is_label = update["_meta"]["ourocodus"]["label"] == true;
        for piece in update["content"]["text"]
            .as_str()
            .unwrap_or_default()
            .split_inclusive('\n')
        {
            let owner = if is_label {
                format!("label:{role}")
            } else {
                role.clone()
            };
            if current.1.is_empty() {
                current.0 = owner.clone();
            }
            assert!(
                current.1.trim().is_empty() || current.0 == owner || owner.starts_with("label:"),
                "line shared by {} and {owner}: {:?} + {piece:?}",
                current.0,
                current.1
            );
            current.1.push_str(piece);
            if piece.ends_with('\n') {
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.1.is_empty() {
        lines.push(current);
    }
    lines
}

#[tokio::test]
async fn plain_editors_never_get_two_roles_text_in_one_line() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        // Both stream words with no newline until the end, interleaving in time.
        let script = "@alpha @beta alpha> say one-; alpha> sleep 100ms; alpha> say two-; alpha> sleep 100ms; \
                      alpha> say three\\n; beta> sleep 50ms; beta> say uno-; beta> sleep 100ms; beta> say dos\\n";
        let (messages, _) = proxy.prompt(&session, script).await;
        let lines = rendered(&messages);
        let text_of = |role: &str| -> String {
            lines.iter().filter(|(owner, _)| owner == role).map(|(_, t)| t.as_str()).collect()
        };
        assert_eq!(text_of("alpha").trim(), "one-two-three");
        assert_eq!(text_of("beta").trim(), "uno-dos");
        let labels: Vec<&Value> = updates(&messages)
            .into_iter()
            .filter(|m| m["params"]["update"]["_meta"]["ourocodus"]["label"] == true)
            .collect();
        assert_eq!(labels.len(), 2, "one label per change of speaker: {lines:#?}");
    })
    .await;
}

#[tokio::test]
async fn a_role_holding_a_line_too_long_is_broken_so_others_can_speak() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let script = "@alpha @beta alpha> say open line; alpha> sleep 3s; alpha> say  closed\\n; beta> sleep 100ms; beta> say beta speaks\\n";
        let started = std::time::Instant::now();
        let id = proxy.prompt_id(&session, script).await;
        loop {
            let message = proxy.next().await;
            let text = message["params"]["update"]["content"]["text"].as_str().unwrap_or_default();
            if text.contains("beta speaks") {
                break;
            }
        }
        let waited = started.elapsed();
        assert!(waited < std::time::Duration::from_millis(2900), "beta waited {waited:?} for alpha's line");
        let (_, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(response["result"]["stopReason"], "end_turn");
        let all: Vec<Value> = proxy.transcript.iter().map(|(_, m)| m.clone()).collect();
        rendered(&all);
    })
    .await;
}

#[tokio::test]
async fn an_editor_with_subagents_sees_each_role_as_its_own_session() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        proxy.initialize(json!({ "subagents": {} })).await;
        let session = proxy.new_session().await;
        proxy
            .prompt(
                &session,
                "@alpha @beta alpha> say from alpha\\n; beta> sleep 50ms; beta> say from beta\\n",
            )
            .await;
        assert_golden(&proxy, "subagents_two_roles");
    })
    .await;
}

#[tokio::test]
async fn a_subagent_session_can_be_cancelled_alone() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        proxy.initialize(json!({ "subagents": {} })).await;
        let session = proxy.new_session().await;
        let id = proxy
            .prompt_id(
                &session,
                "@alpha @beta alpha> sleep 10s; beta> sleep 300ms; beta> say done\\n",
            )
            .await;
        let alpha_sub = loop {
            let m = proxy.next().await;
            let u = &m["params"]["update"];
            if u["sessionUpdate"] == "subagent_update" && u["title"] == "alpha" {
                break u["sessionId"].as_str().unwrap().to_string();
            }
        };
        proxy
            .notify("session/cancel", json!({ "sessionId": alpha_sub }))
            .await;
        let (before, response) = proxy.until_response(id, |_| None).await;
        let states: Vec<(String, String)> = updates(&before)
            .into_iter()
            .map(|m| &m["params"]["update"])
            .filter(|u| u["sessionUpdate"] == "subagent_update" && u["state"]["state"] == "idle")
            .map(|u| {
                (
                    u["_meta"]["ourocodus"]["role"].as_str().unwrap().into(),
                    u["_meta"]["ourocodus"]["outcome"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert!(
            states.contains(&("alpha".into(), "cancelled".into())),
            "{states:?}"
        );
        assert!(
            states.contains(&("beta".into(), "completed".into())),
            "{states:?}"
        );
        assert_eq!(
            response["result"]["stopReason"], "end_turn",
            "the parent turn was not cancelled"
        );
    })
    .await;
}
