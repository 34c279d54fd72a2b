//! The coordination tools: every child gets the proxy's `ourocodus` MCP server first,
//! and a role's calls act on its session's task graph as that role.

use crate::support::{Proxy, WAIT, bounded, fake_team, text_from};

async fn said(proxy: &mut Proxy, session: &str, role: &str, script: &str) -> String {
    let (messages, _) = proxy.prompt(session, &format!("@{role} {script}")).await;
    text_from(&messages, role)
}

#[tokio::test]
async fn an_architect_delegates_through_the_proxys_mcp_tools_and_the_role_completes_its_task() {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["architect", "backend"])).await;
        let session = proxy.plain_session().await;
        let who = said(&mut proxy, &session, "backend", "whoami").await;
        assert!(who.contains("mcp servers: ourocodus"), "first and named: {who}");

        let delegate = r#"mcp delegate {"role": "backend", "title": "add paging", "description": "GET /users pages", "priority": "high"}"#;
        let made = said(&mut proxy, &session, "architect", delegate).await;
        assert!(made.contains(r#"mcp delegate: {"id":"t1","status":"ready"}"#), "{made}");

        let listed = said(&mut proxy, &session, "backend", r#"mcp list_tasks {"role": "backend"}"#).await;
        assert!(listed.contains(r#""title":"add paging""#) && listed.contains(r#""created_by":"architect""#), "{listed}");

        let complete = r#"mcp complete_task {"id": "t1", "summary": "pages of 50", "artifacts": ["src/users.rs"]}"#;
        let done = said(&mut proxy, &session, "backend", complete).await;
        assert!(done.contains(r#"mcp complete_task: {"id":"t1","status":"done"}"#), "{done}");
    })
    .await;
}

#[tokio::test]
async fn calls_the_graph_refuses_are_tool_errors_that_say_why() {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["architect", "backend"])).await;
        let session = proxy.plain_session().await;
        let cases = [
            (
                "backend",
                r#"mcp delegate {"role": "architect", "title": "x"}"#,
                "backend may not delegate",
            ),
            (
                "architect",
                r#"mcp delegate {"role": "nobody", "title": "x"}"#,
                "no role \"nobody\"",
            ),
            (
                "architect",
                r#"mcp delegate {"role": "backend", "title": "x", "depends_on": ["t9"]}"#,
                "depends on t9, which does not exist",
            ),
            (
                "architect",
                r#"mcp delegate {"role": "backend", "title": "x", "priority": "asap"}"#,
                "priority \"asap\" is not one of",
            ),
            (
                "architect",
                r#"mcp complete_task {"id": "t1", "summary": "mine"}"#,
                "no task t1",
            ),
        ];
        for (role, script, why) in cases {
            let text = said(&mut proxy, &session, role, script).await;
            assert!(
                text.contains("error:") && text.contains(why),
                "{script}: {text}"
            );
        }
        let made = said(
            &mut proxy,
            &session,
            "architect",
            r#"mcp delegate {"role": "backend", "title": "x"}"#,
        )
        .await;
        assert!(made.contains(r#""id":"t1""#), "{made}");
        let stolen = said(
            &mut proxy,
            &session,
            "architect",
            r#"mcp complete_task {"id": "t1", "summary": "mine"}"#,
        )
        .await;
        assert!(
            stolen.contains("task t1 belongs to backend, not architect"),
            "{stolen}"
        );
    })
    .await;
}

#[tokio::test]
async fn many_tool_calls_on_one_connection_all_succeed_and_their_round_trip_is_printed() {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["architect", "backend"])).await;
        let session = proxy.plain_session().await;
        let text = said(&mut proxy, &session, "architect", "mcp x200 list_tasks {}").await;
        // Timings are printed for the note, never asserted.
        eprintln!("{text}");
        assert!(text.contains("mcp list_tasks: 200 calls, median"), "{text}");
    })
    .await;
}

