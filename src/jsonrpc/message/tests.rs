use super::*;

#[test]
fn request_keeps_params_as_the_exact_raw_text() {
    let m = Message::parse(
        r#"{"jsonrpc":"2.0","id":3,"method":"session/prompt","params":{"a": [1, 2]}}"#,
    )
    .unwrap();
    assert_eq!(m.method(), Some("session/prompt"));
    assert_eq!(m.id(), Some(&RequestId::number(3)));
    assert_eq!(m.params(), Some(r#"{"a": [1, 2]}"#));
    assert!(m.is_request());
}

#[test]
fn notification_has_no_id() {
    let m = Message::parse(r#"{"jsonrpc":"2.0","method":"session/cancel","params":{}}"#).unwrap();
    assert!(matches!(m.body(), Body::Notification { .. }));
    assert_eq!(m.id(), None);
}

#[test]
fn null_id_is_a_request_not_a_notification() {
    let m = Message::parse(r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#).unwrap();
    assert_eq!(m.id(), Some(&RequestId::null()));
}

#[test]
fn responses_carry_result_or_error() {
    let ok =
        Message::parse(r#"{"jsonrpc":"2.0","id":"a","result":{"stopReason":"end_turn"}}"#).unwrap();
    assert_eq!(ok.outcome(), Some(Ok(r#"{"stopReason":"end_turn"}"#)));
    let err =
        Message::parse(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"auth"}}"#)
            .unwrap();
    assert_eq!(
        err.outcome(),
        Some(Err(r#"{"code":-32000,"message":"auth"}"#))
    );
}

#[test]
fn escaped_method_names_are_unescaped() {
    let m = Message::parse(r#"{"jsonrpc":"2.0","method":"session\/update"}"#).unwrap();
    assert_eq!(m.method(), Some("session/update"));
}

#[test]
fn garbage_is_a_parse_error_and_wrong_shapes_are_invalid_requests() {
    assert_eq!(
        Message::parse("not json").unwrap_err().kind,
        ParseErrorKind::NotJson
    );
    assert_eq!(
        Message::parse("{\"jsonrpc\":\"2.0\",").unwrap_err().kind,
        ParseErrorKind::NotJson
    );
    let e = Message::parse(r#"{"jsonrpc":"2.0","id":4}"#).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::InvalidRequest);
    assert_eq!(e.id, Some(RequestId::number(4)));
    let e = Message::parse(r#"{"id":1,"method":"x"}"#).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::InvalidRequest);
    let e = Message::parse(r#"{"jsonrpc":"2.0","id":9,"method":5}"#).unwrap_err();
    assert_eq!(
        (e.kind, e.id),
        (ParseErrorKind::InvalidRequest, Some(RequestId::number(9)))
    );
    let e = Message::parse(r#"[1,2]"#).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::InvalidRequest);
    let e = Message::parse(r#"{"jsonrpc":"2.0","method":"x","params":3}"#).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::InvalidRequest);
}

#[test]
fn a_key_given_twice_in_the_envelope_the_params_or_their_objects_is_an_invalid_request() {
    let many: String = (0..40).map(|n| format!(r#""k{n}":{n},"#)).collect();
    for line in [
        r#"{"jsonrpc":"2.0","id":7,"method":"a","method":"b"}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"x","params":{"sessionId":"a","sessionId":"b"}}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"x","params":{"update":{"sessionUpdate":"a","sessionUpdate":"plan"}}}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"x","params":{"update":{"sessionUpdate":"a","sessionUpdate":"plan"}}}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"x\/y","params":{"a":1,"a":2}}"#,
        &format!(r#"{{"jsonrpc":"2.0","id":7,"method":"x","params":{{{many}"k39":0}}}}"#),
    ] {
        let e = Message::parse(line).unwrap_err();
        assert_eq!(
            (e.kind, e.id),
            (ParseErrorKind::InvalidRequest, Some(RequestId::number(7))),
            "{line}"
        );
    }
    let line = format!(
        r#"{{"jsonrpc":"2.0","method":"x","params":{{{many}"k":{{"a":{{"a":1,"a":2}}}}}}}}"#
    );
    assert!(
        Message::parse(line).is_ok(),
        "deeper levels are for whoever reads them"
    );
}

#[test]
fn invalid_utf8_is_a_parse_error() {
    let e = Message::parse_bytes(vec![b'{', 0xff, b'}']).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::NotJson);
}
