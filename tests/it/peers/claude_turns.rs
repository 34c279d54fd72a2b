//! Whole Claude turns offline: the real adapter and the Claude Code CLI it drives,
//! pointed at `tests/peers/fake_messages_api.py` (a scripted Messages API on
//! loopback). The model asks for a `Write`; the adapter announces the tool call
//! (`rawInput {}` first, the real input in the next update), asks permission, and
//! writes the file itself when allowed (never through the client's fs methods).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::claude::{ClaudeTeam, PERSONA, ROLE};
use super::{installed, next_matching};
use crate::support::{Peer as _, Proxy, WAIT, bounded, choose_permission, text_from, updates};

const LIMIT: Duration = Duration::from_secs(60);

/// The scripted Messages API, running until dropped.
struct ScriptedApi {
    _process: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl ScriptedApi {
    async fn start(replies: &Value) -> ScriptedApi {
        let python = installed(".venv/bin/python");
        let server = installed("fake_messages_api.py");
        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("replies.json");
        std::fs::write(&script, replies.to_string()).expect("write replies");
        let log = dir.path().join("requests.jsonl");
        let mut process = Command::new(python)
            .arg(server)
            .arg("--script")
            .arg(&script)
            .arg("--log")
            .arg(&log)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start fake_messages_api.py");
        let stdout = process.stdout.take().expect("stdout");
        let first = tokio::time::timeout(WAIT, BufReader::new(stdout).lines().next_line())
            .await
            .expect("fake_messages_api.py prints its port in time")
            .expect("read port");
        let port = first
            .and_then(|line| line.trim().parse().ok())
            .expect("a port number");
        ScriptedApi {
            _process: process,
            port,
            log,
            _dir: dir,
        }
    }

    /// The requests the model received (one JSON object each; see the script's doc).
    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("JSON log line"))
            .filter(|r: &Value| {
                r["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/v1/messages?"))
            })
            .collect()
    }

    /// A Claude role that talks to this API, writing only under `directories`.
    fn team(&self, directories: &str) -> ClaudeTeam {
        let mut team = ClaudeTeam::new();
        team.env = format!(
            ", ANTHROPIC_BASE_URL = \"http://127.0.0.1:{}\", ANTHROPIC_API_KEY = \"dummy\", \
             CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\", DISABLE_TELEMETRY = \"1\"",
            self.port
        );
        team.extra = format!("directories = [{directories:?}]");
        team
    }
}

/// The model writes `path`, then (after the tool result) says "Done.".
fn write_then_done(path: &Path) -> Value {
    let write = json!({ "name": "Write", "input": { "file_path": path, "content": "hello\n" } });
    json!([
        { "blocks": [{ "text": "I will write the file." }, { "tool_use": write }] },
        { "blocks": [{ "text": "Done." }] },
    ])
}

/// `initialize` as a plain editor and `session/new` in `project`.
async fn open_session_in(proxy: &mut Proxy, project: &Path) -> String {
    proxy
        .initialize(json!({ "fs": { "readTextFile": false, "writeTextFile": false } }))
        .await;
    let id = proxy
        .request("session/new", json!({ "cwd": project, "mcpServers": [] }))
        .await;
    let (_, response) = proxy.until_response(id, |_| None).await;
    response["result"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("session/new failed: {response}"))
        .to_string()
}

