//! The fake agent's script language: turns prompt text into a list of `Step`s.
//! Pure parsing only; it knows nothing of sessions, the wire or time passing.
//!
//! Steps are separated by newlines or `;` (write `\;` for a literal semicolon).
//! Keywords are case-insensitive; arguments keep their case. `raw` and `update`
//! take a JSON value, which may itself contain `;`. See `help.rs` for the user guide.

use std::time::Duration;

use serde_json::value::RawValue;

/// One instruction of a script, in the order it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// One agent_message_chunk.
    Say(String),
    /// The text streamed word by word, one agent_message_chunk per word.
    Echo(String),
    /// One agent_thought_chunk.
    Think(String),
    /// `chunks` numbered agent_message_chunk lines of about `line_bytes` bytes each.
    Stream {
        chunks: u64,
        line_bytes: usize,
    },
    /// One agent_message_chunk holding `bytes` bytes of text.
    Big {
        bytes: usize,
    },
    ToolCall(ToolSpec),
    AskPermission(ToolSpec),
    WriteFile {
        path: String,
        content: String,
    },
    ReadFile {
        path: String,
    },
    Sleep(Duration),
    Crash,
    Exit(i32),
    Hang,
    Garbage,
    StderrFlood {
        lines: u64,
    },
    Plan(Vec<String>),
    Error {
        code: i64,
        message: String,
    },
    Stop(String),
    /// A raw `update` object (validated as a JSON object).
    Update(String),
    /// A line written to stdout exactly as given.
    Raw(String),
    Terminal {
        command: String,
        args: Vec<String>,
    },
    Elicit(String),
    Whoami,
    Commands,
    Mode(String),
    SpawnGrandchild,
    /// A step whose first word is no keyword: said back as `unknown step: ...`.
    Unknown(String),
    /// A keyword with arguments that do not fit: said back as `bad step: ...`.
    Bad {
        text: String,
        reason: String,
    },
}

/// What a `tool call` or `ask permission` step announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSpec {
    pub kind: &'static str,
    /// The adapter-level tool name, sent as `_meta.claudeCode.toolName`.
    pub tool_name: Option<String>,
    pub title: String,
}

/// The ACP tool kinds, as a `tool call` step may name them.
pub const TOOL_KINDS: &[&str] = &[
    "read",
    "edit",
    "delete",
    "move",
    "search",
    "execute",
    "think",
    "fetch",
    "switch_mode",
    "other",
];

/// Line size of `stream` chunks when the script does not say.
pub const DEFAULT_STREAM_LINE_BYTES: usize = 250;
/// Lines written by `stderr flood` when the script does not say.
pub const DEFAULT_STDERR_FLOOD_LINES: u64 = 10_000;
const DEFAULT_TOOL_TITLE: &str = "fake tool call";
const DEFAULT_FILE_CONTENT: &str = "written by the ourocodus fake agent\n";

/// Parses a whole prompt. A prompt in which no step is recognised becomes one
/// `Echo` of the whole text, so any ordinary sentence gets an answer.
pub fn parse_prompt(text: &str) -> Vec<Step> {
    let steps = parse_steps(text);
    if steps.iter().all(|s| matches!(s, Step::Unknown(_))) {
        return vec![Step::Echo(text.to_string())];
    }
    steps
}

/// Parses every step, recognised or not, in order.
pub fn parse_steps(text: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for line in text.lines() {
        let mut rest = line.trim_start();
        while !rest.is_empty() {
            let (segment, remainder) = next_segment(rest);
            if !segment.trim().is_empty() {
                steps.push(parse_step(segment.trim()));
            }
            rest = remainder.trim_start();
        }
    }
    steps
}

/// Splits off the first step of a line: a JSON-taking step up to the end of its
/// JSON value, any other step up to the first unescaped `;`.
fn next_segment(line: &str) -> (&str, &str) {
    json_segment(line).unwrap_or_else(|| split_at_semicolon(line))
}

fn json_segment(line: &str) -> Option<(&str, &str)> {
    let keyword = first_word(line);
    if !keyword.eq_ignore_ascii_case("raw") && !keyword.eq_ignore_ascii_case("update") {
        return None;
    }
    let after_keyword = &line[keyword.len()..];
    let json_start = keyword.len() + (after_keyword.len() - after_keyword.trim_start().len());
    let mut values =
        serde_json::Deserializer::from_str(&line[json_start..]).into_iter::<&RawValue>();
    values.next()?.ok()?;
    let json_end = json_start + values.byte_offset();
    let after = line[json_end..].trim_start();
    match after.strip_prefix(';') {
        _ if after.is_empty() => Some((line, "")),
        Some(remainder) => Some((&line[..json_end], remainder)),
        None => None,
    }
}

fn split_at_semicolon(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b';' => return (&line[..i], &line[i + 1..]),
            _ => i += 1,
        }
    }
    (line, "")
}

fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("")
}

