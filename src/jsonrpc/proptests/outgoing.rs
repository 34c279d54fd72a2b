//! The builders against the parser: every built line is one NDJSON line that parses
//! back to the parts it was built from; escaping round-trips any string.

use proptest::prelude::*;
use serde_json::Value;

use super::config;
use super::json_text::{char_for, json_string, json_structured, json_value};
use super::message::Parsed;
use crate::jsonrpc::{
    ErrorObject, Message, RequestId, error_response, notification, request, response_raw,
    write_json_escaped, write_json_string,
};

fn any_id() -> impl Strategy<Value = RequestId> {
    prop_oneof![
        any::<i64>().prop_map(RequestId::number),
        any::<String>().prop_map(RequestId::string),
        json_string().prop_map(|s| RequestId::string(s.decoded)),
        Just(RequestId::null()),
    ]
}

/// Strings of any characters, weighted toward those that need escaping.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u32>(), 0..24)
            .prop_map(|codes| codes.into_iter().map(char_for).collect()),
    ]
}

/// Params as the proxy has them: compact JSON text taken from a line it read.
fn compact_params() -> impl Strategy<Value = Option<String>> {
    prop::option::of(json_structured())
}

fn error_object() -> impl Strategy<Value = ErrorObject> {
    let data = prop::option::of(
        json_value()
            .prop_map(|text| serde_json::from_str::<Value>(&text).expect("generated JSON parses")),
    );
    (any::<i64>(), any_text(), data).prop_map(|(code, message, data)| ErrorObject {
        code,
        message,
        data,
    })
}

fn failed(error: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

/// `"data": null` reads back as no data; the two say the same on the wire.
fn without_null_data(mut error: ErrorObject) -> ErrorObject {
    if error.data == Some(Value::Null) {
        error.data = None;
    }
    error
}

/// One line, `\n`-terminated with no other newline, parsed back.
fn reparse(line: Vec<u8>) -> Result<Parsed, TestCaseError> {
    prop_assert_eq!(line.last(), Some(&b'\n'));
    let body = &line[..line.len() - 1];
    prop_assert!(!body.contains(&b'\n'), "a raw newline inside the line");
    let text = String::from_utf8(body.to_vec()).map_err(failed)?;
    Ok(Parsed::of(Message::parse(text)))
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn built_requests_and_notifications_parse_back_to_their_parts(
        id in any_id(),
        method in any_text(),
        params in compact_params(),
    ) {
        let parsed = reparse(request(&id, &method, params.as_deref()))?;
        prop_assert_eq!(
            parsed,
            Parsed::Request { id, method: method.clone(), params: params.clone() }
        );
        let parsed = reparse(notification(&method, params.as_deref()))?;
        prop_assert_eq!(parsed, Parsed::Notification { method, params });
    }

    #[test]
    fn built_responses_parse_back_to_their_parts(
        id in any_id(),
        result in json_value().prop_filter("a null result is checked on its own", |r| r != "null"),
        error in error_object(),
    ) {
        let parsed = reparse(response_raw(&id, &result))?;
        prop_assert_eq!(parsed, Parsed::Response { id: id.clone(), outcome: Ok(result) });
        let parsed = reparse(error_response(&id, &error))?;
        let Parsed::Response { id: back, outcome: Err(raw) } = parsed else {
            return Err(TestCaseError::fail(format!("not an error response: {parsed:?}")));
        };
        prop_assert_eq!(back, id);
        let back: ErrorObject = serde_json::from_str(&raw).map_err(failed)?;
        prop_assert_eq!(back, without_null_data(error));
    }
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn ids_written_as_json_read_back_as_the_same_id(id in any_id()) {
        let back: RequestId = serde_json::from_str(&id.to_json()).map_err(failed)?;
        prop_assert_eq!(back, id);
    }

    #[test]
    fn escaping_round_trips_any_string_and_leaves_no_control_character(
        already_written in "[a-z]{0,4}",
        text in any_text(),
    ) {
        let mut out = already_written.clone().into_bytes();
        write_json_escaped(&mut out, &text);
        prop_assert!(out.starts_with(already_written.as_bytes()));
        let escaped = &out[already_written.len()..];
        prop_assert!(escaped.iter().all(|b| *b >= 0x20), "a raw control character");
        let mut literal = Vec::new();
        write_json_string(&mut literal, &text);
        prop_assert_eq!(&literal[1..literal.len() - 1], escaped);
        let back: String = serde_json::from_slice(&literal).map_err(failed)?;
        prop_assert_eq!(back, text);
    }
}
