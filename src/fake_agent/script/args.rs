//! The arguments of each step: words, counts, durations, escapes, tool specs.
//! Pure; every function takes the text after a step's keyword.

use std::time::Duration;

use serde_json::value::RawValue;

use super::{
    DEFAULT_FILE_CONTENT, DEFAULT_STDERR_FLOOD_LINES, DEFAULT_STREAM_LINE_BYTES,
    DEFAULT_TOOL_TITLE, Step, TOOL_KINDS, ToolSpec,
};

pub(super) fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("")
}

/// The text after the first `n` words, with its leading whitespace removed.
pub(super) fn after_words(text: &str, n: usize) -> &str {
    let mut rest = text.trim_start();
    for _ in 0..n {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[word_end..].trim_start();
    }
    rest
}

/// Replaces `\n`, `\t`, `\;` and `\\` with what they stand for; other
/// backslashes stay as they are.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(';') => out.push(';'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A `Bad` step; `parse_step` fills in the step's text.
fn bad(reason: impl Into<String>) -> Step {
    Step::Bad {
        text: String::new(),
        reason: reason.into(),
    }
}

pub(super) fn parse_stream(args: &str) -> Step {
    const USAGE: &str = "expected `stream N chunks [of B bytes]`";
    let words: Vec<&str> = args.split_whitespace().collect();
    let lowered: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let is = |i: usize, options: &[&str]| {
        lowered
            .get(i)
            .is_some_and(|w| options.contains(&w.as_str()))
    };
    let Some(chunks) = words.first().and_then(|w| parse_count(w)) else {
        return bad(USAGE);
    };
    if !is(1, &["chunks", "chunk"]) {
        return bad(USAGE);
    }
    let line_bytes = match words.len() {
        2 => DEFAULT_STREAM_LINE_BYTES,
        5 if is(2, &["of"]) && is(4, &["bytes", "byte"]) => match parse_count(words[3]) {
            Some(b) => b as usize,
            None => return bad(USAGE),
        },
        _ => return bad(USAGE),
    };
    Step::Stream { chunks, line_bytes }
}

pub(super) fn parse_big(args: &str) -> Step {
    match single_word(args).and_then(parse_count) {
        Some(bytes) => Step::Big {
            bytes: bytes as usize,
        },
        None => bad("expected `big N` (a byte count such as 5000, 64k or 2m)"),
    }
}

pub(super) fn parse_sleep(args: &str) -> Step {
    match single_word(args).map(parse_duration) {
        Some(Ok(d)) => Step::Sleep(d),
        Some(Err(e)) => bad(e),
        None => bad("expected `sleep DURATION` such as 500ms or 2s"),
    }
}

pub(super) fn parse_exit(args: &str) -> Step {
    if args.is_empty() {
        return Step::Exit(0);
    }
    match single_word(args).and_then(|w| w.parse::<i32>().ok()) {
        Some(code) => Step::Exit(code),
        None => bad("expected `exit [CODE]` with an integer code"),
    }
}

pub(super) fn parse_plan(args: &str) -> Step {
    let entries: Vec<String> = args
        .split('|')
        .map(|e| unescape(e.trim()))
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() {
        return bad("expected `plan A | B | C`");
    }
    Step::Plan(entries)
}

pub(super) fn parse_error(args: &str) -> Step {
    let code = first_word(args);
    match code.parse::<i64>() {
        Ok(code) => {
            let message = after_words(args, 1);
            let message = if message.is_empty() {
                "fake error".to_string()
            } else {
                unescape(message)
            };
            Step::Error { code, message }
        }
        Err(_) => bad("expected `error CODE MESSAGE` with an integer code"),
    }
}

pub(super) fn parse_word_arg(args: &str, usage: &str, step: fn(String) -> Step) -> Step {
    match single_word(args) {
        Some(w) => step(w.to_string()),
        None => bad(format!("expected `{usage}`")),
    }
}

pub(super) fn parse_update(args: &str) -> Step {
    match serde_json::from_str::<&RawValue>(args) {
        Ok(raw) if raw.get().starts_with('{') => Step::Update(raw.get().to_string()),
        Ok(_) => bad("the update must be a JSON object"),
        Err(e) => bad(format!("the update is not JSON: {e}")),
    }
}

/// Any JSON value, kept exactly as given (hostile ones too: that is the point).
pub(super) fn parse_usage(args: &str) -> Step {
    match serde_json::from_str::<&RawValue>(args) {
        Ok(raw) => Step::AnswerUsage(raw.get().to_string()),
        Err(e) => bad(format!("the usage is not JSON: {e}")),
    }
}

/// A valid JSON value is written exactly as given; anything else is unescaped
/// like other text, so garbage lines can hold `;` as `\;`.
pub(super) fn raw_text(args: &str) -> String {
    if serde_json::from_str::<&RawValue>(args).is_ok() {
        args.to_string()
    } else {
        unescape(args)
    }
}

