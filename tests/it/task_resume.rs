//! A task graph outlives its proxy: killed with SIGKILL mid-graph, the session's
//! graph is read back by `ourocodus tasks` and by a new proxy's `session/load`, whose
//! dispatcher hands the interrupted task out again and finishes the graph.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::{Peer as _, Proxy, WAIT, bounded, fake_team, ourocodus_bin};

fn team() -> String {
    fake_team(&["architect", "backend", "frontend"])
}

fn everything(proxy: &Proxy) -> String {
    proxy
        .transcript
        .iter()
        .map(|(_, m)| m.to_string())
        .collect()
}

async fn wait_for(proxy: &mut Proxy, what: &str) {
    while !everything(proxy).contains(what) {
        proxy
            .next_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("never saw {what}"));
    }
}

fn tasks_cli(store: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(ourocodus_bin())
        .arg("tasks")
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("run ourocodus tasks");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("utf-8")
}

fn plan_statuses(message: &Value) -> Option<Vec<String>> {
    let update = &message["params"]["update"];
    if message["method"] != "session/update" || update["sessionUpdate"] != "plan" {
        return None;
    }
    let entries = update["entries"].as_array()?;
    Some(
        entries
            .iter()
            .map(|e| {
                e["_meta"]["ourocodus"]["status"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string()
            })
            .collect(),
    )
}

#[tokio::test]
async fn a_graph_interrupted_by_kill_9_is_printed_from_the_store_then_loaded_and_completed() {
    bounded(WAIT * 5, async {
        let mut first = Proxy::start(&team()).await;
        let session = first.plain_session().await;
        let plan = concat!(
            r#"mcp delegate {"role": "backend", "title": "api", "description": "mcp complete_task {\"id\": \"t1\", \"summary\": \"api done\"}"}; "#,
            r#"mcp delegate {"role": "frontend", "title": "ui", "depends_on": ["t1"], "description": "sleep 2s\; mcp complete_task {\"id\": \"t2\", \"summary\": \"ui done\"}"}; "#,
            r#"mcp delegate {"role": "backend", "title": "docs", "depends_on": ["t2"], "description": "mcp complete_task {\"id\": \"t3\", \"summary\": \"docs done\"}"}"#
        );
        first.prompt(&session, &format!("@architect {plan}")).await;
        wait_for(&mut first, "Task t2 (frontend): ready → in_flight").await;
        // An answer waits for the commit of everything before it; then no goodbye.
        first.prompt(&session, "/tasks").await;
        let dir = first.kill9().await;

        let store = dir.path().join("store.db");
        let printed = tasks_cli(&store, &[]);
        assert!(printed.contains(&format!("session {session}: 3 tasks")), "{printed}");
        assert!(printed.contains("t2    frontend     in_flight  medium  ui  (after t1)"), "{printed}");
        let json_lines = tasks_cli(&store, &["--session", &session, "--json"]);
        let first_task: Value = serde_json::from_str(json_lines.lines().next().unwrap()).unwrap();
        assert_eq!((first_task["id"].as_str(), first_task["status"].as_str()), (Some("t1"), Some("done")));

        let mut second = Proxy::start_in(dir, &team(), &[]).await;
        second
            .initialize(json!({ "fs": { "readTextFile": false, "writeTextFile": false } }))
            .await;
        let cwd = second.cwd().to_string_lossy().to_string();
        let id = second
            .request("session/load", json!({ "sessionId": session, "cwd": cwd, "mcpServers": [] }))
            .await;
        let (replay, answer) = second.until_response(id, |_| None).await;
        assert!(answer["result"].is_object(), "{answer}");
        let by_task = |m: &&Value| {
            let update = &m["params"]["update"];
            update["sessionUpdate"] == "user_message_chunk"
                && update["_meta"]["ourocodus"]["from"]["task"] == "t2"
        };
        assert!(replay.iter().any(|m| by_task(&m)), "a task's prompt is replayed as the team's, not the user's");
        let mut seen_plans = Vec::new();
        loop {
            let message = second.next_within(WAIT).await.expect("the graph goes on");
            if let Some(statuses) = plan_statuses(&message) {
                seen_plans.push(statuses.clone());
                if statuses.iter().all(|s| s == "done") {
                    break;
                }
            }
        }
        assert_eq!(seen_plans[0][0], "done", "the plan comes back with the load: {seen_plans:?}");
        let said = everything(&second);
        assert!(said.contains("Task t2 (frontend): in_flight → ready"), "the interrupted task goes back");
        // An answer waits for its events' commit, and so for every event before them.
        second.prompt(&session, "/tasks").await;
        let printed = tasks_cli(&second.store_path(), &["--session", &session]);
        assert_eq!(printed.matches(" done ").count(), 3, "{printed}");
    })
    .await;
}
