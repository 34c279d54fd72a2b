//! Prompt turns: what each kind of step sends, calls to the client, cancel and
//! the end of a turn.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::harness::{Peer, chunk_text, said, update_kinds};
use super::schema;

fn all_capabilities() -> Value {
    json!({ "fs": { "readTextFile": true, "writeTextFile": true }, "terminal": true, "elicitation": { "form": {} } })
}

fn started() -> (Peer, String) {
    let mut peer = Peer::start(&[]);
    let session = peer.handshake(all_capabilities());
    (peer, session)
}

#[test]
fn a_plain_sentence_is_echoed_word_by_word() {
    let (mut peer, session) = started();
    let (messages, answer) = peer.run_prompt(&session, "Hello there,  agent!");
    assert_eq!(said(&messages), ["Hello ", "there,  ", "agent!"]);
    assert_eq!(answer["result"], json!({ "stopReason": "end_turn" }));
    peer.finish();
}

#[test]
fn a_usage_step_puts_its_json_in_the_answer_whatever_ends_the_turn() {
    let (mut peer, session) = started();
    let script =
        r#"usage {"totalTokens":30,"inputTokens":20,"outputTokens":10}; say hi; stop max_tokens"#;
    let (messages, answer) = peer.run_prompt(&session, script);
    assert_eq!(said(&messages), ["hi"]);
    assert_eq!(
        answer["result"],
        json!({ "stopReason": "max_tokens", "usage": { "totalTokens": 30, "inputTokens": 20, "outputTokens": 10 } })
    );
    let (_, answer) = peer.run_prompt(&session, r#"say hi; usage {"totalTokens":-5}"#);
    assert_eq!(
        answer["result"]["usage"],
        json!({ "totalTokens": -5 }),
        "sent as given"
    );
    peer.finish();
}

#[test]
fn every_message_of_a_busy_script_matches_the_acp_schema() {
    let (mut peer, session) = started();
    let script = "say hi; echo a b; think hmm; plan one | two; tool call edit as Edit fix; commands; mode plan; \
                  stream 3 chunks; big 1000; update {\"sessionUpdate\":\"session_info_update\",\"title\":\"t\"}";
    let (messages, answer) = peer.run_prompt(&session, script);
    for message in &messages {
        schema::assert_outgoing(message);
    }
    schema::assert_response("session/prompt", &answer);
    let kinds = update_kinds(&messages);
    assert_eq!(kinds.first(), Some(&"agent_message_chunk"));
    assert!(
        kinds.contains(&"agent_thought_chunk")
            && kinds.contains(&"plan")
            && kinds.contains(&"session_info_update")
    );
    peer.finish();
}

#[test]
fn stream_sends_every_numbered_chunk_in_order_at_the_requested_size() {
    let (mut peer, session) = started();
    let id = peer.prompt(&session, "stream 5000 chunks of 300 bytes");
    for n in 1..=5000 {
        let line = peer.next_line();
        assert_eq!(line.len() + 1, 300, "line {n} with its newline");
        let message: Value = serde_json::from_slice(&line).expect("json");
        let text = chunk_text(&message).expect("a chunk");
        assert!(text.starts_with(&format!("#{n} ")), "{text}");
    }
    assert_eq!(peer.next()["id"], id);
    peer.finish();
}

#[test]
fn a_tool_call_is_announced_pending_then_completed() {
    let (mut peer, session) = started();
    let (messages, _) = peer.run_prompt(&session, "tool call read as Read main.rs");
    let call = &messages[0]["params"]["update"];
    assert_eq!(call["sessionUpdate"], "tool_call");
    assert_eq!(
        (
            call["toolCallId"].as_str(),
            call["status"].as_str(),
            call["kind"].as_str()
        ),
        (Some("call_1"), Some("pending"), Some("read"))
    );
    assert_eq!(call["_meta"]["claudeCode"]["toolName"], "Read");
    let done = &messages[1]["params"]["update"];
    assert_eq!(
        (done["toolCallId"].as_str(), done["status"].as_str()),
        (Some("call_1"), Some("completed"))
    );
    peer.finish();
}

#[test]
fn ask_permission_announces_the_call_first_and_reports_the_choice() {
    let (mut peer, session) = started();
    let id = peer.prompt(&session, "ask permission execute as Bash rm -rf build");
    let announced = peer.next();
    assert_eq!(announced["params"]["update"]["sessionUpdate"], "tool_call");
    let request = peer.next();
    schema::assert_outgoing(&request);
    assert_eq!(request["method"], "session/request_permission");
    assert_eq!(
        request["params"]["toolCall"]["toolCallId"],
        announced["params"]["update"]["toolCallId"]
    );
    assert_eq!(
        request["params"]["toolCall"]["_meta"]["claudeCode"]["toolName"],
        "Bash"
    );
    let kinds: Vec<&str> = request["params"]["options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["allow_once", "allow_always", "reject_once", "reject_always"]
    );
    peer.respond(
        &request,
        json!({ "outcome": { "outcome": "selected", "optionId": "allow-once" } }),
    );
    let (messages, answer) = peer.response_to(id);
    assert_eq!(said(&messages), ["permission: allow-once"]);
    assert_eq!(messages[1]["params"]["update"]["status"], "completed");
    assert_eq!(answer["result"]["stopReason"], "end_turn");
    peer.finish();
}

#[test]
fn a_rejected_or_cancelled_permission_fails_the_tool_call() {
    let (mut peer, session) = started();
    for (outcome, expected) in [
        (
            json!({ "outcome": "selected", "optionId": "reject-always" }),
            "permission: reject-always",
        ),
        (json!({ "outcome": "cancelled" }), "permission: cancelled"),
    ] {
        let id = peer.prompt(&session, "tool call then ask permission");
        let (_, request) = peer.until(|m| m["method"] == "session/request_permission");
        peer.respond(&request, json!({ "outcome": outcome }));
        let (messages, _) = peer.response_to(id);
        assert_eq!(said(&messages), [expected]);
        assert_eq!(messages[1]["params"]["update"]["status"], "failed");
    }
    peer.finish();
}

#[test]
fn cancel_while_waiting_for_permission_answers_cancelled_at_once() {
    let (mut peer, session) = started();
    let id = peer.prompt(&session, "ask permission; say never");
    let (_, request) = peer.until(|m| m["method"] == "session/request_permission");
    peer.notify("session/cancel", json!({ "sessionId": session }));
    let answer = peer.next();
    assert_eq!(
        (
            answer["id"].as_i64(),
            answer["result"]["stopReason"].as_str()
        ),
        (Some(id), Some("cancelled"))
    );
    // The late answer is ignored, and the session takes prompts again.
    peer.respond(&request, json!({ "outcome": { "outcome": "cancelled" } }));
    let (messages, _) = peer.run_prompt(&session, "say again");
    assert_eq!(said(&messages), ["again"]);
    peer.finish();
}

#[test]
fn cancel_ends_a_sleep_at_once() {
    let (mut peer, session) = started();
    let id = peer.prompt(&session, "say before; sleep 30s; say after");
    assert_eq!(said(&[peer.next()]), ["before"]);
    let start = Instant::now();
    peer.notify("session/cancel", json!({ "sessionId": session }));
    let answer = peer.next();
    assert_eq!(
        (
            answer["id"].as_i64(),
            answer["result"]["stopReason"].as_str()
        ),
        (Some(id), Some("cancelled"))
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    peer.finish();
}

#[test]
fn a_stalled_reader_holds_the_stream_back_and_a_cancel_still_ends_it() {
    let (mut peer, session) = started();
    let id = peer.prompt(&session, "stream 10m chunks");
    // Read nothing for a while: the agent must wait, not buffer 2.5 GB.
    std::thread::sleep(Duration::from_millis(300));
    peer.notify("session/cancel", json!({ "sessionId": session }));
    let (messages, answer) = peer.response_to(id);
    assert_eq!(answer["result"]["stopReason"], "cancelled");
    // What got out fits in the pipe, our queue and the test's read-ahead.
    assert!(messages.len() < 50_000, "{} chunks got out", messages.len());
    assert!(
        peer.next_line_within(Duration::from_millis(200)).is_none(),
        "nothing after the answer"
    );
    peer.finish();
}

#[test]
fn files_are_written_and_read_through_the_client_relative_to_the_cwd() {
    let (mut peer, session) = started();
    let id = peer.prompt(
        &session,
        r"write file notes/a.txt one\ntwo; read file /etc/hostname",
    );
    let (_, write) = peer.until(|m| m["method"] == "fs/write_text_file");
    schema::assert_outgoing(&write);
    assert_eq!(write["params"]["path"], "/work/project/notes/a.txt");
    assert_eq!(write["params"]["content"], "one\ntwo");
    peer.respond(&write, json!({}));
    let (messages, read) = peer.until(|m| m["method"] == "fs/read_text_file");
    assert_eq!(said(&messages), ["wrote /work/project/notes/a.txt"]);
    assert_eq!(read["params"]["path"], "/etc/hostname");
    peer.respond(&read, json!({ "content": "box\n" }));
    let (messages, _) = peer.response_to(id);
    assert_eq!(said(&messages), ["box\n"]);
    peer.finish();
}

#[test]
fn client_errors_and_missing_capabilities_are_said_not_fatal() {
    let mut peer = Peer::start(&[]);
    let session = peer.handshake(json!({ "fs": { "readTextFile": true } }));
    let id = peer.prompt(
        &session,
        "read file x; write file y; terminal ls; elicit hi; say still here",
    );
    let (_, read) = peer.until(|m| m["method"] == "fs/read_text_file");
    peer.respond_error(&read, -32002, "no such file");
    let (messages, _) = peer.response_to(id);
    assert_eq!(
        said(&messages),
        [
            "read failed: no such file",
            "write failed: the client did not advertise fs.writeTextFile",
            "terminal failed: the client did not advertise terminal",
            "elicitation failed: the client did not advertise elicitation.form",
            "still here",
        ]
    );
    peer.finish();
}

#[test]
fn terminal_runs_create_wait_output_release_and_says_the_output() {
    let (mut peer, session) = started();
    let id = peer.prompt(&session, "terminal cargo test --quiet");
    let (_, create) = peer.until(|m| m["method"] == "terminal/create");
    schema::assert_outgoing(&create);
    assert_eq!(
        (
            create["params"]["command"].as_str(),
            create["params"]["args"].clone()
        ),
        (Some("cargo"), json!(["test", "--quiet"]))
    );
    peer.respond(&create, json!({ "terminalId": "term-1" }));
    let (before, wait) = peer.until(|m| m["method"] == "terminal/wait_for_exit");
    assert_eq!(
        before[0]["params"]["update"]["content"][0],
        json!({ "type": "terminal", "terminalId": "term-1" })
    );
    peer.respond(&wait, json!({ "exitCode": 0 }));
    let (_, output) = peer.until(|m| m["method"] == "terminal/output");
    peer.respond(
        &output,
        json!({ "output": "ok: 3 passed\n", "truncated": false }),
    );
    let (_, release) = peer.until(|m| m["method"] == "terminal/release");
    schema::assert_outgoing(&release);
    peer.respond(&release, json!({}));
    let (messages, _) = peer.response_to(id);
    assert_eq!(messages[0]["params"]["update"]["status"], "completed");
    assert_eq!(said(&messages), ["ok: 3 passed\n"]);
    peer.finish();
}

#[test]
fn elicit_sends_a_form_and_says_the_action() {
    let (mut peer, session) = started();
    let id = peer.prompt(&session, "elicit Which database?");
    let (_, request) = peer.until(|m| m["method"] == "elicitation/create");
    schema::assert_outgoing(&request);
    assert_eq!(
        (
            request["params"]["mode"].as_str(),
            request["params"]["message"].as_str()
        ),
        (Some("form"), Some("Which database?"))
    );
    peer.respond(
        &request,
        json!({ "action": "accept", "content": { "answer": "postgres" } }),
    );
    let (messages, _) = peer.response_to(id);
    assert_eq!(
        said(&messages),
        [r#"elicitation: accept {"answer":"postgres"}"#]
    );
    peer.finish();
}

#[test]
fn stop_and_error_end_the_turn_and_skip_the_rest() {
    let (mut peer, session) = started();
    let (messages, answer) = peer.run_prompt(&session, "say a; stop max_tokens; say b");
    assert_eq!(
        (said(&messages), answer["result"]["stopReason"].as_str()),
        (vec!["a"], Some("max_tokens"))
    );
    let (messages, answer) = peer.run_prompt(&session, "error -32603 boom; say b");
    assert!(messages.is_empty());
    assert_eq!(
        answer["error"],
        json!({ "code": -32603, "message": "boom" })
    );
    peer.finish();
}

#[test]
fn hang_never_answers_even_on_cancel_and_keeps_the_session_busy() {
    let (mut peer, session) = started();
    let id = peer.prompt(&session, "say stuck; hang");
    assert_eq!(said(&[peer.next()]), ["stuck"]);
    peer.notify("session/cancel", json!({ "sessionId": session }));
    let again = peer.prompt(&session, "say more");
    let refused = peer.next();
    assert_eq!(
        (refused["id"].as_i64(), refused["error"]["code"].as_i64()),
        (Some(again), Some(-32600))
    );
    assert!(
        peer.next_line_within(Duration::from_millis(200)).is_none(),
        "prompt {id} must stay unanswered"
    );
    peer.finish();
}

#[test]
fn two_sessions_run_their_prompts_side_by_side() {
    let (mut peer, first) = started();
    let second = peer.new_session();
    let slow = peer.prompt(&first, "sleep 300ms; say slow");
    let quick = peer.prompt(&second, "say quick");
    let (messages, _) = peer.response_to(quick);
    assert_eq!(said(&messages), ["quick"]);
    let (messages, _) = peer.response_to(slow);
    assert_eq!(said(&messages), ["slow"]);
    peer.finish();
}

#[test]
fn update_and_raw_are_passed_through_verbatim() {
    let (mut peer, session) = started();
    let raw = r#"{"jsonrpc":"2.0","method":"_vendor/x","params":{"a;b":[1, 2]}}"#;
    let update = r#"{"sessionUpdate":"brand_new_variant","_meta":{"k":"v"}}"#;
    let id = peer.prompt(&session, &format!("update {update}; raw {raw}"));
    let line = String::from_utf8(peer.next_line()).unwrap_or_default();
    assert_eq!(
        line,
        format!(
            r#"{{"jsonrpc":"2.0","method":"session/update","params":{{"sessionId":"{session}","update":{update}}}}}"#
        )
    );
    assert_eq!(String::from_utf8(peer.next_line()).unwrap_or_default(), raw);
    assert_eq!(peer.next()["id"], id);
    peer.finish();
}

#[test]
fn garbage_on_stdout_is_followed_by_normal_service() {
    let (mut peer, session) = started();
    let id = peer.prompt(&session, "garbage on stdout; say fine");
    let mut unparsable = 0;
    loop {
        let line = peer.next_line();
        let Ok(message) = serde_json::from_slice::<Value>(&line) else {
            unparsable += 1;
            continue;
        };
        if chunk_text(&message) == Some("fine") {
            break;
        }
    }
    assert!(unparsable >= 3);
    assert_eq!(peer.next()["id"], id);
    peer.finish();
}

#[test]
fn the_end_of_input_lets_running_prompts_finish_and_fails_their_calls() {
    let (mut peer, session) = started();
    let id = peer.prompt(&session, "read file a; sleep 100ms; say done");
    peer.until(|m| m["method"] == "fs/read_text_file");
    peer.close_stdin();
    let (messages, answer) = peer.response_to(id);
    assert_eq!(
        said(&messages),
        ["read failed: the client is gone (stdin closed)", "done"]
    );
    assert_eq!(answer["result"]["stopReason"], "end_turn");
    peer.finish();
}

#[test]
fn a_second_prompt_in_a_busy_session_is_refused() {
    let (mut peer, session) = started();
    let first = peer.prompt(&session, "sleep 200ms");
    let second = peer.prompt(&session, "say hi");
    let refused = peer.next();
    assert_eq!(
        (refused["id"].as_i64(), refused["error"]["code"].as_i64()),
        (Some(second), Some(-32600))
    );
    assert_eq!(peer.next()["id"], first);
    peer.finish();
}
