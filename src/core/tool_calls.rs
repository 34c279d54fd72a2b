//! One role's tool calls in one session: what each announced (kind, Claude tool
//! name, paths) and the one id the team knows it by. Pure; knows nothing of the
//! wire or of policy.

use std::collections::HashMap;

use serde_json::Value;

use crate::ids::Role;

/// Claude tools that write files (they act on disk directly, without `fs/*`).
const CLAUDE_WRITE_TOOLS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit"];
/// ACP tool kinds that change files: their paths must lie in the role's directories.
const WRITE_KINDS: &[&str] = &["edit", "delete", "move"];
/// `rawInput` fields that name a file a tool works on (a string or an array of them).
const RAW_INPUT_PATH_FIELDS: &[&str] = &[
    "file_path",
    "filePath",
    "path",
    "paths",
    "notebook_path",
    "notebookPath",
    "new_path",
    "newPath",
    "old_path",
    "oldPath",
    "source",
    "destination",
    "target",
    "from",
    "to",
];
/// Distinct kinds or tool names kept per call; past it the call counts as overflowed.
const MAX_NAMES: usize = 8;
/// Distinct paths kept per call; past it the call counts as overflowed.
const MAX_PATHS: usize = 64;

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
    /// Every kind it was ever given, lowercased, in order: an agent may announce one
    /// kind and ask permission as another, so policy decides on all of them.
    pub kinds: Vec<String>,
    /// Every Claude tool name (`_meta.claudeCode.toolName`) it was given.
    pub tool_names: Vec<String>,
    /// Files it touches: `locations[].path`, `diff` content paths and the usual
    /// `rawInput` path fields.
    pub paths: Vec<String>,
    /// It carried a `diff` content block: it writes, whatever its kind says.
    pub has_diff: bool,
    /// It named more kinds, tool names or paths than are kept: never allowed unasked.
    pub overflowed: bool,
    /// Already reported as writing outside the role's directories.
    pub reported_outside: bool,
    /// An update about it went to clients (a permission request alone does not).
    pub announced: bool,
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

    /// Whether clients have a card for call `id` (an update announced it).
    pub fn announced(&self, id: &str) -> bool {
        self.calls.get(id).is_some_and(|info| info.announced)
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
        let info = self.entry(role, id, turn);
        let known_paths = info.paths.len();
        info.announced = true;
        info.absorb(update);
        (info, known_paths)
    }

    /// Call `id` as known, or a new one of `turn` under the role's prefix.
    fn entry(&mut self, role: &Role, id: &str, turn: Option<u64>) -> &mut ToolCallInfo {
        self.calls
            .entry(id.to_string())
            .or_insert_with(|| ToolCallInfo {
                turn,
                team_id: format!("{role}/{id}"),
                ..Default::default()
            })
    }

    /// A permission request about call `id`: what it claims to be is kept with the
    /// call (so a later request cannot claim less); its paths are not (updates report
    /// them). Returns the call as known now, the request's paths included.
    pub fn note_request(
        &mut self,
        role: &Role,
        id: &str,
        turn: Option<u64>,
        tool_call: &Value,
    ) -> ToolCallInfo {
        let info = self.entry(role, id, turn);
        info.absorb_claims(tool_call);
        let mut now = info.clone();
        now.absorb(tool_call);
        now
    }

    /// Rebuilds the record of a call from a session's history, so that ids reused
    /// after a load still get fresh team ids.
    pub fn remember(&mut self, id: &str, turn: Option<u64>, team_id: &str) {
        if let Some(suffix) = team_id.rsplit_once('.').and_then(|(_, n)| n.parse().ok()) {
            self.reuses = self.reuses.max(suffix);
        }
        let info = self.calls.entry(id.to_string()).or_default();
        info.announced = true;
        info.turn = turn;
        info.team_id = team_id.to_string();
    }
}

impl ToolCallInfo {
    /// Folds in what one update (or a permission request's `toolCall`) says.
    pub fn absorb(&mut self, tool_call: &Value) {
        self.absorb_claims(tool_call);
        for path in paths_named(tool_call) {
            self.overflowed |= !add_distinct(&mut self.paths, path, MAX_PATHS);
        }
    }

