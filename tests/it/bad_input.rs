//! Malformed input from either side never ends the session. From the editor, each
//! kind of bad line gets the JSON-RPC error that names it (-32700 parse error with a
//! null id, -32600 invalid request with the id when it can be read, -32601 unknown
//! method, -32602 wrong params naming the field), unknown vendor notifications are
//! ignored, a line over the cap is refused and costs at most the cap however long,
//! and a normal prompt works after each. From an agent, garbage on stdout and a line over the cap
//! are skipped and logged with the role, and the agent keeps serving.

use serde_json::{Value, json};

use crate::procs;
use crate::raw_editor::RawEditor;
use crate::support::{Peer as _, Proxy, WAIT, bounded, fake_team, text_from};

/// The proxy's line cap (`editor::MAX_LINE_BYTES`); there is no way to lower it.
const LINE_CAP: usize = 64 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

async fn started() -> (Proxy, String) {
    let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
    let session = proxy.plain_session().await;
    (proxy, session)
}

/// Sends one raw line and returns the first response after it (notifications the
/// proxy sends meanwhile are skipped).
async fn answer_to_line(proxy: &mut Proxy, line: &str) -> Value {
    proxy.send_raw(&format!("{line}\n")).await;
    loop {
        let message = proxy.next().await;
        if message.get("method").is_none() {
            return message;
        }
    }
}

fn assert_error(answer: &Value, code: i64, id: Value) {
    assert_eq!(answer["error"]["code"], code, "{answer}");
    assert_eq!(answer["id"], id, "{answer}");
}

async fn assert_a_prompt_still_works(proxy: &mut Proxy, session: &str) {
    let (messages, answer) = proxy.prompt(session, "say still here\\n").await;
    assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
    assert_eq!(text_from(&messages, "alpha"), "still here\n");
}

#[tokio::test]
async fn a_line_that_is_not_json_is_answered_parse_error_with_a_null_id_and_the_session_goes_on() {
    bounded(WAIT * 2, async {
        let (mut proxy, session) = started().await;
        for line in [
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize""#,
            "not json at all",
            r#"{"jsonrpc":"2.0","id":2,"method":"session/prompt",}"#,
        ] {
            let answer = answer_to_line(&mut proxy, line).await;
            assert_error(&answer, -32700, Value::Null);
            assert_a_prompt_still_works(&mut proxy, &session).await;
        }
    })
    .await;
}

