//! The LSP face (`ourocodus lsp`): a Content-Length client drives the real binary
//! with fake agents behind it — the handshake, code actions per role, a question's
//! progress, updates and answer, a permission relayed and answered, a change applied
//! only once approved, and malformed framing survived.

use serde_json::{Value, json};

use crate::support::lsp_client::{LspClient, quiet_for};
use crate::support::{WAIT, bounded, fake_team, ourocodus_bin};

fn file_uri(client: &LspClient, name: &str) -> String {
    format!("file://{}", client.root().join(name).display())
}

fn range(l1: u32, c1: u32, l2: u32, c2: u32) -> Value {
    json!({ "start": { "line": l1, "character": c1 }, "end": { "line": l2, "character": c2 } })
}

/// A client that takes progress and edits, initialized.
async fn started(roles: &[&str]) -> LspClient {
    let mut client = LspClient::start(&fake_team(roles)).await;
    let caps =
        json!({ "window": { "workDoneProgress": true }, "workspace": { "applyEdit": true } });
    client.initialize(caps).await;
    client
}

async fn ask(client: &mut LspClient, command: &str, argument: Value) -> Value {
    let params = json!({ "command": command, "arguments": [argument] });
    client.request("workspace/executeCommand", params).await
}

fn method_is(message: &Value, method: &str) -> bool {
    message["method"] == method
}