/// The text after the first `n` words, with its leading whitespace removed.
fn after_words(text: &str, n: usize) -> &str {
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

/// Parses one step (already split off and trimmed).
pub fn parse_step(segment: &str) -> Step {
    let words: Vec<String> = segment
        .split_whitespace()
        .take(4)
        .map(str::to_ascii_lowercase)
        .collect();
    let word = |i: usize| words.get(i).map_or("", String::as_str);
    let parsed = match (word(0), word(1)) {
        ("tool", "call") => Some(parse_tool_call(segment)),
        ("ask", "permission") => Some(tool_step(segment, 2, Step::AskPermission)),
        ("write", "file") => Some(parse_write_file(after_words(segment, 2))),
        ("read", "file") => Some(parse_read_file(after_words(segment, 2))),
        ("garbage", "on") if word(2) == "stdout" && words.len() == 3 => Some(Step::Garbage),
        ("garbage", "") => Some(Step::Garbage),
        ("stderr", "flood") => Some(parse_stderr_flood(after_words(segment, 2))),
        ("spawn", "grandchild") if words.len() == 2 => Some(Step::SpawnGrandchild),
        (keyword, _) => parse_single_keyword(keyword, after_words(segment, 1)),
    };
    match parsed {
        Some(Step::Bad { reason, .. }) => Step::Bad {
            text: segment.to_string(),
            reason,
        },
        Some(step) => step,
        None => Step::Unknown(unescape(segment)),
    }
}

/// Steps introduced by one keyword; `None` when the keyword is not one.
fn parse_single_keyword(keyword: &str, args: &str) -> Option<Step> {
    let text = || unescape(args);
    let step = match keyword {
        "say" => Step::Say(text()),
        "echo" => Step::Echo(text()),
        "think" => Step::Think(text()),
        "stream" => parse_stream(args),
        "big" => parse_big(args),
        "sleep" => parse_sleep(args),
        "exit" => parse_exit(args),
        "plan" => parse_plan(args),
        "error" => parse_error(args),
        "stop" => parse_word_arg(args, "stop REASON", Step::Stop),
        "mode" => parse_word_arg(args, "mode NAME", Step::Mode),
        "update" => parse_update(args),
        "raw" => Step::Raw(raw_text(args)),
        "terminal" => parse_terminal(args),
        "elicit" => Step::Elicit(text()),
        _ => return parse_bare_keyword(keyword, args),
    };
    Some(step)
}

/// Keywords that take no argument; with arguments they are not steps at all,
/// so that a sentence like "hang on" is not taken for a command.
fn parse_bare_keyword(keyword: &str, args: &str) -> Option<Step> {
    if !args.is_empty() {
        return None;
    }
    match keyword {
        "crash" => Some(Step::Crash),
        "hang" => Some(Step::Hang),
        "whoami" => Some(Step::Whoami),
        "commands" => Some(Step::Commands),
        _ => None,
    }
}

fn bad(reason: impl Into<String>) -> Step {
    // `parse_step` fills in the step's text.
    Step::Bad {
        text: String::new(),
        reason: reason.into(),
    }
}

fn parse_stream(args: &str) -> Step {
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

fn parse_big(args: &str) -> Step {
    match single_word(args).and_then(parse_count) {
        Some(bytes) => Step::Big {
            bytes: bytes as usize,
        },
        None => bad("expected `big N` (a byte count such as 5000, 64k or 2m)"),
    }
}

fn parse_sleep(args: &str) -> Step {
    match single_word(args).map(parse_duration) {
        Some(Ok(d)) => Step::Sleep(d),
        Some(Err(e)) => bad(e),
        None => bad("expected `sleep DURATION` such as 500ms or 2s"),
    }
}

fn parse_exit(args: &str) -> Step {
    if args.is_empty() {
        return Step::Exit(0);
    }
    match single_word(args).and_then(|w| w.parse::<i32>().ok()) {
        Some(code) => Step::Exit(code),
        None => bad("expected `exit [CODE]` with an integer code"),
    }
}

fn parse_plan(args: &str) -> Step {
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

fn parse_error(args: &str) -> Step {
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

fn parse_word_arg(args: &str, usage: &str, step: fn(String) -> Step) -> Step {
    match single_word(args) {
        Some(w) => step(w.to_string()),
        None => bad(format!("expected `{usage}`")),
    }
}

fn parse_update(args: &str) -> Step {
    match serde_json::from_str::<&RawValue>(args) {
        Ok(raw) if raw.get().starts_with('{') => Step::Update(raw.get().to_string()),
        Ok(_) => bad("the update must be a JSON object"),
        Err(e) => bad(format!("the update is not JSON: {e}")),
    }
}

/// A valid JSON value is written exactly as given; anything else is unescaped
/// like other text, so garbage lines can hold `;` as `\;`.
fn raw_text(args: &str) -> String {
    if serde_json::from_str::<&RawValue>(args).is_ok() {
        args.to_string()
    } else {
        unescape(args)
    }
}

fn parse_terminal(args: &str) -> Step {
    let mut words = args.split_whitespace().map(unescape);
    match words.next() {
        Some(command) => Step::Terminal {
            command,
            args: words.collect(),
        },
        None => bad("expected `terminal COMMAND [ARGS...]`"),
    }
}

fn parse_tool_call(segment: &str) -> Step {
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
fn tool_step(segment: &str, skip: usize, step: fn(ToolSpec) -> Step) -> Step {
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

fn parse_write_file(args: &str) -> Step {
    let path = first_word(args);
    if path.is_empty() {
        return bad("expected `write file PATH [CONTENT...]`");
    }
    let content = after_words(args, 1);
    let content = if content.is_empty() {
        DEFAULT_FILE_CONTENT.to_string()
    } else {
        unescape(content)
    };
    Step::WriteFile {
        path: unescape(path),
        content,
    }
}

fn parse_read_file(args: &str) -> Step {
    match single_word(args) {
        Some(path) => Step::ReadFile {
            path: unescape(path),
        },
        None => bad("expected `read file PATH`"),
    }
}

fn parse_stderr_flood(args: &str) -> Step {
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

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
