//! `Message::parse` against a reference reading of JSON-RPC 2.0: on arbitrary bytes,
//! on JSON-like token soup, on generated envelopes of right and wrong shapes, and on
//! well-formed messages whose parts are known.

use proptest::prelude::*;
use proptest::sample::select;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

use super::config;
use super::json_text::{
    distinct_keys, json_number, json_scalar, json_string, json_string_of, json_structured,
    json_value, object_text, raw_fields, reorder, spacing, swaps, whitespace_for,
};
use crate::jsonrpc::{Message, ParseError, ParseErrorKind, RequestId};

/// What a line parses to, reduced to what can be compared.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Parsed {
    NotJson,
    Invalid {
        id: Option<RequestId>,
    },
    Request {
        id: RequestId,
        method: String,
        params: Option<String>,
    },
    Notification {
        method: String,
        params: Option<String>,
    },
    Response {
        id: RequestId,
        outcome: Result<String, String>,
    },
}

impl Parsed {
    pub(super) fn of(result: Result<Message, ParseError>) -> Parsed {
        let message = match result {
            Ok(message) => message,
            Err(e) if e.kind == ParseErrorKind::NotJson => return Parsed::NotJson,
            Err(e) => return Parsed::Invalid { id: e.id },
        };
        let id = message.id().cloned();
        let method = message.method().map(str::to_string);
        let params = message.params().map(str::to_string);
        match (id, method, message.outcome()) {
            (Some(id), Some(method), None) => Parsed::Request { id, method, params },
            (None, Some(method), None) => Parsed::Notification { method, params },
            (Some(id), None, Some(outcome)) => Parsed::Response {
                id,
                outcome: outcome.map(str::to_string).map_err(str::to_string),
            },
            other => panic!("a message of no kind: {other:?}"),
        }
    }
}

const ENVELOPE_KEYS: [&str; 6] = ["jsonrpc", "id", "method", "params", "result", "error"];

/// How the spec reads `bytes`, with the proxy's own choices: `params: null` is no
/// params; an id is an integer in i64 range, a string or null; a field of the wrong
/// type, or an envelope field given twice, makes it invalid — answered with its id
/// when that alone is readable.
pub(super) fn reference_parse(bytes: &[u8]) -> Parsed {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Parsed::NotJson;
    };
    if serde_json::from_str::<IgnoredAny>(text).is_err() {
        return Parsed::NotJson;
    }
    match raw_fields(text) {
        Some(fields) => reference_envelope(&fields),
        None => Parsed::Invalid { id: None },
    }
}

/// One envelope field read by its type; `Err` when the type is wrong.
fn typed<T>(
    raw: Option<&RawValue>,
    read: impl FnOnce(Value) -> Option<T>,
) -> Result<Option<T>, ()> {
    let Some(raw) = raw else { return Ok(None) };
    let value: Value = serde_json::from_str(raw.get()).map_err(|_| ())?;
    read(value).map(Some).ok_or(())
}