    /// Folds in what it claims to be (kinds, tool names, a diff), not its paths.
    fn absorb_claims(&mut self, tool_call: &Value) {
        if let Some(kind) = tool_call.get("kind").and_then(Value::as_str) {
            let kind = kind.to_lowercase();
            self.overflowed |= !add_distinct(&mut self.kinds, &kind, MAX_NAMES);
        }
        if let Some(name) = tool_call
            .pointer("/_meta/claudeCode/toolName")
            .and_then(Value::as_str)
        {
            self.overflowed |= !add_distinct(&mut self.tool_names, name, MAX_NAMES);
        }
        self.has_diff |= content_blocks(tool_call).any(is_diff);
    }

    /// Whether it changes files: a writing kind, a diff, or a Claude write tool.
    pub fn writes_files(&self) -> bool {
        let writing_kind = self.kinds.iter().any(|k| WRITE_KINDS.contains(&k.as_str()));
        let writing_tool = self
            .tool_names
            .iter()
            .any(|t| CLAUDE_WRITE_TOOLS.iter().any(|w| w.eq_ignore_ascii_case(t)));
        writing_kind || writing_tool || self.has_diff
    }
}

/// Adds `item` unless present; false when it is new and `items` is full.
fn add_distinct(items: &mut Vec<String>, item: &str, max: usize) -> bool {
    if items.iter().any(|i| i == item) {
        return true;
    }
    if items.len() >= max {
        return false;
    }
    items.push(item.to_string());
    true
}

fn content_blocks(tool_call: &Value) -> impl Iterator<Item = &Value> {
    tool_call
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn is_diff(block: &Value) -> bool {
    block.get("type").and_then(Value::as_str) == Some("diff")
}

/// Every path a tool call names: its locations, its diffs, its `rawInput` fields.
fn paths_named(tool_call: &Value) -> impl Iterator<Item = &str> {
    let located = tool_call
        .get("locations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("path")?.as_str());
    let diffs = content_blocks(tool_call)
        .filter(|b| is_diff(b))
        .filter_map(|b| b.get("path")?.as_str());
    let raw_input = tool_call.get("rawInput");
    let named = RAW_INPUT_PATH_FIELDS
        .iter()
        .filter_map(move |field| raw_input?.get(field))
        .flat_map(strings_in);
    located.chain(diffs).chain(named)
}

/// A string, or the strings of an array.
fn strings_in(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
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
        assert_eq!(info.kinds, vec!["edit"]);
        assert_eq!(info.tool_names, vec!["Write"]);
        assert_eq!(info.paths, vec!["/p/a.rs", "/p/n.ipynb"]);
        assert!(info.writes_files());
    }

    #[test]
    fn paths_in_diffs_and_other_raw_input_keys_count_and_any_case_of_edit_writes() {
        let mut info = ToolCallInfo::default();
        info.absorb(
            &json!({"kind": "Edit", "content": [{"type": "diff", "path": "/d"}],
            "rawInput": {"filePath": "/f", "destination": "/to", "paths": ["/a", "/b"]}}),
        );
        info.absorb(&json!({"kind": "execute"}));
        assert_eq!(info.kinds, vec!["edit", "execute"]);
        assert_eq!(info.paths, vec!["/d", "/f", "/a", "/b", "/to"]);
        assert!(info.writes_files());
        let mut moved = ToolCallInfo::default();
        moved.absorb(&json!({"kind": "move"}));
        assert!(moved.writes_files());
    }

    #[test]
    fn a_permission_request_leaves_its_kind_with_the_call_but_not_its_paths() {
        let role = Role::new("test");
        let mut calls = ToolCalls::default();
        let asked = json!({"kind": "execute", "locations": [{"path": "/x"}]});
        let now = calls.note_request(&role, "t1", Some(1), &asked);
        assert_eq!(now.paths, vec!["/x"]);
        let again = calls.note_request(&role, "t1", Some(1), &json!({"kind": "edit"}));
        assert_eq!(again.kinds, vec!["execute", "edit"]);
        assert!(again.paths.is_empty());
        assert!(
            !calls.announced("t1"),
            "a request alone does not give clients a card"
        );
        calls.note(
            &role,
            "t1",
            Some(1),
            true,
            &json!({"sessionUpdate": "tool_call"}),
        );
        assert!(calls.announced("t1"));
        assert_eq!(calls.team_id(&role, "t1"), "test/t1");
    }

    #[test]
    fn a_call_naming_too_many_paths_is_marked_overflowed_and_stays_bounded() {
        let mut info = ToolCallInfo::default();
        let paths: Vec<String> = (0..1000).map(|n| format!("/p/{n}")).collect();
        info.absorb(&json!({"rawInput": {"paths": paths}}));
        assert!(info.overflowed);
        assert_eq!(info.paths.len(), MAX_PATHS);
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
