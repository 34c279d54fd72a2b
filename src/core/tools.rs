//! Tool calls and the permission policy. The core remembers what each tool call
//! announced (kind, Claude tool name, paths), because agents' permission requests may
//! omit it, and the one id the team knows each call by; then decides each permission
//! request by the role's `tools_deny` / `tools_allow` and `directories` before any
//! client sees it.

use serde_json::{Value, json};

use super::Core;
use super::output::{PermissionDecision, RelayKind, RelayRequest, Severity, TeamEvent};
use super::quote::{PATH_CHARS, TITLE_CHARS, agent_text};
use super::tool_calls::ToolCallInfo;
use crate::acp::method;
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::RequestId;
use crate::policy::{self, ToolDecision};
use crate::transport::AgentKey;

impl Core {
    /// Records a `tool_call` / `tool_call_update`; warns when two roles edit one file
    /// and when an edit lands outside the role's directories without having asked.
    /// Returns the id the team knows the call by.
    pub(super) fn note_tool_call(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        turn: Option<u64>,
        update: &Value,
    ) -> Option<String> {
        let id = update.get("toolCallId").and_then(Value::as_str)?;
        let announces = update.get("sessionUpdate").and_then(Value::as_str) == Some("tool_call");
        let rs = self.role_session_mut(session_id, role)?;
        let (info, known_paths) = rs.tool_calls.note(role, id, turn, announces, update);
        let team_id = info.team_id.clone();
        if !info.writes_files() {
            return Some(team_id);
        }
        let info = info.clone();
        for path in &info.paths[known_paths..] {
            self.note_file_touched(session_id, role, path);
        }
        let done = matches!(
            update.get("status").and_then(Value::as_str),
            Some("completed" | "in_progress")
        );
        if done && !info.reported_outside {
            self.report_unasked_write(session_id, role, id, &info);
        }
        Some(team_id)
    }

    /// The team's id for one of the role's tool calls in a session.
    pub(super) fn team_tool_call_id(
        &self,
        session_id: &SessionId,
        role: &Role,
        id: &str,
    ) -> String {
        match self
            .sessions
            .get(session_id)
            .and_then(|s| s.roles.get(role))
        {
            Some(rs) => rs.tool_calls.team_id(role, id),
            None => format!("{role}/{id}"),
        }
    }

    /// An agent that edits files itself (Claude Code does) and did not ask: the proxy
    /// cannot stop it here, but the user learns at once.
    fn report_unasked_write(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        id: &str,
        info: &ToolCallInfo,
    ) {
        let outside: Vec<String> = self.paths_outside_directories(session_id, role, &info.paths);
        if outside.is_empty() {
            return;
        }
        if let Some(rs) = self.role_session_mut(session_id, role) {
            rs.tool_calls.mark_reported_outside(id);
        }
        let title = format!("{role} changed files outside its directories without asking");
        let description = format!(
            "{} — set this role's mode to one that asks before editing",
            shown_paths(&outside)
        );
        self.notify(
            session_id,
            Some(role),
            Severity::Error,
            &title,
            Some(&description),
        );
    }

    fn paths_outside_directories(
        &self,
        session_id: &SessionId,
        role: &Role,
        paths: &[String],
    ) -> Vec<String> {
        let Some(slot) = self.agents.get(role) else {
            return Vec::new();
        };
        // Without a place to count from, every path counts as outside.
        let Ok(cwd) = self.role_cwd(session_id, role) else {
            return paths.to_vec();
        };
        paths
            .iter()
            .filter(|p| {
                policy::check_write(p, &cwd, &slot.spec.directories)
                    .refusal
                    .is_some()
            })
            .cloned()
            .collect()
    }

