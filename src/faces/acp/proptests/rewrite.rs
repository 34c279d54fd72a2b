//! `write_update_line` on generated `session/update` params: the client's copy is one
//! JSON line equal to the agent's, field for field and byte for byte, except the
//! session id, the team's tool call id, the prefixed tool call title and our `_meta`
//! key; fields keep their order.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::config;
use crate::core::{RoleUpdate, UpdateKind};
use crate::faces::acp::update::{Rewrite, write_update_line};
use crate::ids::Role;
use crate::jsonrpc::IndexedObject;
use crate::jsonrpc::proptests::json_text::{
    JsonString, distinct_keys, json_object_of, json_scalar, json_string, json_string_of,
    json_value, object_text, raw_fields, reorder, spacing, swaps,
};

/// A field the rewrite looks at, written with its key spelled any way.
fn named_field(
    key: &'static str,
    value: impl Strategy<Value = String>,
) -> impl Strategy<Value = (String, String)> {
    let key = prop_oneof![
        3 => Just(format!("\"{key}\"")),
        1 => json_string_of(key.to_string()).prop_map(|s| s.literal),
    ];
    (key, value)
}

/// A string literal, or now and then a value of another type.
fn mostly_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => json_string().prop_map(|s| s.literal),
        1 => json_scalar(),
    ]
}

/// `_meta` as agents send it: foreign keys, sometimes an `ourocodus` key of their own,
/// now and then not an object at all.
fn meta() -> impl Strategy<Value = String> {
    let ours = named_field("ourocodus", json_value());
    let foreign = (json_string(), json_value());
    let object = (
        prop::collection::vec(foreign, 0..3),
        prop::option::of(ours),
        swaps(),
        spacing(),
    )
        .prop_map(|(foreign, ours, swaps, spaces)| {
            let mut fields: Vec<(String, String)> = distinct_keys(foreign)
                .into_iter()
                .filter(|(k, _)| k.decoded != "ourocodus")
                .map(|(k, v)| (k.literal, v))
                .chain(ours)
                .collect();
            reorder(&mut fields, &swaps);
            object_text(&fields, &spaces)
        });
    prop_oneof![5 => object, 1 => json_scalar()]
}

/// Fields with keys other than `special`, any values.
fn other_fields(special: &'static [&'static str]) -> impl Strategy<Value = Vec<(String, String)>> {
    let key = json_string().prop_filter("not a key the rewrite looks at", move |k| {
        !special.contains(&k.decoded.as_str())
    });
    prop::collection::vec((key, json_value()), 0..3).prop_map(|fields: Vec<(JsonString, _)>| {
        distinct_keys(fields)
            .into_iter()
            .map(|(k, v)| (k.literal, v))
            .collect()
    })
}

const UPDATE_KEYS: &[&str] = &["sessionUpdate", "toolCallId", "title", "_meta"];

/// An update of any variant, with or without a tool call id, a title and `_meta`.
fn update() -> impl Strategy<Value = String> {
    let variant = select(vec![
        "agent_message_chunk",
        "agent_thought_chunk",
        "tool_call",
        "tool_call_update",
        "plan",
        "future_variant",
    ])
    .prop_map(|v| format!("\"{v}\""));
    let variant = prop_oneof![4 => variant, 1 => mostly_string()];
    let fields = (
        named_field("sessionUpdate", variant),
        prop::option::of(named_field("toolCallId", mostly_string())),
        prop::option::of(named_field("title", mostly_string())),
        prop::option::of(named_field("_meta", meta())),
    );
    (fields, other_fields(UPDATE_KEYS), swaps(), spacing()).prop_map(
        |((kind, tool_call_id, title, meta), others, swaps, spaces)| {
            let mut fields: Vec<(String, String)> = [Some(kind), tool_call_id, title, meta]
                .into_iter()
                .flatten()
                .chain(others)
                .collect();
            reorder(&mut fields, &swaps);
            object_text(&fields, &spaces)
        },
    )
}