#[tokio::test]
async fn valid_json_that_is_not_a_request_is_answered_invalid_request_with_the_id_when_readable() {
    bounded(WAIT * 2, async {
        let (mut proxy, session) = started().await;
        let cases = [
            (r#"{"id":21,"method":"initialize","params":{}}"#, json!(21)),
            (
                r#"{"jsonrpc":"1.0","id":22,"method":"initialize"}"#,
                json!(22),
            ),
            (
                r#"{"jsonrpc":"2.0","id":"s-23","method":"initialize","params":5}"#,
                json!("s-23"),
            ),
            (
                r#"{"jsonrpc":"2.0","id":24,"method":"initialize","result":{}}"#,
                json!(24),
            ),
            (
                r#"{"jsonrpc":"2.0","id":{"an":"object"},"method":"initialize"}"#,
                Value::Null,
            ),
            (
                r#"{"jsonrpc":"2.0","id":true,"method":"initialize"}"#,
                Value::Null,
            ),
            (r#""a string, not an object""#, Value::Null),
            ("[]", Value::Null),
        ];
        for (line, id) in cases {
            let answer = answer_to_line(&mut proxy, line).await;
            assert_error(&answer, -32600, id);
        }
        assert_a_prompt_still_works(&mut proxy, &session).await;
    })
    .await;
}

#[tokio::test]
async fn a_request_whose_method_is_not_a_string_is_answered_invalid_request_with_its_id() {
    bounded(WAIT * 2, async {
        let (mut proxy, session) = started().await;
        let answer = answer_to_line(&mut proxy, r#"{"jsonrpc":"2.0","id":31,"method":5}"#).await;
        assert_error(&answer, -32600, json!(31));
        assert_a_prompt_still_works(&mut proxy, &session).await;
    })
    .await;
}

#[tokio::test]
async fn an_unknown_method_is_answered_method_not_found_with_its_id() {
    bounded(WAIT * 2, async {
        let (mut proxy, session) = started().await;
        let id = proxy.request("no/such_method", json!({})).await;
        let (_, answer) = proxy.until_response(id, |_| None).await;
        assert_error(&answer, -32601, json!(id));
        let id = proxy.request("_vendor/x", json!({})).await;
        let (_, answer) = proxy.until_response(id, |_| None).await;
        assert_error(&answer, -32601, json!(id));
        assert_a_prompt_still_works(&mut proxy, &session).await;
    })
    .await;
}

#[tokio::test]
async fn an_unknown_vendor_notification_and_an_answer_to_no_request_are_ignored_without_an_answer()
{
    bounded(WAIT * 2, async {
        let (mut proxy, session) = started().await;
        proxy
            .notify("_vendor/x", json!({ "anything": [1, 2] }))
            .await;
        proxy.notify("_vendor/x", json!(null)).await;
        let stray = json!({ "jsonrpc": "2.0", "id": 999_999, "result": { "never": "asked" } });
        proxy.send(stray).await;
        // The next response the editor sees is the one to the request sent after.
        let id = proxy.request("no/such_method", json!({})).await;
        let (before, answer) = proxy.until_response(id, |_| None).await;
        assert_error(&answer, -32601, json!(id));
        let responses: Vec<&Value> = before
            .iter()
            .filter(|m| m.get("method").is_none())
            .collect();
        assert!(
            responses.is_empty(),
            "answered a notification: {responses:?}"
        );
        assert_a_prompt_still_works(&mut proxy, &session).await;
    })
    .await;
}

#[tokio::test]
async fn wrong_params_are_answered_invalid_params_naming_the_field() {
    bounded(WAIT * 2, async {
        let (mut proxy, session) = started().await;
        let cases = [
            ("session/prompt", json!({ "prompt": [] }), "sessionId"),
            ("session/new", json!({ "mcpServers": [] }), "cwd"),
            (
                "session/set_mode",
                json!({ "sessionId": session }),
                "modeId",
            ),
        ];
        for (method, params, field) in cases {
            let id = proxy.request(method, params).await;
            let (_, answer) = proxy.until_response(id, |_| None).await;
            assert_error(&answer, -32602, json!(id));
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(field),
                "{method}: {message:?} names {field}"
            );
        }
        assert_a_prompt_still_works(&mut proxy, &session).await;
    })
    .await;
}

#[tokio::test]
async fn a_param_of_the_wrong_type_is_answered_invalid_params_naming_the_field() {
    bounded(WAIT * 2, async {
        let (mut proxy, session) = started().await;
        let params = json!({ "sessionId": 5, "prompt": [] });
        let id = proxy.request("session/prompt", params).await;
        let (_, answer) = proxy.until_response(id, |_| None).await;
        assert_error(&answer, -32602, json!(id));
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("sessionId"), "{message:?}");
        assert_a_prompt_still_works(&mut proxy, &session).await;
    })
    .await;
}

/// The proxy's pid, found by its unique config path.
fn pid_of(proxy: &Proxy) -> u32 {
    let config = proxy.cwd().join("team.toml");
    procs::child_with_argument(config.to_str().expect("utf-8 path")).expect("the proxy runs")
}

fn kib(pid: u32, field: &str) -> u64 {
    procs::status_kib(pid, field).unwrap_or_else(|| panic!("{field} of {pid}"))
}

/// Sends a line of `bytes` (plus newline) and checks it is refused as over-long.
async fn send_over_long_line(proxy: &mut Proxy, bytes: usize) {
    let answer = answer_to_line(proxy, &"x".repeat(bytes)).await;
    assert_error(&answer, -32600, Value::Null);
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&bytes.to_string()) && message.contains("skipped"),
        "{message:?}"
    );
}

#[tokio::test]
async fn a_line_over_the_cap_is_refused_and_skipped_and_costs_at_most_the_cap_however_long() {
    bounded(WAIT * 4, async {
        let (mut proxy, session) = started().await;
        let pid = pid_of(&proxy);
        let peak_before = kib(pid, "VmHWM");
        send_over_long_line(&mut proxy, 70 << 20).await;
        let peak_70 = kib(pid, "VmHWM");
        send_over_long_line(&mut proxy, 210 << 20).await;
        let peak_210 = kib(pid, "VmHWM");
        let rss_after = kib(pid, "VmRSS");
        eprintln!(
            "peak RSS: {peak_before} KiB before, {peak_70} KiB after a 70 MiB line, \
             {peak_210} KiB after a 210 MiB line; {rss_after} KiB resident after"
        );
        let cap_kib = LINE_CAP as u64 / 1024;
        assert!(
            peak_70 - peak_before <= cap_kib + 8 * 1024,
            "holding part of an over-long line costs at most the cap"
        );
        assert!(
            peak_210 - peak_70 <= 4 * 1024,
            "a line three times as long costs no more"
        );
        assert!(
            rss_after <= peak_before + 8 * 1024,
            "the memory is given back once the line is skipped"
        );
        assert_a_prompt_still_works(&mut proxy, &session).await;
    })
    .await;
}

