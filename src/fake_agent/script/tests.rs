use std::time::Duration;

use super::args::{parse_count, unescape};
use super::*;

fn one(text: &str) -> Step {
    let steps = parse_steps(text);
    assert_eq!(steps.len(), 1, "{text:?} gave {steps:?}");
    steps.into_iter().next().unwrap_or(Step::Crash)
}

fn tool(kind: &'static str, tool_name: Option<&str>, title: &str) -> ToolSpec {
    ToolSpec {
        kind,
        tool_name: tool_name.map(str::to_string),
        title: title.to_string(),
    }
}

fn is_bad(step: &Step) -> bool {
    matches!(step, Step::Bad { .. })
}

#[test]
fn a_prompt_without_any_step_is_echoed_whole() {
    let text = "Hello there, how are you?\nFine.";
    assert_eq!(parse_prompt(text), vec![Step::Echo(text.to_string())]);
}

#[test]
fn an_empty_prompt_is_an_empty_echo() {
    assert_eq!(parse_prompt(""), vec![Step::Echo(String::new())]);
}

#[test]
fn unknown_words_among_recognised_steps_are_kept_as_unknown_steps() {
    assert_eq!(
        parse_prompt("say hi\nfrobnicate the thing"),
        vec![
            Step::Say("hi".into()),
            Step::Unknown("frobnicate the thing".into())
        ]
    );
}

#[test]
fn steps_are_separated_by_newlines_and_semicolons() {
    assert_eq!(
        parse_steps("say a; think b\n  echo c d ;;\n\nwhoami"),
        vec![
            Step::Say("a".into()),
            Step::Think("b".into()),
            Step::Echo("c d".into()),
            Step::Whoami
        ]
    );
}

#[test]
fn keywords_are_case_insensitive_but_arguments_keep_their_case() {
    assert_eq!(one("SAY Hello World"), Step::Say("Hello World".into()));
    assert_eq!(
        one("Tool Call Execute Run It"),
        Step::ToolCall(tool("execute", None, "Run It"))
    );
    assert_eq!(one("WhoAmI"), Step::Whoami);
}

#[test]
fn text_keeps_its_inner_spacing() {
    assert_eq!(one("say   a  b   "), Step::Say("a  b".into()));
}

