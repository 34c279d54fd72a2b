//! One fake session: what `session/new` told us, its current mode and model, and
//! whether a prompt is running in it. Knows nothing of the wire or of scripts.

use std::sync::Mutex;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The agent-wide settings from the command line that shape every session.
#[derive(Debug, Clone)]
pub struct Offer {
    pub modes: Vec<String>,
    pub models: Vec<String>,
}

/// A session. Immutable facts are plain fields; what changes sits behind a std
/// `Mutex` that is only ever held for a few field updates, never across `.await`.
pub struct Session {
    pub id: String,
    pub cwd: String,
    pub mcp_server_names: Vec<String>,
    pub mcp_servers: Vec<Value>,
    /// `_meta.systemPrompt` of `session/new`, as received.
    pub system_prompt: Option<Value>,
    /// The `clientCapabilities` of `initialize`, as received.
    pub client_capabilities: Value,
    offer: Offer,
    state: Mutex<State>,
}

struct State {
    /// Context a proxy gave before the script (`[ourocodus] ...` text blocks).
    preamble: Option<String>,
    mode: Option<String>,
    model: Option<String>,
    /// Set while a prompt runs; cancelling it stops that prompt's script.
    running_turn: Option<CancellationToken>,
}

/// What `session/new` (or `session/load`) said about the session.
pub struct NewSession {
    pub id: String,
    pub cwd: String,
    pub mcp_server_names: Vec<String>,
    /// The MCP servers as given (for the `mcp` step).
    pub mcp_servers: Vec<Value>,
    pub system_prompt: Option<Value>,
    pub client_capabilities: Value,
}

