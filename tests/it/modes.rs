//! Point 9: the editor picks where un-mentioned prompts go (modes and a `route`
//! option), and each role's own modes and options are reachable as `role/<id>`.

use serde_json::{Value, json};

use crate::support::{
    Peer as _, Proxy, WAIT, bounded, fake_team, fake_team_flags, fake_team_with, text_from, updates,
};

fn option<'a>(options: &'a Value, id: &str) -> &'a Value {
    options
        .as_array()
        .and_then(|all| all.iter().find(|o| o["id"] == id))
        .unwrap_or_else(|| panic!("no option {id} in {options}"))
}

/// Reads until a config_option_update that has `id`, returning its options.
async fn options_with(proxy: &mut Proxy, id: &str) -> Value {
    loop {
        let m = proxy.next().await;
        let update = &m["params"]["update"];
        if update["sessionUpdate"] == "config_option_update"
            && update["configOptions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|o| o["id"] == id))
        {
            return update["configOptions"].clone();
        }
    }
}

#[tokio::test]
async fn session_new_offers_team_and_one_mode_per_role_and_a_route_option() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        proxy.initialize(json!({})).await;
        let cwd = proxy.cwd().to_string_lossy().to_string();
        let id = proxy
            .request("session/new", json!({ "cwd": cwd, "mcpServers": [] }))
            .await;
        let (_, response) = proxy.until_response(id, |_| None).await;
        let result = &response["result"];
        let modes: Vec<&str> = result["modes"]["availableModes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(modes, vec!["team", "alpha", "beta"]);
        assert_eq!(result["modes"]["currentModeId"], "team");
        let route = option(&result["configOptions"], "route");
        assert_eq!(route["currentValue"], "team");
        assert_eq!(route["type"], "select");
    })
    .await;
}

#[tokio::test]
async fn choosing_a_role_mode_sends_unmentioned_prompts_to_that_role() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let id = proxy
            .request(
                "session/set_mode",
                json!({ "sessionId": session, "modeId": "beta" }),
            )
            .await;
        proxy.until_response(id, |_| None).await;
        let (messages, _) = proxy.prompt(&session, "say routed\\n").await;
        assert_eq!(text_from(&messages, "beta"), "routed\n");
        let id = proxy
            .request(
                "session/set_config_option",
                json!({ "sessionId": session, "configId": "route", "value": "team" }),
            )
            .await;
        let (_, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(
            option(&response["result"]["configOptions"], "route")["currentValue"],
            "team"
        );
        let (messages, _) = proxy.prompt(&session, "say back to the team\\n").await;
        assert_eq!(text_from(&messages, "alpha"), "back to the team\n");
    })
    .await;
}

#[tokio::test]
async fn each_role_model_and_mode_is_a_config_option_that_reaches_its_agent() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let options = options_with(&mut proxy, "beta/model").await;
        assert_eq!(option(&options, "beta/model")["currentValue"], "fast");
        assert_eq!(option(&options, "beta/mode")["currentValue"], "default");
        let id = proxy
            .request(
                "session/set_config_option",
                json!({ "sessionId": session, "configId": "beta/model", "value": "smart" }),
            )
            .await;
        let (_, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(
            option(&response["result"]["configOptions"], "beta/model")["currentValue"],
            "smart"
        );
        let id = proxy
            .request(
                "session/set_config_option",
                json!({ "sessionId": session, "configId": "beta/mode", "value": "plan" }),
            )
            .await;
        let (_, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(
            option(&response["result"]["configOptions"], "beta/mode")["currentValue"],
            "plan"
        );
        let (messages, _) = proxy.prompt(&session, "@beta whoami").await;
        let said = text_from(&messages, "beta");
        assert!(
            said.contains("mode: plan") && said.contains("model: smart"),
            "{said}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_mode_command_sets_a_role_mode_from_the_chat() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        options_with(&mut proxy, "beta/mode").await;
        let (messages, response) = proxy.prompt(&session, "/mode beta plan").await;
        assert_eq!(response["result"]["stopReason"], "end_turn");
        assert!(text_from(&messages, "ourocodus").contains("beta is now in plan mode"));
        let (messages, _) = proxy.prompt(&session, "@beta whoami").await;
        assert!(text_from(&messages, "beta").contains("mode: plan"));
        let (messages, _) = proxy.prompt(&session, "/mode beta nonsense").await;
        assert!(
            text_from(&messages, "ourocodus").contains("beta has no mode \"nonsense\""),
            "{messages:#?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_configured_mode_is_set_on_the_child_after_session_new() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], "mode = \"plan\"")).await;
        let session = proxy.plain_session().await;
        let (messages, _) = proxy.prompt(&session, "whoami").await;
        assert!(text_from(&messages, "alpha").contains("mode: plan"));
    })
    .await;
}

#[tokio::test]
async fn role_slash_commands_are_merged_and_namespaced() {
    bounded(WAIT * 2, async {
        let team = fake_team_flags(&["alpha"], &["--commands"]);
        let mut proxy = Proxy::start(&team).await;
        let session = proxy.plain_session().await;
        let commands = loop {
            let m = proxy.next().await;
            let update = &m["params"]["update"];
            if update["sessionUpdate"] == "available_commands_update"
                && update["availableCommands"]
                    .to_string()
                    .contains("alpha:review")
            {
                break update["availableCommands"].clone();
            }
        };
        let names: Vec<&str> = commands
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"mode") && names.contains(&"alpha:review"),
            "{names:?}"
        );
        let (messages, _) = proxy.prompt(&session, "/alpha:review src").await;
        assert_eq!(text_from(&messages, "alpha"), "/review src");
        let _ = updates(&messages);
        let _ = session;
    })
    .await;
}
