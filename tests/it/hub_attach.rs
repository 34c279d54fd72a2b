//! Editors of a running hub: `ourocodus acp --attach` processes speaking ACP on
//! their stdio to `ourocodus serve`'s team, several at once, coming and going while
//! the team goes on; and what it says when it cannot attach.

use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::hub::Hub;
use crate::support::{Peer, Proxy, WAIT, bounded, ourocodus_bin, text_from};

const LIMIT: Duration = Duration::from_secs(60);

type Raw = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An editor attached to `hub` through `acp --attach ws://ADDR`, with its token.
async fn editor(hub: &Hub) -> Proxy {
    let url = format!("ws://{}", hub.addr);
    Proxy::attach(&url, &[("OUROCODUS_TOKEN", &hub.token)]).await
}

/// Reads `editor`'s messages until `role` has said `text` (label chunks excluded).
async fn until_said(editor: &mut Proxy, role: &str, text: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    while !text_from(&seen, role).contains(text) {
        seen.push(editor.next().await);
    }
    seen
}

/// `acp --attach` run to its end with stdin closed: its exit status and stderr.
pub(crate) async fn attach_fails(
    url: &str,
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let config = tempfile::tempdir().unwrap();
    let run = Command::new(ourocodus_bin())
        .args(["acp", "--attach", url])
        .env("XDG_CONFIG_HOME", config.path())
        .env_remove("OUROCODUS_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(WAIT, run)
        .await
        .expect("acp --attach ends")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    (output.status, stderr)
}

#[tokio::test]
async fn an_attached_editor_prompts_a_role_and_gets_its_labelled_reply_and_the_answer() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let mut first = editor(&hub).await;
        let session = first.plain_session().await;
        let (messages, answer) = first.prompt(&session, "@backend hello").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
        assert_eq!(text_from(&messages, "backend"), "hello");
        let labelled = messages.iter().any(|m| {
            let update = &m["params"]["update"];
            update["_meta"]["ourocodus"]["label"] == true
                && update["_meta"]["ourocodus"]["role"] == "backend"
        });
        assert!(labelled, "the reply is labelled by its role");
        assert!(first.close().await.success(), "stdin's end is a clean exit");
    })
    .await;
}

#[tokio::test]
async fn a_second_editor_lists_the_hubs_live_session_loads_it_and_both_see_the_next_prompt() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let mut first = editor(&hub).await;
        let session = first.plain_session().await;
        first.prompt(&session, "@backend hello").await;

        let mut second = editor(&hub).await;
        second.initialize(json!({})).await;
        let id = second.request("session/list", json!({})).await;
        let (_, listed) = second.until_response(id, |_| None).await;
        let sessions = listed["result"]["sessions"].as_array().expect("sessions");
        assert!(
            sessions.iter().any(|s| s["sessionId"] == session),
            "{listed}"
        );
        let cwd = first.cwd().to_string_lossy().to_string();
        let params = json!({ "sessionId": session, "cwd": cwd, "mcpServers": [] });
        let id = second.request("session/load", params).await;
        let (replay, loaded) = second.until_response(id, |_| None).await;
        assert!(loaded.get("result").is_some(), "{loaded}");
        assert_eq!(text_from(&replay, "backend"), "hello", "it catches up");

        let (_, answer) = second.prompt(&session, "@backend from the second").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        until_said(&mut first, "backend", "from the second").await;
        let (_, answer) = first.prompt(&session, "@backend from the first").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        until_said(&mut second, "backend", "from the first").await;
    })
    .await;
}

#[tokio::test]
async fn an_editor_that_leaves_is_detached_and_the_team_goes_on_for_the_others() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let mut first = editor(&hub).await;
        let session = first.plain_session().await;
        let mut second = editor(&hub).await;
        second.initialize(json!({})).await;
        let cwd = first.cwd().to_string_lossy().to_string();
        let params = json!({ "sessionId": session, "cwd": cwd, "mcpServers": [] });
        let id = second.request("session/load", params).await;
        second.until_response(id, |_| None).await;

        assert!(first.close().await.success());
        let (messages, answer) = second.prompt(&session, "@backend still here").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
        assert_eq!(text_from(&messages, "backend"), "still here");
        let (messages, _) = second.prompt(&session, "@test and me").await;
        assert_eq!(text_from(&messages, "test"), "and me");
        assert!(second.close().await.success());
        let mut third = editor(&hub).await;
        third.initialize(json!({})).await;
        assert!(
            third.close().await.success(),
            "the hub goes on\n{}",
            hub.log()
        );
    })
    .await;
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_refused_and_named() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let url = format!("ws://{}", hub.addr);
        let (status, stderr) = attach_fails(&url, &[("OUROCODUS_TOKEN", &"0".repeat(64))]).await;
        assert!(!status.success());
        assert!(stderr.contains("refused the token"), "{stderr}");
        assert!(stderr.contains("OUROCODUS_TOKEN"), "{stderr}");
        let (status, stderr) = attach_fails(&url, &[]).await;
        assert!(!status.success());
        assert!(stderr.contains("no hub token"), "{stderr}");
        assert!(stderr.contains("OUROCODUS_TOKEN"), "{stderr}");
    })
    .await;
}

