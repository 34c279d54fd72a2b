//! The ACP TypeScript SDK's example agent (`agent.ts` of
//! `@zed-industries/agent-client-protocol` 0.4.5) as the `ts` role of a two-role team
//! whose other role is the fake agent. Its turn takes 5 s: a text chunk, tool call
//! `call_1` (read) and its completion, a chunk, tool call `call_2` (edit), a permission
//! request for `call_2`, then either the completion and " Perfect!..." (allowed) or
//! " I understand you prefer not to..." (rejected), then `end_turn`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{DirectPeer, installed, is_label, next_matching, toml_path};
use crate::support::transcript::assert_golden;
use crate::support::{
    Peer as _, Proxy, bounded, choose_permission, ourocodus_bin, text_from, updates,
};

/// One TS turn is 5 s; the tsx start up to 1 s; leave room for a slow machine.
const LIMIT: Duration = Duration::from_secs(60);
const ROLE: &str = "ts";

struct TsAgent {
    tsx: PathBuf,
    script: PathBuf,
}

impl TsAgent {
    fn installed() -> TsAgent {
        TsAgent {
            tsx: installed("node_modules/.bin/tsx"),
            script: installed(
                "node_modules/@zed-industries/agent-client-protocol/typescript/examples/agent.ts",
            ),
        }
    }

    /// The `ts` role (with `directories`, when given) and a fake-agent role.
    fn team(&self, directories: Option<&str>) -> String {
        self.marked_team(directories, "")
    }

    /// `marker` is one more argument for agent.ts (it ignores its arguments), so its
    /// processes can be found by their command line.
    fn marked_team(&self, directories: Option<&str>, marker: &str) -> String {
        let directories = directories
            .map(|d| format!("directories = [{d:?}]\n"))
            .unwrap_or_default();
        let marker = if marker.is_empty() {
            String::new()
        } else {
            format!(", {marker:?}")
        };
        format!(
            "[defaults]\nroute = [\"{ROLE}\"]\n\n\
             [roles.{ROLE}]\ncommand = {}\nargs = [{}{marker}]\npersona = \"the TypeScript example agent\"\n{directories}\n\
             [roles.fake]\ncommand = {:?}\nargs = [\"fake-agent\", \"--name\", \"fake\"]\npersona = \"the fake agent\"\n",
            toml_path(&self.tsx),
            toml_path(&self.script),
            ourocodus_bin(),
        )
    }

    fn direct(&self, cwd: &std::path::Path) -> DirectPeer {
        let script = self.script.to_string_lossy();
        DirectPeer::spawn(&self.tsx, &[&script], &[], &[], cwd)
    }

    /// One whole turn run directly, the permission answered with `kind`: what the
    /// agent sent before its answer, and the answer.
    async fn direct_turn(&self, kind: &str) -> (Vec<Value>, Value) {
        let cwd = tempfile::tempdir().expect("temp dir");
        let mut peer = self.direct(cwd.path());
        let session = peer.open_session(cwd.path()).await["sessionId"].clone();
        let prompt =
            json!({ "sessionId": session, "prompt": [{ "type": "text", "text": "hello" }] });
        let id = peer.request("session/prompt", prompt).await;
        peer.until_response(id, |r| choose_permission(r, kind))
            .await
    }
}

/// What the editor should see for a message the agent sent directly: the documented
/// rewrites and nothing else (the proxy's own request id aside).
fn as_relayed(message: &Value, session: &str) -> Value {
    let mut expected = message.clone();
    expected.as_object_mut().expect("object").remove("id");
    let params = &mut expected["params"];
    params["sessionId"] = json!(session);
    match message["method"].as_str() {
        Some("session/update") => {
            let is_new_call = params["update"]["sessionUpdate"] == "tool_call";
            tag_tool_call(&mut params["update"], is_new_call);
        }
        Some("session/request_permission") => {
            tag_tool_call(&mut params["toolCall"], true);
            params["_meta"]["ourocodus"]["role"] = json!(ROLE);
        }
        other => panic!("the agent sent an unexpected {other:?}: {message}"),
    }
    expected
}

