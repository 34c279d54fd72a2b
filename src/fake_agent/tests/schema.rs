//! Checks emitted messages against the ACP v1 JSON Schema, when a copy is
//! installed (`ACP_SCHEMA`, or the TypeScript SDK under /tmp/peers).

use std::sync::OnceLock;

use serde_json::{Value, json};

const DEFAULT_SCHEMA: &str =
    "/tmp/peers/node_modules/@agentclientprotocol/sdk/schema/v1/schema.json";

/// The schema's `$defs`, or `None` (with a note) if no schema is installed.
pub fn defs() -> Option<&'static Value> {
    static DEFS: OnceLock<Option<Value>> = OnceLock::new();
    DEFS.get_or_init(|| {
        let path = std::env::var("ACP_SCHEMA").unwrap_or_else(|_| DEFAULT_SCHEMA.to_string());
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("note: no ACP schema at {path}; set ACP_SCHEMA to check messages against it");
            return None;
        };
        let schema: Value = serde_json::from_str(&text).expect("the ACP schema is JSON");
        Some(schema["$defs"].clone())
    })
    .as_ref()
}

/// The definition for `method` on the given side whose name ends with `suffix`
/// (`Request`, `Response` or `Notification`).
fn definition_for(defs: &Value, method: &str, suffix: &str) -> Option<String> {
    defs.as_object()?
        .iter()
        .find(|(name, def)| def["x-method"] == method && name.ends_with(suffix))
        .map(|(name, _)| name.clone())
}

/// Asserts `value` matches `$defs/<name>`.
pub fn assert_matches(name: &str, value: &Value) {
    let Some(defs) = defs() else { return };
    let schema = json!({ "$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs, "$ref": format!("#/$defs/{name}") });
    let validator = jsonschema::validator_for(&schema).expect("the ACP schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{value} does not match {name}: {errors:#?}"
    );
}

/// Asserts an agent→client request or notification matches its method's params schema.
pub fn assert_outgoing(message: &Value) {
    let Some(defs) = defs() else { return };
    let method = message["method"].as_str().expect("a method");
    let name = definition_for(defs, method, "Request")
        .or_else(|| definition_for(defs, method, "Notification"))
        .unwrap_or_else(|| panic!("no schema for {method}"));
    assert_matches(&name, &message["params"]);
}

/// Asserts a response to a client→agent `method` matches that method's response schema.
pub fn assert_response(method: &str, message: &Value) {
    let Some(defs) = defs() else { return };
    let name = definition_for(defs, method, "Response")
        .unwrap_or_else(|| panic!("no response schema for {method}"));
    assert_matches(&name, &message["result"]);
}

#[test]
fn the_schema_check_rejects_what_the_schema_forbids() {
    if defs().is_none() {
        return;
    }
    let no_content =
        json!({ "sessionId": "s", "update": { "sessionUpdate": "agent_message_chunk" } });
    assert!(
        std::panic::catch_unwind(|| assert_matches("SessionNotification", &no_content)).is_err()
    );
    let bad_kind = json!({ "sessionId": "s", "toolCall": { "toolCallId": "c" }, "options": [{ "optionId": "a", "name": "A", "kind": "maybe" }] });
    assert!(
        std::panic::catch_unwind(|| assert_matches("RequestPermissionRequest", &bad_kind)).is_err()
    );
}
