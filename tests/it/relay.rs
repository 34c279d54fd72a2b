//! Point 6: agents' requests reach the editor (permission, files, terminals,
//! elicitation) with the role tagged, and the answers go back to the right agent;
//! without an editor capability the proxy serves files itself or says -32601.

use serde_json::{Value, json};

use crate::support::transcript::assert_golden;
use crate::support::{Peer as _, Proxy, WAIT, allow_permissions, bounded, fake_team, text_from};

#[tokio::test]
async fn a_permission_request_is_relayed_after_its_tool_call_with_the_role_in_title_and_meta() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        let (messages, _) = proxy
            .prompt(&session, "ask permission edit Edit the schema")
            .await;
        assert_eq!(text_from(&messages, "alpha"), "permission: allow-once");
        assert_golden(&proxy, "permission_relayed");
    })
    .await;
}

#[tokio::test]
async fn a_permission_request_for_an_unannounced_tool_call_gets_its_card_first() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        let request = json!({"jsonrpc": "2.0", "id": "p1", "method": "session/request_permission", "params": {
            "sessionId": "fake-1", "toolCall": {"toolCallId": "t9", "title": "Risky thing"},
            "options": [{"optionId": "ok", "name": "OK", "kind": "allow_once"}]}});
        let (messages, _) = proxy.prompt(&session, &format!("raw {request}; sleep 200ms")).await;
        let position = |pred: &dyn Fn(&Value) -> bool| messages.iter().position(pred).expect("present");
        let card = position(&|m| m["params"]["update"]["sessionUpdate"] == "tool_call" && m["params"]["update"]["toolCallId"] == "alpha/t9");
        let asked = position(&|m| m["method"] == "session/request_permission");
        assert!(card < asked, "the tool call card came first");
        assert_eq!(messages[card]["params"]["update"]["status"], "pending");
    })
    .await;
}

#[tokio::test]
async fn file_requests_go_to_an_editor_that_has_fs_and_answers_come_back() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        proxy
            .initialize(json!({ "fs": { "readTextFile": true, "writeTextFile": true } }))
            .await;
        let session = proxy.new_session().await;
        let cwd = proxy.cwd().to_path_buf();
        let id = proxy
            .prompt_id(&session, "write file notes.txt hello; read file notes.txt")
            .await;
        let (messages, _) = proxy
            .until_response(id, |request| match request["method"].as_str() {
                Some("fs/write_text_file") => Some(json!({})),
                Some("fs/read_text_file") => Some(json!({ "content": "from the editor buffer" })),
                _ => None,
            })
            .await;
        let write = messages
            .iter()
            .find(|m| m["method"] == "fs/write_text_file")
            .expect("relayed write");
        assert_eq!(write["params"]["sessionId"], session.as_str());
        assert_eq!(
            write["params"]["path"],
            cwd.join("notes.txt").to_string_lossy().as_ref()
        );
        assert_eq!(write["params"]["content"], "hello");
        assert_eq!(write["params"]["_meta"]["ourocodus"]["role"], "alpha");
        let said = text_from(&messages, "alpha");
        assert!(
            said.contains("wrote ") && said.contains("from the editor buffer"),
            "{said:?}"
        );
        assert!(
            !cwd.join("notes.txt").exists(),
            "the editor, not the proxy, wrote it"
        );
    })
    .await;
}

#[tokio::test]
async fn without_editor_fs_the_proxy_serves_files_from_disk() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        let (messages, _) = proxy
            .prompt(
                &session,
                "write file docs/notes.txt line one\\nline two\\n; read file docs/notes.txt",
            )
            .await;
        assert!(messages.iter().all(|m| m["method"] != "fs/write_text_file"));
        let on_disk = std::fs::read_to_string(proxy.cwd().join("docs/notes.txt"))
            .expect("written by the proxy");
        assert_eq!(on_disk, "line one\nline two\n");
        assert!(text_from(&messages, "alpha").contains("line one\nline two"));
    })
    .await;
}

