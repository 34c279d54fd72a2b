//! Point 7: policy at the proxy. Writes outside a role's directories are refused
//! before they reach the editor or the disk; denied tools are rejected and allowed
//! ones accepted without asking; two roles on one file get a notice naming both.

use serde_json::json;

use crate::support::{Peer as _, Proxy, WAIT, bounded, fake_team_with, text_from, updates};

fn team_with_policy(policy: &str) -> String {
    fake_team_with(&["alpha", "beta"], policy)
}

#[tokio::test]
async fn writes_outside_the_role_directories_are_refused_and_never_reach_the_editor_or_disk() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team_with_policy("directories = [\"src\"]")).await;
        std::fs::create_dir_all(proxy.cwd().join("src")).unwrap();
        std::fs::create_dir_all(proxy.cwd().join("secret")).unwrap();
        std::os::unix::fs::symlink(proxy.cwd().join("secret"), proxy.cwd().join("src/link")).unwrap();
        proxy.initialize(json!({ "fs": { "readTextFile": true, "writeTextFile": true } })).await;
        let session = proxy.new_session().await;
        let outside = proxy.cwd().parent().unwrap().join("escaped.txt");
        let script = format!(
            "write file src/../secret/a.txt x; write file {} x; write file src/link/b.txt x; write file src/ok.txt fine",
            outside.display()
        );
        let id = proxy.prompt_id(&session, &script).await;
        let (messages, _) = proxy
            .until_response(id, |request| (request["method"] == "fs/write_text_file").then(|| json!({})))
            .await;
        let writes: Vec<String> = messages
            .iter()
            .filter(|m| m["method"] == "fs/write_text_file")
            .map(|m| m["params"]["path"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(writes.len(), 1, "only the write inside src reached the editor: {writes:?}");
        assert!(writes[0].ends_with("src/ok.txt"));
        let said = text_from(&messages, "alpha");
        assert_eq!(said.matches("refused by ourocodus policy: outside this role's directories").count(), 3, "{said}");
        assert!(!outside.exists() && !proxy.cwd().join("secret/a.txt").exists() && !proxy.cwd().join("secret/b.txt").exists());
    })
    .await;
}

#[tokio::test]
async fn without_editor_fs_the_proxy_refuses_the_write_itself_and_the_disk_is_untouched() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team_with_policy("directories = [\"src\"]")).await;
        let session = proxy.plain_session().await;
        let (messages, _) = proxy
            .prompt(
                &session,
                "write file ../../etc-escape.txt x; write file src/in.txt ok",
            )
            .await;
        let said = text_from(&messages, "alpha");
        assert!(
            said.contains("write failed: write to") && said.contains("refused by ourocodus policy"),
            "{said}"
        );
        assert!(!proxy.cwd().join("../../etc-escape.txt").exists());
        assert_eq!(
            std::fs::read_to_string(proxy.cwd().join("src/in.txt")).unwrap(),
            "ok"
        );
    })
    .await;
}

#[tokio::test]
async fn denied_tools_are_rejected_without_asking_and_the_user_is_told() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team_with_policy("tools_deny = [\"execute\"]")).await;
        let session = proxy.plain_session().await;
        let (messages, _) = proxy
            .prompt(&session, "ask permission execute Run the migrations")
            .await;
        assert!(
            messages
                .iter()
                .all(|m| m["method"] != "session/request_permission"),
            "never asked the editor"
        );
        let said = text_from(&messages, "alpha");
        assert!(said.contains("permission: reject-once"), "{said}");
        assert!(
            said.contains("refused by policy") && said.contains("tools_deny entry `execute`"),
            "{said}"
        );
    })
    .await;
}

