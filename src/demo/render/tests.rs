//! The renderer over canned proxy messages, as `ourocodus acp` sends them to a
//! plain editor.

use serde_json::{Value, json};

use super::Renderer;
use crate::demo::style::Painter;

fn plain() -> Renderer {
    Renderer::new(Painter::plain())
}

fn chunk(role: &str, text: &str) -> Value {
    json!({ "sessionUpdate": "agent_message_chunk", "content": { "type": "text", "text": text },
            "_meta": { "ourocodus": { "role": role } } })
}

fn label(role: &str) -> Value {
    json!({ "sessionUpdate": "agent_message_chunk",
            "content": { "type": "text", "text": format!("\n\n**[{role}]**\n\n") },
            "_meta": { "ourocodus": { "role": role, "label": true } } })
}

fn tool_call(id: &str, title: &str) -> Value {
    json!({ "sessionUpdate": "tool_call", "toolCallId": id, "title": title, "kind": "read",
            "status": "pending", "_meta": { "ourocodus": { "role": "backend" } } })
}

fn tool_done(id: &str, status: &str) -> Value {
    json!({ "sessionUpdate": "tool_call_update", "toolCallId": id, "status": status,
            "_meta": { "ourocodus": { "role": "backend" } } })
}

fn permission_request() -> Value {
    json!({
        "sessionId": "ouro-1",
        "toolCall": { "toolCallId": "backend/call_2", "title": "backend: Edit src/x.rs", "kind": "edit" },
        "options": [
            { "optionId": "allow-once", "name": "Allow once", "kind": "allow_once" },
            { "optionId": "reject-once", "name": "Reject", "kind": "reject_once" },
        ],
        "_meta": { "ourocodus": { "role": "backend" } },
    })
}

/// Renders updates in order and joins what they print.
fn render_all(renderer: &mut Renderer, updates: &[Value]) -> String {
    updates.iter().map(|u| renderer.session_update(u)).collect()
}

#[test]
fn a_speaker_label_becomes_a_role_header_without_its_markdown() {
    let out = render_all(&mut plain(), &[label("backend"), chunk("backend", "hi\n")]);
    assert_eq!(out, "  ● backend\n    hi\n");
    assert!(!out.contains("**"));
}

#[test]
fn streamed_words_share_one_indented_line_until_a_newline() {
    let words = ["Adding ", "the ", "handler", ", done.\n", "Next.\n"].map(|w| chunk("backend", w));
    let out = render_all(&mut plain(), &words);
    assert_eq!(out, "    Adding the handler, done.\n    Next.\n");
}

#[test]
fn a_new_header_ends_a_line_the_previous_speaker_left_open() {
    let updates = [
        label("backend"),
        chunk("backend", "half a line"),
        label("test"),
        chunk("test", "mine\n"),
    ];
    let out = render_all(&mut plain(), &updates);
    assert_eq!(out, "  ● backend\n    half a line\n  ● test\n    mine\n");
}

#[test]
fn strong_text_split_across_chunks_loses_its_stars() {
    let updates = [chunk("a", "a *"), chunk("a", "*bold*"), chunk("a", "* b\n")];
    assert_eq!(render_all(&mut plain(), &updates), "    a bold b\n");
}

#[test]
fn strong_text_is_bold_in_colour() {
    let mut renderer = Renderer::new(Painter::new(true));
    let out = renderer.session_update(&chunk("a", "**x**"));
    assert!(out.contains("\x1b[1;"), "{out:?}");
}

#[test]
fn a_quoted_notice_in_the_chat_is_drawn_with_a_bar() {
    let text = "> ⚠ **@nobody is not a role in this team**  \n> Roles: a, b.\n\n";
    let out = render_all(
        &mut plain(),
        &[label("ourocodus"), chunk("ourocodus", text)],
    );
    assert!(out.contains("  ● ourocodus\n"), "{out}");
    assert!(
        out.contains("    │ ⚠ @nobody is not a role in this team"),
        "{out}"
    );
    assert!(out.contains("    │ Roles: a, b.\n"), "{out}");
}

#[test]
fn runs_of_blank_lines_collapse_to_one() {
    let out = render_all(&mut plain(), &[chunk("a", "one\n\n\n\ntwo\n")]);
    assert_eq!(out, "    one\n\n    two\n");
}

#[test]
fn a_tool_call_and_its_completion_make_one_card_line() {
    let updates = [
        tool_call("backend/call_1", "backend: Reading files"),
        tool_done("backend/call_1", "completed"),
    ];
    let out = render_all(&mut plain(), &updates);
    assert_eq!(out, "  ▸ backend: Reading files … completed\n");
}

