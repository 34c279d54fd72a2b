//! Point 3: every child update reaches the editor with the editor's session id, the
//! role in `update._meta.ourocodus.role` and tool call ids namespaced per role;
//! unknown variants and foreign `_meta` pass untouched; per-child order holds and
//! nothing is dropped.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::support::transcript::assert_golden;
use crate::support::{Proxy, WAIT, bounded, fake_team, updates};

#[tokio::test]
async fn tool_calls_are_tagged_with_the_role_and_namespaced_per_role() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        proxy
            .prompt(
                &session,
                "say reading\\n; tool call read Reading the README; say done\\n",
            )
            .await;
        assert_golden(&proxy, "tool_call_tagged");
    })
    .await;
}

#[tokio::test]
async fn two_roles_using_the_same_tool_call_id_never_collide() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let (messages, _) = proxy
            .prompt(&session, "@alpha @beta tool call read Look")
            .await;
        let ids: Vec<&str> = updates(&messages)
            .into_iter()
            .filter(|m| m["params"]["update"]["sessionUpdate"] == "tool_call")
            .map(|m| m["params"]["update"]["toolCallId"].as_str().unwrap())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, vec!["alpha/call_1", "beta/call_1"]);
        for message in updates(&messages) {
            assert_eq!(message["params"]["sessionId"], session.as_str());
        }
    })
    .await;
}

#[tokio::test]
async fn unknown_update_variants_and_foreign_meta_pass_through_untouched() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        let future = json!({
            "sessionUpdate": "hologram_update",
            "payload": { "nested": [1, { "deep": null }], "text": "a\"b" },
            "_meta": { "vendor": { "x": 1 } },
        });
        let chunk = json!({
            "sessionUpdate": "agent_message_chunk",
            "content": { "type": "text", "text": "hi\n", "_meta": { "c": true } },
            "messageId": "m-1",
            "_meta": { "ourocodus": { "role": "spoofed" }, "other": "kept" },
        });
        let script = format!("update {future}; update {chunk}");
        let (messages, _) = proxy.prompt(&session, &script).await;
        let seen: Vec<&Value> = updates(&messages)
            .into_iter()
            .map(|m| &m["params"]["update"])
            .filter(|u| u["_meta"]["ourocodus"]["label"] != true)
            .collect();
        let future_seen = seen
            .iter()
            .find(|u| u["sessionUpdate"] == "hologram_update")
            .expect("passed through");
        assert_eq!(future_seen["payload"], future["payload"]);
        assert_eq!(future_seen["_meta"]["vendor"], json!({ "x": 1 }));
        assert_eq!(future_seen["_meta"]["ourocodus"]["role"], "alpha");
        let chunk_seen = seen
            .iter()
            .find(|u| u["messageId"] == "m-1")
            .expect("chunk");
        assert_eq!(chunk_seen["content"], chunk["content"]);
        assert_eq!(chunk_seen["_meta"]["other"], "kept");
        assert_eq!(
            chunk_seen["_meta"]["ourocodus"]["role"], "alpha",
            "a child cannot spoof its role"
        );
    })
    .await;
}

#[tokio::test]
async fn per_child_order_is_preserved_and_nothing_is_dropped_while_three_roles_stream() {
    bounded(WAIT * 4, async {
        let roles = ["alpha", "beta", "gamma"];
        let mut proxy = Proxy::start(&fake_team(&roles)).await;
        let session = proxy.plain_session().await;
        let (messages, response) = proxy
            .prompt(&session, "@all stream 3000 chunks of 200 bytes")
            .await;
        assert_eq!(response["result"]["stopReason"], "end_turn");
        let mut next_expected: HashMap<String, u64> = HashMap::new();
        for update in updates(&messages)
            .into_iter()
            .map(|m| &m["params"]["update"])
        {
            let Some(text) = update["content"]["text"]
                .as_str()
                .filter(|t| t.starts_with('#'))
            else {
                continue;
            };
            let role = update["_meta"]["ourocodus"]["role"]
                .as_str()
                .unwrap()
                .to_string();
            let number: u64 = text[1..].split(' ').next().unwrap().parse().unwrap();
            let expected = next_expected.entry(role.clone()).or_insert(1);
            assert_eq!(number, *expected, "{role} out of order or lost");
            *expected += 1;
        }
        for role in roles {
            assert_eq!(
                next_expected.get(role),
                Some(&3001),
                "{role} delivered everything"
            );
        }
    })
    .await;
}
