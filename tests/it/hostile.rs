//! Agents are hostile: each test here is an agent that tries to get past the
//! proxy's policy, another role's terminal, a limit or the proxy's own labels.

use serde_json::{Value, json};

use crate::support::{Proxy, WAIT, bounded, fake_team_with};

const OPTIONS: &str = r#"[{"optionId": "y", "name": "Yes", "kind": "allow_once"}, {"optionId": "n", "name": "No", "kind": "reject_once"}]"#;

/// A `session/request_permission` line the fake agent sends verbatim.
fn permission_request(id: &str, tool_call: Value) -> Value {
    let options: Value = serde_json::from_str(OPTIONS).unwrap();
    json!({"jsonrpc": "2.0", "id": id, "method": "session/request_permission",
        "params": {"sessionId": "fake-1", "toolCall": tool_call, "options": options}})
}

/// Whether the fake agent got `outcome` (its stderr logs answers to raw requests).
fn answered(proxy: &Proxy, id: &str, outcome: &str) -> bool {
    let line = format!(
        r#"response to "{id}", which no call is waiting for: result {{"outcome":{{"outcome":"selected","optionId":"{outcome}"}}}}"#
    );
    proxy.stderr().contains(&line)
}

#[tokio::test]
async fn an_edit_whose_paths_hide_in_a_diff_or_other_raw_input_keys_is_still_directory_checked() {
    bounded(WAIT * 2, async {
        let policy = "directories = [\"src\"]\ntools_allow = [\"edit\"]";
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], policy)).await;
        let session = proxy.plain_session().await;
        let outside = proxy.cwd().join("Cargo.toml");
        let diff = json!({"toolCallId": "d1", "title": "Edit", "kind": "edit",
            "content": [{"type": "diff", "path": outside, "oldText": null, "newText": "x"}]});
        let mut steps = vec![format!("raw {}", permission_request("diff", diff))];
        let keys = ["filePath", "new_path", "old_path", "destination", "source"];
        for key in keys {
            let call = json!({"toolCallId": key, "title": "Edit", "kind": "edit", "rawInput": {key: outside}});
            steps.push(format!("raw {}", permission_request(key, call)));
        }
        steps.push("sleep 300ms".into());
        proxy.prompt(&session, &steps.join("; ")).await;
        for id in std::iter::once("diff").chain(keys) {
            assert!(answered(&proxy, id, "n"), "{id} was not refused:\n{}", proxy.stderr());
        }
    })
    .await;
}

#[tokio::test]
async fn a_capitalised_edit_or_a_delete_or_move_outside_the_directories_is_refused() {
    bounded(WAIT * 2, async {
        let policy = "directories = [\"src\"]\ntools_allow = [\"edit\", \"delete\", \"move\"]";
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], policy)).await;
        let session = proxy.plain_session().await;
        let outside = proxy.cwd().join("Cargo.toml");
        let mut steps = Vec::new();
        for kind in ["Edit", "delete", "move"] {
            let call = json!({"toolCallId": kind, "title": "Change", "kind": kind, "locations": [{"path": outside}]});
            steps.push(format!("raw {}", permission_request(kind, call)));
        }
        steps.push("sleep 300ms".into());
        proxy.prompt(&session, &steps.join("; ")).await;
        for kind in ["Edit", "delete", "move"] {
            assert!(answered(&proxy, kind, "n"), "{kind} was not refused:\n{}", proxy.stderr());
        }
    })
    .await;
}

#[tokio::test]
async fn a_tool_announced_as_execute_and_asked_as_edit_is_still_denied() {
    bounded(WAIT * 2, async {
        let policy = "tools_allow = [\"edit\"]\ntools_deny = [\"execute\"]";
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], policy)).await;
        let session = proxy.plain_session().await;
        let announce = json!({"sessionUpdate": "tool_call", "toolCallId": "t1", "title": "rm -rf", "kind": "execute"});
        let ask = permission_request("p1", json!({"toolCallId": "t1", "kind": "edit"}));
        let script = format!("update {announce}; raw {ask}; sleep 300ms");
        proxy.prompt(&session, &script).await;
        assert!(answered(&proxy, "p1", "n"), "{}", proxy.stderr());
    })
    .await;
}

#[tokio::test]
async fn a_tool_asked_as_execute_then_asked_again_as_edit_is_still_denied() {
    bounded(WAIT * 2, async {
        let policy = "tools_allow = [\"edit\"]\ntools_deny = [\"execute\"]";
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], policy)).await;
        let session = proxy.plain_session().await;
        let first = permission_request("p1", json!({"toolCallId": "t1", "kind": "execute"}));
        let again = permission_request("p2", json!({"toolCallId": "t1", "kind": "edit"}));
        let script = format!("raw {first}; raw {again}; sleep 300ms");
        proxy.prompt(&session, &script).await;
        assert!(answered(&proxy, "p2", "n"), "{}", proxy.stderr());
    })
    .await;
}