    pub(super) fn on_permission_request(
        &mut self,
        key: &AgentKey,
        id: &RequestId,
        params: Value,
    ) -> Result<(), RpcError> {
        let role = &key.role;
        let session = self.session_of_request(role, &params)?;
        let tool_call = params.get("toolCall").cloned().unwrap_or(Value::Null);
        let info = self.tool_call_info(&session, role, &tool_call);
        let options = params
            .get("options")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let title = tool_call
            .get("title")
            .and_then(Value::as_str)
            .or(info.tool_names.first().map(String::as_str))
            .unwrap_or("a tool")
            .to_string();
        let tool_call_id = tool_call
            .get("toolCallId")
            .and_then(Value::as_str)
            .map(|id| self.team_tool_call_id(&session, role, id));
        if let Some(why) = self.refusal_for(&session, role, &info) {
            let answer = choose_option(&options, &["reject_once", "reject_always"]).to_string();
            self.record_permission(
                &session,
                role,
                &tool_call_id,
                &title,
                PermissionDecision::Refused,
                Some(&why),
            );
            self.answer_agent(key, id, Ok(answer));
            let title = format!(
                "{role}: “{}” refused by policy",
                agent_text(&title, TITLE_CHARS)
            );
            self.notify(&session, Some(role), Severity::Warning, &title, Some(&why));
            return Ok(());
        }
        if let Some(why) = self
            .automatic_allow(role, &info)
            .filter(|_| has_option(&options, "allow_once"))
        {
            tracing::info!(role = %role, why = %why, title = %title, "permission allowed by policy");
            self.record_permission(
                &session,
                role,
                &tool_call_id,
                &title,
                PermissionDecision::Allowed,
                Some(&why),
            );
            let answer = choose_option(&options, &["allow_once"]).to_string();
            self.answer_agent(key, id, Ok(answer));
            return Ok(());
        }
        self.announce_tool_call_if_new(&session, role, &params, &tool_call);
        self.record_permission(
            &session,
            role,
            &tool_call_id,
            &title,
            PermissionDecision::Asked,
            None,
        );
        let mut params = params;
        if let (Some(object), Some(team_id)) = (
            params.get_mut("toolCall").and_then(Value::as_object_mut),
            tool_call_id,
        ) {
            object.insert("toolCallId".into(), json!(team_id));
        }
        let request = RelayRequest {
            kind: RelayKind::Permission,
            method: method::REQUEST_PERMISSION.to_string(),
            params,
        };
        self.relay(key, id, &session, request);
        Ok(())
    }

    fn record_permission(
        &mut self,
        session: &SessionId,
        role: &Role,
        tool_call_id: &Option<String>,
        title: &str,
        decision: PermissionDecision,
        reason: Option<&str>,
    ) {
        let event = TeamEvent::Permission {
            role,
            tool_call_id: tool_call_id.as_deref(),
            title,
            decision,
            reason,
        };
        self.emit(session, &event);
    }

    /// The tool call as announced so far, with the request's own `toolCall` on top;
    /// what the request claims (its kind) stays with the call for later requests.
    fn tool_call_info(
        &mut self,
        session: &SessionId,
        role: &Role,
        tool_call: &Value,
    ) -> ToolCallInfo {
        let turn = self.current_turn(session, role);
        let turn_seq = turn.and_then(|t| self.turns.get(&t)).map(|t| t.seq);
        let id = tool_call.get("toolCallId").and_then(Value::as_str);
        let recorded = id.and_then(|id| {
            let calls = &mut self.role_session_mut(session, role)?.tool_calls;
            Some(calls.note_request(role, id, turn_seq, tool_call))
        });
        recorded.unwrap_or_else(|| {
            let mut info = ToolCallInfo::default();
            info.absorb(tool_call);
            info
        })
    }

    /// Why the proxy refuses this without asking: a denied tool (by any kind or
    /// name it ever had), more names or paths than it checks, or a write outside
    /// the role's directories (every path it carries is checked).
    fn refusal_for(&self, session: &SessionId, role: &Role, info: &ToolCallInfo) -> Option<String> {
        let spec = &self.agents.get(role)?.spec;
        if let ToolDecision::Deny { pattern } = self.tool_decision(role, info)? {
            return Some(format!("matches tools_deny entry `{pattern}`"));
        }
        if info.overflowed {
            return Some("names more kinds, tools or paths than the proxy checks".to_string());
        }
        if info.writes_files() {
            let outside = self.paths_outside_directories(session, role, &info.paths);
            if !outside.is_empty() {
                let dirs: Vec<String> = spec
                    .directories
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect();
                return Some(format!(
                    "writes {} — outside this role's directories ({})",
                    shown_paths(&outside),
                    dirs.join(", ")
                ));
            }
        }
        None
    }

