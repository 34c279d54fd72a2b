//! Checks every message the proxy writes against the ACP v1 JSON Schema shipped in
//! `@agentclientprotocol/sdk` (installed by `.ci/run` under tests/peers): the
//! envelope against the agent side of the schema, and the params or result against
//! the definition for its method (the envelope alone accepts any params through its
//! extension branches). That schema predates the stable subagents RFD, so its
//! `subagent_update` shape is added here.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Value, json};

const SCHEMA_PATH: &str = "tests/peers/node_modules/@agentclientprotocol/sdk/schema/v1/schema.json";

struct Schema {
    envelope: jsonschema::Validator,
    /// Validators by `(method, "Request" | "Notification" | "Response")`.
    by_method: HashMap<(String, &'static str), jsonschema::Validator>,
    error: jsonschema::Validator,
    /// The `sessionUpdate` variants the schema knows; the proxy passes others through
    /// untouched by design, so only their envelope is checked.
    update_variants: Vec<String>,
}

static SCHEMA: OnceLock<Option<Schema>> = OnceLock::new();

/// Whether messages are being checked (the schema is installed).
pub fn active() -> bool {
    SCHEMA.get_or_init(load).is_some()
}

/// Panics with the schema errors if `message` is not a valid agent-to-client message.
/// `answered_method` is the method of the editor request a response answers. Without
/// the schema installed this checks nothing, unless OUROCODUS_REQUIRE_SCHEMA is set
/// (as `.ci/run` does), in which case a missing schema fails the test.
pub fn check_agent_message(message: &Value, answered_method: Option<&str>) {
    let Some(schema) = SCHEMA.get_or_init(load).as_ref() else {
        return;
    };
    check(
        &schema.envelope,
        message,
        message,
        "the agent-side envelope",
    );
    if let Some(method) = message["method"].as_str() {
        let kind = if message.get("id").is_some() {
            "Request"
        } else {
            "Notification"
        };
        let variant = message["params"]["update"]["sessionUpdate"].as_str();
        let future_variant = method == "session/update"
            && variant.is_some_and(|v| !schema.update_variants.iter().any(|k| k == v));
        if let Some(validator) = schema
            .by_method
            .get(&(method.to_string(), kind))
            .filter(|_| !future_variant)
        {
            check(validator, &message["params"], message, method);
        }
    } else if let Some(error) = message.get("error") {
        check(&schema.error, error, message, "Error");
    } else if let Some(validator) =
        answered_method.and_then(|m| schema.by_method.get(&(m.to_string(), "Response")))
    {
        check(validator, &message["result"], message, "the response");
    }
}

fn check(validator: &jsonschema::Validator, instance: &Value, message: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .take(6)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    if !errors.is_empty() {
        panic!("message does not match the ACP schema for {what}: {message}\n{errors:#?}");
    }
}

fn load() -> Option<Schema> {
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
    let mut schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    let variants = schema["$defs"]["SessionUpdate"]["oneOf"]
        .as_array_mut()
        .expect("SessionUpdate variants");
    variants.push(subagent_update());
    let update_variants = variants
        .iter()
        .filter_map(|v| {
            v["properties"]["sessionUpdate"]["const"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let defs = schema["$defs"].clone();
    let agent = schema["anyOf"]
        .as_array()
        .and_then(|branches| branches.iter().find(|b| b["title"] == "Agent"))
        .cloned()
        .expect("schema has an Agent branch");
    let compile = |root: Value| {
        let mut root = root;
        root["$defs"] = defs.clone();
        root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        jsonschema::validator_for(&root).expect("schema compiles")
    };
    let mut by_method = HashMap::new();
    for (name, def) in defs.as_object().expect("defs") {
        let Some(method) = def["x-method"].as_str() else {
            continue;
        };
        let kind = ["Request", "Notification", "Response"]
            .into_iter()
            .find(|k| name.ends_with(k));
        if let Some(kind) = kind {
            by_method.insert(
                (method.to_string(), kind),
                compile(json!({ "$ref": format!("#/$defs/{name}") })),
            );
        }
    }
    Some(Schema {
        envelope: compile(agent),
        by_method,
        error: compile(json!({ "$ref": "#/$defs/Error" })),
        update_variants,
    })
}

/// `subagent_update` as ACP's subagent sessions define it (stable since 2026-11-20;
/// the SDK's unstable schema has the same shape): the child's `sessionId`, display
/// `title` and `description`, a `state` object, per-child `capabilities`.
fn subagent_update() -> Value {
    let text = json!({ "type": ["string", "null"] });
    json!({
        "type": "object",
        "properties": {
            "sessionUpdate": { "const": "subagent_update" },
            "sessionId": { "type": "string" },
            "title": text,
            "description": text,
            "capabilities": {
                "type": ["object", "null"],
                "properties": { "cancel": { "type": ["object", "null"] } }
            },
            "state": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": { "state": { "type": "string" } },
                        "required": ["state"]
                    },
                    { "type": "null" }
                ]
            },
            "cwd": text,
            "_meta": { "type": ["object", "null"] }
        },
        "required": ["sessionUpdate", "sessionId"]
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rejected(message: Value, answered: Option<&str>) -> bool {
        std::panic::catch_unwind(|| check_agent_message(&message, answered)).is_err()
    }

    #[test]
    fn the_schema_check_rejects_malformed_messages_and_accepts_valid_ones() {
        if SCHEMA.get_or_init(load).is_none() {
            eprintln!(
                "schema not installed: nothing to check (OUROCODUS_REQUIRE_SCHEMA makes this a failure)"
            );
            return;
        }
        let update = |u: Value| json!({"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s", "update": u}});
        check_agent_message(
            &update(
                json!({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "hi"}}),
            ),
            None,
        );
        check_agent_message(
            &update(
                json!({"sessionUpdate": "subagent_update", "sessionId": "c", "state": {"state": "idle"}}),
            ),
            None,
        );
        assert!(rejected(
            update(json!({"sessionUpdate": "agent_message_chunk"})),
            None
        ));
        assert!(rejected(
            update(json!({"sessionUpdate": "subagent_update", "sessionId": "c", "state": "done"})),
            None
        ));
        assert!(rejected(
            json!({"jsonrpc": "2.0", "id": 1, "result": {"stopReason": "finished"}}),
            Some("session/prompt")
        ));
        assert!(rejected(
            json!({"jsonrpc": "2.0", "id": 1, "method": "session/request_permission", "params": {"sessionId": "s"}}),
            None
        ));
        assert!(rejected(
            json!({"jsonrpc": "2.0", "id": 1, "error": {"message": "no code"}}),
            None
        ));
    }
}