pub(super) fn parse_terminal(args: &str) -> Step {
    let mut words = args.split_whitespace().map(unescape);
    match words.next() {
        Some(command) => Step::Terminal {
            command,
            args: words.collect(),
        },
        None => bad("expected `terminal COMMAND [ARGS...]`"),
    }
}

pub(super) fn parse_tool_call(segment: &str) -> Step {
    let after = after_words(segment, 2);
    let lowered: Vec<String> = after
        .split_whitespace()
        .take(3)
        .map(str::to_ascii_lowercase)
        .collect();
    if lowered == ["then", "ask", "permission"] {
        return tool_step(segment, 5, Step::AskPermission);
    }
    tool_step(segment, 2, Step::ToolCall)
}

/// Parses `[KIND] [as TOOLNAME] [TITLE...]` after the first `skip` words.
pub(super) fn tool_step(segment: &str, skip: usize, step: fn(ToolSpec) -> Step) -> Step {
    let mut rest = after_words(segment, skip);
    let explicit_kind = known_kind(first_word(rest));
    if explicit_kind.is_some() {
        rest = after_words(rest, 1);
    }
    let mut tool_name = None;
    if first_word(rest).eq_ignore_ascii_case("as") && !after_words(rest, 1).is_empty() {
        tool_name = Some(first_word(after_words(rest, 1)).to_string());
        rest = after_words(rest, 2);
    }
    let kind = explicit_kind
        .or_else(|| tool_name.as_deref().map(kind_of_tool_name))
        .unwrap_or("other");
    let title = if rest.is_empty() {
        DEFAULT_TOOL_TITLE.to_string()
    } else {
        unescape(rest)
    };
    step(ToolSpec {
        kind,
        tool_name,
        title,
    })
}

fn known_kind(word: &str) -> Option<&'static str> {
    TOOL_KINDS
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(word))
}

/// The kind the Claude adapter gives its tools, so `as Bash` alone looks real.
fn kind_of_tool_name(tool_name: &str) -> &'static str {
    match tool_name {
        "Bash" => "execute",
        "Read" => "read",
        "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => "edit",
        "Glob" | "Grep" | "LS" => "search",
        "WebFetch" | "WebSearch" => "fetch",
        _ => "other",
    }
}

/// `write file` (through the client) or, `direct`, `disk write` (by the agent itself).
pub(super) fn parse_write_file(args: &str, direct: bool) -> Step {
    let path = first_word(args);
    if path.is_empty() {
        return bad(if direct {
            "expected `disk write PATH [CONTENT...]`"
        } else {
            "expected `write file PATH [CONTENT...]`"
        });
    }
    let content = after_words(args, 1);
    let content = if content.is_empty() {
        DEFAULT_FILE_CONTENT.to_string()
    } else {
        unescape(content)
    };
    let path = unescape(path);
    if direct {
        Step::DiskWrite { path, content }
    } else {
        Step::WriteFile { path, content }
    }
}

pub(super) fn parse_read_file(args: &str) -> Step {
    match single_word(args) {
        Some(path) => Step::ReadFile {
            path: unescape(path),
        },
        None => bad("expected `read file PATH`"),
    }
}

pub(super) fn parse_stderr_flood(args: &str) -> Step {
    if args.is_empty() {
        return Step::StderrFlood {
            lines: DEFAULT_STDERR_FLOOD_LINES,
        };
    }
    match single_word(args).and_then(parse_count) {
        Some(lines) => Step::StderrFlood { lines },
        None => bad("expected `stderr flood [N]`"),
    }
}

fn single_word(args: &str) -> Option<&str> {
    let mut words = args.split_whitespace();
    let word = words.next()?;
    words.next().is_none().then_some(word)
}

/// A count such as `250`, `1_000_000`, `64k` (64 000) or `2m` (2 000 000).
pub fn parse_count(word: &str) -> Option<u64> {
    let lower = word.to_ascii_lowercase().replace('_', "");
    let (digits, factor) = match lower.as_bytes().last()? {
        b'k' => (&lower[..lower.len() - 1], 1_000),
        b'm' => (&lower[..lower.len() - 1], 1_000_000),
        _ => (&lower[..], 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(factor)
}

/// A duration such as `500ms`, `2s`, `1.5s` or `1m`; used for flags too.
pub fn parse_duration(word: &str) -> Result<Duration, String> {
    let lower = word.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let seconds_per_unit = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        _ => {
            return Err(format!(
                "bad duration `{word}`: expected a number with ms, s or m, such as 500ms"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("bad duration `{word}`: expected a number before the unit"))?;
    Duration::try_from_secs_f64(value * seconds_per_unit)
        .map_err(|e| format!("bad duration `{word}`: {e}"))
}