#[test]
fn escapes_give_newlines_tabs_semicolons_and_backslashes() {
    assert_eq!(
        one(r"say a\nb\tc\; d\\e"),
        Step::Say("a\nb\tc; d\\e".into())
    );
    assert_eq!(
        unescape(r"keep \x and a trailing \"),
        r"keep \x and a trailing \"
    );
}

#[test]
fn an_escaped_semicolon_does_not_split() {
    assert_eq!(
        parse_steps(r"say a\; b; say c"),
        vec![Step::Say("a; b".into()), Step::Say("c".into())]
    );
}

#[test]
fn stream_takes_a_count_and_an_optional_line_size() {
    assert_eq!(
        one("stream 10 chunks"),
        Step::Stream {
            chunks: 10,
            line_bytes: 250
        }
    );
    assert_eq!(
        one("stream 1 chunk"),
        Step::Stream {
            chunks: 1,
            line_bytes: 250
        }
    );
    assert_eq!(
        one("stream 2m chunks of 1k bytes"),
        Step::Stream {
            chunks: 2_000_000,
            line_bytes: 1000
        }
    );
    assert_eq!(
        one("Stream 1_000 Chunks Of 80 Bytes"),
        Step::Stream {
            chunks: 1000,
            line_bytes: 80
        }
    );
}

#[test]
fn a_malformed_stream_is_a_bad_step_that_keeps_its_text() {
    for text in [
        "stream lots",
        "stream 10",
        "stream 10 chunks of",
        "stream 10 chunks of x bytes",
        "stream 5 cats",
    ] {
        match one(text) {
            Step::Bad { text: kept, reason } => {
                assert_eq!(kept, text);
                assert!(reason.contains("stream N chunks"), "{reason}");
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }
}

#[test]
fn a_bad_step_counts_as_recognised_so_the_prompt_is_not_echoed() {
    assert!(is_bad(&parse_prompt("sleep forever")[0]));
}

#[test]
fn big_takes_a_byte_count() {
    assert_eq!(one("big 5000"), Step::Big { bytes: 5000 });
    assert_eq!(one("big 3m"), Step::Big { bytes: 3_000_000 });
    assert!(is_bad(&one("big deal")));
}

#[test]
fn counts_accept_underscores_and_k_or_m_suffixes_only() {
    assert_eq!(parse_count("1_000"), Some(1000));
    assert_eq!(parse_count("64K"), Some(64_000));
    assert_eq!(parse_count("2m"), Some(2_000_000));
    for bad in ["", "k", "1.5k", "-1", "12x", "99999999999999999999"] {
        assert_eq!(parse_count(bad), None, "{bad}");
    }
}

#[test]
fn durations_need_a_unit() {
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
    for bad in ["2", "ms", "2h", "fast", "1..2s"] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
}

#[test]
fn sleep_parses_its_duration() {
    assert_eq!(one("sleep 250ms"), Step::Sleep(Duration::from_millis(250)));
    assert!(is_bad(&one("sleep")));
    assert!(is_bad(&one("sleep 2 s")));
}

#[test]
fn tool_call_takes_an_optional_kind_tool_name_and_title() {
    assert_eq!(
        one("tool call"),
        Step::ToolCall(tool("other", None, "fake tool call"))
    );
    assert_eq!(
        one("tool call read Read main.rs"),
        Step::ToolCall(tool("read", None, "Read main.rs"))
    );
    assert_eq!(
        one("tool call edit as Edit fix it"),
        Step::ToolCall(tool("edit", Some("Edit"), "fix it"))
    );
    assert_eq!(
        one("tool call Listing files"),
        Step::ToolCall(tool("other", None, "Listing files"))
    );
}

#[test]
fn a_tool_name_without_a_kind_gets_the_kind_the_claude_adapter_uses() {
    assert_eq!(
        one("tool call as Bash ls -la"),
        Step::ToolCall(tool("execute", Some("Bash"), "ls -la"))
    );
    assert_eq!(
        one("ask permission as Grep"),
        Step::AskPermission(tool("search", Some("Grep"), "fake tool call"))
    );
    assert_eq!(
        one("ask permission as Frob x"),
        Step::AskPermission(tool("other", Some("Frob"), "x"))
    );
}

#[test]
fn a_lone_as_is_part_of_the_title() {
    assert_eq!(
        one("tool call as"),
        Step::ToolCall(tool("other", None, "as"))
    );
}

#[test]
fn tool_call_then_ask_permission_is_an_alias_of_ask_permission() {
    let expected = Step::AskPermission(tool("execute", Some("Bash"), "rm -rf build"));
    assert_eq!(one("ask permission execute as Bash rm -rf build"), expected);
    assert_eq!(
        one("tool call then ask permission execute as Bash rm -rf build"),
        expected
    );
    assert_eq!(
        one("Tool Call Then Ask Permission"),
        Step::AskPermission(tool("other", None, "fake tool call"))
    );
}

#[test]
fn write_file_takes_a_path_and_optional_content() {
    assert_eq!(
        one(r"write file notes/a.txt line one\nline two"),
        Step::WriteFile {
            path: "notes/a.txt".into(),
            content: "line one\nline two".into()
        }
    );
    assert_eq!(
        one("write file /tmp/x"),
        Step::WriteFile {
            path: "/tmp/x".into(),
            content: "written by the ourocodus fake agent\n".into()
        }
    );
    assert!(is_bad(&one("write file")));
}

#[test]
fn read_file_takes_exactly_one_path() {
    assert_eq!(
        one("read file src/main.rs"),
        Step::ReadFile {
            path: "src/main.rs".into()
        }
    );
    assert!(is_bad(&one("read file")));
    assert!(is_bad(&one("read file a b")));
}

#[test]
fn sentences_that_merely_start_like_steps_are_unknown() {
    for text in [
        "write a poem",
        "read the docs",
        "hang on a minute",
        "crash course",
        "tool time",
        "spawn grandchildren now",
    ] {
        assert_eq!(one(text), Step::Unknown(text.into()), "{text}");
    }
}

#[test]
fn bare_keywords_need_no_arguments() {
    assert_eq!(one("crash"), Step::Crash);
    assert_eq!(one("hang"), Step::Hang);
    assert_eq!(one("commands"), Step::Commands);
    assert_eq!(one("spawn grandchild"), Step::SpawnGrandchild);
    assert_eq!(
        one("mcp x3 list_tasks"),
        Step::Mcp {
            tool: "list_tasks".into(),
            arguments: "{}".into(),
            times: 3
        }
    );
    assert_eq!(
        one(r#"mcp delegate {"role": "b"}"#),
        Step::Mcp {
            tool: "delegate".into(),
            arguments: r#"{"role": "b"}"#.into(),
            times: 1
        }
    );
    assert_eq!(
        one("disk write a.txt hi"),
        Step::DiskWrite {
            path: "a.txt".into(),
            content: "hi".into()
        }
    );
    assert_eq!(one("shell echo x"), Step::Shell("echo x".into()));
    assert_eq!(one("garbage on stdout"), Step::Garbage);
    assert_eq!(one("garbage"), Step::Garbage);
}

#[test]
fn exit_takes_an_optional_code() {
    assert_eq!(one("exit 7"), Step::Exit(7));
    assert_eq!(one("exit"), Step::Exit(0));
    assert!(is_bad(&one("exit now")));
}

#[test]
fn stderr_flood_defaults_to_ten_thousand_lines() {
    assert_eq!(one("stderr flood"), Step::StderrFlood { lines: 10_000 });
    assert_eq!(one("stderr flood 5"), Step::StderrFlood { lines: 5 });
    assert!(is_bad(&one("stderr flood lots")));
}

#[test]
fn plan_entries_are_split_on_bars_and_trimmed() {
    assert_eq!(
        one("plan read code | write tests|  ship "),
        Step::Plan(vec![
            "read code".into(),
            "write tests".into(),
            "ship".into()
        ])
    );
    assert!(is_bad(&one("plan | |")));
}

#[test]
fn error_takes_a_code_and_a_message() {
    assert_eq!(
        parse_steps("error -32603 it broke; say after")[0],
        Step::Error {
            code: -32603,
            message: "it broke".into()
        }
    );
    assert_eq!(
        one("error 42"),
        Step::Error {
            code: 42,
            message: "fake error".into()
        }
    );
    assert!(is_bad(&one("error oops")));
}

#[test]
fn stop_and_mode_take_one_word() {
    assert_eq!(one("stop max_tokens"), Step::Stop("max_tokens".into()));
    assert_eq!(one("mode plan"), Step::Mode("plan".into()));
    assert!(is_bad(&one("stop")));
    assert!(is_bad(&one("mode a b")));
}

#[test]
fn update_keeps_its_json_object_verbatim_even_with_semicolons_inside() {
    let json = r#"{"sessionUpdate":"future_thing","text":"a; b","_meta":{"x":[1, 2]}}"#;
    assert_eq!(
        parse_steps(&format!("update {json}; say done")),
        vec![Step::Update(json.into()), Step::Say("done".into())]
    );
}

#[test]
fn update_must_be_a_json_object() {
    assert!(is_bad(&one("update [1]")));
    assert!(is_bad(&one("update {not json")));
    assert!(is_bad(&one(r#"update {"a":1} trailing"#)));
}

#[test]
fn usage_keeps_any_json_value_verbatim_for_the_answer() {
    let json = r#"{"totalTokens":30, "inputTokens":-1,"x":"a; b"}"#;
    assert_eq!(
        parse_steps(&format!("usage {json}; stop max_tokens")),
        vec![
            Step::AnswerUsage(json.into()),
            Step::Stop("max_tokens".into())
        ]
    );
    assert_eq!(
        one(r#"usage "lots""#),
        Step::AnswerUsage(r#""lots""#.into())
    );
    assert!(is_bad(&one("usage {not json")));
}

#[test]
fn raw_keeps_json_exactly_and_takes_other_text_up_to_a_semicolon() {
    let json = r#"{"jsonrpc":"2.0","method":"x;y", "params":{}}"#;
    assert_eq!(
        parse_steps(&format!("raw {json} ; say ok")),
        vec![Step::Raw(json.into()), Step::Say("ok".into())]
    );
    assert_eq!(
        parse_steps(r"raw not json\; really; say ok"),
        vec![Step::Raw("not json; really".into()), Step::Say("ok".into())]
    );
}

#[test]
fn terminal_splits_the_command_into_words() {
    assert_eq!(
        one("terminal ls -la /tmp"),
        Step::Terminal {
            command: "ls".into(),
            args: vec!["-la".into(), "/tmp".into()]
        }
    );
    assert!(is_bad(&one("terminal")));
}

#[test]
fn elicit_takes_the_message() {
    assert_eq!(
        one("elicit Which database?"),
        Step::Elicit("Which database?".into())
    );
}

#[test]
fn windows_line_endings_are_tolerated() {
    assert_eq!(
        parse_steps("say a\r\nsay b\r\n"),
        vec![Step::Say("a".into()), Step::Say("b".into())]
    );
}

#[test]
fn steps_addressed_by_name_run_only_on_that_agent() {
    let text = "alpha> say hi; beta> sleep 1s; say both";
    let alpha = parse_prompt_as(text, "alpha");
    assert_eq!(alpha.len(), 2);
    assert!(matches!(&alpha[0], Step::Say(t) if t == "hi"));
    let beta = parse_prompt_as(text, "beta");
    assert!(matches!(beta[0], Step::Sleep(_)));
    let gamma = parse_prompt_as("alpha> say hi", "gamma");
    assert!(
        gamma.is_empty(),
        "a script for others is not echoed: {gamma:?}"
    );
}
