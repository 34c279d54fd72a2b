use super::summary;

#[test]
fn every_recorded_kind_reads_as_one_line() {
    let cases = [
        (
            "session",
            r#"{"cwd":"/w","additionalDirectories":[],"route":["backend"],"team":{"backend":{"command":"x"},"test":{}}}"#,
            "cwd /w  team backend,test  route backend",
        ),
        (
            "prompt",
            r#"{"turn":3,"origin":{"connection":1,"request":7},"roles":["backend","test"],"prompt":[],"text":"fix it\nplease"}"#,
            "turn 3 → backend,test: fix it\\nplease",
        ),
        (
            "prompt",
            r#"{"turn":4,"origin":{"task":"t1"},"roles":["test"],"prompt":[],"text":"go"}"#,
            "turn 4 → test: go  (task t1)",
        ),
        (
            "update",
            r#"{"turn":3,"params":{"sessionId":"child-1","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"hello"}}}}"#,
            "hello",
        ),
        (
            "update",
            r#"{"turn":3,"toolCallId":"backend/call_1","params":{"sessionId":"child-1","update":{"sessionUpdate":"tool_call","toolCallId":"call_1","title":"Read a.rs","status":"pending"}}}"#,
            "tool_call backend/call_1 Read a.rs [pending]",
        ),
        (
            "update",
            r#"{"turn":null,"params":{"sessionId":"child-1","update":{"sessionUpdate":"tool_call_update","toolCallId":"call_1","status":"completed"}}}"#,
            "tool_call_update call_1 [completed]",
        ),
        (
            "update",
            r#"{"turn":3,"params":{"sessionId":"child-1","update":{"sessionUpdate":"plan","entries":[{"status":"completed"},{"status":"pending"}]}}}"#,
            "plan 1/2 done",
        ),
        (
            "update",
            r#"{"turn":3,"params":{"sessionId":"child-1","update":{"sessionUpdate":"agent_thought_chunk","content":{"type":"image","data":"…"}}}}"#,
            "thought: [image]",
        ),
        (
            "usage",
            r#"{"turn":3,"params":{"sessionId":"child-1","update":{"sessionUpdate":"usage_update","used":1200,"size":200000,"cost":{"amount":0.25,"currency":"USD"}}}}"#,
            "usage 1200/200000 tokens 0.25 USD",
        ),
        (
            "tokens",
            r#"{"turn":3,"usage":{"totalTokens":30,"inputTokens":20,"outputTokens":10,"thoughtTokens":0}}"#,
            "turn 3: 30 tokens (20 in, 10 out)",
        ),
        (
            "notice",
            r#"{"severity":"warning","title":"agent restarted","description":"exit 1"}"#,
            "[warning] agent restarted — exit 1",
        ),
        (
            "say",
            r#"{"text":"routing to @backend"}"#,
            "routing to @backend",
        ),
        (
            "permission",
            r#"{"relay":5,"toolCallId":"backend/c2","title":"rm -rf","decision":"refused","reason":"policy"}"#,
            "relay 5 refused backend/c2 \"rm -rf\" (policy)",
        ),
        (
            "permission_answer",
            r#"{"relay":5,"outcome":"selected","optionId":"allow","kind":"allow_once"}"#,
            "relay 5 selected allow (allow_once)",
        ),
        (
            "fs_write",
            r#"{"path":"a/b.rs","resolved":"/w/a/b.rs","allowed":false,"reason":"outside directories"}"#,
            "refused a/b.rs → /w/a/b.rs (outside directories)",
        ),
        (
            "agent",
            r#"{"event":"restarting","attempt":2,"delayMs":500,"reason":"exited"}"#,
            "restarting attempt 2 in 500 ms (exited)",
        ),
        ("agent", r#"{"event":"started","pid":42}"#, "started pid 42"),
        (
            "child_session",
            r#"{"childSessionId":"c-1","how":"resumed"}"#,
            "resumed c-1",
        ),
        (
            "mode",
            r#"{"option":"route","value":["test"]}"#,
            r#"route = ["test"]"#,
        ),
        (
            "role_end",
            r#"{"turn":3,"outcome":"failed","error":{"code":-32603,"message":"boom"}}"#,
            "turn 3 failed: error -32603 boom",
        ),
        (
            "turn_end",
            r#"{"turn":3,"stopReason":"end_turn"}"#,
            "turn 3 end_turn",
        ),
    ];
    for (kind, payload, expected) in cases {
        assert_eq!(summary(kind, payload), expected, "{kind} {payload}");
    }
}

#[test]
fn unknown_kinds_and_odd_payloads_print_generically() {
    assert_eq!(summary("mystery", r#"{ "a" : [1, 2] }"#), r#"{"a":[1,2]}"#);
    assert_eq!(summary("say", r#"{"txt":1}"#), r#"{"txt":1}"#);
    assert_eq!(summary("update", "not json"), "not json");
    assert_eq!(summary("notice", "null"), "null");
}

#[test]
fn terminal_escapes_are_shown_not_sent() {
    let line = summary("say", "{\"text\":\"a\\u001b[31mred\\tb\"}");
    assert_eq!(line, "a\\u{1b}[31mred\\tb");
}

#[test]
fn long_summaries_are_cut() {
    let payload = format!("{{\"text\":\"{}\"}}", "x".repeat(5000));
    assert_eq!(
        summary("say", &payload).chars().count(),
        super::MAX_SUMMARY_CHARS + 1
    );
}