#[tokio::test]
async fn terminal_requests_are_relayed_to_an_editor_with_terminals() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        proxy.initialize(json!({ "terminal": true })).await;
        let session = proxy.new_session().await;
        let id = proxy.prompt_id(&session, "terminal echo hi").await;
        let (messages, _) = proxy
            .until_response(id, |request| match request["method"].as_str() {
                Some("terminal/create") => Some(json!({ "terminalId": "term-1" })),
                Some("terminal/wait_for_exit") => Some(json!({ "exitCode": 0 })),
                Some("terminal/output") => Some(json!({ "output": "hi\n", "truncated": false })),
                Some("terminal/release") => Some(json!({})),
                _ => None,
            })
            .await;
        let created = messages
            .iter()
            .find(|m| m["method"] == "terminal/create")
            .expect("relayed");
        assert_eq!(created["params"]["sessionId"], session.as_str());
        assert_eq!(created["params"]["command"], "echo");
        assert!(text_from(&messages, "alpha").contains("hi"));
    })
    .await;
}

#[tokio::test]
async fn requests_for_capabilities_the_editor_lacks_get_method_not_found() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        for method in ["terminal/create", "elicitation/create", "_vendor/thing"] {
            let request = json!({"jsonrpc": "2.0", "id": method, "method": method, "params": {"sessionId": "fake-1", "command": "ls", "message": "m", "mode": "form", "requestedSchema": {"type": "object", "properties": {}}}});
            proxy.prompt(&session, &format!("raw {request}; sleep 100ms")).await;
        }
        assert!(proxy.transcript.iter().all(|(_, m)| m["method"] != "terminal/create" && m["method"] != "elicitation/create"));
        let log = proxy.stderr();
        for method in ["terminal/create", "elicitation/create", "_vendor/thing"] {
            let answered = log.lines().any(|l| l.contains(&format!("response to \"{method}\"")) && l.contains("-32601"));
            assert!(answered, "{method} was answered -32601:\n{log}");
        }
    })
    .await;
}

#[tokio::test]
async fn elicitation_is_relayed_to_an_editor_that_supports_it() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        proxy
            .initialize(json!({ "elicitation": { "form": {} } }))
            .await;
        let session = proxy.new_session().await;
        let id = proxy.prompt_id(&session, "elicit Which database?").await;
        let (messages, _) = proxy
            .until_response(id, |request| {
                (request["method"] == "elicitation/create")
                    .then(|| json!({ "action": "accept", "content": { "answer": "postgres" } }))
            })
            .await;
        let asked = messages
            .iter()
            .find(|m| m["method"] == "elicitation/create")
            .expect("relayed");
        assert_eq!(asked["params"]["sessionId"], session.as_str());
        assert_eq!(asked["params"]["_meta"]["ourocodus"]["role"], "alpha");
        assert!(text_from(&messages, "alpha").contains("accept"));
    })
    .await;
}

#[tokio::test]
async fn answers_reach_the_right_agent_when_two_agents_use_the_same_request_id() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let id = proxy
            .prompt_id(&session, "@alpha @beta ask permission read Look")
            .await;
        let mut asked = Vec::new();
        let (messages, _) = proxy
            .until_response(id, |request| {
                asked.push(request["id"].clone());
                let role = request["params"]["toolCall"]["_meta"]["ourocodus"]["role"].as_str()?;
                let kind = if role == "alpha" {
                    "allow_once"
                } else {
                    "reject_once"
                };
                crate::support::choose_permission(request, kind)
            })
            .await;
        assert_eq!(asked.len(), 2);
        assert_ne!(
            asked[0], asked[1],
            "the proxy gave each relayed request its own id"
        );
        assert_eq!(text_from(&messages, "alpha"), "permission: allow-once");
        assert_eq!(text_from(&messages, "beta"), "permission: reject-once");
        let _ = allow_permissions;
    })
    .await;
}
