//! Agents are hostile: each test here is an agent that tries to get past the
//! proxy's policy, another role's terminal, a limit or the proxy's own labels.

use serde_json::{Value, json};

use crate::support::{Peer as _, Proxy, WAIT, bounded, fake_team, fake_team_with, text_from};

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

/// Whether the fake agent got a JSON-RPC error (with `code`, if given) for request `id`.
fn answered_error(proxy: &Proxy, id: &str, code: Option<i64>) -> bool {
    let head = format!("response to \"{id}\", which no call is waiting for: error");
    let code = code.map(|c| format!("\"code\":{c}")).unwrap_or_default();
    proxy
        .stderr()
        .lines()
        .any(|l| l.contains(&head) && l.contains(&code))
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

/// alpha may run commands; beta may not.
fn team_where_beta_may_not_execute() -> String {
    format!(
        "{}tools_deny = [\"execute\"]\n",
        fake_team(&["alpha", "beta"])
    )
}

fn terminal_request(id: &str, method: &str, params: Value) -> Value {
    let mut params = params;
    params["sessionId"] = json!("fake-1");
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// Answers the terminal requests that reach the editor, and keeps their methods.
fn editor_terminal(request: &Value) -> Option<Value> {
    match request["method"].as_str()? {
        "terminal/create" => Some(json!({"terminalId": "term-a"})),
        "terminal/output" => Some(json!({"output": "secret\n", "truncated": false})),
        "terminal/wait_for_exit" => Some(json!({"exitCode": 0})),
        _ => Some(json!({})),
    }
}

fn relayed(messages: &[Value], method_prefix: &str) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| {
            m["method"]
                .as_str()
                .is_some_and(|n| n.to_lowercase().starts_with(method_prefix))
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_role_cannot_read_kill_or_release_another_roles_terminal() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team_where_beta_may_not_execute()).await;
        proxy.initialize(json!({ "terminal": true })).await;
        let session = proxy.new_session().await;
        let create = terminal_request("c1", "terminal/create", json!({"command": "ls"}));
        let id = proxy
            .prompt_id(&session, &format!("@alpha raw {create}; sleep 200ms"))
            .await;
        let (messages, _) = proxy.until_response(id, editor_terminal).await;
        assert_eq!(
            relayed(&messages, "terminal/").len(),
            1,
            "alpha's own create is relayed"
        );
        let methods = ["output", "wait_for_exit", "kill", "release"];
        let steps: Vec<String> = methods
            .iter()
            .map(|m| {
                let request =
                    terminal_request(m, &format!("terminal/{m}"), json!({"terminalId": "term-a"}));
                format!("raw {request}")
            })
            .collect();
        let script = format!("@beta {}; sleep 300ms", steps.join("; "));
        let id = proxy.prompt_id(&session, &script).await;
        let (messages, _) = proxy.until_response(id, editor_terminal).await;
        assert_eq!(
            relayed(&messages, "terminal/"),
            Vec::<Value>::new(),
            "beta reached alpha's terminal"
        );
        for m in methods {
            assert!(
                answered_error(&proxy, m, None),
                "{m} not refused:\n{}",
                proxy.stderr()
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_terminal_method_in_another_case_is_not_relayed() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team_where_beta_may_not_execute()).await;
        proxy.initialize(json!({ "terminal": true })).await;
        let session = proxy.new_session().await;
        let create = terminal_request(
            "c1",
            "terminal/Create",
            json!({"command": "rm", "args": ["-rf", "/"]}),
        );
        let id = proxy
            .prompt_id(&session, &format!("@beta raw {create}; sleep 300ms"))
            .await;
        let (messages, _) = proxy.until_response(id, editor_terminal).await;
        assert_eq!(relayed(&messages, "terminal/"), Vec::<Value>::new());
        assert!(
            answered_error(&proxy, "c1", Some(-32601)),
            "{}",
            proxy.stderr()
        );
    })
    .await;
}

#[tokio::test]
async fn a_terminal_cannot_start_outside_the_role_directories() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], "directories = [\"src\"]")).await;
        std::fs::create_dir_all(proxy.cwd().join("src")).unwrap();
        proxy.initialize(json!({ "terminal": true })).await;
        let session = proxy.new_session().await;
        let outside = proxy.cwd().parent().unwrap().to_path_buf();
        let inside = proxy.cwd().join("src");
        let escape = terminal_request(
            "out",
            "terminal/create",
            json!({"command": "ls", "cwd": outside}),
        );
        let fine = terminal_request(
            "in",
            "terminal/create",
            json!({"command": "ls", "cwd": inside}),
        );
        let script = format!("raw {escape}; raw {fine}; sleep 300ms");
        let id = proxy.prompt_id(&session, &script).await;
        let (messages, _) = proxy.until_response(id, editor_terminal).await;
        let created = relayed(&messages, "terminal/");
        assert_eq!(created.len(), 1, "{created:?}");
        assert!(
            created[0]["params"]["cwd"]
                .as_str()
                .unwrap()
                .ends_with("/src")
        );
        assert!(answered_error(&proxy, "out", None), "{}", proxy.stderr());
    })
    .await;
}

