//! A role's update as an ACP client sees it, written straight into the client's
//! output: its session id (the parent's or the role's subagent session), the team's
//! tool call id, `role: ` before tool call titles for plain clients, and the role in
//! `update._meta.ourocodus.role`, and no `ourocodus` key in the params' own `_meta`
//! (only the proxy speaks as `ourocodus`); every other byte as the agent sent it.

use super::floor::ItemKind;
use crate::core::{RoleUpdate, UpdateKind};
use crate::jsonrpc::raw::{ObjectWriter, RawObject};
use crate::jsonrpc::{Field, ObjectFields, write_json_string};

const UPDATE_HEAD: &[u8] = br#"{"jsonrpc":"2.0","method":"session/update","params":"#;

/// How a role's update is rewritten for one client.
pub struct Rewrite<'a> {
    /// The client-side session (the parent, or the role's subagent session).
    pub session: &'a str,
    /// Plain clients see `role: ` in tool call titles.
    pub prefix_title: bool,
}

/// Builds the client's copy of a role's update: the agent's params field by field,
/// in their order, with only the session id and the update changed.
pub fn write_update_line(out: &mut Vec<u8>, update: &RoleUpdate<'_>, rewrite: &Rewrite<'_>) {
    out.extend_from_slice(UPDATE_HEAD);
    let mut writer = ObjectWriter::new(out);
    for field in update.params.iter() {
        if field.key_is("update") && field.object().is_some() {
            writer.with("update", |out| write_update(out, update, rewrite));
        } else if field.key_is("sessionId") {
            writer.string("sessionId", rewrite.session);
        } else if field.key_is("_meta") {
            write_params_meta(&mut writer, &field);
        } else {
            writer.verbatim(field.text());
        }
    }
    writer.finish();
    out.extend_from_slice(b"}\n");
}

/// The params' own `_meta`: verbatim, unless the agent put an `ourocodus` key in it
/// (then written without it). Rare, so parsed here rather than indexed.
fn write_params_meta(writer: &mut ObjectWriter<'_>, field: &Field<'_>) {
    let meta = RawObject::parse(field.value()).ok();
    let Some(meta) = meta.filter(|m| m.fields().any(|(key, _)| key == "ourocodus")) else {
        return writer.verbatim(field.text());
    };
    writer.with("_meta", |out| {
        let mut foreign = ObjectWriter::new(out);
        for (key, value) in meta.fields().filter(|(key, _)| *key != "ourocodus") {
            foreign.raw(key, value.get());
        }
        foreign.finish();
    });
}

fn write_update(out: &mut Vec<u8>, update: &RoleUpdate<'_>, rewrite: &Rewrite<'_>) {
    let role = update.role.as_str();
    let prefix_title = rewrite.prefix_title && update.kind.is_tool_call();
    let mut writer = ObjectWriter::new(out);
    let mut had_meta = false;
    for field in update.update.iter() {
        let key = field.key();
        match key.as_ref() {
            "toolCallId" => match (update.tool_call_id, field.as_str()) {
                (Some(team_id), _) => writer.string(&key, team_id),
                (None, Some(id)) => writer.prefixed_string(&key, &[role, "/"], &id),
                (None, None) => writer.verbatim(field.text()),
            },
            "title" if prefix_title => match field.as_str() {
                Some(title) => writer.prefixed_string(&key, &[role, ": "], &title),
                None => writer.verbatim(field.text()),
            },
            "_meta" => {
                had_meta = true;
                writer.with(&key, |out| write_role_meta(out, Some(field.value()), role));
            }
            _ => writer.verbatim(field.text()),
        }
    }
    if !had_meta {
        writer.with("_meta", |out| write_role_meta(out, None, role));
    }
    writer.finish();
}

