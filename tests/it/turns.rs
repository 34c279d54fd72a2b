//! Point 5: a prompt is answered once every routed role has answered, after all
//! their updates; the stop reason is agreed or `end_turn`; one role's error is its
//! own notice; only when every role failed does the prompt fail, naming them.

use serde_json::Value;

use crate::support::{
    Peer as _, Proxy, WAIT, bounded, fake_team, fake_team_flags, text_from, updates,
};

#[tokio::test]
async fn the_answer_comes_after_every_routed_role_and_all_their_updates() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let script = "@all alpha> say quick\\n; beta> sleep 400ms; beta> stream 50 chunks; beta> say last\\n";
        let started = std::time::Instant::now();
        let (messages, response) = proxy.prompt(&session, script).await;
        assert!(started.elapsed() >= std::time::Duration::from_millis(400));
        assert_eq!(response["result"]["stopReason"], "end_turn");
        assert!(text_from(&messages, "beta").ends_with("last\n"), "beta's last update came before the answer");
        assert_eq!(text_from(&messages, "beta").matches('#').count(), 50);
    })
    .await;
}

#[tokio::test]
async fn the_stop_reason_is_the_one_all_roles_agree_on_else_end_turn() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let (_, agreed) = proxy.prompt(&session, "@all stop max_tokens").await;
        assert_eq!(agreed["result"]["stopReason"], "max_tokens");
        let (_, mixed) = proxy
            .prompt(&session, "@all alpha> stop max_tokens; beta> stop refusal")
            .await;
        assert_eq!(mixed["result"]["stopReason"], "end_turn");
    })
    .await;
}

#[tokio::test]
async fn one_role_failing_is_a_notice_from_it_and_the_others_still_answer() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let (messages, response) = proxy
            .prompt(
                &session,
                "@all alpha> error -32000 Authentication required; beta> say fine\\n",
            )
            .await;
        assert_eq!(response["result"]["stopReason"], "end_turn");
        assert_eq!(text_from(&messages, "beta"), "fine\n");
        let notice = text_from(&messages, "alpha");
        assert!(
            notice.contains("alpha needs authentication")
                && notice.contains("Authentication required"),
            "{notice:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn when_every_routed_role_fails_the_prompt_fails_naming_each_role_and_error() {
    bounded(WAIT * 2, async {
        let team = fake_team_flags(&["alpha", "beta"], &["--auth-required"]);
        let mut proxy = Proxy::start(&team).await;
        let session = proxy.plain_session().await;
        let started = std::time::Instant::now();
        let (messages, response) = proxy.prompt(&session, "@all say hi").await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "answered promptly, not a hang"
        );
        let error = &response["error"];
        assert_eq!(
            error["code"], -32000,
            "all failed the same way, so the code is theirs: {response}"
        );
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("alpha: Authentication required")
                && message.contains("beta: Authentication required"),
            "{message}"
        );
        assert_eq!(error["data"]["ourocodus"]["roles"]["alpha"]["code"], -32000);
        let notices: Vec<&Value> = updates(&messages).into_iter().collect();
        assert!(!notices.is_empty(), "each role's failure was also shown");
    })
    .await;
}

#[tokio::test]
async fn a_role_whose_agent_cannot_start_is_reported_and_the_rest_work() {
    bounded(WAIT * 2, async {
        let team = format!(
            "{}\n[roles.broken]\ncommand = \"/nonexistent/agent-binary\"\n",
            fake_team(&["alpha"])
        );
        let mut proxy = Proxy::start(&team).await;
        let session = proxy.plain_session().await;
        let (messages, response) = proxy.prompt(&session, "@all say hi\\n").await;
        assert_eq!(response["result"]["stopReason"], "end_turn");
        assert_eq!(text_from(&messages, "alpha"), "hi\n");
        let shown = text_from(
            &proxy
                .transcript
                .iter()
                .map(|(_, m)| m.clone())
                .collect::<Vec<_>>(),
            "broken",
        );
        assert!(
            shown.contains("broken is unavailable") && shown.contains("/nonexistent/agent-binary"),
            "{shown:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_second_prompt_to_a_busy_role_waits_for_the_first() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        let first = proxy.prompt_id(&session, "sleep 300ms; say first\\n").await;
        let second = proxy.prompt_id(&session, "say second\\n").await;
        let (messages, answer) = proxy.until_response(first, |_| None).await;
        assert_eq!(
            answer["result"]["stopReason"], "end_turn",
            "the agent did not abort the first prompt"
        );
        assert_eq!(text_from(&messages, "alpha"), "first\n");
        let (messages, answer) = proxy.until_response(second, |_| None).await;
        assert_eq!(answer["result"]["stopReason"], "end_turn");
        assert_eq!(text_from(&messages, "alpha"), "second\n");
    })
    .await;
}