/// Reads until a `window/showMessage` whose text matches `wanted` (answering the
/// server's requests with nothing); returns that text.
async fn shown(client: &mut LspClient, wanted: impl Fn(&str) -> bool) -> String {
    let read = client
        .until(&mut |_| None, |m| {
            method_is(m, "window/showMessage")
                && m["params"]["message"].as_str().is_some_and(&wanted)
        })
        .await;
    read.last().unwrap()["params"]["message"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn initialize_offers_code_actions_and_the_ask_commands() {
    bounded(WAIT * 2, async {
        let mut client = LspClient::start(&fake_team(&["alpha"])).await;
        let result = client.initialize(json!({})).await;
        let caps = &result["capabilities"];
        assert_eq!(caps["codeActionProvider"], true);
        assert_eq!(
            caps["executeCommandProvider"]["commands"],
            json!(["ourocodus.ask", "ourocodus.change", "ourocodus.cancel"])
        );
        assert_eq!(caps["textDocumentSync"], 1, "full sync");
        assert_eq!(result["serverInfo"]["name"], "ourocodus");
        assert!(client.exit().await.success());
    })
    .await;
}

#[tokio::test]
async fn a_selection_gets_an_action_per_role_and_one_for_the_team() {
    bounded(WAIT * 2, async {
        let mut client = started(&["alpha", "beta"]).await;
        let uri = file_uri(&client, "lib.rs");
        let doc = json!({ "uri": uri, "languageId": "rust", "version": 1, "text": "fn main() {\n    run();\n}\n" });
        client.notify("textDocument/didOpen", json!({ "textDocument": doc })).await;
        let params = json!({ "textDocument": { "uri": uri }, "range": range(1, 4, 1, 10), "context": { "diagnostics": [] } });
        // The roles come from the core's welcome: ask until they are known.
        let mut actions = Value::Null;
        for _ in 0..50 {
            actions = client.request("textDocument/codeAction", params.clone()).await["result"].clone();
            if actions.as_array().is_some_and(|a| a.len() > 1) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let titles: Vec<_> = actions.as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["Ask @alpha about this", "Ask @beta about this", "Ask the team about this",
            "Ask @alpha to change this", "Ask @beta to change this"]);
        let command = &actions[1]["command"];
        assert_eq!(command["command"], "ourocodus.ask");
        // The place, not the code: it is read from the document when the action runs.
        assert_eq!(command["arguments"][0], json!({ "role": "beta", "uri": uri, "range": range(1, 4, 1, 10), "version": 1 }));
        assert_eq!(actions[2]["command"]["arguments"][0]["role"], "all");
        let empty = json!({ "textDocument": { "uri": uri }, "range": range(1, 4, 1, 4), "context": { "diagnostics": [] } });
        assert_eq!(client.request("textDocument/codeAction", empty).await["result"], Value::Null);
        // Run as offered: the code asked about is read from the document when it runs.
        let response = ask(&mut client, "ourocodus.ask", command["arguments"][0].clone()).await;
        assert_eq!(response["result"], Value::Null, "{response}");
        let answer = shown(&mut client, |t| t.starts_with("@beta")).await;
        // The fake agent echoes a prompt with no step in it.
        assert_eq!(answer, "@beta: run();");
        // The document changed since the actions were offered: the range may hold other
        // code now, so the old action is refused and a new one asks about what is there.
        let changed = json!({ "textDocument": { "uri": uri, "version": 2 },
            "contentChanges": [{ "text": "fn main() {\n    walk();\n}\n" }] });
        client.notify("textDocument/didChange", changed).await;
        let response = ask(&mut client, "ourocodus.ask", command["arguments"][0].clone()).await;
        assert_eq!(response["error"]["code"], -32602, "{response}");
        assert!(response["error"]["message"].as_str().unwrap().contains("changed since"), "{response}");
        let fresh = client.request("textDocument/codeAction", params.clone()).await["result"][1]["command"]["arguments"][0].clone();
        assert_eq!(fresh["version"], 2);
        ask(&mut client, "ourocodus.ask", fresh).await;
        let answer = shown(&mut client, |t| t.starts_with("@beta")).await;
        assert_eq!(answer, "@beta: walk()");
    })
    .await;
}

#[tokio::test]
async fn a_question_shows_progress_updates_and_the_answer() {
    bounded(WAIT * 2, async {
        let mut client = started(&["alpha", "beta"]).await;
        let response = ask(
            &mut client,
            "ourocodus.ask",
            json!({ "role": "beta", "text": "echo hello from beta" }),
        )
        .await;
        assert_eq!(response["result"], Value::Null, "{response}");
        let mut tokens = Vec::new();
        let read = client
            .until(
                &mut |request| {
                    if request["method"] == "window/workDoneProgress/create" {
                        tokens.push(request["params"]["token"].clone());
                    }
                    None
                },
                |m| {
                    method_is(m, "window/showMessage")
                        && m["params"]["message"]
                            .as_str()
                            .is_some_and(|t| t.starts_with("@beta"))
                },
            )
            .await;
        assert_eq!(tokens, [json!("ourocodus/1/beta")]);
        let progress: Vec<_> = read
            .iter()
            .filter(|m| method_is(m, "$/progress"))
            .map(|m| &m["params"])
            .collect();
        assert!(progress.iter().all(|p| p["token"] == "ourocodus/1/beta"));
        let kinds: Vec<_> = progress
            .iter()
            .map(|p| p["value"]["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds.first(), Some(&"begin"));
        assert_eq!(kinds.last(), Some(&"end"));
        assert!(kinds.contains(&"report"));
        assert_eq!(progress[0]["value"]["title"], "@beta");
        let last_report = progress
            .iter()
            .rev()
            .find(|p| p["value"]["kind"] == "report")
            .unwrap();
        assert_eq!(last_report["value"]["message"], "hello from beta");
        let updates: Vec<_> = read
            .iter()
            .filter(|m| method_is(m, "ourocodus/update"))
            .map(|m| &m["params"])
            .collect();
        assert!(!updates.is_empty());
        assert!(
            updates
                .iter()
                .all(|u| u["role"] == "beta" && u["sessionId"].is_string())
        );
        assert!(
            updates
                .iter()
                .any(|u| u["update"]["sessionUpdate"] == "agent_message_chunk")
        );
        let answer = read.last().unwrap();
        assert_eq!(answer["params"]["message"], "@beta: hello from beta");
        assert_eq!(answer["params"]["type"], 3, "info");
    })
    .await;
}

#[tokio::test]
async fn asking_the_team_shows_each_roles_progress_and_answer() {
    bounded(WAIT * 2, async {
        let mut client = started(&["alpha", "beta"]).await;
        ask(
            &mut client,
            "ourocodus.ask",
            json!({ "role": "all", "text": "say ready" }),
        )
        .await;
        let mut answers = Vec::new();
        let read = client
            .until(&mut |_| None, |m| {
                if method_is(m, "window/showMessage") {
                    answers.push(
                        m["params"]["message"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    );
                }
                answers.len() == 2
            })
            .await;
        answers.sort();
        assert_eq!(answers, ["@alpha: ready", "@beta: ready"]);
        let ends: Vec<_> = read
            .iter()
            .filter(|m| method_is(m, "$/progress") && m["params"]["value"]["kind"] == "end")
            .map(|m| m["params"]["token"].as_str().unwrap())
            .collect();
        assert_eq!(ends.len(), 2, "{ends:?}");
        assert!(ends.contains(&"ourocodus/1/alpha") && ends.contains(&"ourocodus/1/beta"));
    })
    .await;
}

#[tokio::test]
async fn a_permission_request_withdrawn_by_a_cancel_stops_waiting_and_a_late_answer_does_nothing() {
    bounded(WAIT * 3, async {
        let mut client = started(&["alpha"]).await;
        ask(
            &mut client,
            "ourocodus.ask",
            json!({ "role": "alpha", "text": "ask permission execute as Bash ls" }),
        )
        .await;
        // The question arrives; the user does not answer it yet.
        let question = loop {
            let message = client.next().await;
            if method_is(&message, "window/showMessageRequest") {
                break message;
            }
            if message.get("method").is_some() && message.get("id").is_some() {
                let answer = json!({ "jsonrpc": "2.0", "id": message["id"], "result": null });
                client.send(&answer).await;
            }
        };
        let cancel = json!({ "command": "ourocodus.cancel", "arguments": [] });
        let response = client.request("workspace/executeCommand", cancel).await;
        assert_eq!(response["result"], Value::Null, "{response}");
        let told = shown(&mut client, |t| t.contains("withdrawn")).await;
        assert!(told.contains("answering it does nothing"), "{told}");
        // The late answer is taken without harm, and the team goes on.
        let late =
            json!({ "jsonrpc": "2.0", "id": question["id"], "result": { "title": "Allow once" } });
        client.send(&late).await;
        ask(
            &mut client,
            "ourocodus.ask",
            json!({ "role": "alpha", "text": "say after" }),
        )
        .await;
        shown(&mut client, |t| t == "@alpha: after").await;
        let updates: Vec<_> = client
            .seen
            .iter()
            .filter(|m| method_is(m, "ourocodus/update"))
            .collect();
        let said = serde_json::to_string(&updates).unwrap();
        assert!(
            !said.contains("permission: allow-once"),
            "the late answer reached no one"
        );
    })
    .await;
}

#[tokio::test]
async fn a_permission_request_is_a_message_request_and_the_choice_goes_back() {
    bounded(WAIT * 2, async {
        let mut client = started(&["alpha"]).await;
        ask(
            &mut client,
            "ourocodus.ask",
            json!({ "role": "alpha", "text": "ask permission execute as Bash ls" }),
        )
        .await;
        let mut asked = None;
        let read = client
            .until(
                &mut |request| {
                    if request["method"] != "window/showMessageRequest" {
                        return None;
                    }
                    asked = Some(request["params"].clone());
                    Some(json!({ "title": "Allow once" }))
                },
                |m| {
                    method_is(m, "window/showMessage")
                        && m["params"]["message"]
                            .as_str()
                            .is_some_and(|t| t.starts_with("@alpha:"))
                },
            )
            .await;
        let asked = asked.expect("a showMessageRequest");
        assert!(
            asked["message"]
                .as_str()
                .unwrap()
                .starts_with("@alpha asks permission"),
            "{asked}"
        );
        let actions: Vec<_> = asked["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["title"].as_str().unwrap())
            .collect();
        assert!(
            actions.contains(&"Allow once") && actions.len() >= 2,
            "{actions:?}"
        );
        assert_eq!(
            read.last().unwrap()["params"]["message"],
            "@alpha: permission: allow-once"
        );
    })
    .await;
}

#[tokio::test]
async fn a_change_is_applied_only_after_the_user_approves_it() {
    bounded(WAIT * 2, async {
        let mut client = started(&["alpha"]).await;
        let uri = file_uri(&client, "a.rs");
        let doc = json!({ "uri": uri, "languageId": "rust", "version": 1, "text": "fn a() {}\n" });
        client.notify("textDocument/didOpen", json!({ "textDocument": doc })).await;
        let argument = json!({ "role": "alpha", "text": "say Here:\\n```rust\\nfn b() {}\\n```", "uri": uri, "range": range(0, 0, 0, 9) });
        ask(&mut client, "ourocodus.change", argument).await;
        let mut edits = Vec::new();
        let mut offers = 0;
        client
            .until(
                &mut |request| match request["method"].as_str() {
                    Some("window/showMessageRequest") => {
                        offers += 1;
                        assert!(request["params"]["message"].as_str().unwrap().contains("proposes a change to a.rs:1"));
                        // First a look at the code, then approve.
                        Some(json!({ "title": if offers == 1 { "Show" } else { "Apply" } }))
                    }
                    Some("workspace/applyEdit") => {
                        edits.push(request["params"]["edit"].clone());
                        Some(json!({ "applied": true }))
                    }
                    _ => None,
                },
                |m| method_is(m, "workspace/applyEdit"),
            )
            .await;
        assert_eq!(offers, 2);
        let shown = client.seen.iter().any(|m| method_is(m, "window/showMessage") && m["params"]["message"] == "fn b() {}\n");
        assert!(shown, "the code was shown before approval");
        assert_eq!(edits[0]["changes"][&uri], json!([{ "range": range(0, 0, 0, 9), "newText": "fn b() {}\n" }]));
    })
    .await;
}

#[tokio::test]
async fn a_discarded_change_is_never_applied() {
    bounded(WAIT * 2, async {
        let mut client = started(&["alpha"]).await;
        let uri = file_uri(&client, "a.rs");
        let doc = json!({ "uri": uri, "languageId": "rust", "version": 1, "text": "fn a() {}\n" });
        client.notify("textDocument/didOpen", json!({ "textDocument": doc })).await;
        let argument = json!({ "role": "alpha", "text": "say fn c() {}", "uri": uri, "range": range(0, 0, 0, 1) });
        ask(&mut client, "ourocodus.change", argument).await;
        client
            .until(&mut |_| Some(json!({ "title": "Discard" })), |m| method_is(m, "window/showMessageRequest"))
            .await;
        let later = quiet_for(&mut client, std::time::Duration::from_millis(500)).await;
        assert!(!later.iter().any(|m| method_is(m, "workspace/applyEdit")), "{later:?}");
    })
    .await;
}

#[tokio::test]
async fn a_failed_role_is_told_once_and_its_progress_ends_failed() {
    bounded(WAIT * 2, async {
        let mut client = started(&["alpha"]).await;
        ask(
            &mut client,
            "ourocodus.ask",
            json!({ "text": "error -32603 out of luck" }),
        )
        .await;
        let read = client
            .until(&mut |_| None, |m| method_is(m, "window/showMessage"))
            .await;
        let shown = &read.last().unwrap()["params"];
        assert_eq!(shown["type"], 1, "the core's notice, an error: {shown}");
        let text = shown["message"].as_str().unwrap();
        assert!(text.contains("out of luck"), "{shown}");
        let later = quiet_for(&mut client, std::time::Duration::from_millis(300)).await;
        let again = later.iter().any(|m| method_is(m, "window/showMessage"));
        assert!(!again, "told once: {later:?}");
        let end = read
            .iter()
            .chain(&later)
            .find(|m| m["params"]["value"]["kind"] == "end");
        let end = end.expect("the progress ended")["params"]["value"]["message"].clone();
        assert!(end.as_str().unwrap().starts_with("failed: "), "{end}");
        // A prompt that starts no turn is shown as an error.
        ask(
            &mut client,
            "ourocodus.ask",
            json!({ "role": "all", "text": "@alpha" }),
        )
        .await;
        let read = client
            .until(&mut |_| None, |m| method_is(m, "window/showMessage"))
            .await;
        assert_eq!(read.last().unwrap()["params"]["type"], 1, "{read:?}");
    })
    .await;
}

#[tokio::test]
async fn bad_command_arguments_are_invalid_params() {
    bounded(WAIT * 2, async {
        let mut client = started(&["alpha"]).await;
        let response = ask(&mut client, "ourocodus.ask", json!({ "txt": "typo" })).await;
        assert_eq!(response["error"]["code"], -32602, "{response}");
        let response = ask(
            &mut client,
            "ourocodus.change",
            json!({ "text": "no place" }),
        )
        .await;
        assert_eq!(response["error"]["code"], -32602, "{response}");
        // No text, and a place in a document the editor never opened.
        let uri = file_uri(&client, "closed.rs");
        let response = ask(
            &mut client,
            "ourocodus.ask",
            json!({ "uri": uri, "range": range(0, 0, 1, 0) }),
        )
        .await;
        assert_eq!(response["error"]["code"], -32602, "{response}");
        assert!(
            response["error"]["message"]
                .as_str()
                .unwrap()
                .contains("open in the editor"),
            "{response}"
        );
        // A change is applied only over code it saw: a closed document is refused, text or not.
        let closed = json!({ "text": "fn x() {}", "uri": uri, "range": range(0, 0, 1, 0) });
        let response = ask(&mut client, "ourocodus.change", closed).await;
        assert_eq!(response["error"]["code"], -32602, "{response}");
        let response = ask(
            &mut client,
            "ourocodus.ask",
            json!({ "text": "x".repeat(300 * 1024) }),
        )
        .await;
        assert_eq!(response["error"]["code"], -32602);
        assert!(
            response["error"]["message"]
                .as_str()
                .unwrap()
                .contains("at most 262144")
        );
    })
    .await;
}

#[tokio::test]
async fn malformed_framing_does_not_end_the_server() {
    bounded(WAIT * 2, async {
        let mut client = started(&["alpha"]).await;
        client.send_raw(b"Content-Length: 9\r\n\r\nnot json!").await;
        client.send_raw(b"Content-Type: nothing\r\n\r\n").await;
        client.send_raw(b"Content-Length: 2\r\n\r\n[]").await;
        client
            .send_raw(b"Content-Length: 28\r\n\r\n{\"id\":7,\"method\":\"shutdown\"}")
            .await;
        let mut codes = Vec::new();
        for _ in 0..4 {
            let message = client.next().await;
            codes.push((message["id"].clone(), message["error"]["code"].clone()));
        }
        assert_eq!(
            codes,
            [
                (Value::Null, json!(-32700)),
                (Value::Null, json!(-32700)),
                (Value::Null, json!(-32600)),
                (json!(7), json!(-32600))
            ]
        );
        // Still serving: it shuts down and exits as asked.
        assert!(client.exit().await.success());
    })
    .await;
}

#[tokio::test]
async fn closing_its_input_ends_the_server_and_its_agents() {
    bounded(WAIT * 2, async {
        let mut client = started(&["alpha"]).await;
        ask(&mut client, "ourocodus.ask", json!({ "text": "say hi" })).await;
        client
            .until(&mut |_| None, |m| method_is(m, "window/showMessage"))
            .await;
        let (status, log) = client.close().await;
        assert!(status.success());
        assert!(log.contains("agent ended role=alpha"), "{log}");
    })
    .await;
}

#[test]
fn the_helix_snippet_parses_and_names_a_command_the_cli_accepts() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/editors/helix/languages.toml");
    let text = std::fs::read_to_string(path).expect("editors/helix/languages.toml");
    let snippet: toml::Value = toml::from_str(&text).expect("valid TOML");
    let server = &snippet["language-server"]["ourocodus"];
    assert_eq!(server["command"].as_str(), Some("ourocodus"));
    let args: Vec<&str> = server["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "lsp");
    let languages = snippet["language"]
        .as_array()
        .expect("[[language]] entries");
    assert!(languages.iter().all(|l| {
        l["language-servers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str() == Some("ourocodus"))
    }));
    let status = std::process::Command::new(ourocodus_bin())
        .args(&args)
        .arg("--help")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run ourocodus");
    assert!(
        status.success(),
        "`ourocodus {}` is a command",
        args.join(" ")
    );
}

#[tokio::test]
async fn the_cancel_command_stops_the_team_and_the_progress_ends_cancelled() {
    bounded(WAIT * 2, async {
        let mut client = started(&["alpha"]).await;
        ask(
            &mut client,
            "ourocodus.ask",
            json!({ "text": "say working; sleep 20s" }),
        )
        .await;
        client
            .until(&mut |_| None, |m| {
                method_is(m, "$/progress") && m["params"]["value"]["kind"] == "begin"
            })
            .await;
        let answer = client
            .request(
                "workspace/executeCommand",
                json!({ "command": "ourocodus.cancel", "arguments": [] }),
            )
            .await;
        assert!(answer.get("error").is_none(), "{answer}");
        let read = client
            .until(&mut |_| None, |m| {
                method_is(m, "$/progress") && m["params"]["value"]["kind"] == "end"
            })
            .await;
        let end = &read.last().unwrap()["params"]["value"]["message"];
        assert_eq!(end, "cancelled", "{read:?}");
    })
    .await;
}

#[tokio::test]
async fn a_change_to_code_edited_since_it_was_asked_is_not_applied() {
    bounded(WAIT * 2, async {
        let mut client = started(&["alpha"]).await;
        let uri = file_uri(&client, "a.rs");
        let doc = json!({ "uri": uri, "languageId": "rust", "version": 1, "text": "fn a() {}\n" });
        client.notify("textDocument/didOpen", json!({ "textDocument": doc })).await;
        let argument = json!({ "role": "alpha", "text": "say ```rust\\nfn b() {}\\n```", "uri": uri, "range": range(0, 0, 0, 9) });
        ask(&mut client, "ourocodus.change", argument).await;
        // The offer is left waiting while the user types, then approved.
        let offer = loop {
            let message = client.next().await;
            if method_is(&message, "window/showMessageRequest") {
                break message;
            }
        };
        let changed = json!({ "textDocument": { "uri": uri, "version": 2 },
            "contentChanges": [{ "text": "fn a() { todo!() }\n" }] });
        client.notify("textDocument/didChange", changed).await;
        // The server handles notifications and answers concurrently: the edit is
        // taken in before the click, as a person's typing is.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let apply = json!({ "jsonrpc": "2.0", "id": offer["id"], "result": { "title": "Apply" } });
        client.send(&apply).await;
        let later = quiet_for(&mut client, std::time::Duration::from_millis(500)).await;
        assert!(!later.iter().any(|m| method_is(m, "workspace/applyEdit")), "{later:?}");
        let warned = later.iter().chain(client.seen.iter()).any(|m| {
            method_is(m, "window/showMessage")
                && m["params"]["message"].as_str().unwrap_or("").contains("changed since @alpha was asked")
        });
        assert!(warned, "{later:?}");
    })
    .await;
}

#[tokio::test]
async fn when_the_session_cannot_open_a_command_says_why_at_once() {
    bounded(WAIT * 2, async {
        let mut client = LspClient::start(&fake_team(&["alpha"])).await;
        // A root that is no directory: the core refuses a session without an absolute cwd.
        let params =
            json!({ "processId": null, "rootUri": "untitled:nowhere", "capabilities": {} });
        client.request("initialize", params).await;
        client.notify("initialized", json!({})).await;
        let asked = std::time::Instant::now();
        let response = ask(&mut client, "ourocodus.ask", json!({ "text": "say hi" })).await;
        assert_eq!(response["error"]["code"], -32603, "{response}");
        let message = response["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("the team's session could not be opened: "),
            "{message}"
        );
        assert!(
            asked.elapsed() < WAIT,
            "answered without waiting out the session timeout"
        );
        let cancel = json!({ "command": "ourocodus.cancel", "arguments": [] });
        let response = client.request("workspace/executeCommand", cancel).await;
        assert_eq!(response["error"]["code"], -32603, "{response}");
    })
    .await;
}