/// Text chunks take part in line discipline; everything else stands apart.
pub fn item_kind(kind: UpdateKind, update: ObjectFields<'_>) -> ItemKind {
    /// The two fields of a content block that matter here, read without allocating.
    #[derive(serde::Deserialize)]
    struct ContentView<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        text: Option<&'a serde_json::value::RawValue>,
    }
    if !matches!(
        kind,
        UpdateKind::AgentMessageChunk | UpdateKind::AgentThoughtChunk
    ) {
        return ItemKind::Other;
    }
    if let Some(ends_line) = update
        .get("content")
        .and_then(|c| plain_text_block_ends_line(c.value()))
    {
        return ItemKind::Text { ends_line };
    }
    let content = update
        .get("content")
        .and_then(|c| serde_json::from_str::<ContentView<'_>>(c.value()).ok());
    match content {
        Some(ContentView {
            kind: Some(kind),
            text: Some(raw),
        }) if kind == "text" => ItemKind::Text {
            ends_line: literal_ends_with_newline(raw.get()),
        },
        _ => ItemKind::Other,
    }
}

/// The common case read without a parse: a content block written exactly as
/// `{"type":"text","text":"..."}`. `None` for anything else (then it is parsed).
fn plain_text_block_ends_line(content: &str) -> Option<bool> {
    const PREFIX: &str = r#"{"type":"text","text":""#;
    let body = content.strip_prefix(PREFIX)?;
    let bytes = body.as_bytes();
    let mut at = 0;
    // Find the text literal's closing quote: the first quote not escaped.
    let close = loop {
        let found = at + memchr::memchr2(b'"', b'\\', &bytes[at..])?;
        if bytes[found] == b'\\' {
            at = found + 2;
            continue;
        }
        break found;
    };
    (close + 2 == bytes.len() && bytes[close + 1] == b'}')
        .then(|| literal_ends_with_newline(&content[PREFIX.len() - 1..PREFIX.len() + close + 1]))
}

/// Whether a JSON string literal's text ends in `\n`, without unescaping it: the
/// literal ends in `\n"` with the backslash not itself escaped.
fn literal_ends_with_newline(literal: &str) -> bool {
    if literal.ends_with("\\u000a\"") || literal.ends_with("\\u000A\"") {
        let body = &literal[..literal.len() - 7];
        return body.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 0;
    }
    let Some(body) = literal.strip_suffix("n\"") else {
        return false;
    };
    let backslashes = body.bytes().rev().take_while(|b| *b == b'\\').count();
    backslashes % 2 == 1
}

