//! Steps that involve the client: tool calls, permission requests, file reads and
//! writes, terminals and elicitation. Failures are said in the chat, never fatal.

use std::path::Path;

use serde_json::{Value, json};

use super::{End, StepResult, Turn};
use crate::fake_agent::script::ToolSpec;
use crate::fake_agent::session::has_capability;
use crate::fake_agent::wire;
use crate::jsonrpc::ErrorObject;

impl Turn {
    pub(super) async fn tool_call(&self, spec: &ToolSpec) -> StepResult {
        let call_id = self.announce_tool_call(spec).await?;
        let result = format!("fake result of {}", spec.title);
        self.update(&wire::tool_call_finished(
            &call_id,
            "completed",
            Some(&result),
        ))
        .await
    }

    async fn announce_tool_call(&self, spec: &ToolSpec) -> Result<String, End> {
        let call_id = self.next_tool_call_id();
        let update = wire::tool_call(&call_id, &spec.title, spec.kind, spec.tool_name.as_deref());
        self.update(&update).await?;
        Ok(call_id)
    }

    /// Announces the tool call, asks for permission, reports the choice.
    pub(super) async fn ask_permission(&self, spec: &ToolSpec) -> StepResult {
        let call_id = self.announce_tool_call(spec).await?;
        let params = wire::permission_request(
            &self.session.id,
            &call_id,
            &spec.title,
            spec.kind,
            spec.tool_name.as_deref(),
        );
        let (choice, allowed) = match self.call("session/request_permission", &params).await? {
            Ok(result) => permission_choice(&result),
            Err(e) => (format!("error {}: {}", e.code, e.message), false),
        };
        self.say(&format!("permission: {choice}")).await?;
        let status = if allowed { "completed" } else { "failed" };
        self.update(&wire::tool_call_finished(&call_id, status, None))
            .await
    }

    pub(super) async fn write_file(&self, path: &str, content: &str) -> StepResult {
        let path = self.resolve(path);
        let said = match self.require("fs.writeTextFile") {
            Err(message) => format!("write failed: {message}"),
            Ok(()) => {
                let params =
                    json!({ "sessionId": self.session.id, "path": path, "content": content });
                match self.call("fs/write_text_file", &params).await? {
                    Ok(_) => format!("wrote {path}"),
                    Err(e) => format!("write failed: {}", e.message),
                }
            }
        };
        self.say(&said).await
    }

    pub(super) async fn read_file(&self, path: &str) -> StepResult {
        let path = self.resolve(path);
        let said = match self.require("fs.readTextFile") {
            Err(message) => format!("read failed: {message}"),
            Ok(()) => {
                let params = json!({ "sessionId": self.session.id, "path": path });
                match self.call("fs/read_text_file", &params).await? {
                    Ok(result) => match result.get("content").and_then(Value::as_str) {
                        Some(content) => content.to_string(),
                        None => "read failed: the answer has no content".to_string(),
                    },
                    Err(e) => format!("read failed: {}", e.message),
                }
            }
        };
        self.say(&said).await
    }

    /// Runs a command in a client terminal, shown as an execute tool call, and says its output.
    pub(super) async fn terminal(&self, command: &str, args: &[String]) -> StepResult {
        if let Err(message) = self.require("terminal") {
            return self.say(&format!("terminal failed: {message}")).await;
        }
        let said = match self.run_terminal(command, args).await? {
            Ok(output) if output.is_empty() => "(no output)".to_string(),
            Ok(output) => output,
            Err(e) => format!("terminal failed: {}", e.message),
        };
        self.say(&said).await
    }

