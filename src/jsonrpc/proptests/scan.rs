//! The one-pass scan against the thorough parse: on every line the scan reads by
//! itself it must agree with serde exactly (kind, id, method, spans), and its index of
//! the params must list the fields serde reads, keys unescaped and values verbatim,
//! two levels deep. The scan must also actually read the common lines.

use proptest::prelude::*;
use serde_json::value::RawValue;

use super::config;
use super::json_text::{json_object_of, json_string, json_value, object_text, raw_fields};
use super::message::{Parsed, envelope, request_id, token_soup, well_formed};
use crate::jsonrpc::{IndexedObject, Message, ObjectFields};

/// A field as serde reads it: the key unescaped, the value as written, and for an
/// object value, its own fields the same way (`None` below the second level).
type Reference = Vec<(String, String, Option<Vec<(String, String)>>)>;

fn each_once<'a>(keys: impl Iterator<Item = &'a String>) -> bool {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter().all(|key| seen.insert(key))
}

/// `None` too when a key comes twice at either level (the index refuses those).
fn reference_fields(text: &str) -> Option<Reference> {
    let fields = raw_fields(text)?;
    let reference: Reference = fields
        .into_iter()
        .map(|(key, value): (String, Box<RawValue>)| {
            let nested = match value.get().starts_with('{') {
                true => Some(
                    raw_fields(value.get())?
                        .into_iter()
                        .map(|(k, v)| (k, v.get().to_string()))
                        .collect(),
                ),
                false => None,
            };
            Some((key, value.get().to_string(), nested))
        })
        .collect::<Option<_>>()?;
    let nested = reference
        .iter()
        .filter_map(|(_, _, nested)| nested.as_ref());
    let all_once = each_once(reference.iter().map(|(key, _, _)| key))
        && nested
            .into_iter()
            .all(|fields| each_once(fields.iter().map(|(k, _)| k)));
    all_once.then_some(reference)
}

fn indexed_fields(fields: ObjectFields<'_>) -> Reference {
    fields
        .iter()
        .map(|field| {
            let nested = field.object().map(|object| {
                object
                    .iter()
                    .map(|f| (f.key().into_owned(), f.value().to_string()))
                    .collect()
            });
            (field.key().into_owned(), field.value().to_string(), nested)
        })
        .collect()
}

/// Where the scan reads a line by itself, it reads what serde reads, and indexes the
/// params as a later index of the params text would.
fn scan_agrees(text: &str) -> Result<(), TestCaseError> {
    let thorough = Parsed::of(Message::parse_thoroughly(text));
    let parsed = Parsed::of(Message::parse(text));
    prop_assert_eq!(&parsed, &thorough, "line: {}", text);
    let Ok(message) = Message::parse(text) else {
        return Ok(());
    };
    if let Some(params) = message.params().filter(|p| p.starts_with('{')) {
        let later = IndexedObject::new(params);
        let now = message.params_fields().map(indexed_fields);
        prop_assert_eq!(now.clone(), later.map(|l| indexed_fields(l.fields())));
        prop_assert_eq!(now, reference_fields(params), "params: {}", params);
    }
    Ok(())
}

/// Params with nested objects, keys spelled any way: a stand-in for any method's.
fn object_params() -> impl Strategy<Value = String> {
    json_object_of(prop_oneof![2 => json_value(), 1 => json_object_of(json_value())])
}

/// A notification or request carrying `params`, fields in one of a few orders.
fn message_with(params: String, order: u8, id: Option<String>) -> String {
    let mut fields = vec![
        ("\"jsonrpc\"".to_string(), "\"2.0\"".to_string()),
        ("\"method\"".to_string(), "\"session/update\"".to_string()),
        ("\"params\"".to_string(), params),
    ];
    if let Some(id) = id {
        fields.push(("\"id\"".to_string(), id));
    }
    let turn = usize::from(order) % fields.len();
    fields.rotate_left(turn);
    object_text(&fields, &[])
}

proptest! {
    #![proptest_config(config(5_000))]

    #[test]
    fn the_scan_agrees_with_serde_on_envelopes_of_any_shape(text in envelope()) {
        scan_agrees(&text)?;
    }

    #[test]
    fn the_scan_agrees_with_serde_on_well_formed_messages((_, text) in well_formed()) {
        scan_agrees(&text)?;
    }

    #[test]
    fn the_scan_agrees_with_serde_on_token_soup(text in token_soup()) {
        scan_agrees(&text)?;
    }

    #[test]
    fn the_scan_agrees_with_serde_on_any_text(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            scan_agrees(text)?;
        }
    }

    #[test]
    fn params_are_indexed_as_serde_reads_them(
        params in object_params(),
        order in any::<u8>(),
        id in prop::option::of(request_id()),
    ) {
        let text = message_with(params, order, id.map(|(_, literal)| literal));
        scan_agrees(&text)?;
        prop_assert!(Message::parse(text.as_str()).unwrap().params_fields().is_some());
    }

    #[test]
    fn plain_envelopes_are_read_by_the_scan(
        params in object_params(),
        order in any::<u8>(),
        id in prop::option::of(any::<i32>()),
        method in json_string(),
    ) {
        let plain_method = !method.literal.contains('\\');
        let text = message_with(params, order, id.map(|n| n.to_string()))
            .replace("\"session/update\"", &method.literal);
        prop_assert_eq!(Message::is_scanned(&text), plain_method, "line: {}", text);
    }
}

#[test]
fn a_streamed_chunk_is_read_by_the_scan_with_its_update_indexed() {
    let line = r##"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s-1","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"#1 lorem\n"}}}}"##;
    assert!(Message::is_scanned(line));
    let message = Message::parse(line).unwrap();
    let params = message.params_fields().unwrap();
    assert_eq!(params.get_str("sessionId").as_deref(), Some("s-1"));
    let update = params.get("update").unwrap().object().unwrap();
    assert_eq!(
        update.get_str("sessionUpdate").as_deref(),
        Some("agent_message_chunk")
    );
    assert_eq!(
        update.get("content").unwrap().value(),
        r##"{"type":"text","text":"#1 lorem\n"}"##
    );
}