/// `session/update` params: the session, the update, maybe a top-level `_meta`, and
/// whatever else an agent adds.
fn update_params() -> impl Strategy<Value = String> {
    let fields = (
        named_field("sessionId", json_string().prop_map(|s| s.literal)),
        named_field("update", update()),
        prop::option::of(named_field("_meta", json_object_of(json_value()))),
    );
    (
        fields,
        other_fields(&["sessionId", "update", "_meta"]),
        swaps(),
        spacing(),
    )
        .prop_map(|((session, update, meta), others, swaps, spaces)| {
            let mut fields: Vec<(String, String)> = [Some(session), Some(update), meta]
                .into_iter()
                .flatten()
                .chain(others)
                .collect();
            reorder(&mut fields, &swaps);
            object_text(&fields, &spaces)
        })
}

/// The rewrite's inputs, owned.
#[derive(Debug, Clone)]
struct RewriteCase {
    session: String,
    role: String,
    prefix_title: bool,
    tool_call_id: Option<String>,
}

impl RewriteCase {
    fn as_rewrite(&self) -> Rewrite<'_> {
        Rewrite {
            session: &self.session,
            prefix_title: self.prefix_title,
        }
    }
}

fn rewrite_case() -> impl Strategy<Value = RewriteCase> {
    let role = prop_oneof![
        4 => "[a-z][a-z0-9-]{0,8}",
        1 => json_string().prop_map(|s| s.decoded),
    ];
    let text = json_string().prop_map(|s| s.decoded);
    (text.clone(), role, any::<bool>(), prop::option::of(text)).prop_map(
        |(session, role, prefix_title, tool_call_id)| RewriteCase {
            session,
            role,
            prefix_title,
            tool_call_id,
        },
    )
}

type RawFields = Vec<(String, Box<RawValue>)>;

fn fields_of(text: &str) -> Result<RawFields, TestCaseError> {
    raw_fields(text).ok_or_else(|| TestCaseError::fail(format!("not an object: {text}")))
}

fn string_of(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

fn value_of(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).expect("raw values are JSON")
}

fn keys(fields: &[(String, Box<RawValue>)]) -> Vec<&str> {
    fields.iter().map(|(k, _)| k.as_str()).collect()
}

/// The rewritten line's params, checked against the agent's field by field.
fn check_params(input: &str, output: &RawValue, case: &RewriteCase) -> Result<(), TestCaseError> {
    let (input, output) = (fields_of(input)?, fields_of(output.get())?);
    prop_assert_eq!(
        keys(&output),
        keys(&input),
        "params keep their fields in order"
    );
    for ((key, before), (_, after)) in input.iter().zip(&output) {
        match key.as_str() {
            "sessionId" => prop_assert_eq!(value_of(after), json!(case.session)),
            "update" => check_update(before, after, case)?,
            "_meta" => check_params_meta(before, after)?,
            _ => prop_assert_eq!(after.get(), before.get(), "{} kept verbatim", key),
        }
    }
    Ok(())
}

fn check_update(
    input: &RawValue,
    output: &RawValue,
    case: &RewriteCase,
) -> Result<(), TestCaseError> {
    let (input, output) = (fields_of(input.get())?, fields_of(output.get())?);
    let mut expected_keys = keys(&input);
    if !expected_keys.contains(&"_meta") {
        expected_keys.push("_meta");
    }
    prop_assert_eq!(
        keys(&output),
        expected_keys,
        "the update keeps its fields in order"
    );
    let role = &case.role;
    let kind = input
        .iter()
        .find(|(k, _)| k == "sessionUpdate")
        .and_then(|(_, v)| string_of(v))
        .map_or(UpdateKind::Other, |k| UpdateKind::from_wire(&k));
    for (key, after) in &output {
        let before = input.iter().find(|(k, _)| k == key).map(|(_, v)| &**v);
        let before_string = before.and_then(string_of);
        match (key.as_str(), before_string) {
            ("toolCallId", _) if case.tool_call_id.is_some() => {
                prop_assert_eq!(value_of(after), json!(case.tool_call_id))
            }
            ("toolCallId", Some(id)) => {
                prop_assert_eq!(value_of(after), json!(format!("{role}/{id}")))
            }
            ("title", Some(title)) if case.prefix_title && kind.is_tool_call() => {
                prop_assert_eq!(value_of(after), json!(format!("{role}: {title}")))
            }
            ("_meta", _) => check_meta(before, after, role)?,
            _ => prop_assert_eq!(
                Some(after.get()),
                before.map(RawValue::get),
                "{} kept verbatim",
                key
            ),
        }
    }
    Ok(())
}

