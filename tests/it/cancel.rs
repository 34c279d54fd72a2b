//! Point 8: `session/cancel` fans out to every working role, the proxy answers open
//! permission requests `cancelled`, and the editor's prompt ends `cancelled`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Peer as _, Proxy, WAIT, bounded, fake_team};

#[tokio::test]
async fn cancel_reaches_every_working_role_and_the_prompt_ends_cancelled() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let id = proxy.prompt_id(&session, "@all sleep 20s").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cancelled_at = Instant::now();
        proxy
            .notify("session/cancel", json!({ "sessionId": session }))
            .await;
        let (_, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(response["result"]["stopReason"], "cancelled");
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(2),
            "both roles stopped promptly, not after the grace period"
        );
        let (_, next) = proxy.prompt(&session, "@all say still here\\n").await;
        assert_eq!(
            next["result"]["stopReason"], "end_turn",
            "the session goes on"
        );
    })
    .await;
}

#[tokio::test]
async fn an_open_permission_request_is_answered_cancelled_by_the_proxy() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        let asks = json!({"jsonrpc": "2.0", "id": "p1", "method": "session/request_permission", "params": {"sessionId": "fake-1",
            "toolCall": {"toolCallId": "t1", "title": "Edit"}, "options": [{"optionId": "y", "name": "Yes", "kind": "allow_once"}]}});
        let id = proxy.prompt_id(&session, &format!("raw {asks}; sleep 20s")).await;
        let request = loop {
            let m = proxy.next().await;
            if m["method"] == "session/request_permission" {
                break m;
            }
        };
        proxy.notify("session/cancel", json!({ "sessionId": session })).await;
        let (_, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(response["result"]["stopReason"], "cancelled");
        // The editor's late answer is dropped: the agent already has its `cancelled`.
        proxy.send(json!({"jsonrpc": "2.0", "id": request["id"], "result": {"outcome": {"outcome": "selected", "optionId": "y"}}})).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let log = proxy.stderr();
        let answers: Vec<&str> = log.lines().filter(|l| l.contains(r#"response to "p1""#)).collect();
        assert_eq!(answers.len(), 1, "{log}");
        assert!(answers[0].contains(r#"{"outcome":{"outcome":"cancelled"}}"#), "{}", answers[0]);
    })
    .await;
}

#[tokio::test]
async fn a_role_that_ignores_cancel_is_settled_after_a_grace_period() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let id = proxy
            .prompt_id(&session, "@all alpha> hang; beta> sleep 20s")
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cancelled_at = Instant::now();
        proxy
            .notify("session/cancel", json!({ "sessionId": session }))
            .await;
        let (_, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(response["result"]["stopReason"], "cancelled");
        let waited = cancelled_at.elapsed();
        assert!(
            waited >= Duration::from_secs(4) && waited < Duration::from_secs(8),
            "waited {waited:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn cancel_request_for_a_prompt_cancels_its_turn() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        let id = proxy.prompt_id(&session, "sleep 20s").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        proxy
            .notify("$/cancel_request", json!({ "requestId": id }))
            .await;
        let (_, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(response["result"]["stopReason"], "cancelled");
    })
    .await;
}
