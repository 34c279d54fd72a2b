use super::*;

fn reply_value(state: &mut ConnectionState, text: &str) -> Value {
    match handle_frame(state, text) {
        Reply::Send(frame) | Reply::SendThenClose(frame, _) => {
            serde_json::from_str(&frame).unwrap()
        }
        Reply::Nothing => panic!("no reply to {text}"),
    }
}

#[test]
fn ping_answers_null_before_anything_else_with_the_id_as_sent() {
    let mut state = ConnectionState::default();
    let reply = reply_value(
        &mut state,
        r#"{"jsonrpc":"2.0","id":"a1","method":"ping","params":{"channel":"ahp-root://"}}"#,
    );
    assert_eq!(reply["id"], "a1");
    assert!(reply["result"].is_null() && reply.get("result").is_some());
    let reply = reply_value(&mut state, r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#);
    assert_eq!(reply["id"], 7);
}

#[test]
fn initialize_picks_the_highest_supported_offer_and_lists_the_team() {
    let mut state = ConnectionState::default();
    let reply = reply_value(
        &mut state,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"channel":"ahp-root://","clientId":"c","protocolVersions":["0.9.0","1.0.0"],"initialSubscriptions":["ahp-root://"]}}"#,
    );
    let result = &reply["result"];
    assert_eq!(result["protocolVersion"], "1.0.0");
    assert_eq!(result["serverSeq"], 0);
    assert_eq!(result["serverInfo"]["name"], "ourocodus");
    assert_eq!(result["snapshots"][0]["resource"], "ahp-root://");
    assert_eq!(
        result["snapshots"][0]["state"]["agents"][0]["provider"],
        "ourocodus"
    );
    assert_eq!(state.version.as_deref(), Some("1.0.0"));
}

#[test]
fn an_offer_with_no_common_version_is_refused_with_the_supported_ones_and_closes() {
    let mut state = ConnectionState::default();
    let reply = handle_frame(
        &mut state,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersions":["0.8.0"]}}"#,
    );
    let Reply::SendThenClose(frame, _) = reply else {
        panic!("{reply:?}")
    };
    let value: Value = serde_json::from_str(&frame).unwrap();
    assert_eq!(value["error"]["code"], -32005);
    assert_eq!(value["error"]["data"]["supportedVersions"][0], "1.0.0");
}

#[test]
fn reconnect_without_a_channel_is_the_root_and_answers_snapshots() {
    let mut state = ConnectionState::default();
    let reply = reply_value(
        &mut state,
        r#"{"jsonrpc":"2.0","id":3,"method":"reconnect","params":{"clientId":"c","lastSeenServerSeq":5,"subscriptions":["ahp-root://"]}}"#,
    );
    assert_eq!(reply["result"]["type"], "snapshot");
    assert_eq!(reply["result"]["snapshots"][0]["resource"], "ahp-root://");
}

#[test]
fn bad_frames_get_the_standard_errors() {
    let mut state = ConnectionState::default();
    let reply = reply_value(&mut state, "{not json");
    assert_eq!(reply["error"]["code"], -32700);
    assert!(reply["id"].is_null());
    let reply = reply_value(&mut state, r#"{"id":4,"method":"ping"}"#);
    assert_eq!(reply["error"]["code"], -32600);
    assert_eq!(reply["id"], 4);
    let reply = reply_value(&mut state, r#"[1,2]"#);
    assert_eq!(reply["error"]["code"], -32600);
    let reply = reply_value(&mut state, r#"{"jsonrpc":"2.0","id":5,"method":"nope"}"#);
    assert_eq!(reply["error"]["code"], -32601);
    let reply = reply_value(
        &mut state,
        r#"{"jsonrpc":"2.0","id":6,"method":"createSession","params":{}}"#,
    );
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not implemented yet")
    );
    assert_eq!(
        handle_frame(
            &mut state,
            r#"{"jsonrpc":"2.0","method":"unsubscribe","params":{}}"#
        ),
        Reply::Nothing
    );
}

#[test]
fn a_message_giving_a_key_twice_is_refused_not_read_last_one_wins() {
    let mut state = ConnectionState::default();
    let reply = reply_value(
        &mut state,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"initialize"}"#,
    );
    assert_eq!(reply["error"]["code"], -32700, "{reply}");
    assert!(reply["id"].is_null());
}