/// The role's tool call updates (`tool_call` and `tool_call_update`), in order.
fn tool_call_updates(messages: &[Value]) -> Vec<&Value> {
    updates(messages)
        .into_iter()
        .map(|m| &m["params"]["update"])
        .filter(|u| u["toolCallId"].is_string())
        .collect()
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn a_claude_write_outside_the_roles_directories_is_refused_by_the_proxy_without_asking_the_editor()
 {
    let project = tempfile::tempdir().expect("temp project");
    let target = project.path().join("src/a.txt");
    let api = ScriptedApi::start(&write_then_done(&target)).await;
    let team = api.team("docs");
    bounded(LIMIT, async {
        let mut proxy = team.start().await;
        let session = open_session_in(&mut proxy, project.path()).await;
        let id = proxy.prompt_id(&session, "@claude write src/a.txt").await;
        // Any request reaching the editor fails the test.
        let (messages, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(response["result"]["stopReason"], "end_turn", "{response}");

        let text = text_from(&messages, ROLE);
        assert!(
            text.contains("**claude: “Write src/a.txt” refused by policy**")
                && text.contains("outside this role's directories (docs)"),
            "a visible notice: {text}"
        );
        assert!(text.ends_with("Done."), "the turn went on: {text}");
        let calls = tool_call_updates(&messages);
        let last = calls.last().expect("tool call updates");
        assert_eq!(last["toolCallId"], "claude/toolu_01_1");
        assert_eq!(last["status"], "failed");
        assert_eq!(last["rawOutput"], "User refused permission to run tool");
        assert!(!target.exists(), "the refused write did not happen");
        assert!(proxy.close().await.success());
    })
    .await;

    // What the model saw: the refusal as the tool result, and the persona appended
    // to Claude Code's own system prompt (not replacing it).
    let requests = api.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(
        requests[1]["tool_results"][0]["content"],
        "User refused permission to run tool"
    );
    let system = requests[0]["system_tail"].as_str().unwrap();
    let appended = format!(
        "\\n\\nYou are the `{ROLE}` role in a team of coding agents run by Ourocodus. Your persona: {PERSONA}"
    );
    let at = system
        .find(&appended)
        .unwrap_or_else(|| panic!("persona not at the end of the system prompt: {system}"));
    assert!(at > 0, "Claude Code's own prompt comes first: {system}");
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn a_claude_write_inside_the_roles_directories_is_asked_of_the_editor_and_lands_when_allowed()
{
    let project = tempfile::tempdir().expect("temp project");
    let target = project.path().join("docs/a.txt");
    let api = ScriptedApi::start(&write_then_done(&target)).await;
    let team = api.team("docs");
    bounded(LIMIT, async {
        let mut proxy = team.start().await;
        let session = open_session_in(&mut proxy, project.path()).await;
        let id = proxy.prompt_id(&session, "@claude write docs/a.txt").await;
        let (messages, response) = proxy
            .until_response(id, |r| choose_permission(r, "allow_once"))
            .await;
        assert_eq!(response["result"]["stopReason"], "end_turn", "{response}");

        let asked: Vec<usize> = (0..messages.len())
            .filter(|i| messages[*i]["method"] == "session/request_permission")
            .collect();
        assert_eq!(asked.len(), 1, "one permission request");
        let request = &messages[asked[0]]["params"];
        assert_eq!(request["sessionId"], session.as_str());
        let tool_call = &request["toolCall"];
        assert_eq!(tool_call["toolCallId"], "claude/toolu_01_1");
        assert_eq!(tool_call["_meta"]["ourocodus"]["role"], ROLE);
        assert_eq!(request["_meta"]["ourocodus"]["role"], ROLE);
        let title = tool_call["title"].as_str().unwrap_or_default();
        assert!(title.starts_with("claude: Write"), "{title}");
        // The card the request belongs to was announced before it (Zed needs that).
        let announced = messages[..asked[0]].iter().any(|m| {
            m["params"]["update"]["sessionUpdate"] == "tool_call"
                && m["params"]["update"]["toolCallId"] == "claude/toolu_01_1"
        });
        assert!(announced, "tool_call before its permission request");

        assert_eq!(std::fs::read_to_string(&target).unwrap(), "hello\n");
        let calls = tool_call_updates(&messages);
        assert_eq!(calls.last().unwrap()["status"], "completed");
        assert!(text_from(&messages, ROLE).ends_with("Done."));
        assert!(proxy.close().await.success());
    })
    .await;
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn a_cancel_during_claudes_permission_request_ends_the_turn_cancelled_and_the_write_never_runs()
 {
    let project = tempfile::tempdir().expect("temp project");
    let target = project.path().join("docs/a.txt");
    let api = ScriptedApi::start(&write_then_done(&target)).await;
    let team = api.team("docs");
    bounded(LIMIT, async {
        let mut proxy = team.start().await;
        let session = open_session_in(&mut proxy, project.path()).await;
        let id = proxy.prompt_id(&session, "@claude write docs/a.txt").await;
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
        assert_eq!(response["result"]["stopReason"], "cancelled", "{response}");
        let elapsed = cancelled_at.elapsed();
        assert!(
            elapsed < Duration::from_secs(3),
            "answered after {elapsed:?}"
        );
        // Whatever still comes, the write never completes.
        while let Some(late) = proxy.next_within(Duration::from_secs(1)).await {
            assert_ne!(late["params"]["update"]["status"], "completed", "{late}");
        }
        assert!(!target.exists(), "the cancelled write did not happen");
        assert!(proxy.close().await.success());
    })
    .await;
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn every_title_a_plain_editor_sees_for_a_claude_tool_call_names_the_role() {
    let project = tempfile::tempdir().expect("temp project");
    let target = project.path().join("docs/a.txt");
    let api = ScriptedApi::start(&write_then_done(&target)).await;
    let team = api.team("docs");
    bounded(LIMIT, async {
        let mut proxy = team.start().await;
        let session = open_session_in(&mut proxy, project.path()).await;
        let id = proxy.prompt_id(&session, "@claude write docs/a.txt").await;
        let (messages, _) = proxy
            .until_response(id, |r| choose_permission(r, "allow_once"))
            .await;
        let titles: Vec<&str> = tool_call_updates(&messages)
            .into_iter()
            .filter_map(|u| u["title"].as_str())
            .collect();
        assert!(titles.len() >= 2, "{titles:?}");
        for title in titles {
            // The adapter's first title is "Write"; its update renames the card to
            // "Write docs/a.txt", which the editor shows in place of the first.
            assert!(title.starts_with("claude: "), "{title:?}");
        }
        assert!(proxy.close().await.success());
    })
    .await;
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn a_claude_write_that_asks_nobody_outside_the_roles_directories_is_reported_to_the_user() {
    let project = tempfile::tempdir().expect("temp project");
    let target = project.path().join("src/a.txt");
    let api = ScriptedApi::start(&write_then_done(&target)).await;
    let mut team = api.team("docs");
    // In bypassPermissions mode the adapter writes without asking: with the sandbox
    // off, the proxy cannot refuse, only report.
    team.extra
        .push_str("\nmode = \"bypassPermissions\"\nsandbox = \"off\"");
    bounded(LIMIT, async {
        let mut proxy = team.start().await;
        let session = open_session_in(&mut proxy, project.path()).await;
        let id = proxy.prompt_id(&session, "@claude write src/a.txt").await;
        let (messages, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(response["result"]["stopReason"], "end_turn", "{response}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "hello\n");
        let text = text_from(&messages, ROLE);
        assert!(
            text.contains("**claude changed files outside its directories without asking**")
                && text.contains(&target.display().to_string()),
            "a visible notice: {text}"
        );
        assert!(proxy.close().await.success());
    })
    .await;
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn a_claude_write_that_asks_nobody_outside_the_roles_directories_is_refused_by_the_kernel_and_fails_its_tool_call()
 {
    let project = tempfile::tempdir().expect("temp project");
    let target = project.path().join("src/a.txt");
    let api = ScriptedApi::start(&write_then_done(&target)).await;
    let mut team = api.team("docs");
    team.extra.push_str("\nmode = \"bypassPermissions\"");
    bounded(LIMIT, async {
        let mut proxy = team.start().await;
        let session = open_session_in(&mut proxy, project.path()).await;
        let id = proxy.prompt_id(&session, "@claude write src/a.txt").await;
        let (messages, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(response["result"]["stopReason"], "end_turn", "{response}");
        assert!(!target.exists(), "the kernel refused the write");
        let calls = tool_call_updates(&messages);
        let last = calls.last().expect("tool call updates");
        assert_eq!(last["status"], "failed", "{last}");
        let shown = last.to_string().to_lowercase();
        assert!(
            shown.contains("eacces") || shown.contains("permission denied"),
            "the refusal shows on the tool call: {last}"
        );
        assert!(
            text_from(&messages, ROLE).ends_with("Done."),
            "the turn went on"
        );
        assert!(proxy.close().await.success());
    })
    .await;
    let requests = api.requests();
    let result = requests[1]["tool_results"][0]["content"]
        .to_string()
        .to_lowercase();
    assert!(
        result.contains("eacces") || result.contains("permission denied"),
        "the model was told: {result}"
    );
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn in_the_proxys_accept_edits_a_claude_write_inside_lands_without_asking_the_editor() {
    let project = tempfile::tempdir().expect("temp project");
    let target = project.path().join("docs/a.txt");
    let api = ScriptedApi::start(&write_then_done(&target)).await;
    let mut team = api.team("docs");
    team.extra.push_str("\nmode = \"acceptEdits\"");
    bounded(LIMIT, async {
        let mut proxy = team.start().await;
        let session = open_session_in(&mut proxy, project.path()).await;
        let id = proxy.prompt_id(&session, "@claude write docs/a.txt").await;
        // Any request reaching the editor fails the test.
        let (messages, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(response["result"]["stopReason"], "end_turn", "{response}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "hello\n");
        let calls = tool_call_updates(&messages);
        assert_eq!(calls.last().unwrap()["status"], "completed");
        assert!(proxy.close().await.success());
    })
    .await;
}

/// The adapter's transcript of a child session, once the CLI has written it (it
/// writes a turn 0.1-0.2 s after the answer).
async fn transcript_written(home: &Path) -> PathBuf {
    let projects = home.join(".claude/projects");
    let deadline = Instant::now() + WAIT;
    loop {
        let found = std::fs::read_dir(&projects)
            .into_iter()
            .flatten()
            .flatten()
            .find_map(|dir| {
                std::fs::read_dir(dir.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|f| f.path())
                    .find(|p| {
                        p.extension().is_some_and(|e| e == "jsonl")
                            && std::fs::metadata(p).is_ok_and(|m| m.len() > 0)
                    })
            });
        if let Some(path) = found {
            return path;
        }
        assert!(
            Instant::now() < deadline,
            "no transcript under {}",
            projects.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn a_claude_session_loaded_after_kill_9_gets_its_child_back_through_the_adapters_resume() {
    let replies = json!([
        { "blocks": [{ "text": "I will remember PINEAPPLE." }] },
        { "blocks": [{ "text": "The word was PINEAPPLE." }] },
    ]);
    let api = ScriptedApi::start(&replies).await;
    let team = api.team(".");
    bounded(LIMIT * 2, async {
        let mut first = team.start().await;
        let project = first.cwd().to_path_buf();
        let session = open_session_in(&mut first, &project).await;
        let (_, answer) = first
            .prompt(&session, "@claude remember the word PINEAPPLE")
            .await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
        transcript_written(team.home.path()).await;
        let dir = first.kill9().await;

        let mut second = team.start_in(dir).await;
        second
            .initialize(json!({ "fs": { "readTextFile": false, "writeTextFile": false } }))
            .await;
        let id = second
            .request(
                "session/load",
                json!({ "sessionId": session, "cwd": project, "mcpServers": [] }),
            )
            .await;
        let (replay, loaded) = second.until_response(id, |_| None).await;
        assert!(loaded.get("result").is_some(), "{loaded}");
        assert_eq!(
            text_from(&replay, ROLE),
            "I will remember PINEAPPLE.",
            "the replay"
        );
        let (after, answer) = second.prompt(&session, "@claude what was the word?").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
        let restored = after.iter().any(|m| {
            let notice = &m["params"]["update"]["_meta"]["ourocodus"]["notice"]["title"];
            *notice == "claude is back, with its session restored"
        });
        assert!(
            restored,
            "restored through the adapter, not a fresh session: {after:?}"
        );
        let said = text_from(&after, ROLE);
        assert!(said.ends_with("The word was PINEAPPLE."), "{said}");
        assert!(second.close().await.success());
    })
    .await;
    // The model's second request carried the first turn: the context came back.
    let requests = api.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let context = &requests[1]["messages"];
    let said = |role: &str, text: &str| {
        context
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["role"] == role && m["text"].as_str().is_some_and(|t| t.contains(text)))
    };
    assert!(said("user", "remember the word PINEAPPLE"), "{context}");
    assert!(said("assistant", "I will remember PINEAPPLE."), "{context}");
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn claude_gets_the_proxys_mcp_tools_and_delegates_a_task_another_role_then_sees() {
    let project = tempfile::tempdir().expect("temp project");
    let delegate = json!({ "name": "mcp__ourocodus__delegate",
        "input": { "role": "fake", "title": "add paging", "description": "GET /users in pages" } });
    let replies = json!([
        { "blocks": [{ "text": "Handing this over." }, { "tool_use": delegate }] },
        { "blocks": [{ "text": "Delegated." }] },
    ]);
    let api = ScriptedApi::start(&replies).await;
    let mut team = api.team(".");
    team.extra.push_str("\ncan_delegate = true");
    bounded(LIMIT, async {
        let mut proxy = team.start().await;
        let session = open_session_in(&mut proxy, project.path()).await;
        let id = proxy.prompt_id(&session, "@claude plan paging").await;
        let (messages, response) = proxy
            .until_response(id, |r| choose_permission(r, "allow_once"))
            .await;
        assert_eq!(response["result"]["stopReason"], "end_turn", "{response}");
        assert!(text_from(&messages, ROLE).ends_with("Delegated."));
        let id = proxy
            .prompt_id(&session, "@fake mcp list_tasks {\"role\": \"fake\"}")
            .await;
        let (messages, _) = proxy.until_response(id, |_| None).await;
        let listed = text_from(&messages, "fake");
        assert!(
            listed.contains(r#""title":"add paging""#)
                && listed.contains(r#""created_by":"claude""#),
            "{listed}"
        );
        assert!(proxy.close().await.success());
    })
    .await;
    let requests = api.requests();
    let tools = requests[0]["tools"].to_string();
    assert!(tools.contains("mcp__ourocodus__delegate"), "{tools}");
    let result = requests[1]["tool_results"][0]["content"].to_string();
    assert!(
        result.contains("t1"),
        "the model got the task's id: {result}"
    );
}