#[tokio::test]
async fn with_a_lower_cap_a_70_mib_line_leaves_the_proxy_peak_memory_far_below_its_size() {
    bounded(WAIT * 2, async {
        let mut proxy =
            Proxy::start_with_args(&fake_team(&["alpha"]), &["--max-message-size", "1MiB"]).await;
        let session = proxy.plain_session().await;
        let pid = pid_of(&proxy);
        let before = kib(pid, "VmHWM") * 1024;
        send_over_long_line(&mut proxy, 70 << 20).await;
        let peak = kib(pid, "VmHWM") * 1024;
        // Measured from the proxy's own peak before the line, so a debug build's
        // larger baseline does not count against the line.
        let grew = peak.saturating_sub(before);
        assert!(grew < 8 * MIB, "peak RSS grew {} MiB", grew / MIB);
        assert_a_prompt_still_works(&mut proxy, &session).await;
    })
    .await;
}

#[tokio::test]
async fn bytes_that_are_not_utf8_are_a_parse_error_not_a_crash() {
    bounded(WAIT * 2, async {
        let mut editor = RawEditor::start(&fake_team(&["alpha"])).await;
        let session = editor.plain_session().await;
        let lines: [&[u8]; 3] = [
            b"\xff\xfe\xfd\n",
            b"{\"jsonrpc\":\"2.0\",\"id\":41,\"method\":\"x\xc3\x28\"}\n",
            b"{\"jsonrpc\":\"2.0\",\"method\":\"session/cancel\",\"params\":{\"sessionId\":\"\xed\xa0\x80\"}}\n",
        ];
        for line in lines {
            editor.write(line).await;
            let answer = loop {
                let message = editor.next().await;
                if message.get("method").is_none() {
                    break message;
                }
            };
            assert_eq!(answer["error"]["code"], -32700, "{answer}");
            assert_eq!(answer["id"], Value::Null, "{answer}");
            let id = editor.prompt_id(&session, "say still here\\n").await;
            let (messages, answer) = editor.until_response(id, |_| None).await;
            assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
            assert_eq!(text_from(&messages, "alpha"), "still here\n");
        }
        assert!(editor.close().await.success(), "the proxy ended normally");
    })
    .await;
}

#[tokio::test]
async fn an_agents_garbage_on_stdout_is_skipped_logged_with_its_role_and_the_agent_keeps_serving() {
    bounded(WAIT * 2, async {
        let (mut proxy, session) = started().await;
        let (messages, answer) = proxy
            .prompt(
                &session,
                "say before\\n; garbage on stdout; say after garbage\\n",
            )
            .await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
        assert_eq!(text_from(&messages, "alpha"), "before\nafter garbage\n");
        let stderr = proxy.stderr();
        let skipped: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("not JSON-RPC; skipped"))
            .collect();
        // Not JSON, cut-off JSON, invalid UTF-8, a JSON array, a JSON object that is
        // not JSON-RPC.
        assert_eq!(skipped.len(), 5, "{skipped:#?}");
        assert!(
            skipped.iter().all(|l| l.contains("role=alpha")),
            "{skipped:#?}"
        );
        let unknown_answer = stderr
            .lines()
            .find(|l| l.contains("unknown or already answered request"))
            .expect("the answer to an unknown id is logged");
        assert!(
            unknown_answer.contains("role=alpha") && unknown_answer.contains("987654321"),
            "{unknown_answer}"
        );
        assert_a_prompt_still_works(&mut proxy, &session).await;
    })
    .await;
}

#[tokio::test]
async fn an_agents_line_over_the_cap_is_skipped_logged_with_its_role_and_the_agent_keeps_serving() {
    bounded(WAIT * 2, async {
        let (mut proxy, session) = started().await;
        let (messages, answer) = proxy
            .prompt(&session, "big 70m; say after the big line\\n")
            .await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
        assert_eq!(text_from(&messages, "alpha"), "after the big line\n");
        let stderr = proxy.stderr();
        let logged = stderr
            .lines()
            .find(|l| l.contains("over-long line; skipped"))
            .expect("the skipped line is logged");
        assert!(logged.contains("role=alpha"), "{logged}");
        assert_a_prompt_still_works(&mut proxy, &session).await;
    })
    .await;
}

#[tokio::test]
async fn lines_over_the_cap_from_eight_agents_at_once_cost_at_most_twice_the_cap() {
    bounded(WAIT * 4, async {
        // The agents' unfinished lines share one budget of twice the cap (8 MiB here).
        let roles = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let mut proxy =
            Proxy::start_with_args(&fake_team(&roles), &["--max-message-size", "8MiB"]).await;
        let session = proxy.plain_session().await;
        let pid = pid_of(&proxy);
        let (_, answer) = proxy.prompt(&session, "@all big 70m; say after\\n").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
        // Without the budget the eight unfinished lines alone could hold 8 x 8 MiB (and
        // twice that in capacity); with it they hold at most 16 MiB, plus the proxy's
        // own few MiB and what the allocator keeps while a buffer grows.
        let peak = kib(pid, "VmHWM");
        assert!(
            peak <= 48 * 1024,
            "the proxy's peak RSS was {peak} KiB (8 agents x 70 MiB lines)"
        );
    })
    .await;
}
