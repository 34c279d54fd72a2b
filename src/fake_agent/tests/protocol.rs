//! The ACP methods outside prompt turns: handshake, sessions, modes, config
//! options, errors, and input the agent must survive.

use serde_json::json;

use super::harness::{Peer, said, update_kinds};
use super::schema;

#[test]
fn initialize_announces_the_capabilities_and_the_name() {
    let mut peer = Peer::start(&["--name", "backend"]);
    let init = peer.call(
        "initialize",
        json!({ "protocolVersion": 1, "clientCapabilities": {} }),
    );
    schema::assert_response("initialize", &init);
    let result = &init["result"];
    assert_eq!(result["protocolVersion"], 1);
    assert_eq!(result["agentCapabilities"]["loadSession"], false);
    assert_eq!(
        result["agentCapabilities"]["promptCapabilities"],
        json!({ "image": true, "embeddedContext": true })
    );
    assert_eq!(
        result["agentCapabilities"]["sessionCapabilities"],
        json!({ "close": {} })
    );
    assert_eq!(result["authMethods"], json!([]));
    assert_eq!(result["agentInfo"]["name"], "backend");
    peer.finish();
}

#[test]
fn new_sessions_offer_modes_and_a_model_selector() {
    let mut peer = Peer::start(&["--modes", "ask,code", "--models", "m1,m2,m3"]);
    peer.call("initialize", json!({ "protocolVersion": 1 }));
    let created = peer.call("session/new", json!({ "cwd": "/tmp", "mcpServers": [] }));
    schema::assert_response("session/new", &created);
    let result = &created["result"];
    assert_eq!(result["sessionId"], "fake-1");
    assert_eq!(result["modes"]["currentModeId"], "ask");
    assert_eq!(
        result["modes"]["availableModes"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(result["configOptions"][0]["id"], "model");
    assert_eq!(result["configOptions"][0]["currentValue"], "m1");
    assert_eq!(
        result["configOptions"][0]["options"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let second = peer.call("session/new", json!({ "cwd": "/tmp", "mcpServers": [] }));
    assert_eq!(second["result"]["sessionId"], "fake-2");
    peer.finish();
}

#[test]
fn no_modes_and_no_models_leave_both_out() {
    let mut peer = Peer::start(&["--no-modes", "--models", ""]);
    peer.call("initialize", json!({ "protocolVersion": 1 }));
    let created = peer.call("session/new", json!({ "cwd": "/tmp", "mcpServers": [] }));
    assert_eq!(created["result"], json!({ "sessionId": "fake-1" }));
    peer.finish();
}

#[test]
fn set_mode_answers_then_announces_the_new_mode() {
    let mut peer = Peer::start(&[]);
    let session = peer.handshake(json!({}));
    let id = peer.request(
        "session/set_mode",
        json!({ "sessionId": session, "modeId": "plan" }),
    );
    let answer = peer.next();
    assert_eq!(answer["id"], id);
    schema::assert_response("session/set_mode", &answer);
    let update = peer.next();
    schema::assert_outgoing(&update);
    assert_eq!(
        update["params"]["update"],
        json!({ "sessionUpdate": "current_mode_update", "currentModeId": "plan" })
    );
    let (messages, _) = peer.run_prompt(&session, "whoami");
    assert!(said(&messages)[0].contains("mode: plan"));
    peer.finish();
}

#[test]
fn set_config_option_returns_all_options_then_announces_them() {
    let mut peer = Peer::start(&[]);
    let session = peer.handshake(json!({}));
    let params = json!({ "sessionId": session, "configId": "model", "value": "smart" });
    let answer = peer.call("session/set_config_option", params);
    schema::assert_response("session/set_config_option", &answer);
    assert_eq!(
        answer["result"]["configOptions"][0]["currentValue"],
        "smart"
    );
    let update = peer.next();
    schema::assert_outgoing(&update);
    assert_eq!(
        update["params"]["update"]["sessionUpdate"],
        "config_option_update"
    );
    assert_eq!(
        update["params"]["update"]["configOptions"],
        answer["result"]["configOptions"]
    );
    peer.finish();
}

#[test]
fn unknown_modes_models_and_sessions_are_errors() {
    let mut peer = Peer::start(&[]);
    let session = peer.handshake(json!({}));
    let bad_mode = peer.call(
        "session/set_mode",
        json!({ "sessionId": session, "modeId": "yolo" }),
    );
    assert_eq!(bad_mode["error"]["code"], -32602);
    let bad_model = peer.call(
        "session/set_config_option",
        json!({ "sessionId": session, "configId": "model", "value": "huge" }),
    );
    assert_eq!(bad_model["error"]["code"], -32602);
    let no_session = peer.call(
        "session/prompt",
        json!({ "sessionId": "nope", "prompt": [] }),
    );
    assert_eq!(no_session["error"]["code"], -32002);
    let no_params = peer.call("session/prompt", json!({}));
    assert_eq!(no_params["error"]["code"], -32602);
    peer.finish();
}

#[test]
fn unknown_methods_get_method_not_found_and_unknown_notifications_are_ignored() {
    let mut peer = Peer::start(&[]);
    peer.notify("_ourocodus/whatever", json!({}));
    peer.notify("some/notification", json!({}));
    for method in ["session/list", "_ourocodus/ping", "session/load"] {
        let answer = peer.call(method, json!({}));
        assert_eq!(answer["error"]["code"], -32601, "{method}");
    }
    peer.finish();
}

#[test]
fn authenticate_and_close_answer_empty_objects() {
    let mut peer = Peer::start(&[]);
    let session = peer.handshake(json!({}));
    assert_eq!(
        peer.call("authenticate", json!({ "methodId": "x" }))["result"],
        json!({})
    );
    let closed = peer.call("session/close", json!({ "sessionId": session }));
    schema::assert_response("session/close", &closed);
    assert_eq!(closed["result"], json!({}));
    let after = peer.call(
        "session/prompt",
        json!({ "sessionId": session, "prompt": [] }),
    );
    assert_eq!(after["error"]["code"], -32002);
    peer.finish();
}

#[test]
fn with_auth_required_every_prompt_is_refused() {
    let mut peer = Peer::start(&["--auth-required"]);
    let session = peer.handshake(json!({}));
    let (_, answer) = peer.run_prompt(&session, "say hi");
    assert_eq!(
        answer["error"],
        json!({ "code": -32000, "message": "Authentication required" })
    );
    peer.finish();
}

#[test]
fn load_session_is_offered_only_with_its_flag() {
    let mut peer = Peer::start(&["--load-session"]);
    let init = peer.call("initialize", json!({ "protocolVersion": 1 }));
    assert_eq!(init["result"]["agentCapabilities"]["loadSession"], true);
    let loaded = peer.call(
        "session/load",
        json!({ "sessionId": "old-7", "cwd": "/tmp", "mcpServers": [] }),
    );
    schema::assert_response("session/load", &loaded);
    assert_eq!(loaded["result"]["modes"]["currentModeId"], "default");
    let (messages, _) = peer.run_prompt("old-7", "whoami");
    assert!(said(&messages)[0].contains("session: old-7"));
    peer.finish();
}

#[test]
fn commands_flag_sends_available_commands_after_session_new() {
    let mut peer = Peer::start(&["--commands"]);
    let session = peer.handshake(json!({}));
    let update = peer.next();
    schema::assert_outgoing(&update);
    assert_eq!(update["params"]["sessionId"], session);
    assert_eq!(
        update_kinds(std::slice::from_ref(&update)),
        ["available_commands_update"]
    );
    peer.finish();
}

#[test]
fn a_slow_session_new_does_not_hold_up_other_requests() {
    let mut peer = Peer::start(&["--session-delay", "300ms"]);
    peer.call("initialize", json!({ "protocolVersion": 1 }));
    let slow = peer.request("session/new", json!({ "cwd": "/tmp", "mcpServers": [] }));
    let quick = peer.request("authenticate", json!({}));
    assert_eq!(peer.next()["id"], quick);
    assert_eq!(peer.next()["id"], slow);
    peer.finish();
}

#[test]
fn bad_input_lines_are_skipped_and_serving_goes_on() {
    let mut peer = Peer::start(&[]);
    peer.send_raw(b"not json\n\xff\xfe\n[1,2]\n{\"jsonrpc\":\"2.0\",\"id\":5}\n{\"jsonrpc\":\"2.0\",\"id\":999,\"result\":{}}\n\n");
    let answer = peer.call("authenticate", json!({}));
    assert_eq!(answer["result"], json!({}));
    peer.finish();
}

#[test]
fn session_meta_mcp_servers_and_client_capabilities_are_remembered() {
    let mut peer = Peer::start(&["--name", "reviewer"]);
    let caps = json!({ "fs": { "readTextFile": true, "writeTextFile": true }, "terminal": true, "subagents": {} });
    peer.call(
        "initialize",
        json!({ "protocolVersion": 1, "clientCapabilities": caps }),
    );
    let servers = json!([{ "name": "db", "command": "db-mcp", "args": [], "env": [] }, { "type": "http", "name": "docs", "url": "http://x", "headers": [] }]);
    let meta = json!({ "systemPrompt": { "append": "You review code." } });
    let created = peer.call(
        "session/new",
        json!({ "cwd": "/src", "mcpServers": servers, "_meta": meta }),
    );
    let session = created["result"]["sessionId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (messages, _) = peer.run_prompt(&session, "WHOAMI");
    let expected = [
        "name: reviewer",
        "session: fake-1",
        "cwd: /src",
        r#"system prompt: {"append":"You review code."}"#,
        "preamble: none",
        "mcp servers: db, docs",
        "mode: default",
        "model: fast",
        "client capabilities: fs.readTextFile, fs.writeTextFile, terminal, subagents",
    ];
    assert_eq!(said(&messages), [expected.join("\n").as_str()]);
    peer.finish();
}

#[test]
fn a_delayed_session_new_is_still_answered_after_stdin_ends() {
    let mut peer = Peer::start(&["--session-delay", "200ms"]);
    let id = peer.request("session/new", json!({ "cwd": "/tmp", "mcpServers": [] }));
    peer.close_stdin();
    assert_eq!(peer.next()["id"], id);
    peer.finish();
}
