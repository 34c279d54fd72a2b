//! The demo's editor: an ACP client like a plain editor (no subagent sessions, no
//! file or terminal access). It opens a session, sends each beat's prompt, prints
//! everything the proxy sends through the renderer, answers permission requests by
//! option kind, and cancels when a beat says so. Every wait has a deadline.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::beats::Beat;
use super::failure::DemoFailure;
use super::pace::Pace;
use super::proxy::ProxyProcess;
use super::render::{Renderer, options_of, str_at};

/// How long one request may take, a prompt included (the longest beat takes ~2 s).
const REQUEST_WAIT: Duration = Duration::from_secs(20);

/// Permission options the editor takes, best first: it allows once if it can.
const ALLOW_KINDS: &[&str] = &["allow_once", "allow_always"];

pub struct DemoEditor<'a, W: Write> {
    proxy: &'a mut ProxyProcess,
    renderer: &'a mut Renderer,
    out: W,
    pace: Pace,
    next_id: i64,
    session_id: String,
    /// When the editor sent `session/cancel` in the current turn.
    cancelled_at: Option<Instant>,
}

/// What the editor is waiting for, and what it does meanwhile.
struct Waiting<'b> {
    id: i64,
    method: &'b str,
    /// Send `session/cancel` on the first text of this turn (if not sent yet).
    cancel_on_text: bool,
}

impl<'a, W: Write> DemoEditor<'a, W> {
    pub fn new(
        proxy: &'a mut ProxyProcess,
        renderer: &'a mut Renderer,
        out: W,
        pace: Pace,
    ) -> Self {
        DemoEditor {
            proxy,
            renderer,
            out,
            pace,
            next_id: 0,
            session_id: String::new(),
            cancelled_at: None,
        }
    }

    /// `initialize` as a plain editor, then `session/new` in `cwd`.
    pub fn open_session(&mut self, cwd: &std::path::Path) -> Result<(), DemoFailure> {
        let init = json!({
            "protocolVersion": 1,
            "clientCapabilities": { "fs": { "readTextFile": false, "writeTextFile": false }, "terminal": false },
            "clientInfo": { "name": "ourocodus-demo", "version": crate::VERSION },
        });
        let result = self.call("initialize", init, false)?;
        let roles = result
            .pointer("/_meta/ourocodus/roles")
            .and_then(Value::as_array);
        self.renderer
            .know_roles(roles.into_iter().flatten().filter_map(Value::as_str));
        let result = self.call(
            "session/new",
            json!({ "cwd": cwd, "mcpServers": [] }),
            false,
        )?;
        self.session_id = str_at(&result, "/sessionId")
            .unwrap_or_default()
            .to_string();
        Ok(())
    }

    /// Sends the beat's prompt, shows the turn, and checks how it ended.
    pub fn play(&mut self, beat: &Beat) -> Result<(), DemoFailure> {
        let shown = self.renderer.user_prompt(beat.prompt);
        self.print(&shown)?;
        let params = json!({
            "sessionId": self.session_id,
            "prompt": [{ "type": "text", "text": beat.prompt }],
        });
        let result = self.call("session/prompt", params, beat.cancel_once_text_arrives)?;
        let stop = str_at(&result, "/stopReason")
            .unwrap_or("(none)")
            .to_string();
        let since_cancel = self.cancelled_at.take().map(|sent| sent.elapsed());
        let shown = self.renderer.stop_reason(&stop, since_cancel);
        self.print(&shown)?;
        if stop != beat.expected_stop {
            return Err(DemoFailure::UnexpectedStop {
                step: beat.title.to_string(),
                expected: beat.expected_stop.to_string(),
                actual: stop,
            });
        }
        Ok(())
    }