fn reference_envelope(fields: &[(String, Box<RawValue>)]) -> Parsed {
    let get = |key: &str| {
        let mut matching = fields.iter().filter(|(k, _)| k == key);
        let first = matching.next().map(|(_, v)| &**v);
        (first, matching.next().is_some())
    };
    let id_of = |v: Value| match v {
        Value::Null => Some(RequestId::null()),
        Value::String(s) => Some(RequestId::string(s)),
        Value::Number(n) => n.as_i64().map(RequestId::number),
        _ => None,
    };
    // An unusable envelope still answers with its id when the id itself is readable.
    let readable_id = match get("id") {
        (raw, false) => typed(raw, id_of).ok().flatten(),
        (_, true) => None,
    };
    if ENVELOPE_KEYS.iter().any(|key| get(key).1) {
        return Parsed::Invalid { id: readable_id };
    }
    let string_or_null = |v: Value| match v {
        Value::String(s) => Some(Some(s)),
        Value::Null => Some(None),
        _ => None,
    };
    let (Ok(jsonrpc), Ok(id), Ok(method)) = (
        typed(get("jsonrpc").0, string_or_null),
        typed(get("id").0, id_of),
        typed(get("method").0, string_or_null),
    ) else {
        return Parsed::Invalid { id: readable_id };
    };
    let (jsonrpc, method) = (jsonrpc.flatten(), method.flatten());
    let raw_text = |key: &str| get(key).0.map(|raw| raw.get().to_string());
    let params = raw_text("params").filter(|p| p != "null");
    let params_structured = params
        .as_deref()
        .is_none_or(|p| p.starts_with('{') || p.starts_with('['));
    if jsonrpc.as_deref() != Some("2.0") || !params_structured {
        return Parsed::Invalid { id };
    }
    match (method, id, raw_text("result"), raw_text("error")) {
        (Some(method), Some(id), None, None) => Parsed::Request { id, method, params },
        (Some(method), None, None, None) => Parsed::Notification { method, params },
        (None, Some(id), Some(result), None) => Parsed::Response {
            id,
            outcome: Ok(result),
        },
        (None, Some(id), None, Some(error)) => Parsed::Response {
            id,
            outcome: Err(error),
        },
        (_, id, _, _) => Parsed::Invalid { id },
    }
}

/// A top-level array: checked on its own (`a_json_array_is_never_a_message`).
fn is_json_array(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Vec<IgnoredAny>>(bytes).is_ok()
}

/// JSON by the grammar that serde_json cannot hold as a value: a number beyond the
/// range of an f64. Checked on its own
/// (`an_id_beyond_f64_range_is_an_invalid_request_not_a_parse_error`).
fn has_number_beyond_f64(bytes: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(bytes).is_ok()
        && serde_json::from_slice::<Value>(bytes).is_err()
}

/// Whether a line was read as not JSON exactly when the reference says it is not,
/// for the lines the reference speaks for (see the two checks above).
fn parse_error_iff_not_json(bytes: &[u8], parsed: &Parsed) -> Result<(), TestCaseError> {
    if is_json_array(bytes) || has_number_beyond_f64(bytes) {
        return Ok(());
    }
    let expected = reference_parse(bytes);
    prop_assert_eq!(
        *parsed == Parsed::NotJson,
        expected == Parsed::NotJson,
        "expected {:?}, parsed {:?}",
        expected,
        parsed
    );
    Ok(())
}

/// Pieces of JSON and near-JSON, to be strung together at random.
fn json_token() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => select(vec![
            "{", "}", "[", "]", ":", ",", " ", "\"", "\\", "null", "true", "1", "-", ".5",
            "e9", "\"jsonrpc\"", "\"2.0\"", "\"id\"", "\"method\"", "\"params\"",
            "\"result\"", "\"error\"", "\"\\u", "\u{ff}", "\r", "\t",
        ])
        .prop_map(String::from),
        1 => json_scalar(),
    ]
}

pub(super) fn token_soup() -> impl Strategy<Value = String> {
    let soup = prop::collection::vec(json_token(), 0..24).prop_map(|tokens| tokens.concat());
    prop_oneof![soup.clone(), soup.prop_map(|s| format!("{{{s}}}"))]
}

/// A value for one envelope field: the right type or a wrong one.
fn envelope_value(key: &'static str) -> BoxedStrategy<String> {
    let wrong = prop_oneof![json_scalar(), json_structured()];
    let right = match key {
        "jsonrpc" => prop_oneof![
            4 => json_string_of("2.0".into()).prop_map(|s| s.literal),
            1 => select(vec!["\"1.0\"", "2.0", "null", "\"2.0 \""]).prop_map(String::from),
        ]
        .boxed(),
        "id" => request_id().prop_map(|(_, literal)| literal).boxed(),
        "method" => json_string().prop_map(|s| s.literal).boxed(),
        "params" => prop_oneof![4 => json_structured(), 1 => Just("null".to_string())].boxed(),
        // Any value is a result or an error; null is checked on its own
        // (`a_response_whose_result_is_null_is_a_success`).
        _ => return not_null(json_value()).boxed(),
    };
    prop_oneof![11 => right, 1 => wrong].boxed()
}

