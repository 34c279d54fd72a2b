//! One role's tool calls in one session: what each announced (kind, Claude tool
//! name, paths) and the one id the team knows it by. Pure; knows nothing of the
//! wire or of policy.

use std::collections::HashMap;

use serde_json::Value;

use crate::ids::Role;

/// Claude tools that write files (they act on disk directly, without `fs/*`).
const CLAUDE_WRITE_TOOLS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit"];
/// `rawInput` fields that name the file a tool works on.
const RAW_INPUT_PATH_FIELDS: &[&str] = &["file_path", "path", "notebook_path"];

/// One role's tool calls in one session: what each announced, and its team id.
#[derive(Debug, Default)]
pub struct ToolCalls {
    /// By the agent's id.
    calls: HashMap<String, ToolCallInfo>,
    /// How many times the role reused a tool call id from an earlier turn.
    reuses: u32,
}

/// What the core learned about one tool call from its updates.
#[derive(Debug, Default, Clone)]
pub struct ToolCallInfo {
    pub kind: Option<String>,
    /// The Claude tool name (`_meta.claudeCode.toolName`), if any.
    pub tool_name: Option<String>,
    /// Files it touches: `locations[].path` and the usual `rawInput` path fields.
    pub paths: Vec<String>,
    /// Already reported as writing outside the role's directories.
    pub reported_outside: bool,
    /// The turn (session numbering) that announced it.
    pub turn: Option<u64>,
    /// The id the team knows it by: `role/<agent's id>`, with `.N` after a reuse.
    pub team_id: String,
}

impl ToolCalls {
    /// The team's id for the role's tool call `id`: `role/id`, or `role/id.N` when
    /// the agent reused the id from an earlier turn. The one rule for every place a
    /// tool call id leaves the core (updates, permission requests, elicitations).
    pub fn team_id(&self, role: &Role, id: &str) -> String {
        match self.calls.get(id) {
            Some(info) => info.team_id.clone(),
            None => format!("{role}/{id}"),
        }
    }

    pub fn get(&self, id: &str) -> Option<&ToolCallInfo> {
        self.calls.get(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.calls.contains_key(id)
    }

    /// Notes that a call's writes outside the role's directories were reported.
    pub fn mark_reported_outside(&mut self, id: &str) {
        if let Some(info) = self.calls.get_mut(id) {
            info.reported_outside = true;
        }
    }

    pub fn clear(&mut self) {
        self.calls.clear();
    }

    /// Folds in one update about tool call `id` seen during `turn`; a `tool_call`
    /// that reuses an id from an earlier turn starts a new call with a fresh team id.
    /// Returns the call and how many of its paths were known before this update.
    pub fn note(
        &mut self,
        role: &Role,
        id: &str,
        turn: Option<u64>,
        announces: bool,
        update: &Value,
    ) -> (&mut ToolCallInfo, usize) {
        let reused = announces
            && self
                .calls
                .get(id)
                .is_some_and(|earlier| earlier.turn != turn);
        if reused {
            self.reuses += 1;
            let fresh = ToolCallInfo {
                turn,
                team_id: format!("{role}/{id}.{}", self.reuses),
                ..Default::default()
            };
            self.calls.insert(id.to_string(), fresh);
        }
        let info = self
            .calls
            .entry(id.to_string())
            .or_insert_with(|| ToolCallInfo {
                turn,
                team_id: format!("{role}/{id}"),
                ..Default::default()
            });
        let known_paths = info.paths.len();
        info.absorb(update);
        (info, known_paths)
    }

    /// Rebuilds the record of a call from a session's history, so that ids reused
    /// after a load still get fresh team ids.
    pub fn remember(&mut self, id: &str, turn: Option<u64>, team_id: &str) {
        if let Some(suffix) = team_id.rsplit_once('.').and_then(|(_, n)| n.parse().ok()) {
            self.reuses = self.reuses.max(suffix);
        }
        let info = self.calls.entry(id.to_string()).or_default();
        info.turn = turn;
        info.team_id = team_id.to_string();
    }
}

impl ToolCallInfo {
    /// Folds in what one update (or a permission request's `toolCall`) says.
    pub fn absorb(&mut self, tool_call: &Value) {
        if let Some(kind) = tool_call.get("kind").and_then(Value::as_str) {
            self.kind = Some(kind.to_string());
        }
        if let Some(name) = tool_call
            .pointer("/_meta/claudeCode/toolName")
            .and_then(Value::as_str)
        {
            self.tool_name = Some(name.to_string());
        }
        let locations = tool_call
            .get("locations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        let located = locations.filter_map(|l| l.get("path")?.as_str());
        let raw_input = tool_call.get("rawInput");
        let named = RAW_INPUT_PATH_FIELDS
            .iter()
            .filter_map(|field| raw_input?.get(field)?.as_str());
        for path in located.chain(named) {
            if !self.paths.iter().any(|p| p == path) {
                self.paths.push(path.to_string());
            }
        }
    }

    pub fn writes_files(&self) -> bool {
        self.kind.as_deref() == Some("edit")
            || self
                .tool_name
                .as_deref()
                .is_some_and(|t| CLAUDE_WRITE_TOOLS.contains(&t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_call_info_gathers_kind_name_and_paths_across_updates() {
        let mut info = ToolCallInfo::default();
        info.absorb(&json!({"kind": "edit", "rawInput": {}, "_meta": {"claudeCode": {"toolName": "Write"}}}));
        info.absorb(
            &json!({"locations": [{"path": "/p/a.rs"}], "rawInput": {"file_path": "/p/a.rs"}}),
        );
        info.absorb(&json!({"rawInput": {"notebook_path": "/p/n.ipynb"}}));
        assert_eq!(info.kind.as_deref(), Some("edit"));
        assert_eq!(info.tool_name.as_deref(), Some("Write"));
        assert_eq!(info.paths, vec!["/p/a.rs", "/p/n.ipynb"]);
        assert!(info.writes_files());
    }

    #[test]
    fn a_reused_tool_call_id_gets_a_fresh_team_id_in_a_later_turn_only() {
        let role = Role::new("test");
        let mut calls = ToolCalls::default();
        let announce = json!({"sessionUpdate": "tool_call", "toolCallId": "call_1"});
        assert_eq!(
            calls
                .note(&role, "call_1", Some(1), true, &announce)
                .0
                .team_id,
            "test/call_1"
        );
        assert_eq!(
            calls
                .note(&role, "call_1", Some(1), false, &json!({}))
                .0
                .team_id,
            "test/call_1"
        );
        assert_eq!(
            calls
                .note(&role, "call_1", Some(2), true, &announce)
                .0
                .team_id,
            "test/call_1.1"
        );
        assert_eq!(calls.team_id(&role, "call_1"), "test/call_1.1");
        assert_eq!(calls.team_id(&role, "never_seen"), "test/never_seen");
    }

    #[test]
    fn history_remembered_after_a_load_keeps_later_reuses_unique() {
        let role = Role::new("test");
        let mut calls = ToolCalls::default();
        calls.remember("call_1", Some(1), "test/call_1");
        calls.remember("call_1", Some(2), "test/call_1.1");
        let announce = json!({"sessionUpdate": "tool_call", "toolCallId": "call_1"});
        assert_eq!(
            calls
                .note(&role, "call_1", Some(3), true, &announce)
                .0
                .team_id,
            "test/call_1.2"
        );
    }
}
