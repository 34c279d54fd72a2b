//! The task graph as a user lives it: shown as the session's plan with a notice per
//! move, stopped at approval gates, retried when an agent dies on a task, re-planned
//! without cycles, and asked for by plugins. The fake agents' tasks are their
//! scripts (a task's description is what its role's fake agent runs).

use serde_json::{Value, json};

use crate::support::{Peer as _, Proxy, WAIT, bounded, fake_team, fake_team_with, text_from};

pub(crate) async fn said(proxy: &mut Proxy, session: &str, role: &str, script: &str) -> String {
    let (messages, _) = proxy.prompt(session, &format!("@{role} {script}")).await;
    text_from(&messages, role)
}

/// Reads messages, answering the proxy's requests with `answer` (or failing), until
/// `done` says so of one (that one is not answered), unless one read before did;
/// returns everything read.
pub(crate) async fn read_until(
    proxy: &mut Proxy,
    mut answer: impl FnMut(&Value) -> Option<Value>,
    mut done: impl FnMut(&Value) -> bool,
) -> Vec<Value> {
    let mut seen = Vec::new();
    if proxy.transcript.iter().any(|(_, m)| done(m)) {
        return seen;
    }
    loop {
        let message = proxy.next().await;
        if done(&message) {
            seen.push(message);
            return seen;
        }
        if message.get("method").is_some() && message.get("id").is_some() {
            let Some(result) = answer(&message) else {
                panic!("unexpected request: {message}\n{}", proxy.debug_dump());
            };
            let reply = json!({ "jsonrpc": "2.0", "id": message["id"], "result": result });
            proxy.send(reply).await;
        }
        seen.push(message);
    }
}

pub(crate) fn no_requests(_: &Value) -> Option<Value> {
    None
}

/// The session's tasks as `_ourocodus/tasks` returns them.
async fn tasks_of(proxy: &mut Proxy, session: &str) -> Value {
    let id = proxy
        .request("_ourocodus/tasks", json!({ "sessionId": session }))
        .await;
    let (_, response) = proxy.until_response(id, |_| None).await;
    response["result"].clone()
}

fn plan_of(message: &Value) -> Option<&Vec<Value>> {
    let update = &message["params"]["update"];
    (message["method"] == "session/update" && update["sessionUpdate"] == "plan")
        .then(|| update["entries"].as_array())
        .flatten()
}

pub(crate) fn notice_titled(message: &Value, title: &str) -> bool {
    let update = &message["params"]["update"];
    let text = update["content"]["text"].as_str().unwrap_or_default();
    let notice = update["_meta"]["ourocodus"]["notice"]["title"]
        .as_str()
        .unwrap_or_default();
    notice.contains(title) || (update["sessionUpdate"] == "notice" && text.contains(title))
}

#[tokio::test]
async fn the_graph_is_the_sessions_plan_and_every_move_is_a_notice() {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["architect", "backend"])).await;
        let session = proxy.plain_session().await;
        let plan = concat!(
            r#"mcp delegate {"role": "backend", "title": "api", "priority": "urgent", "description": "mcp complete_task {\"id\": \"t1\", \"summary\": \"api done\", \"artifacts\": [\"src/api.rs\", {\"kind\": \"pr\", \"ref\": \"https://example.com/pull/1\"}]}"}; "#,
            r#"mcp delegate {"role": "backend", "title": "docs", "priority": "low", "depends_on": ["t1"], "description": "say later"}"#
        );
        said(&mut proxy, &session, "architect", plan).await;
        read_until(&mut proxy, no_requests, |m| {
            plan_of(m).is_some_and(|e| e[0]["status"] == "completed")
        })
        .await;
        let last = proxy.transcript.iter().rev().find_map(|(_, m)| plan_of(m)).expect("a plan").clone();
        assert_eq!(last[0]["content"], "backend: api");
        assert_eq!(last[0]["priority"], "high", "urgent shows as ACP's highest");
        assert_eq!(last[0]["_meta"]["ourocodus"]["task"], "t1");
        assert_eq!(last[1]["content"], "backend: docs");
        let everything: String = proxy.transcript.iter().map(|(_, m)| m.to_string()).collect();
        for title in [
            "Task t1 (backend): new, ready",
            "Task t1 (backend): ready → in_flight",
            "Task t1 (backend): in_flight → done",
            "Task t2 (backend): new, ",
        ] {
            assert!(everything.contains(title), "{title}");
        }
        let tasks = tasks_of(&mut proxy, &session).await;
        assert_eq!(tasks["tasks"][0]["artifacts"], json!([
            { "kind": "file", "ref": "src/api.rs" },
            { "kind": "pr", "ref": "https://example.com/pull/1" },
        ]));
        assert_eq!(tasks["plan"][0]["status"], "completed");
        assert!(tasks["tasks"][0]["updated_at_ms"].as_u64() > Some(0));
    })
    .await;
}