#[test]
fn a_card_interrupted_by_a_permission_prompt_is_repeated_with_its_outcome() {
    let mut renderer = plain();
    let mut out = renderer.session_update(&tool_call("backend/call_2", "backend: Edit src/x.rs"));
    out.push_str(&renderer.permission_request(&permission_request()));
    out.push_str(&renderer.permission_decision(permission_request()["options"].get(0)));
    out.push_str(&renderer.session_update(&tool_done("backend/call_2", "failed")));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "  ▸ backend: Edit src/x.rs …");
    assert_eq!(
        lines[1],
        "  ? backend asks permission: Edit src/x.rs (edit)"
    );
    assert_eq!(lines[2], "    options: Allow once · Reject");
    assert_eq!(lines[3], "    → the editor chose “Allow once” (allow_once)");
    assert_eq!(lines[4], "  ▸ backend: Edit src/x.rs … failed");
}

#[test]
fn text_after_an_open_card_starts_on_its_own_line() {
    let updates = [
        tool_call("backend/call_1", "backend: Run"),
        chunk("backend", "meanwhile\n"),
    ];
    assert_eq!(
        render_all(&mut plain(), &updates),
        "  ▸ backend: Run …\n    meanwhile\n"
    );
}

#[test]
fn a_card_title_without_the_role_gets_it() {
    let out = plain().session_update(&tool_call("backend/call_1", "Reading files"));
    assert_eq!(out, "  ▸ backend: Reading files …");
}

#[test]
fn a_plan_is_a_checklist_with_each_status() {
    let plan = json!({ "sessionUpdate": "plan", "_meta": { "ourocodus": { "role": "architect" } },
        "entries": [
            { "content": "Read", "status": "completed", "priority": "high" },
            { "content": "Design", "status": "in_progress", "priority": "high" },
            { "content": "Ship", "status": "pending", "priority": "low" },
        ] });
    let out = plain().session_update(&plan);
    assert_eq!(
        out,
        "  Plan (architect)\n    [x] Read\n    [~] Design\n    [ ] Ship\n"
    );
}

#[test]
fn a_notice_update_shows_its_severity_speaker_and_description() {
    let notice = json!({ "sessionUpdate": "notice", "severity": "warning", "title": "@x is not a role",
                         "description": "Roles: a.\nWent to: a.", "_meta": { "ourocodus": { "role": "ourocodus" } } });
    let out = plain().session_update(&notice);
    assert_eq!(
        out,
        "  ⚠ ourocodus: @x is not a role\n    Roles: a.\n    Went to: a.\n"
    );
}

#[test]
fn a_permission_prompt_without_an_allow_option_says_the_editor_cancelled() {
    let out = plain().permission_decision(None);
    assert!(out.contains("answered cancelled"), "{out}");
}

#[test]
fn updates_an_editor_shows_elsewhere_print_nothing() {
    let mut renderer = plain();
    for kind in [
        "available_commands_update",
        "config_option_update",
        "usage_update",
        "future_variant",
    ] {
        assert_eq!(
            renderer.session_update(&json!({ "sessionUpdate": kind })),
            ""
        );
    }
}

#[test]
fn malformed_updates_do_not_panic() {
    let mut renderer = plain();
    for update in [
        json!(null),
        json!({}),
        json!({ "sessionUpdate": "tool_call" }),
        json!({ "sessionUpdate": "plan", "entries": 3 }),
        json!({ "sessionUpdate": "agent_message_chunk" }),
    ] {
        renderer.session_update(&update);
    }
    renderer.permission_request(&json!({ "options": "none" }));
}

#[test]
fn each_role_keeps_one_colour_and_roles_differ() {
    let mut renderer = Renderer::new(Painter::new(true));
    renderer.know_roles(["architect", "backend"]);
    let backend = renderer.session_update(&chunk("backend", "x"));
    let architect = renderer.session_update(&chunk("architect", "\nx"));
    let backend_again = renderer.session_update(&chunk("backend", "\nx"));
    let colour = |s: &str| {
        let start = s.find("\x1b[")?;
        let end = start + s[start..].find('m')?;
        Some(s[start..end].to_string())
    };
    assert_ne!(colour(&backend), colour(&architect));
    assert_eq!(colour(&backend), colour(&backend_again));
}

#[test]
fn a_stop_reason_line_names_the_reason() {
    assert_eq!(
        plain().stop_reason("end_turn", None),
        "  ■ stopReason: end_turn\n"
    );
    let after = plain().stop_reason("cancelled", Some(std::time::Duration::from_millis(7)));
    assert_eq!(after, "  ■ stopReason: cancelled (7 ms after the cancel)\n");
}

#[test]
fn the_prompt_shows_one_script_step_per_line() {
    let out = plain().user_prompt("@test say hi; sleep 1s");
    assert_eq!(out, "you › @test say hi\n      sleep 1s\n\n");
}

#[test]
fn a_held_back_star_is_written_as_it_is_before_the_next_block() {
    let out = render_all(&mut plain(), &[chunk("a", "5 *"), label("b")]);
    assert_eq!(out, "    5 *\n  ● b\n");
}