/// The params' own `_meta` is kept verbatim unless it has an `ourocodus` key, which
/// is dropped (every other key kept, in order).
fn check_params_meta(before: &RawValue, after: &RawValue) -> Result<(), TestCaseError> {
    let input = fields_of(before.get())?;
    if input.iter().all(|(k, _)| k != "ourocodus") {
        prop_assert_eq!(after.get(), before.get(), "params _meta kept verbatim");
        return Ok(());
    }
    let foreign: Vec<(&String, &str)> = input
        .iter()
        .filter(|(k, _)| k != "ourocodus")
        .map(|(k, v)| (k, v.get()))
        .collect();
    let output = fields_of(after.get())?;
    let kept: Vec<(&String, &str)> = output.iter().map(|(k, v)| (k, v.get())).collect();
    prop_assert_eq!(
        kept,
        foreign,
        "foreign params _meta keys kept, ours dropped"
    );
    Ok(())
}

/// Our `_meta` key carries the role alone; every foreign key stays, verbatim, in order.
fn check_meta(
    input: Option<&RawValue>,
    output: &RawValue,
    role: &str,
) -> Result<(), TestCaseError> {
    let foreign: RawFields = input
        .and_then(|raw| raw_fields(raw.get()))
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "ourocodus")
        .collect();
    let output = fields_of(output.get())?;
    let (ours, kept) = output.split_last().expect("at least our key");
    prop_assert_eq!(
        keys(kept),
        keys(&foreign),
        "foreign _meta keys kept in order"
    );
    for ((key, before), (_, after)) in foreign.iter().zip(kept) {
        prop_assert_eq!(after.get(), before.get(), "_meta.{} kept verbatim", key);
    }
    prop_assert_eq!(&ours.0, "ourocodus");
    prop_assert_eq!(value_of(&ours.1), json!({ "role": role }));
    Ok(())
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn the_client_copy_equals_the_agents_update_but_for_the_rewritten_fields(
        params in update_params(),
        case in rewrite_case(),
    ) {
        let parsed = IndexedObject::new(&params)
            .ok_or_else(|| TestCaseError::fail("generated params are not indexed"))?;
        let fields = parsed.fields();
        let update = fields
            .get("update")
            .and_then(|f| f.object())
            .ok_or_else(|| TestCaseError::fail("generated params have an object update"))?;
        let role = Role::new(&case.role);
        let kind = update.get_str("sessionUpdate").map_or(UpdateKind::Other, |k| UpdateKind::from_wire(&k));
        let role_update = RoleUpdate {
            role: &role,
            turn: None,
            kind,
            tool_call_id: case.tool_call_id.as_deref(),
            params_text: &params,
            params: fields,
            update,
        };
        let mut line = Vec::new();
        write_update_line(&mut line, &role_update, &case.as_rewrite());
        prop_assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        prop_assert_eq!(line.last(), Some(&b'\n'));
        let text = std::str::from_utf8(&line).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(serde_json::from_str::<Value>(text).is_ok(), "not JSON: {}", text);
        let envelope = fields_of(text.trim_end())?;
        prop_assert_eq!(keys(&envelope), vec!["jsonrpc", "method", "params"]);
        prop_assert_eq!(envelope[0].1.get(), "\"2.0\"");
        prop_assert_eq!(envelope[1].1.get(), "\"session/update\"");
        check_params(&params, &envelope[2].1, &case)?;
    }
}