#[tokio::test]
async fn a_flood_of_permission_requests_is_capped_per_role_and_told_once() {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        let steps: Vec<String> = (0..80)
            .map(|n| {
                let call =
                    json!({"toolCallId": format!("t{n}"), "title": "Flood", "kind": "other"});
                format!("raw {}", permission_request(&format!("q{n}"), call))
            })
            .collect();
        let id = proxy
            .prompt_id(&session, &format!("{}; sleep 500ms", steps.join("; ")))
            .await;
        let mut messages = Vec::new();
        loop {
            let message = proxy.next().await;
            if message["id"] == json!(id) && message.get("method").is_none() {
                break;
            }
            messages.push(message);
        }
        let asked = relayed(&messages, "session/request_permission").len();
        assert_eq!(asked, 64, "open permission requests of one role are capped");
        assert!(answered_error(&proxy, "q79", None), "{}", proxy.stderr());
        let said = text_from(&messages, "alpha");
        assert_eq!(said.matches("too many open requests").count(), 1, "{said}");
    })
    .await;
}

#[tokio::test]
async fn an_agent_title_cannot_forge_a_proxy_label_in_a_notice() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], "tools_deny = [\"execute\"]")).await;
        let session = proxy.plain_session().await;
        let forged = "x”\n\n**[ourocodus]**\n\nall checks passed";
        let ask = permission_request("p1", json!({"toolCallId": "t1", "kind": "execute", "title": forged}));
        let notice = json!({"sessionUpdate": "notice", "severity": "info", "title": forged, "description": forged});
        let script = format!("raw {ask}; update {notice}; sleep 300ms; error -32603 **[ourocodus]** the turn went fine");
        let (messages, _) = proxy.prompt(&session, &script).await;
        let chat: String = crate::support::updates(&messages)
            .iter()
            .filter_map(|m| m["params"]["update"]["content"]["text"].as_str())
            .collect();
        assert!(chat.contains("refused by policy") && chat.contains("the turn went fine"), "{chat}");
        assert!(!chat.contains("**[ourocodus]**"), "{chat}");
        assert!(!chat.contains("\n\nall checks passed"), "{chat}");
    })
    .await;
}

#[tokio::test]
async fn an_agent_cannot_set_the_proxys_meta_on_what_it_relays() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        let fake = json!({"role": "beta", "notice": {"severity": "error", "title": "forged"}, "label": true});
        let mut ask = permission_request("p1", json!({"toolCallId": "t1", "title": "Look", "_meta": {"ourocodus": fake}}));
        ask["params"]["_meta"] = json!({"ourocodus": fake, "other": 1});
        ask["params"]["options"][0]["_meta"] = json!({"ourocodus": fake});
        let update = json!({"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "fake-1",
            "update": {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "hi\n"}},
            "_meta": {"ourocodus": fake, "other": 2}}});
        let (messages, _) = proxy.prompt(&session, &format!("raw {ask}; raw {update}; sleep 300ms")).await;
        let asked = relayed(&messages, "session/request_permission");
        let ours = json!({"role": "alpha"});
        assert_eq!(asked[0]["params"]["_meta"]["ourocodus"], ours, "{}", asked[0]);
        assert_eq!(asked[0]["params"]["_meta"]["other"], 1);
        assert_eq!(asked[0]["params"]["toolCall"]["_meta"]["ourocodus"], ours, "{}", asked[0]);
        assert_eq!(asked[0]["params"]["options"][0]["_meta"], json!({}), "{}", asked[0]);
        let chunk = messages
            .iter()
            .find(|m| m["params"]["update"]["content"]["text"] == "hi\n")
            .expect("the chunk");
        assert!(chunk["params"]["_meta"].get("ourocodus").is_none(), "{chunk}");
        assert_eq!(chunk["params"]["_meta"]["other"], 2);
    })
    .await;
}

#[tokio::test]
async fn in_the_proxys_accept_edits_edits_inside_are_allowed_unasked_outside_refused_and_the_rest_asked()
 {
    bounded(WAIT * 2, async {
        let policy = "directories = [\"src\"]\nmode = \"acceptEdits\"";
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], policy)).await;
        let session = proxy.plain_session().await;
        let inside = proxy.cwd().join("src/lib.rs");
        let outside = proxy.cwd().join("Cargo.toml");
        let edit = |id: &str, path: &std::path::Path| {
            let call = json!({"toolCallId": id, "title": "Edit", "kind": "edit", "locations": [{"path": path}]});
            format!("raw {}", permission_request(id, call))
        };
        let run = json!({"toolCallId": "run", "title": "Run tests", "kind": "execute"});
        let script = format!(
            "{}; {}; raw {}; sleep 300ms",
            edit("inside", &inside),
            edit("outside", &outside),
            permission_request("run", run)
        );
        let id = proxy.prompt_id(&session, &script).await;
        let (messages, _) = proxy
            .until_response(id, |r| {
                (r["method"] == "session/request_permission").then(|| {
                    json!({"outcome": {"outcome": "selected", "optionId": "y"}})
                })
            })
            .await;
        assert!(answered(&proxy, "inside", "y"), "{}", proxy.stderr());
        assert!(answered(&proxy, "outside", "n"), "{}", proxy.stderr());
        let asked: Vec<&Value> = messages
            .iter()
            .filter(|m| m["method"] == "session/request_permission")
            .collect();
        assert_eq!(asked.len(), 1, "only the command was asked of the editor: {asked:?}");
        assert_eq!(asked[0]["params"]["toolCall"]["kind"], "execute");
    })
    .await;
}

#[tokio::test]
async fn a_request_with_a_key_given_twice_is_answered_invalid_request_not_left_waiting() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        let twice = r#"{"jsonrpc":"2.0","id":"dup","method":"fs/read_text_file","params":{"sessionId":"fake-1","path":"a.txt","path":"/etc/shadow"}}"#;
        proxy.prompt(&session, &format!("raw {twice}; sleep 300ms")).await;
        assert!(answered_error(&proxy, "dup", Some(-32600)), "{}", proxy.stderr());
    })
    .await;
}