fn not_null(values: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    values.prop_filter("a null result is checked on its own", |v| v != "null")
}

/// An envelope key as written, sometimes with escapes.
fn envelope_key(key: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(format!("\"{key}\"")),
        1 => json_string_of(key.to_string()).prop_map(|s| s.literal),
    ]
}

/// One envelope field, key and value as written.
fn envelope_field(key: &'static str) -> impl Strategy<Value = (String, String)> {
    (envelope_key(key), envelope_value(key))
}

/// An object with envelope fields, each there or not, of the right type or (now and
/// then) a wrong one, rarely one given twice; foreign fields; any order.
pub(super) fn envelope() -> impl Strategy<Value = String> {
    let field = |key, chance| prop::option::weighted(chance, envelope_field(key));
    let fields = (
        field("jsonrpc", 0.9),
        field("id", 0.6),
        field("method", 0.5),
        field("params", 0.4),
        field("result", 0.3),
        field("error", 0.2),
    );
    let twice = prop::option::weighted(
        0.05,
        prop_oneof![
            envelope_field("jsonrpc"),
            envelope_field("id"),
            envelope_field("method"),
            envelope_field("result"),
        ],
    );
    let layout = (foreign_fields(), swaps(), spacing());
    (fields, twice, layout).prop_map(|(fields, twice, (foreign, swaps, spaces))| {
        let (jsonrpc, id, method, params, result, error) = fields;
        let mut fields: Vec<(String, String)> = [jsonrpc, id, method, params, result, error, twice]
            .into_iter()
            .flatten()
            .chain(foreign)
            .collect();
        reorder(&mut fields, &swaps);
        object_text(&fields, &spaces)
    })
}

/// An id of each kind, with the literal that writes it.
pub(super) fn request_id() -> impl Strategy<Value = (RequestId, String)> {
    prop_oneof![
        any::<i64>().prop_map(|n| (RequestId::number(n), n.to_string())),
        json_string().prop_map(|s| (RequestId::string(s.decoded), s.literal)),
        Just((RequestId::null(), "null".to_string())),
    ]
}

/// A well-formed message whose parts are known, written with foreign fields and in
/// any field order.
pub(super) fn well_formed() -> impl Strategy<Value = (Parsed, String)> {
    let params = prop::option::of(json_structured());
    let request = (request_id(), json_string(), params.clone()).prop_map(|(id, method, params)| {
        let expected = Parsed::Request {
            id: id.0,
            method: method.decoded,
            params: params.clone(),
        };
        (
            expected,
            vec![("id", id.1), ("method", method.literal)],
            params,
        )
    });
    let notification = (json_string(), params).prop_map(|(method, params)| {
        let expected = Parsed::Notification {
            method: method.decoded,
            params: params.clone(),
        };
        (expected, vec![("method", method.literal)], params)
    });
    let response =
        (request_id(), not_null(json_value()), any::<bool>()).prop_map(|(id, outcome, failed)| {
            let (key, outcome_text) = if failed {
                ("error", Err(outcome.clone()))
            } else {
                ("result", Ok(outcome.clone()))
            };
            let expected = Parsed::Response {
                id: id.0,
                outcome: outcome_text,
            };
            (expected, vec![("id", id.1), (key, outcome)], None)
        });
    let message = prop_oneof![request, notification, response];
    let layout = (foreign_fields(), swaps(), spacing());
    (message, layout).prop_map(|((expected, parts, params), (foreign, swaps, spaces))| {
        let mut fields: Vec<(String, String)> = parts
            .into_iter()
            .map(|(k, v)| (format!("\"{k}\""), v))
            .chain(params.map(|p| ("\"params\"".to_string(), p)))
            .chain(foreign)
            .collect();
        fields.push(("\"jsonrpc\"".into(), "\"2.0\"".into()));
        reorder(&mut fields, &swaps);
        (expected, object_text(&fields, &spaces))
    })
}