    /// Sends a request and handles everything the proxy sends until its answer.
    fn call(
        &mut self,
        method: &str,
        params: Value,
        cancel_on_text: bool,
    ) -> Result<Value, DemoFailure> {
        self.next_id += 1;
        let id = self.next_id;
        self.proxy
            .send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))?;
        let mut waiting = Waiting {
            id,
            method,
            cancel_on_text,
        };
        let deadline = Instant::now() + REQUEST_WAIT;
        loop {
            let message = self.proxy.next_before(deadline, method)?;
            if let Some(answer) = self.handle(&message, &mut waiting)? {
                return answer;
            }
        }
    }

    /// Handles one message; `Some` once it is the awaited answer.
    fn handle(
        &mut self,
        message: &Value,
        waiting: &mut Waiting<'_>,
    ) -> Result<Option<Result<Value, DemoFailure>>, DemoFailure> {
        let method = str_at(message, "/method");
        let has_id = message.get("id").is_some_and(|id| !id.is_null());
        match (method, has_id) {
            (None, _) if message.get("id") == Some(&json!(waiting.id)) => {
                Ok(Some(answer_of(message, waiting.method)))
            }
            (None, _) => Ok(None),
            (Some("session/update"), false) => self.show_update(message, waiting).map(|()| None),
            (Some(_), false) => Ok(None),
            (Some(name), true) => self.serve_request(name, message).map(|()| None),
        }
    }

    fn show_update(
        &mut self,
        message: &Value,
        waiting: &mut Waiting<'_>,
    ) -> Result<(), DemoFailure> {
        let update = message.pointer("/params/update").unwrap_or(&Value::Null);
        let shown = self.renderer.session_update(update);
        self.print(&shown)?;
        if waiting.cancel_on_text && is_spoken_text(update) {
            waiting.cancel_on_text = false;
            self.pace.before_cancel();
            self.cancel()?;
        }
        Ok(())
    }

    fn cancel(&mut self) -> Result<(), DemoFailure> {
        let params = json!({ "sessionId": self.session_id });
        self.proxy
            .send(&json!({ "jsonrpc": "2.0", "method": "session/cancel", "params": params }))?;
        self.cancelled_at = Some(Instant::now());
        let shown = self
            .renderer
            .editor_action("⊘ the editor sends session/cancel");
        self.print(&shown)
    }

    /// Answers a request from the proxy: permission by option kind; nothing else is served.
    fn serve_request(&mut self, name: &str, message: &Value) -> Result<(), DemoFailure> {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        if name != "session/request_permission" {
            let error = json!({ "code": -32601, "message": format!("method not found: {name}") });
            return self
                .proxy
                .send(&json!({ "jsonrpc": "2.0", "id": id, "error": error }));
        }
        let params = message.get("params").unwrap_or(&Value::Null);
        let asked = self.renderer.permission_request(params);
        self.print(&asked)?;
        self.pace.before_decision();
        let chosen = choose_allow(params);
        let outcome = match chosen.and_then(|o| o.get("optionId")) {
            Some(option_id) => json!({ "outcome": "selected", "optionId": option_id }),
            None => json!({ "outcome": "cancelled" }),
        };
        self.proxy
            .send(&json!({ "jsonrpc": "2.0", "id": id, "result": { "outcome": outcome } }))?;
        let decided = self.renderer.permission_decision(chosen);
        self.print(&decided)
    }

    /// Prints the demo's own words between beats.
    pub fn narrate(&mut self, text: &str) -> Result<(), DemoFailure> {
        self.print(text)
    }

    fn print(&mut self, text: &str) -> Result<(), DemoFailure> {
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(DemoFailure::Output)
    }
}

/// The result of a response, or its error as a failure.
fn answer_of(response: &Value, method: &str) -> Result<Value, DemoFailure> {
    match response.get("error") {
        Some(error) => Err(DemoFailure::ErrorReply {
            method: method.to_string(),
            error: error.to_string(),
        }),
        None => Ok(response.get("result").cloned().unwrap_or(Value::Null)),
    }
}

/// A role's own words (not a speaker label the proxy added).
fn is_spoken_text(update: &Value) -> bool {
    str_at(update, "/sessionUpdate") == Some("agent_message_chunk")
        && update
            .pointer("/_meta/ourocodus/label")
            .and_then(Value::as_bool)
            != Some(true)
}

/// The first offered option of the best allow kind.
fn choose_allow(params: &Value) -> Option<&Value> {
    ALLOW_KINDS
        .iter()
        .find_map(|kind| options_of(params).find(|o| str_at(o, "/kind") == Some(kind)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editor_allows_once_whatever_the_order_of_the_options() {
        let params = json!({ "options": [
            { "optionId": "r", "name": "Reject", "kind": "reject_once" },
            { "optionId": "aa", "name": "Always", "kind": "allow_always" },
            { "optionId": "a1", "name": "Once", "kind": "allow_once" },
        ]});
        assert_eq!(
            choose_allow(&params).and_then(|o| o.get("optionId")),
            Some(&json!("a1"))
        );
    }

    #[test]
    fn without_an_allow_option_the_editor_chooses_none() {
        let params =
            json!({ "options": [{ "optionId": "r", "name": "Reject", "kind": "reject_once" }] });
        assert!(choose_allow(&params).is_none());
    }

    #[test]
    fn labels_do_not_count_as_a_role_speaking() {
        let label = json!({ "sessionUpdate": "agent_message_chunk", "content": { "type": "text", "text": "**[test]**" },
                            "_meta": { "ourocodus": { "role": "test", "label": true } } });
        let words = json!({ "sessionUpdate": "agent_message_chunk", "content": { "type": "text", "text": "hi" },
                            "_meta": { "ourocodus": { "role": "test" } } });
        assert!(!is_spoken_text(&label));
        assert!(is_spoken_text(&words));
    }

    #[test]
    fn an_error_response_is_a_failure_naming_the_method() {
        let response =
            json!({ "jsonrpc": "2.0", "id": 3, "error": { "code": -32603, "message": "boom" } });
        let failure = answer_of(&response, "session/prompt").expect_err("an error");
        assert!(failure.to_string().contains("session/prompt"));
        assert!(failure.to_string().contains("boom"));
    }
}