#[tokio::test]
async fn a_replan_that_would_make_a_cycle_is_refused_and_a_started_task_keeps_its_dependencies() {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["architect", "backend", "frontend"])).await;
        let session = proxy.plain_session().await;
        let plan = concat!(
            r#"mcp delegate {"role": "backend", "title": "api", "description": "say working"}; "#,
            r#"mcp delegate {"role": "frontend", "title": "ui", "depends_on": ["t1"]}; "#,
            r#"mcp delegate {"role": "frontend", "title": "e2e", "depends_on": ["t2"]}; "#,
            r#"mcp update_task {"id": "t2", "depends_on": ["t3"]}; "#,
            r#"mcp update_task {"id": "t1", "depends_on": ["t3"]}; "#,
            r#"mcp update_task {"id": "t3", "depends_on": ["t1"]}"#
        );
        let text = said(&mut proxy, &session, "architect", plan).await;
        assert!(
            text.contains("update_task error: that would make a cycle: t2 -> t3 -> t2"),
            "{text}"
        );
        assert!(
            text.contains("task t1 is in_flight: only a task that has not started"),
            "{text}"
        );
        let tasks = tasks_of(&mut proxy, &session).await;
        assert_eq!(
            tasks["tasks"][1]["depends_on"],
            json!(["t1"]),
            "t2 unchanged"
        );
        assert_eq!(
            tasks["tasks"][2]["depends_on"],
            json!(["t1"]),
            "t3 re-planned"
        );
    })
    .await;
}

fn gate_of(message: &Value) -> Option<&str> {
    (message["method"] == "session/request_permission")
        .then(|| message["params"]["toolCall"]["title"].as_str())
        .flatten()
}

#[tokio::test]
async fn a_task_that_needs_approval_waits_in_review_goes_back_with_the_users_feedback_then_is_approved()
 {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["architect", "backend", "test"])).await;
        let session = proxy.plain_session().await;
        let plan = concat!(
            r#"mcp delegate {"role": "backend", "title": "api", "requires_approval": true, "description": "mcp complete_task {\"id\": \"t1\", \"summary\": \"first try\"}"}; "#,
            r#"mcp delegate {"role": "test", "title": "e2e", "depends_on": ["t1"], "description": "say testing the approved api"}"#
        );
        proxy.prompt_id(&session, &format!("@architect {plan}")).await;
        // The user rejects the first try; the feedback is the fake agent's next script.
        let feedback = r#"mcp complete_task {"id": "t1", "summary": "second try"}"#;
        let mut gates = Vec::new();
        read_until(
            &mut proxy,
            |request| {
                let title = gate_of(request)?.to_string();
                gates.push(title);
                let choice = if gates.len() == 1 { "reject" } else { "approve" };
                Some(json!({
                    "outcome": { "outcome": "selected", "optionId": choice },
                    "_meta": { "ourocodus": { "feedback": feedback } },
                }))
            },
            |m| text_from(std::slice::from_ref(m), "test").contains("testing the approved api"),
        )
        .await;
        assert_eq!(gates.len(), 2, "asked twice: {gates:?}");
        assert!(gates[0].contains("Approve task t1: api"), "{gates:?}");
        let tasks = tasks_of(&mut proxy, &session).await;
        let t1 = &tasks["tasks"][0];
        assert_eq!(t1["status"], "done");
        assert_eq!(t1["summary"], "second try");
        assert_eq!((t1["attempts"].as_u64(), t1["runs"].as_u64()), (Some(1), Some(2)), "a rejection is no failed attempt");
        assert!(t1["notes"][0].as_str().unwrap().starts_with("rejected: "), "{t1}");
        let everything: String = proxy.transcript.iter().map(|(_, m)| m.to_string()).collect();
        assert!(everything.contains("Task t1 (backend): in_flight → review"));
        assert!(everything.contains("Task t1 (backend): review → in_flight"));
        assert!(everything.contains("Task t2 (test): inbox → ready"));
    })
    .await;
}