/// Fields a peer may add that are no part of the envelope.
fn foreign_fields() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = json_string().prop_filter("not an envelope key", |k| {
        !ENVELOPE_KEYS.contains(&k.decoded.as_str())
    });
    prop::collection::vec((key, json_value()), 0..3).prop_map(|fields| {
        distinct_keys(fields)
            .into_iter()
            .map(|(k, v)| (k.literal, v))
            .collect()
    })
}

proptest! {
    #![proptest_config(config(30_000))]

    #[test]
    fn arbitrary_bytes_never_panic_and_only_non_json_is_a_parse_error(
        bytes in prop::collection::vec(any::<u8>(), 0..96)
    ) {
        let parsed = Parsed::of(Message::parse_bytes(bytes.clone()));
        parse_error_iff_not_json(&bytes, &parsed)?;
    }
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn json_token_soup_never_panics_and_is_classified_as_the_spec_says(text in token_soup()) {
        let parsed = Parsed::of(Message::parse(text.as_str()));
        parse_error_iff_not_json(text.as_bytes(), &parsed)?;
    }
}

proptest! {
    #![proptest_config(config(5_000))]

    #[test]
    fn envelopes_of_any_shape_parse_as_the_spec_reads_them(text in envelope()) {
        let parsed = Parsed::of(Message::parse(text.as_str()));
        prop_assert_eq!(parsed, reference_parse(text.as_bytes()), "line: {}", text);
    }

    #[test]
    fn well_formed_messages_parse_back_to_their_parts((expected, text) in well_formed()) {
        let parsed = Parsed::of(Message::parse(text.as_str()));
        prop_assert_eq!(parsed, expected, "line: {}", text);
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn a_response_whose_result_is_null_is_a_success(
        (id, literal) in request_id(),
        spaces in any::<u8>(),
    ) {
        let (before, after) = (whitespace_for(spaces), whitespace_for(spaces >> 4));
        let text = format!(r#"{{"jsonrpc":"2.0","id":{literal},"result":{before}null{after}}}"#);
        let parsed = Parsed::of(Message::parse(text.as_str()));
        let success = Parsed::Response { id, outcome: Ok("null".into()) };
        prop_assert_eq!(parsed, success, "line: {}", text);
    }

    #[test]

    fn a_json_array_is_never_a_message(
        items in prop::collection::vec(
            prop_oneof![
                select(vec!["\"2.0\"", "null", "1", "\"session/prompt\"", "{}", "[]"])
                    .prop_map(String::from),
                json_number(),
            ],
            0..9,
        )
    ) {
        let text = format!("[{}]", items.join(","));
        let parsed = Parsed::of(Message::parse(text.as_str()));
        prop_assert_eq!(parsed, Parsed::Invalid { id: None }, "line: {}", text);
    }
}

#[test]
fn a_null_result_is_a_success_response() {
    let parsed = Parsed::of(Message::parse(r#"{"jsonrpc":"2.0","id":1,"result":null}"#));
    let success = Parsed::Response {
        id: RequestId::number(1),
        outcome: Ok("null".into()),
    };
    assert_eq!(parsed, success);
}

#[test]

fn a_json_array_is_not_read_as_a_request() {
    let parsed = Parsed::of(Message::parse(r#"["2.0",1,"session/prompt"]"#));
    assert_eq!(parsed, Parsed::Invalid { id: None });
}

#[test]

fn an_id_beyond_f64_range_is_an_invalid_request_not_a_parse_error() {
    let parsed = Parsed::of(Message::parse(
        r#"{"jsonrpc":"2.0","id":1e400,"method":"x"}"#,
    ));
    assert_eq!(parsed, Parsed::Invalid { id: None });
}