    async fn run_terminal(
        &self,
        command: &str,
        args: &[String],
    ) -> Result<Result<String, ErrorObject>, End> {
        let session_id = &self.session.id;
        let params = json!({ "sessionId": session_id, "command": command, "args": args, "cwd": self.session.cwd });
        let created = match self.call("terminal/create", &params).await? {
            Ok(created) => created,
            Err(e) => return Ok(Err(e)),
        };
        let terminal_id = created
            .get("terminalId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let call_id = self.next_tool_call_id();
        let title = std::iter::once(command)
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        self.update(&wire::terminal_tool_call(&call_id, &title, &terminal_id))
            .await?;
        let ids = json!({ "sessionId": session_id, "terminalId": terminal_id });
        let exit = self.call("terminal/wait_for_exit", &ids).await?;
        let output = self.call("terminal/output", &ids).await?;
        let _ = self.call("terminal/release", &ids).await?;
        let succeeded = exit
            .as_ref()
            .is_ok_and(|e| e.get("exitCode").and_then(Value::as_u64) == Some(0));
        let status = if succeeded { "completed" } else { "failed" };
        self.update(&wire::tool_call_finished(&call_id, status, None))
            .await?;
        let text = output.map(|o| {
            o.get("output")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        });
        Ok(text)
    }

    /// Asks the user to fill in a one-field form and says what they did.
    pub(super) async fn elicit(&self, message: &str) -> StepResult {
        let said = match self.require("elicitation.form") {
            Err(message) => format!("elicitation failed: {message}"),
            Ok(()) => match self
                .call(
                    "elicitation/create",
                    &wire::elicitation_request(&self.session.id, message),
                )
                .await?
            {
                Ok(result) => elicitation_outcome(&result),
                Err(e) => format!("elicitation failed: {}", e.message),
            },
        };
        self.say(&said).await
    }

    /// A relative path is taken from the session's working directory.
    pub(super) fn resolve(&self, path: &str) -> String {
        Path::new(&self.session.cwd)
            .join(path)
            .to_string_lossy()
            .into_owned()
    }

    /// Like a careful agent, never call what the client did not advertise.
    fn require(&self, capability: &str) -> Result<(), String> {
        if has_capability(&self.session.client_capabilities, capability) {
            Ok(())
        } else {
            Err(format!("the client did not advertise {capability}"))
        }
    }
}

/// What the user chose, and whether the tool may run.
fn permission_choice(result: &Value) -> (String, bool) {
    let outcome = &result["outcome"];
    match outcome["outcome"].as_str() {
        Some("selected") => {
            let option_id = outcome["optionId"].as_str().unwrap_or("(no option id)");
            (option_id.to_string(), option_id.starts_with("allow"))
        }
        Some("cancelled") => ("cancelled".to_string(), false),
        _ => (format!("unexpected answer {result}"), false),
    }
}

fn elicitation_outcome(result: &Value) -> String {
    let action = result
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("(no action)");
    match result.get("content") {
        Some(content) if action == "accept" && !content.is_null() => {
            format!("elicitation: accept {content}")
        }
        _ => format!("elicitation: {action}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selected_allow_option_lets_the_tool_run() {
        let r = json!({"outcome": {"outcome": "selected", "optionId": "allow-always"}});
        assert_eq!(permission_choice(&r), ("allow-always".to_string(), true));
    }

    #[test]
    fn rejections_and_cancellations_do_not() {
        let r = json!({"outcome": {"outcome": "selected", "optionId": "reject-once"}});
        assert_eq!(permission_choice(&r), ("reject-once".to_string(), false));
        let r = json!({"outcome": {"outcome": "cancelled"}});
        assert_eq!(permission_choice(&r), ("cancelled".to_string(), false));
        assert!(!permission_choice(&json!({})).1);
    }

    #[test]
    fn elicitation_outcomes_name_the_action_and_accepted_content() {
        assert_eq!(
            elicitation_outcome(&json!({"action": "accept", "content": {"answer": "pg"}})),
            r#"elicitation: accept {"answer":"pg"}"#
        );
        assert_eq!(
            elicitation_outcome(&json!({"action": "decline"})),
            "elicitation: decline"
        );
    }
}