/// The text of a role's chunks in `message`, if it is one.
fn chunk_of<'a>(message: &'a serde_json::Value, role: &str) -> Option<&'a str> {
    let update = &message["params"]["update"];
    (update["_meta"]["ourocodus"]["role"] == role)
        .then(|| update["content"]["text"].as_str())
        .flatten()
}

#[tokio::test]
async fn delegated_tasks_run_on_their_roles_in_dependency_order_without_anyone_prompting_them() {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["architect", "backend", "frontend"])).await;
        let session = proxy.plain_session().await;
        // A task its role does not complete stays in flight (and the role busy) until
        // it is failed; each later task's description is its role's script.
        let plan = r#"mcp delegate {"role": "frontend", "title": "ui", "depends_on": [], "description": "say too early"}"#;
        said(&mut proxy, &session, "architect", plan).await;
        let abandoned = "frontend ended its turn without completing task t1";
        while !proxy.transcript.iter().any(|(_, m)| m.to_string().contains(abandoned)) {
            proxy.next_within(WAIT).await.expect("the abandoned task is said");
        }
        let fail = r#"mcp update_task {"id": "t1", "status": "failed", "note": "replanned"}"#;
        said(&mut proxy, &session, "architect", fail).await;
        let plan = concat!(
            r#"mcp delegate {"role": "backend", "title": "api", "description": "sleep 300ms\; mcp complete_task {\"id\": \"t2\", \"summary\": \"api done\"}"}; "#,
            r#"mcp delegate {"role": "frontend", "title": "ui", "depends_on": ["t2"], "description": "mcp complete_task {\"id\": \"t3\", \"summary\": \"ui done\"}"}"#
        );
        let made = said(&mut proxy, &session, "architect", plan).await;
        assert!(made.contains(r#""id":"t3","status":"inbox""#), "ui waits: {made}");
        let mut completed = Vec::new();
        while completed.len() < 2 {
            let message = proxy.next_within(WAIT).await.expect("the tasks run");
            for role in ["backend", "frontend"] {
                if chunk_of(&message, role).is_some_and(|t| t.starts_with("mcp complete_task:")) {
                    completed.push(role);
                }
            }
        }
        assert_eq!(completed, ["backend", "frontend"], "ui only after api");
        let listed = said(&mut proxy, &session, "architect", "mcp list_tasks {}").await;
        assert!(listed.contains(r#""summary":"ui done""#), "{listed}");
        let (shown, _) = proxy.prompt(&session, "/tasks").await;
        let shown: String = shown.iter().map(|m| m.to_string()).collect();
        assert!(shown.contains("Tasks (3)"), "{shown}");
        assert!(shown.contains("t3** frontend · done · medium · ui · after t2"), "{shown}");
        assert!(listed.matches(r#""status":"done""#).count() == 2, "{listed}");
        // For the note, never asserted: from t2 done to t3 handed out, in the proxy's log.
        let stderr = proxy.stderr();
        let done = logged_at(&stderr, &["task moved", "task=t2", "to=done"]);
        let handed = logged_at(&stderr, &["task moved", "task=t3", "to=in_flight"]);
        let delay = handed.zip(done).map(|(h, d)| (h - d) * 1e6);
        eprintln!("dispatch delay (t2 done -> t3 in flight): {delay:?} µs");
        assert!(delay.is_some(), "both moves are logged");
    })
    .await;
}

/// Seconds into the day of the first log line holding every one of `parts`.
fn logged_at(log: &str, parts: &[&str]) -> Option<f64> {
    let line = log.lines().find(|l| parts.iter().all(|p| l.contains(p)))?;
    let time = line
        .split_whitespace()
        .next()?
        .split('T')
        .nth(1)?
        .trim_end_matches('Z');
    let mut fields = time.split(':');
    let hours: f64 = fields.next()?.parse().ok()?;
    let minutes: f64 = fields.next()?.parse().ok()?;
    let seconds: f64 = fields.next()?.parse().ok()?;
    Some(hours * 3600.0 + minutes * 60.0 + seconds)
}