/// `toolCallId` → `ts/<id>`, `title` → `ts: <title>` (new tool calls and permission
/// requests), `_meta.ourocodus.role` added.
fn tag_tool_call(object: &mut Value, prefix_title: bool) {
    if let Some(id) = object["toolCallId"].as_str() {
        object["toolCallId"] = json!(format!("{ROLE}/{id}"));
    }
    if let Some(title) = object["title"].as_str().filter(|_| prefix_title) {
        object["title"] = json!(format!("{ROLE}: {title}"));
    }
    object["_meta"]["ourocodus"]["role"] = json!(ROLE);
}

/// The role's own messages: its updates (speaker labels aside) and its requests.
fn from_ts(message: &Value) -> bool {
    let tagged = message["params"]["update"]["_meta"]["ourocodus"]["role"] == ROLE;
    let update = message["method"] == "session/update" && tagged && !is_label(message);
    update || message["method"] == "session/request_permission"
}

fn without_id(message: &Value) -> Value {
    let mut message = message.clone();
    message.as_object_mut().expect("object").remove("id");
    message
}

fn tool_call_updates<'a>(messages: &'a [Value], id: &str) -> Vec<&'a Value> {
    updates(messages)
        .into_iter()
        .map(|m| &m["params"]["update"])
        .filter(|u| u["sessionUpdate"] == "tool_call_update" && u["toolCallId"] == id)
        .collect()
}