impl Session {
    pub fn new(facts: NewSession, offer: Offer) -> Self {
        let state = State {
            preamble: None,
            mode: offer.modes.first().cloned(),
            model: offer.models.first().cloned(),
            running_turn: None,
        };
        Session {
            id: facts.id,
            cwd: facts.cwd,
            mcp_server_names: facts.mcp_server_names,
            mcp_servers: facts.mcp_servers,
            system_prompt: facts.system_prompt,
            client_capabilities: facts.client_capabilities,
            offer,
            state: Mutex::new(state),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the fields half-written.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn mode(&self) -> Option<String> {
        self.state().mode.clone()
    }

    /// The context a proxy put before the first script, if any.
    pub fn preamble(&self) -> Option<String> {
        self.state().preamble.clone()
    }

    pub fn set_preamble(&self, preamble: String) {
        self.state().preamble = Some(preamble);
    }

    pub fn model(&self) -> Option<String> {
        self.state().model.clone()
    }

    /// `modes` for `session/new`: absent when modes are switched off.
    pub fn modes_json(&self) -> Option<Value> {
        let current = self.mode()?;
        let available: Vec<Value> = self
            .offer
            .modes
            .iter()
            .map(|id| json!({ "id": id, "name": display_name(id) }))
            .collect();
        Some(json!({ "currentModeId": current, "availableModes": available }))
    }

    /// The full `configOptions` list: the model selector, if there are models.
    pub fn config_options_json(&self) -> Value {
        let Some(current) = self.model() else {
            return json!([]);
        };
        let options: Vec<Value> = self
            .offer
            .models
            .iter()
            .map(|m| json!({ "value": m, "name": display_name(m) }))
            .collect();
        json!([{
            "id": "model",
            "name": "Model",
            "category": "model",
            "type": "select",
            "currentValue": current,
            "options": options,
        }])
    }

    /// Switches to an offered mode.
    pub fn set_mode(&self, mode_id: &str) -> Result<(), String> {
        if !self.offer.modes.iter().any(|m| m == mode_id) {
            return Err(format!("unknown mode `{mode_id}`"));
        }
        self.state().mode = Some(mode_id.to_string());
        Ok(())
    }

    /// Records a mode the agent switched to by itself (any name).
    pub fn force_mode(&self, mode_id: &str) {
        self.state().mode = Some(mode_id.to_string());
    }

    /// Sets a config option; only `model` exists.
    pub fn set_config_option(&self, config_id: &str, value: &Value) -> Result<(), String> {
        if config_id != "model" || self.offer.models.is_empty() {
            return Err(format!("unknown config option `{config_id}`"));
        }
        let value = value
            .as_str()
            .ok_or("the model must be a string value id")?;
        if !self.offer.models.iter().any(|m| m == value) {
            return Err(format!("unknown model `{value}`"));
        }
        self.state().model = Some(value.to_string());
        Ok(())
    }

    /// Marks a prompt as running; `None` if one already is.
    pub fn begin_turn(&self) -> Option<CancellationToken> {
        let mut state = self.state();
        if state.running_turn.is_some() {
            return None;
        }
        let token = CancellationToken::new();
        state.running_turn = Some(token.clone());
        Some(token)
    }

    pub fn end_turn(&self) {
        self.state().running_turn = None;
    }

    /// Cancels the running prompt, if any.
    pub fn cancel_turn(&self) {
        if let Some(token) = &self.state().running_turn {
            token.cancel();
        }
    }
}

/// `plan` → `Plan`, for names shown to users.
fn display_name(id: &str) -> String {
    let mut chars = id.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Lists what the client advertised: `true` flags and present `{}` objects, as
/// dotted paths (`fs.readTextFile`, `terminal`, `elicitation.form`). `_meta` is left out.
pub fn advertised_capabilities(capabilities: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_capabilities("", capabilities, &mut out);
    out
}

fn collect_capabilities(prefix: &str, value: &Value, out: &mut Vec<String>) {
    let Value::Object(fields) = value else {
        return;
    };
    for (key, value) in fields {
        if key == "_meta" {
            continue;
        }
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Bool(true) => out.push(path),
            Value::Object(inner) if inner.is_empty() => out.push(path),
            Value::Object(_) => collect_capabilities(&path, value, out),
            _ => {}
        }
    }
}

/// Whether the client advertised the capability at this dotted path.
pub fn has_capability(capabilities: &Value, path: &str) -> bool {
    let mut value = capabilities;
    for key in path.split('.') {
        match value.get(key) {
            Some(inner) => value = inner,
            None => return false,
        }
    }
    matches!(value, Value::Bool(true) | Value::Object(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(modes: &[&str], models: &[&str]) -> Session {
        let facts = NewSession {
            id: "fake-1".into(),
            cwd: "/tmp".into(),
            mcp_server_names: vec![],
            mcp_servers: vec![],
            system_prompt: None,
            client_capabilities: json!({}),
        };
        let offer = Offer {
            modes: modes.iter().map(|m| m.to_string()).collect(),
            models: models.iter().map(|m| m.to_string()).collect(),
        };
        Session::new(facts, offer)
    }

    #[test]
    fn the_first_mode_and_model_are_current_at_the_start() {
        let s = session(&["default", "plan"], &["fast", "smart"]);
        assert_eq!(s.modes_json().unwrap()["currentModeId"], "default");
        assert_eq!(
            s.modes_json().unwrap()["availableModes"][1],
            json!({"id": "plan", "name": "Plan"})
        );
        assert_eq!(s.config_options_json()[0]["currentValue"], "fast");
    }

    #[test]
    fn without_modes_or_models_nothing_is_offered() {
        let s = session(&[], &[]);
        assert_eq!(s.modes_json(), None);
        assert_eq!(s.config_options_json(), json!([]));
        assert!(s.set_config_option("model", &json!("fast")).is_err());
    }

    #[test]
    fn only_offered_modes_and_models_can_be_chosen() {
        let s = session(&["default", "plan"], &["fast", "smart"]);
        assert!(s.set_mode("plan").is_ok());
        assert!(s.set_mode("yolo").is_err());
        assert_eq!(s.mode().as_deref(), Some("plan"));
        assert!(s.set_config_option("model", &json!("smart")).is_ok());
        assert!(s.set_config_option("model", &json!("huge")).is_err());
        assert!(s.set_config_option("effort", &json!("fast")).is_err());
        assert_eq!(s.config_options_json()[0]["currentValue"], "smart");
    }

    #[test]
    fn only_one_turn_runs_at_a_time_and_cancel_reaches_it() {
        let s = session(&[], &[]);
        let token = s.begin_turn().unwrap();
        assert!(s.begin_turn().is_none());
        s.cancel_turn();
        assert!(token.is_cancelled());
        s.end_turn();
        assert!(s.begin_turn().is_some());
    }

    #[test]
    fn advertised_capabilities_are_true_flags_and_present_objects() {
        let caps = json!({
            "fs": {"readTextFile": true, "writeTextFile": false},
            "terminal": true,
            "elicitation": {"form": {}, "url": null},
            "subagents": {},
            "_meta": {"x": true}
        });
        assert_eq!(
            advertised_capabilities(&caps),
            [
                "fs.readTextFile",
                "terminal",
                "elicitation.form",
                "subagents"
            ]
        );
        assert!(has_capability(&caps, "fs.readTextFile"));
        assert!(!has_capability(&caps, "fs.writeTextFile"));
        assert!(has_capability(&caps, "elicitation.form"));
        assert!(!has_capability(&caps, "elicitation.url"));
        assert!(!has_capability(&caps, "auth.terminal"));
    }
}
