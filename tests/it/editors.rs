//! The editor set-ups shipped in `editors/` are what the binary takes: Zed's settings
//! snippet starts a proxy that answers `initialize`, its key binding names that
//! server, and the README shows exactly the files.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{WAIT, bounded, ourocodus_bin};

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn json_file(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_file(path)).expect("the file exists");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// The ```json blocks of a markdown file, parsed.
fn json_blocks(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_file(path)).expect("the file exists");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        match (&mut current, trimmed) {
            (None, "```json") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(serde_json::from_str(block).expect("a JSON block parses"));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[tokio::test]
async fn zeds_settings_snippet_starts_a_proxy_that_answers_initialize() {
    bounded(WAIT, async {
        let settings = json_file("editors/zed/settings.json");
        let servers = settings["agent_servers"]
            .as_object()
            .expect("agent_servers");
        assert_eq!(servers.len(), 1);
        let server = &servers["Ourocodus"];
        assert_eq!(
            server["type"], "custom",
            "current Zed ignores an entry without it"
        );
        assert_eq!(server["command"], "ourocodus");
        let args: Vec<&str> = server["args"]
            .as_array()
            .expect("args")
            .iter()
            .map(|a| a.as_str().expect("a string"))
            .collect();
        let project = tempfile::tempdir().expect("a project");
        let mut child = tokio::process::Command::new(ourocodus_bin())
            .args(&args)
            .arg("--no-store")
            .current_dir(project.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the snippet's command runs");
        let mut stdin = child.stdin.take().expect("stdin");
        let initialize = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": { "protocolVersion": 1, "clientCapabilities": {} } });
        stdin
            .write_all(format!("{initialize}\n").as_bytes())
            .await
            .expect("write");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let answer = loop {
            let line = lines.next_line().await.expect("read").expect("an answer");
            let message: Value = serde_json::from_str(&line).expect("JSON");
            if message["id"] == 1 {
                break message;
            }
        };
        assert_eq!(answer["result"]["agentInfo"]["name"], "ourocodus");
        drop(stdin);
        let status = child.wait().await.expect("it exits");
        assert!(status.success(), "{status}");
    })
    .await;
}

#[test]
fn zeds_key_binding_opens_a_thread_of_the_configured_server() {
    let keymap = json_file("editors/zed/keymap.json");
    let binding = &keymap[0]["bindings"]["ctrl-alt-o"];
    assert_eq!(binding[0], "agent::NewExternalAgentThread");
    let name = binding[1]["agent"]["custom"]["name"]
        .as_str()
        .expect("a name");
    let settings = json_file("editors/zed/settings.json");
    assert!(
        settings["agent_servers"].get(name).is_some(),
        "{name} is configured"
    );
}

#[test]
fn zeds_readme_shows_exactly_the_shipped_files() {
    let blocks = json_blocks("editors/zed/README.md");
    assert_eq!(
        blocks,
        vec![
            json_file("editors/zed/settings.json"),
            json_file("editors/zed/keymap.json")
        ]
    );
}