#[tokio::test]
async fn approve_and_reject_typed_in_the_chat_decide_a_gate_for_editors_that_cannot_answer() {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["architect", "backend"])).await;
        let session = proxy.plain_session().await;
        let plan = r#"mcp delegate {"role": "backend", "title": "api", "requires_approval": true, "description": "mcp complete_task {\"id\": \"t1\", \"summary\": \"done\"}"}"#;
        // Not `said`: its reader would answer the gate's request itself.
        proxy.prompt_id(&session, &format!("@architect {plan}")).await;
        // The gate's request is left unanswered: the chat decides instead.
        read_until(&mut proxy, no_requests, |m| gate_of(m).is_some()).await;
        let (wrong, _) = proxy.prompt(&session, "/approve t9").await;
        assert!(wrong.iter().any(|m| m.to_string().contains("task t9 is not waiting for approval")));
        let (approved, _) = proxy.prompt(&session, "/approve t1").await;
        let approved: String = approved.iter().map(Value::to_string).collect();
        assert!(approved.contains("approved t1"), "{approved}");
        let tasks = tasks_of(&mut proxy, &session).await;
        assert_eq!(tasks["tasks"][0]["status"], "done");
    })
    .await;
}

#[tokio::test]
async fn an_agent_killed_mid_task_gets_it_back_after_its_restart_and_finishes_it() {
    bounded(WAIT * 4, async {
        let team = fake_team_with(
            &["architect", "backend"],
            "restart = { attempts = 3, backoff_ms = 50 }",
        );
        let mut proxy = Proxy::start(&team).await;
        let session = proxy.plain_session().await;
        let plan = r#"mcp delegate {"role": "backend", "title": "api", "description": "sleep 2s\; mcp complete_task {\"id\": \"t1\", \"summary\": \"survived\"}"}"#;
        said(&mut proxy, &session, "architect", plan).await;
        let everything: String = proxy.transcript.iter().map(|(_, m)| m.to_string()).collect();
        assert!(everything.contains("Task t1 (backend): ready → in_flight"), "handed out at once");
        let pid = backend_pid(&mut proxy).await;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill the backend's agent");
        read_until(&mut proxy, no_requests, |m| {
            plan_of(m).is_some_and(|e| e[0]["status"] == "completed")
        })
        .await;
        let tasks = tasks_of(&mut proxy, &session).await;
        let t1 = &tasks["tasks"][0];
        assert_eq!((t1["status"].as_str(), t1["attempts"].as_u64()), (Some("done"), Some(2)));
        assert!(t1["notes"][0].as_str().unwrap().starts_with("attempt 1 failed"), "{t1}");
        assert_eq!(t1["summary"], "survived");
    })
    .await;
}

async fn backend_pid(proxy: &mut Proxy) -> i32 {
    let id = proxy.request("_ourocodus/agents", json!({})).await;
    let (_, response) = proxy.until_response(id, |_| None).await;
    let agents = response["result"]["agents"]
        .as_array()
        .expect("agents")
        .clone();
    let backend = agents
        .iter()
        .find(|a| a["role"] == "backend")
        .expect("backend");
    i32::try_from(backend["pid"].as_u64().expect("a pid")).expect("pid")
}

#[tokio::test]
async fn a_task_that_keeps_crashing_its_agent_fails_after_its_retries_blocks_its_dependents_and_its_creator_is_told()
 {
    bounded(WAIT * 4, async {
        let team = fake_team_with(
            &["architect", "backend", "test"],
            "restart = { attempts = 5, backoff_ms = 50 }\ntask_retries = 1",
        );
        let mut proxy = Proxy::start(&team).await;
        let session = proxy.plain_session().await;
        let plan = concat!(
            r#"mcp delegate {"role": "backend", "title": "api", "description": "crash"}; "#,
            r#"mcp delegate {"role": "test", "title": "e2e", "depends_on": ["t1"]}"#
        );
        said(&mut proxy, &session, "architect", plan).await;
        let told = "Task t1 (backend: api) failed after 2 attempt(s).";
        read_until(&mut proxy, no_requests, |m| m.to_string().contains(told)).await;
        let everything: String = proxy
            .transcript
            .iter()
            .map(|(_, m)| m.to_string())
            .collect();
        assert!(
            everything.contains("Task t1: attempt 1 failed"),
            "{everything}"
        );
        assert!(
            everything.contains("Task t2 (test): inbox → blocked"),
            "{everything}"
        );
        let tasks = tasks_of(&mut proxy, &session).await;
        assert_eq!(tasks["tasks"][0]["status"], "failed");
        assert_eq!(tasks["tasks"][1]["status"], "blocked");
    })
    .await;
}

