//! Points 2 and 10: `initialize` answers at once; children start in parallel at
//! `session/new`, each with its own session, the editor's capabilities filtered to
//! what the proxy relays, the persona, and the role's MCP servers.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    Peer as _, Proxy, WAIT, bounded, fake_team, fake_team_flags, fake_team_with, text_from,
};

#[tokio::test]
async fn initialize_and_session_new_answer_at_once_while_agents_start_slowly() {
    bounded(WAIT * 2, async {
        let slow = fake_team_flags(&["alpha", "beta"], &["--startup-delay", "2s"]);
        let mut proxy = Proxy::start(&slow).await;
        let started = Instant::now();
        let result = proxy.initialize(json!({})).await;
        assert_eq!(result["protocolVersion"], 1);
        assert_eq!(result["authMethods"], json!([]));
        assert_eq!(result["agentInfo"]["name"], "ourocodus");
        let session = proxy.new_session().await;
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "took {:?}",
            started.elapsed()
        );
        let (messages, _) = proxy.prompt(&session, "@all say up\\n").await;
        assert!(
            started.elapsed() < Duration::from_millis(3500),
            "the two agents started in parallel: {:?}",
            started.elapsed()
        );
        assert_eq!(text_from(&messages, "alpha"), "up\n");
        assert_eq!(text_from(&messages, "beta"), "up\n");
    })
    .await;
}

#[tokio::test]
async fn each_role_gets_its_own_child_session_in_the_editor_cwd_with_filtered_capabilities() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        proxy
            .initialize(
                json!({ "terminal": true, "subagents": {}, "fs": { "readTextFile": false } }),
            )
            .await;
        let session = proxy.new_session().await;
        let cwd = proxy.cwd().to_string_lossy().to_string();
        let (messages, _) = proxy.prompt(&session, "@all whoami").await;
        for role in ["alpha", "beta"] {
            let said: String = messages
                .iter()
                .filter(|m| m["params"]["update"]["_meta"]["ourocodus"]["role"] == role)
                .filter_map(|m| m["params"]["update"]["content"]["text"].as_str())
                .collect();
            assert!(said.contains(&format!("name: {role}")), "{said}");
            assert!(said.contains(&format!("cwd: {cwd}")), "{said}");
            assert!(
                said.contains("client capabilities: fs.readTextFile, fs.writeTextFile, terminal"),
                "{said}"
            );
            assert!(
                !said.contains("subagents"),
                "children are not told about subagents: {said}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_generic_agent_gets_the_persona_as_a_first_turn_preamble_once() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team_with(
            &["alpha", "beta"],
            "directories = [\"src\"]",
        ))
        .await;
        let session = proxy.plain_session().await;
        let (messages, _) = proxy.prompt(&session, "whoami").await;
        let said = text_from(&messages, "alpha");
        assert!(
            said.contains("preamble: [ourocodus] You are the `alpha` role"),
            "{said}"
        );
        assert!(
            said.contains("Your persona: the alpha role")
                && said.contains("The other roles are: beta"),
            "{said}"
        );
        assert!(said.contains("only land under: src"), "{said}");
        assert!(said.contains("system prompt: none"), "{said}");
    })
    .await;
}

#[tokio::test]
async fn role_mcp_servers_are_given_on_top_of_the_editor_ones_after_the_proxys_own() {
    bounded(WAIT * 2, async {
        let role_mcp = "mcp_servers = [{ name = \"db\", command = \"db-mcp\", args = [\"--ro\"] }]";
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], role_mcp)).await;
        proxy.initialize(json!({})).await;
        let cwd = proxy.cwd().to_string_lossy().to_string();
        let editor_mcp =
            json!([{ "name": "editor-tools", "command": "tools", "args": [], "env": [] }]);
        let id = proxy
            .request(
                "session/new",
                json!({ "cwd": cwd, "mcpServers": editor_mcp }),
            )
            .await;
        let (_, response) = proxy.until_response(id, |_| None).await;
        let session = response["result"]["sessionId"]
            .as_str()
            .unwrap()
            .to_string();
        let (messages, _) = proxy.prompt(&session, "whoami").await;
        let said = text_from(&messages, "alpha");
        assert!(
            said.contains("mcp servers: ourocodus, editor-tools, db"),
            "{said}"
        );
    })
    .await;
}

#[tokio::test]
async fn editor_eof_ends_the_proxy_and_its_agents() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        proxy.prompt(&session, "@all say ready\\n").await;
        let started = Instant::now();
        let status = proxy.close().await;
        assert!(status.success(), "{status:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    })
    .await;
}
