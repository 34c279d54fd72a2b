use super::*;
use crate::core::record::write_payload;
use crate::jsonrpc::IndexedObject;

fn decode(kind: &str, role: Option<&str>, payload: &str) -> (Option<Decoded>, IndexedTexts) {
    let mut texts = IndexedTexts::default();
    let role = role.map(Role::new);
    let decoded = decode_event(
        kind,
        role,
        payload,
        &mut texts,
        &mut IndexScratch::default(),
    );
    (decoded, texts)
}

fn round_trip(event: &TeamEvent<'_>) -> String {
    let mut out = Vec::new();
    write_payload(event, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn an_update_comes_back_with_its_params_verbatim_and_its_team_tool_call_id() {
    let text = r#"{"sessionId":"c1","update":{"sessionUpdate":"tool_call","toolCallId":"call_1","title":"T","x":[1, {"y":null}]},"_meta":{"foreign":true}}"#;
    let indexed = IndexedObject::new(text).unwrap();
    let update = indexed.fields().get("update").unwrap().object().unwrap();
    let role = Role::new("backend");
    let event = TeamEvent::Update(RoleUpdate {
        role: &role,
        turn: Some(3),
        kind: UpdateKind::ToolCall,
        tool_call_id: Some("backend/call_1.2"),
        params_text: text,
        params: indexed.fields(),
        update,
    });
    let payload = round_trip(&event);
    let (decoded, texts) = decode("update", Some("backend"), &payload);
    let decoded = decoded.expect("decodes");
    let Some(TeamEvent::Update(back)) = decoded.event(&texts) else {
        panic!("not an update: {payload}");
    };
    assert_eq!(
        (back.role.as_str(), back.turn, back.kind),
        ("backend", Some(3), UpdateKind::ToolCall)
    );
    assert_eq!(back.tool_call_id, Some("backend/call_1.2"));
    assert_eq!(back.params_text, text, "the agent's params, byte for byte");
    assert_eq!(back.update.get("x").unwrap().value(), r#"[1, {"y":null}]"#);
    assert_eq!(
        back.params.get("_meta").unwrap().value(),
        r#"{"foreign":true}"#
    );
}

fn update_parts(payload: &str) -> (Option<u64>, Option<String>, String) {
    let (decoded, texts) = decode("update", Some("a"), payload);
    match decoded {
        Some(Decoded::Update {
            turn,
            tool_call_id,
            params,
            ..
        }) => (turn, tool_call_id, texts.text(&params).to_string()),
        other => panic!("{payload}: {other:?}"),
    }
}

#[test]
fn an_update_laid_out_otherwise_than_the_recorder_writes_it_reads_the_same() {
    let params = r#"{"update":{"sessionUpdate":"plan","entries":[]}}"#;
    let ours = format!(r#"{{"turn":12,"toolCallId":"a/c.1","params":{params}}}"#);
    let spaced = format!(r#"{{ "params": {params}, "toolCallId": "a/c.1", "turn": 12 }}"#);
    let extra = format!(r#"{{"turn":12,"toolCallId":"a/c.1","params":{params},"x":{{}}}}"#);
    let expected = (Some(12), Some("a/c.1".to_string()), params.to_string());
    for payload in [ours, spaced, extra] {
        assert_eq!(update_parts(&payload), expected, "{payload}");
    }
    let escaped = format!(r#"{{"turn":null,"toolCallId":"a\"b","params":{params}}}"#);
    assert_eq!(
        update_parts(&escaped),
        (None, Some(r#"a"b"#.to_string()), params.to_string())
    );
}

#[test]
fn turn_ends_and_role_ends_keep_their_typed_outcomes() {
    let failed = RoleOutcome::Failed(RpcError::new(-32000, "auth"));
    let role = Role::new("a");
    let payload = round_trip(&TeamEvent::RoleEnded {
        turn: 2,
        role: &role,
        outcome: &failed,
    });
    match decode("role_end", Some("a"), &payload).0 {
        Some(Decoded::RoleEnded { outcome, .. }) => assert_eq!(outcome, failed),
        other => panic!("{other:?}"),
    }
    let ended: Result<StopReason, RpcError> = Ok(StopReason::MaxTokens);
    let payload = round_trip(&TeamEvent::TurnEnded {
        turn: 2,
        outcome: &ended,
    });
    match decode("turn_end", None, &payload).0 {
        Some(Decoded::TurnEnded { outcome, .. }) => assert_eq!(outcome, ended),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_turns_token_counts_and_the_task_a_turn_worked_on_come_back() {
    let role = Role::new("backend");
    let tokens = Tokens {
        total_tokens: 9,
        input_tokens: 6,
        ..Tokens::default()
    };
    let payload = round_trip(&TeamEvent::TurnTokens {
        role: &role,
        turn: Some(4),
        tokens: &tokens,
    });
    match decode("tokens", Some("backend"), &payload).0 {
        Some(Decoded::TurnTokens {
            role,
            turn,
            tokens: back,
        }) => assert_eq!((role.as_str(), turn, back), ("backend", Some(4), tokens)),
        other => panic!("{other:?}"),
    }
    let task: TaskId = "t3".parse().unwrap();
    let origin = crate::core::Origin::Task(task);
    let payload = round_trip(&TeamEvent::Prompt {
        turn: 4,
        origin: Some(&origin),
        roles: std::slice::from_ref(&role),
        blocks: &[],
        summary: "s",
    });
    match decode("prompt", None, &payload).0 {
        Some(Decoded::Prompt { task: back, .. }) => assert_eq!(back, Some(task)),
        other => panic!("{other:?}"),
    }
    let by_hand = r#"{"turn":5,"origin":"odd","roles":[],"prompt":[]}"#;
    assert!(
        matches!(
            decode("prompt", None, by_hand).0,
            Some(Decoded::Prompt { task: None, .. })
        ),
        "an origin that is no task's still leaves the prompt"
    );
    let damaged = r#"{"turn":4,"usage":{"totalTokens":-1}}"#;
    assert!(decode("tokens", Some("backend"), damaged).0.is_none());
}

#[test]
fn a_damaged_payload_is_skipped_not_trusted() {
    assert!(decode("update", Some("a"), "{not json").0.is_none());
    assert!(
        decode("update", None, r#"{"turn":1,"params":{"update":{}}}"#)
            .0
            .is_none()
    );
    assert!(
        decode("update", Some("a"), r#"{"turn":1,"params":{"update":[]}}"#)
            .0
            .is_none()
    );
    let cut = r#"{"turn":1,"params":{"update":{"sessionUpdate":"plan"}}"#;
    assert!(decode("update", Some("a"), cut).0.is_none());
    let two = r#"{"turn":1,"params":{"update":{}},"y":{"update":{}}}"#;
    assert!(
        decode("update", Some("a"), two).0.is_some(),
        "the params alone, not beyond"
    );
    assert!(matches!(
        decode("some_future_kind", None, "{}").0,
        Some(Decoded::Other)
    ));
}