#[tokio::test]
async fn with_no_hub_at_the_address_it_says_to_start_one() {
    bounded(LIMIT, async {
        // A port just freed: nothing listens there.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let token = "0".repeat(64);
        let (status, stderr) =
            attach_fails(&addr.to_string(), &[("OUROCODUS_TOKEN", &token)]).await;
        assert!(!status.success());
        assert!(stderr.contains("no hub at"), "{stderr}");
        assert!(stderr.contains("ourocodus serve"), "{stderr}");
    })
    .await;
}

#[tokio::test]
async fn when_the_hub_stops_the_attached_editor_exits_with_a_message() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let mut first = editor(&hub).await;
        first.plain_session().await;
        hub.signal(nix::sys::signal::Signal::SIGTERM);
        let status = first.wait_exit().await;
        assert!(!status.success());
        let stderr = first.stderr();
        assert!(stderr.contains("closed the connection"), "{stderr}");
        assert!(stderr.contains("ourocodus serve"), "{stderr}");
    })
    .await;
}

/// A raw WebSocket client of the hub's `/acp`, the token in a bearer header.
async fn raw_acp(hub: &Hub) -> Raw {
    let mut request = format!("ws://{}/acp", hub.addr)
        .into_client_request()
        .unwrap();
    let bearer = format!("Bearer {}", hub.token).parse().unwrap();
    request.headers_mut().insert("authorization", bearer);
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The next text frame, as JSON.
async fn next_json(socket: &mut Raw) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
        if let Some(Ok(Message::Text(text))) = frame {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

#[tokio::test]
async fn a_frame_over_the_message_cap_is_refused_and_the_connection_goes_on() {
    bounded(LIMIT, async {
        let hub = Hub::start(&["--max-message-size", "4KiB"]).await;
        let mut socket = raw_acp(&hub).await;
        let big = json!({ "jsonrpc": "2.0", "id": 7, "method": "initialize",
            "params": { "pad": "x".repeat(8192) } });
        socket.send(Message::text(big.to_string())).await.unwrap();
        // The team's status notifications come first, on every new connection.
        let mut refused = next_json(&mut socket).await;
        while refused.get("method").is_some() {
            refused = next_json(&mut socket).await;
        }
        assert!(refused["id"].is_null(), "{refused}");
        let message = refused["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("over the size limit"), "{refused}");
        let initialize = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": { "protocolVersion": 1, "clientCapabilities": {} } });
        // One message per frame, binary frames read as UTF-8 text.
        socket
            .send(Message::binary(initialize.to_string().into_bytes()))
            .await
            .unwrap();
        loop {
            let answer = next_json(&mut socket).await;
            if answer["id"] == 1 {
                assert_eq!(answer["result"]["protocolVersion"], 1, "{answer}");
                break;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_alone_and_the_others_go_on() {
    bounded(LIMIT, async {
        let hub = Hub::start(&["--max-client-backlog", "64KiB"]).await;
        let (mut deaf_tx, _deaf_rx_never_read) = raw_acp(&hub).await.split();
        let initialize = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": { "protocolVersion": 1, "clientCapabilities": {} } })
        .to_string();
        let dropped = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                for _ in 0..1000 {
                    if deaf_tx.feed(Message::text(&initialize)).await.is_err() {
                        return;
                    }
                }
                if deaf_tx.flush().await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert!(dropped.is_ok(), "the hub kept a client that never reads");
        let mut other = editor(&hub).await;
        let session = other.plain_session().await;
        let (messages, answer) = other.prompt(&session, "@backend still served").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
        assert_eq!(text_from(&messages, "backend"), "still served");
        let log = hub.log();
        assert!(log.contains("the client stopped reading"), "{log}");
    })
    .await;
}