#[tokio::test]
async fn denial_matches_the_claude_tool_name_from_the_earlier_tool_call() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team_with_policy("tools_deny = [\"Bash\"]")).await;
        let session = proxy.plain_session().await;
        let announce = json!({"sessionUpdate": "tool_call", "toolCallId": "toolu_1", "title": "Terminal", "kind": "execute", "rawInput": {}, "_meta": {"claudeCode": {"toolName": "Bash"}}});
        let ask = json!({"jsonrpc": "2.0", "id": "p1", "method": "session/request_permission", "params": {"sessionId": "fake-1",
            "toolCall": {"toolCallId": "toolu_1"}, "options": [{"optionId": "y", "name": "Yes", "kind": "allow_once"}, {"optionId": "n", "name": "No", "kind": "reject_once"}]}});
        let (messages, _) = proxy.prompt(&session, &format!("update {announce}; raw {ask}; sleep 200ms")).await;
        assert!(messages.iter().all(|m| m["method"] != "session/request_permission"));
        assert!(proxy.stderr().contains(r#"response to "p1", which no call is waiting for: result {"outcome":{"outcome":"selected","optionId":"n"}}"#), "{}", proxy.stderr());
    })
    .await;
}

#[tokio::test]
async fn an_edit_outside_the_directories_asked_by_permission_is_rejected_by_the_proxy() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team_with_policy("directories = [\"src\"]")).await;
        let session = proxy.plain_session().await;
        let target = proxy.cwd().join("Cargo.toml");
        let announce = json!({"sessionUpdate": "tool_call", "toolCallId": "toolu_2", "title": "Write Cargo.toml", "kind": "edit",
            "locations": [{"path": target}], "rawInput": {"file_path": target}, "_meta": {"claudeCode": {"toolName": "Write"}}});
        let ask = json!({"jsonrpc": "2.0", "id": "p2", "method": "session/request_permission", "params": {"sessionId": "fake-1",
            "toolCall": {"toolCallId": "toolu_2"}, "options": [{"optionId": "y", "name": "Yes", "kind": "allow_once"}, {"optionId": "n", "name": "No", "kind": "reject_once"}]}});
        let (messages, _) = proxy.prompt(&session, &format!("update {announce}; raw {ask}; sleep 200ms")).await;
        assert!(messages.iter().all(|m| m["method"] != "session/request_permission"));
        let said = text_from(&messages, "alpha");
        assert!(said.contains("outside this role's directories (src)"), "{said}");
        assert!(proxy.stderr().contains(r#"response to "p2", which no call is waiting for: result {"outcome":{"outcome":"selected","optionId":"n"}}"#));
    })
    .await;
}

#[tokio::test]
async fn allowed_tools_are_accepted_without_asking() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team_with_policy("tools_allow = [\"*\", \"read\"]")).await;
        let session = proxy.plain_session().await;
        let (messages, _) = proxy
            .prompt(&session, "ask permission read Look at the tests")
            .await;
        assert!(
            messages
                .iter()
                .all(|m| m["method"] != "session/request_permission")
        );
        assert_eq!(text_from(&messages, "alpha"), "permission: allow-once");
    })
    .await;
}

#[tokio::test]
async fn two_roles_writing_the_same_file_get_a_notice_naming_both_and_the_path() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&team_with_policy("")).await;
        let session = proxy.plain_session().await;
        proxy
            .prompt(&session, "@alpha write file shared/api.rs v1")
            .await;
        let (messages, _) = proxy
            .prompt(&session, "@beta write file shared/api.rs v2")
            .await;
        let warned: Vec<String> = updates(&messages)
            .into_iter()
            .filter_map(|m| {
                m["params"]["update"]["content"]["text"]
                    .as_str()
                    .map(str::to_string)
            })
            .filter(|t| t.contains("are both working on"))
            .collect();
        assert_eq!(warned.len(), 1, "{messages:#?}");
        assert!(
            warned[0].contains("beta and alpha are both working on shared/api.rs"),
            "{}",
            warned[0]
        );
        assert_eq!(
            std::fs::read_to_string(proxy.cwd().join("shared/api.rs")).unwrap(),
            "v2",
            "the write still obeys policy"
        );
    })
    .await;
}