#[tokio::test]
async fn a_task_past_its_roles_timeout_is_cancelled_and_given_back() {
    bounded(WAIT * 3, async {
        let team = fake_team_with(
            &["architect", "backend"],
            "task_timeout = \"300ms\"\ntask_retries = 0",
        );
        let mut proxy = Proxy::start(&team).await;
        let session = proxy.plain_session().await;
        let plan =
            r#"mcp delegate {"role": "backend", "title": "slow", "description": "sleep 20s"}"#;
        said(&mut proxy, &session, "architect", plan).await;
        read_until(&mut proxy, no_requests, |m| {
            notice_titled(m, "Task t1 (backend): in_flight → failed")
        })
        .await;
        let tasks = tasks_of(&mut proxy, &session).await;
        let note = tasks["tasks"][0]["notes"][0]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(note.contains("timed out after"), "{note}");
        // The role is free again: its cancelled turn ended.
        let text = said(&mut proxy, &session, "backend", "say free").await;
        assert!(text.contains("free"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn two_idle_roles_work_on_their_tasks_at_the_same_time() {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["architect", "backend", "frontend"])).await;
        let session = proxy.plain_session().await;
        // Each task takes 1.5 s; both done within 2.5 s only if they overlap.
        let plan = concat!(
            r#"mcp delegate {"role": "backend", "title": "api", "description": "sleep 1500ms\; mcp complete_task {\"id\": \"t1\", \"summary\": \"ok\"}"}; "#,
            r#"mcp delegate {"role": "frontend", "title": "ui", "description": "sleep 1500ms\; mcp complete_task {\"id\": \"t2\", \"summary\": \"ok\"}"}"#
        );
        let started = std::time::Instant::now();
        said(&mut proxy, &session, "architect", plan).await;
        read_until(&mut proxy, no_requests, |m| {
            plan_of(m).is_some_and(|e| e.iter().all(|e| e["status"] == "completed"))
        })
        .await;
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_millis(2900), "took {took:?}: one after the other");
    })
    .await;
}

#[tokio::test]
async fn a_task_whose_turn_the_user_cancels_waits_on_hold_until_the_user_retries_it() {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["architect", "backend"])).await;
        let session = proxy.plain_session().await;
        let plan =
            r#"mcp delegate {"role": "backend", "title": "long", "description": "sleep 20s"}"#;
        said(&mut proxy, &session, "architect", plan).await;
        proxy
            .notify("session/cancel", json!({ "sessionId": session }))
            .await;
        read_until(&mut proxy, no_requests, |m| {
            notice_titled(m, "Task t1 (backend): in_flight → blocked")
        })
        .await;
        let tasks = tasks_of(&mut proxy, &session).await;
        assert_eq!(tasks["tasks"][0]["notes"], json!(["cancelled by the user"]));
        let text = said(&mut proxy, &session, "backend", "say not handed it again").await;
        assert!(text.contains("not handed it again"), "{text}");
        let everything: String = proxy
            .transcript
            .iter()
            .map(|(_, m)| m.to_string())
            .collect();
        assert!(everything.contains("Task t1 is on hold: its turn was cancelled"));
        let (retried, _) = proxy.prompt(&session, "/retry t1").await;
        assert!(
            retried
                .iter()
                .any(|m| m.to_string().contains("t1 is handed out again"))
        );
        read_until(&mut proxy, no_requests, |m| {
            notice_titled(m, "Task t1 (backend): ready → in_flight")
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn hundreds_of_tasks_for_a_role_that_cannot_start_wait_without_taking_the_proxy_down() {
    bounded(WAIT * 3, async {
        let mut team = fake_team(&["architect"]);
        team.push_str(
            "[roles.broken]\ncommand = \"/nonexistent/agent\"\nrestart = { attempts = 0, backoff_ms = 10 }\n",
        );
        let mut proxy = Proxy::start(&team).await;
        let session = proxy.plain_session().await;
        let many = r#"mcp x300 delegate {"role": "broken", "title": "never", "description": "say hi"}"#;
        let made = said(&mut proxy, &session, "architect", many).await;
        assert!(made.contains("300 calls"), "{made}");
        let tasks = tasks_of(&mut proxy, &session).await;
        let tasks = tasks["tasks"].as_array().expect("tasks").clone();
        assert_eq!(tasks.len(), 300);
        let in_flight = tasks.iter().filter(|t| t["status"] == "in_flight").count();
        assert!(in_flight <= 1, "at most the first was handed out: {in_flight}");
        let text = said(&mut proxy, &session, "architect", "say still here").await;
        assert!(text.contains("still here"), "{text}");
    })
    .await;
}