fn permission_requests(messages: &[Value]) -> Vec<&Value> {
    messages
        .iter()
        .filter(|m| m["method"] == "session/request_permission")
        .collect()
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn the_ts_agents_tool_calls_and_permission_request_reach_the_editor_as_it_sent_them() {
    let ts = TsAgent::installed();
    bounded(LIMIT, async {
        let proxied = async {
            let mut proxy = Proxy::start(&ts.team(Some("/"))).await;
            let session = proxy.plain_session().await;
            let (messages, response) = proxy.prompt(&session, "@ts hello").await;
            (proxy, session, messages, response)
        };
        let ((direct, direct_response), (proxy, session, messages, response)) =
            tokio::join!(ts.direct_turn("allow_once"), proxied);

        assert_eq!(direct_response["result"]["stopReason"], "end_turn");
        assert_eq!(
            direct.len(),
            8,
            "FINDINGS a.: 7 updates, 1 permission request"
        );
        assert_eq!(response["result"], direct_response["result"]);
        let shown: Vec<&Value> = messages.iter().filter(|m| from_ts(m)).collect();
        assert_eq!(
            shown.len(),
            direct.len(),
            "the editor should see each of the agent's {} messages once\n{}",
            direct.len(),
            proxy.debug_dump()
        );
        for (seen, sent) in shown.iter().zip(&direct) {
            assert_eq!(
                without_id(seen),
                as_relayed(sent, &session),
                "agent sent: {sent}"
            );
        }
        let relayed = permission_requests(&messages);
        assert!(relayed[0]["id"].is_i64(), "a request the editor can answer");
        // The allowed edit completed, and the agent said so.
        assert_eq!(
            tool_call_updates(&messages, "ts/call_2")[0]["status"],
            "completed"
        );
        assert!(text_from(&messages, ROLE).ends_with(
            " Perfect! I've successfully updated the configuration. The changes have been applied."
        ));
        assert_golden(&proxy, "peers_ts_agent_allowed");
        assert!(proxy.close().await.success());
    })
    .await;
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn a_rejected_permission_reaches_the_ts_agent_which_then_skips_the_change() {
    let ts = TsAgent::installed();
    bounded(LIMIT, async {
        let mut proxy = Proxy::start(&ts.team(Some("/"))).await;
        let session = proxy.plain_session().await;
        let id = proxy.prompt_id(&session, "@ts hello").await;
        let (messages, response) = proxy
            .until_response(id, |r| choose_permission(r, "reject_once"))
            .await;
        assert_eq!(response["result"]["stopReason"], "end_turn");
        assert_eq!(permission_requests(&messages).len(), 1);
        assert!(
            tool_call_updates(&messages, "ts/call_2").is_empty(),
            "a rejected edit is never completed"
        );
        let text = text_from(&messages, ROLE);
        assert!(
            text.ends_with(" I understand you prefer not to make that change. I'll skip the configuration update."),
            "{text}"
        );
        assert!(!text.contains("Perfect!"), "{text}");
        assert!(proxy.close().await.success());
    })
    .await;
}

/// Cancels a turn while its permission request is open, answering that request
/// `cancelled` as ACP asks of a client; returns the stop reason and the time from the
/// cancel to the answer.
async fn cancel_during_permission_directly(ts: &TsAgent) -> (Value, Duration) {
    let cwd = tempfile::tempdir().expect("temp dir");
    let mut peer = ts.direct(cwd.path());
    let session = peer.open_session(cwd.path()).await["sessionId"].clone();
    let prompt = json!({ "sessionId": session, "prompt": [{ "type": "text", "text": "hello" }] });
    let id = peer.request("session/prompt", prompt).await;
    let request = loop {
        let message = peer.next().await;
        if message["method"] == "session/request_permission" {
            break message;
        }
    };
    let cancelled_at = Instant::now();
    peer.notify("session/cancel", json!({ "sessionId": session }))
        .await;
    let answer = json!({ "outcome": { "outcome": "cancelled" } });
    peer.send(json!({ "jsonrpc": "2.0", "id": request["id"], "result": answer }))
        .await;
    let (_, response) = peer.until_response(id, |_| None).await;
    (
        response["result"]["stopReason"].clone(),
        cancelled_at.elapsed(),
    )
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn a_cancel_during_the_ts_agents_permission_request_ends_the_turn_cancelled_at_the_editor() {
    let ts = TsAgent::installed();
    bounded(LIMIT, async {
        let proxied = async {
            let mut proxy = Proxy::start(&ts.team(Some("/"))).await;
            let session = proxy.plain_session().await;
            let id = proxy.prompt_id(&session, "@ts hello").await;
            let request = next_matching(&mut proxy, "the permission request", |m| {
                m["method"] == "session/request_permission"
            })
            .await;
            let cancelled_at = Instant::now();
            proxy
                .notify("session/cancel", json!({ "sessionId": session }))
                .await;
            let answer = json!({ "outcome": { "outcome": "cancelled" } });
            proxy
                .send(json!({ "jsonrpc": "2.0", "id": request["id"], "result": answer }))
                .await;
            let (_, response) = proxy.until_response(id, |_| None).await;
            let elapsed = cancelled_at.elapsed();
            (proxy, response, elapsed)
        };
        let ((direct_reason, _), (mut proxy, response, elapsed)) =
            tokio::join!(cancel_during_permission_directly(&ts), proxied);

        assert_eq!(
            direct_reason, "end_turn",
            "FINDINGS a.: the agent itself answers end_turn here (if this changed, the proxy's normalization is no longer exercised)"
        );
        assert_eq!(response["result"]["stopReason"], "cancelled");
        // The agent answered (the proxy released its permission request), well before
        // the proxy's 5 s grace for agents that never answer a cancelled prompt.
        assert!(elapsed < Duration::from_secs(3), "answered after {elapsed:?}");
        // Nothing of the cancelled turn follows its answer (the proxy's own status
        // notifications may).
        let quiet_until = std::time::Instant::now() + Duration::from_millis(1500);
        while let Some(late) = proxy.next_within(quiet_until.saturating_duration_since(std::time::Instant::now())).await {
            assert_eq!(late["method"], "_ourocodus/agent_status", "message after the cancelled turn's answer: {late}");
        }
        assert!(proxy.close().await.success());
    })
    .await;
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn a_ts_agent_edit_outside_the_roles_directories_is_refused_by_the_proxy_without_asking() {
    let ts = TsAgent::installed();
    bounded(LIMIT, async {
        // Default directories ["."]: the agent's /project/config.json is outside.
        let mut proxy = Proxy::start(&ts.team(None)).await;
        let session = proxy.plain_session().await;
        let id = proxy.prompt_id(&session, "@ts hello").await;
        // Any request reaching the editor fails the test.
        let (messages, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(response["result"]["stopReason"], "end_turn");
        let text = text_from(&messages, ROLE);
        assert!(
            text.contains("**ts: “Modifying critical configuration file” refused by policy**"),
            "a visible notice: {text}"
        );
        assert!(text.contains("/project/config.json"), "{text}");
        assert!(
            text.ends_with(" I understand you prefer not to make that change. I'll skip the configuration update."),
            "the agent got a rejection: {text}"
        );
        assert!(tool_call_updates(&messages, "ts/call_2").is_empty());
        assert_golden(&proxy, "peers_ts_agent_edit_refused_by_policy");
        assert!(proxy.close().await.success());
    })
    .await;
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn tool_call_ids_the_editor_sees_stay_unique_across_two_ts_agent_turns() {
    let ts = TsAgent::installed();
    bounded(LIMIT, async {
        let mut proxy = Proxy::start(&ts.team(Some("/"))).await;
        let session = proxy.plain_session().await;
        let mut announced = Vec::new();
        for _ in 0..2 {
            let (messages, response) = proxy.prompt(&session, "@ts hello").await;
            assert_eq!(response["result"]["stopReason"], "end_turn");
            announced.extend(
                updates(&messages)
                    .into_iter()
                    .map(|m| &m["params"]["update"])
                    .filter(|u| u["sessionUpdate"] == "tool_call")
                    .map(|u| u["toolCallId"].as_str().unwrap().to_string()),
            );
        }
        // ACP: a toolCallId is unique within a session. The agent reuses call_1 and
        // call_2 every turn (FINDINGS a.); the editor would update the first turn's
        // cards instead of showing new ones.
        assert_eq!(announced.len(), 4, "{announced:?}");
        let mut unique = announced.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 4, "repeated tool call ids: {announced:?}");
        assert!(proxy.close().await.success());
    })
    .await;
}

/// Live processes whose command line contains `marker` (Linux /proc).
fn processes_with(marker: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let zombie = stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'));
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (!zombie && cmdline.contains(marker)).then_some(cmdline)
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn an_editor_leaving_mid_turn_ends_the_ts_agent_which_ignores_the_end_of_its_input() {
    let ts = TsAgent::installed();
    let marker = format!("ourocodus-test-{}", std::process::id());
    let marker = format!("{marker}-{:?}", Instant::now()).replace([' ', '.'], "");
    bounded(LIMIT, async {
        let mut proxy = Proxy::start(&ts.marked_team(Some("/"), &marker)).await;
        let session = proxy.plain_session().await;
        proxy.prompt_id(&session, "@ts hello").await;
        // 1 s in: the agent has announced call_1 and goes on for 3 s more on its own.
        next_matching(&mut proxy, "the agent's first tool call", |m| {
            m["params"]["update"]["sessionUpdate"] == "tool_call"
        })
        .await;
        assert!(!processes_with(&marker).is_empty(), "the agent runs");
        let left_at = Instant::now();
        let status = proxy.close().await;
        let elapsed = left_at.elapsed();
        assert!(status.success(), "{status}");
        // FINDINGS a.: at EOF mid-turn the agent alone would run until its permission
        // request, 3 s later; the proxy ends it sooner.
        assert!(elapsed < Duration::from_secs(3), "proxy took {elapsed:?}");
        let deadline = Instant::now() + Duration::from_secs(2);
        while !processes_with(&marker).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(processes_with(&marker), Vec::<String>::new(), "left behind");
    })
    .await;
}