    /// Why this goes through unasked: a `tools_allow` entry, or the proxy's own
    /// `acceptEdits` for an edit whose every path is inside the role's directories
    /// (`refusal_for` has already refused those outside). A write that names no path
    /// cannot be checked against the role's directories: the user is asked.
    fn automatic_allow(&self, role: &Role, info: &ToolCallInfo) -> Option<String> {
        if info.writes_files() && info.paths.is_empty() {
            return None;
        }
        match self.tool_decision(role, info)? {
            ToolDecision::Allow { pattern } => Some(format!("tools_allow entry `{pattern}`")),
            ToolDecision::Ask if info.writes_files() && self.accepts_edits(role) => {
                Some("acceptEdits, applied by the proxy inside the role's directories".to_string())
            }
            _ => None,
        }
    }

    /// The role's configured mode is `acceptEdits`, which the proxy applies itself.
    fn accepts_edits(&self, role: &Role) -> bool {
        self.agents
            .get(role)
            .and_then(|slot| slot.spec.mode.as_deref())
            .is_some_and(super::agents::is_accept_edits)
    }

    fn tool_decision(&self, role: &Role, info: &ToolCallInfo) -> Option<ToolDecision> {
        let spec = &self.agents.get(role)?.spec;
        Some(policy::decide_tool_call(
            &spec.tools_allow,
            &spec.tools_deny,
            &info.kinds,
            &info.tool_names,
        ))
    }

    /// Clients show a permission request inside its tool call's card: make sure the
    /// card exists before the request arrives.
    fn announce_tool_call_if_new(
        &mut self,
        session: &SessionId,
        role: &Role,
        params: &Value,
        tool_call: &Value,
    ) {
        let Some(tool_call_id) = tool_call.get("toolCallId").and_then(Value::as_str) else {
            return;
        };
        let announced = self
            .sessions
            .get(session)
            .and_then(|s| s.roles.get(role))
            .is_some_and(|rs| rs.tool_calls.announced(tool_call_id));
        if announced {
            return;
        }
        let mut update = tool_call.clone();
        update["sessionUpdate"] = json!("tool_call");
        if update.get("title").and_then(Value::as_str).is_none() {
            update["title"] = json!("Permission requested");
        }
        if update.get("status").is_none_or(Value::is_null) {
            update["status"] = json!("pending");
        }
        let child_params = json!({ "sessionId": params["sessionId"], "update": update });
        self.handle_session_update(role, &child_params.to_string());
    }
}

/// Agent-chosen paths as the proxy's notices show them.
fn shown_paths(paths: &[String]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| agent_text(p, PATH_CHARS)).collect();
    shown.join(", ")
}

fn has_option(options: &[Value], kind: &str) -> bool {
    options
        .iter()
        .any(|o| o.get("kind").and_then(Value::as_str) == Some(kind))
}

/// A permission answer choosing the first option of the first kind available (by
/// kind, never by position or text), or `cancelled` when there is none.
fn choose_option(options: &[Value], kinds: &[&str]) -> Value {
    let chosen = kinds.iter().find_map(|kind| {
        options
            .iter()
            .find(|o| o.get("kind").and_then(Value::as_str) == Some(kind))
            .and_then(|o| o.get("optionId").cloned())
    });
    match chosen {
        Some(option_id) => json!({ "outcome": { "outcome": "selected", "optionId": option_id } }),
        None => json!({ "outcome": { "outcome": "cancelled" } }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_chosen_by_kind_not_position() {
        let options = vec![
            json!({"optionId": "yes", "name": "Yes", "kind": "allow_once"}),
            json!({"optionId": "no", "name": "No", "kind": "reject_once"}),
        ];
        assert_eq!(
            choose_option(&options, &["reject_once"])["outcome"]["optionId"],
            "no"
        );
        assert_eq!(
            choose_option(&options, &["reject_always"])["outcome"]["outcome"],
            "cancelled"
        );
    }
}