/// Writes `_meta` with `ourocodus.role` set, keeping every other key of `existing`.
fn write_role_meta(out: &mut Vec<u8>, existing: Option<&str>, role: &str) {
    let Some(existing) = existing else {
        // The common case (no `_meta` of the agent's), written in one piece.
        out.extend_from_slice(br#"{"ourocodus":{"role":"#);
        write_json_string(out, role);
        out.extend_from_slice(b"}}");
        return;
    };
    let parsed = RawObject::parse(existing).ok();
    let mut meta = ObjectWriter::new(out);
    if let Some(parsed) = &parsed {
        for (key, value) in parsed.fields().filter(|(k, _)| *k != "ourocodus") {
            meta.raw(key, value.get());
        }
    }
    meta.with("ourocodus", |out| {
        let mut ours = ObjectWriter::new(out);
        ours.string("role", role);
        ours.finish();
    });
    meta.finish();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Role;
    use crate::jsonrpc::IndexedObject;
    use serde_json::Value;

    /// Writes the client's copy of agent params the way the core hands them over.
    fn rewritten(params: &str, role: &str, team_id: Option<&str>, rewrite: &Rewrite<'_>) -> Value {
        let indexed = IndexedObject::new(params).unwrap();
        let fields = indexed.fields();
        let update = fields.get("update").and_then(|f| f.object()).unwrap();
        let role = Role::new(role);
        let kind = UpdateKind::from_wire(update.get_str("sessionUpdate").as_deref().unwrap_or(""));
        let update = RoleUpdate {
            role: &role,
            turn: None,
            kind,
            tool_call_id: team_id,
            params_text: params,
            params: fields,
            update,
        };
        let mut out = Vec::new();
        write_update_line(&mut out, &update, rewrite);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn an_agents_ourocodus_key_in_the_params_meta_is_dropped_and_the_rest_kept() {
        let params = r#"{"sessionId":"child-1","update":{"sessionUpdate":"agent_message_chunk"},"_meta":{"a":1,"ourocodus":{"label":true},"b":[2]}}"#;
        let rewrite = Rewrite {
            session: "ouro-1",
            prefix_title: false,
        };
        let v = rewritten(params, "backend", None, &rewrite);
        assert_eq!(v["params"]["_meta"], serde_json::json!({"a": 1, "b": [2]}));
    }

    #[test]
    fn the_client_copy_has_the_team_tool_call_id_the_titled_role_and_foreign_meta() {
        let params = r#"{"sessionId":"child-1","update":{"sessionUpdate":"tool_call","toolCallId":"toolu_01","title":"Read","_meta":{"claudeCode":{"toolName":"Read"}}},"_meta":{"x":1}}"#;
        let rewrite = Rewrite {
            session: "ouro-1",
            prefix_title: true,
        };
        let v = rewritten(params, "backend", Some("backend/toolu_01.2"), &rewrite);
        assert_eq!(v["params"]["sessionId"], "ouro-1");
        assert_eq!(v["params"]["_meta"]["x"], 1);
        let update = &v["params"]["update"];
        assert_eq!(update["toolCallId"], "backend/toolu_01.2");
        assert_eq!(update["title"], "backend: Read");
        assert_eq!(update["_meta"]["claudeCode"]["toolName"], "Read");
        assert_eq!(update["_meta"]["ourocodus"]["role"], "backend");
    }

    #[test]
    fn unknown_variants_pass_through_with_only_the_role_added() {
        let params = r#"{"sessionId":"c","update":{"sessionUpdate":"future_thing","title":"kept","payload":{"deep":[1,{"a":null}]}}}"#;
        let rewrite = Rewrite {
            session: "s",
            prefix_title: true,
        };
        let v = rewritten(params, "test", None, &rewrite);
        let update = &v["params"]["update"];
        assert_eq!(
            update["payload"],
            serde_json::json!({"deep":[1,{"a":null}]})
        );
        assert_eq!(
            update["title"], "kept",
            "only tool call titles are prefixed"
        );
        assert_eq!(update["_meta"]["ourocodus"]["role"], "test");
    }

    #[test]
    fn role_meta_without_an_agents_meta_is_ours_alone() {
        let mut out = Vec::new();
        write_role_meta(&mut out, None, "back\"end");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v, serde_json::json!({"ourocodus":{"role":"back\"end"}}));
    }

    #[test]
    fn role_meta_replaces_ours_and_keeps_foreign_keys() {
        let existing = r#"{"claudeCode":{"toolName":"Bash"},"ourocodus":{"role":"x"}}"#;
        let mut out = Vec::new();
        write_role_meta(&mut out, Some(existing), "backend");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"claudeCode":{"toolName":"Bash"},"ourocodus":{"role":"backend"}})
        );
    }

    #[test]
    fn plain_text_blocks_are_read_without_a_parse_and_others_are_left_to_it() {
        assert_eq!(
            plain_text_block_ends_line(r#"{"type":"text","text":"a\n"}"#),
            Some(true)
        );
        assert_eq!(
            plain_text_block_ends_line(r#"{"type":"text","text":"a \"q\" b"}"#),
            Some(false)
        );
        assert_eq!(
            plain_text_block_ends_line(r#"{"type":"text","text":"a\\"}"#),
            Some(false)
        );
        assert_eq!(
            plain_text_block_ends_line(r#"{"type":"text","text":"a\n","x":"y"}"#),
            None
        );
        assert_eq!(
            plain_text_block_ends_line(r#"{"text":"a\n","type":"text"}"#),
            None
        );
        assert_eq!(
            plain_text_block_ends_line(r#"{"type": "text", "text": "a"}"#),
            None
        );
    }

    #[test]
    fn newline_endings_are_read_from_the_literal() {
        assert!(literal_ends_with_newline(r#""abc\n""#));
        assert!(!literal_ends_with_newline(r#""abc\\n""#));
        assert!(literal_ends_with_newline(r#""abc\\\n""#));
        assert!(!literal_ends_with_newline(r#""abc""#));
    }
}
