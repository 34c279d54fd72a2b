//! Checks every message the proxy writes against the ACP v1 JSON Schema shipped in
//! `@agentclientprotocol/sdk` (installed by `.ci/run` under tests/peers). That schema
//! predates the stable subagents RFD, so its `subagent_update` shape is added here.

use std::sync::OnceLock;

use serde_json::{Value, json};

const SCHEMA_PATH: &str = "tests/peers/node_modules/@agentclientprotocol/sdk/schema/v1/schema.json";

static VALIDATOR: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();

/// Panics with the schema errors if `message` is not a valid agent-to-client message.
/// Without the schema installed this checks nothing, unless OUROCODUS_REQUIRE_SCHEMA
/// is set (as `.ci/run` does), in which case a missing schema fails the test.
pub fn check_agent_message(message: &Value) {
    let Some(validator) = VALIDATOR.get_or_init(load).as_ref() else {
        return;
    };
    let errors: Vec<String> = validator
        .iter_errors(message)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    if !errors.is_empty() {
        let shown: Vec<&String> = errors.iter().take(6).collect();
        panic!("message does not match the ACP schema: {message}\n{shown:#?}");
    }
}

fn load() -> Option<jsonschema::Validator> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_PATH);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if std::env::var_os("OUROCODUS_REQUIRE_SCHEMA").is_some() => {
            panic!(
                "ACP schema required but not readable at {}: {e}",
                path.display()
            )
        }
        Err(_) => {
            eprintln!(
                "note: {} not installed; run `bash .ci/run` to check messages against the ACP schema",
                path.display()
            );
            return None;
        }
    };
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    let schema = agent_side(schema);
    Some(jsonschema::validator_for(&schema).expect("schema compiles"))
}

/// The schema's agent-to-client branch, with the subagents RFD's update added.
fn agent_side(mut schema: Value) -> Value {
    let agent = schema["anyOf"]
        .as_array()
        .and_then(|branches| branches.iter().find(|b| b["title"] == "Agent"))
        .cloned()
        .expect("schema has an Agent branch");
    let variants = schema["$defs"]["SessionUpdate"]["oneOf"]
        .as_array_mut()
        .expect("SessionUpdate variants");
    variants.push(subagent_update());
    let defs = schema["$defs"].take();
    let mut root = agent;
    root["$defs"] = defs;
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root
}

/// `subagent_update` as the subagents RFD defines it (2026-09-15 revision).
fn subagent_update() -> Value {
    json!({
        "type": "object",
        "properties": {
            "sessionUpdate": { "const": "subagent_update" },
            "subagentSessionId": { "type": "string" },
            "name": { "type": ["string", "null"] },
            "task": { "type": ["string", "null"] },
            "capabilities": {
                "type": ["object", "null"],
                "properties": { "cancel": { "type": "boolean" } }
            },
            "state": {
                "anyOf": [
                    { "enum": ["running", "completed", "failed", "cancelled", "disconnected"] },
                    { "type": "null" }
                ]
            },
            "_meta": { "type": ["object", "null"] }
        },
        "required": ["sessionUpdate", "subagentSessionId"]
    })
}
