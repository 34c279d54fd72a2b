//! Point 1: prompts reach the roles they name (`@role`, `@all`), or the route; known
//! mentions are removed from the text a child receives; unknown ones get a notice.

use serde_json::json;

use crate::support::transcript::assert_golden;
use crate::support::{Proxy, WAIT, bounded, fake_team, text_from, updates};

#[tokio::test]
async fn a_prompt_without_mentions_goes_to_the_route() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let (messages, response) = proxy.prompt(&session, "say hello from the route").await;
        assert_eq!(response["result"]["stopReason"], "end_turn");
        assert_eq!(text_from(&messages, "alpha"), "hello from the route");
        assert_eq!(text_from(&messages, "beta"), "");
        assert_golden(&proxy, "route_default");
    })
    .await;
}

#[tokio::test]
async fn mentions_pick_roles_and_are_removed_from_the_text_the_child_receives() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta", "gamma"])).await;
        let session = proxy.plain_session().await;
        let (messages, response) = proxy
            .prompt(&session, "@beta @gamma: please echo this text")
            .await;
        assert_eq!(response["result"]["stopReason"], "end_turn");
        assert_eq!(text_from(&messages, "alpha"), "");
        for role in ["beta", "gamma"] {
            assert_eq!(
                text_from(&messages, role),
                "please echo this text",
                "{role}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn all_reaches_every_role_and_unknown_at_words_stay_in_the_text() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let (messages, _) = proxy
            .prompt(&session, "@all install @types/node and mail me@example.com")
            .await;
        for role in ["alpha", "beta"] {
            assert_eq!(
                text_from(&messages, role),
                "install @types/node and mail me@example.com",
                "{role}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_mention_of_a_role_that_does_not_exist_gets_a_visible_notice() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let (messages, response) = proxy.prompt(&session, "@nobody say hi").await;
        assert_eq!(response["result"]["stopReason"], "end_turn");
        let notice = text_from(&messages, "ourocodus");
        assert!(
            notice.contains("@nobody is not a role"),
            "notice: {notice:?}"
        );
        assert!(
            notice.contains("alpha, beta") && notice.contains("went to: alpha"),
            "notice: {notice:?}"
        );
        let routed = text_from(&messages, "alpha");
        assert_eq!(
            routed, "@nobody say hi",
            "the prompt went to the route, the unknown word left in"
        );
    })
    .await;
}

#[tokio::test]
async fn an_editor_with_notices_gets_a_notice_update_instead_of_text() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        proxy
            .initialize(json!({ "session": { "notices": {} } }))
            .await;
        let session = proxy.new_session().await;
        let (messages, _) = proxy.prompt(&session, "@ghost say hi").await;
        let notices: Vec<_> = updates(&messages)
            .into_iter()
            .map(|m| &m["params"]["update"])
            .filter(|u| u["sessionUpdate"] == "notice")
            .collect();
        assert_eq!(notices.len(), 1, "{messages:#?}");
        assert_eq!(notices[0]["severity"], "warning");
        assert!(notices[0]["title"].as_str().unwrap().contains("@ghost"));
        assert_eq!(text_from(&messages, "ourocodus"), "");
    })
    .await;
}

#[tokio::test]
async fn a_namespaced_slash_command_goes_to_its_role_without_the_prefix() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let (messages, _) = proxy.prompt(&session, "/beta:review the diff").await;
        assert_eq!(text_from(&messages, "beta"), "/review the diff");
        assert_eq!(text_from(&messages, "alpha"), "");
    })
    .await;
}
