//! The fake agent's script language: turns prompt text into a list of `Step`s.
//! Pure parsing only; it knows nothing of sessions, the wire or time passing.
//!
//! Steps are separated by newlines or `;` (write `\;` for a literal semicolon).
//! Keywords are case-insensitive; arguments keep their case. `raw`, `update` and
//! `usage` take a JSON value, which may itself contain `;`. See `help.rs` for the user guide.

mod args;

use std::time::Duration;

use serde_json::value::RawValue;

pub use args::parse_duration;
use args::{
    after_words, first_word, parse_big, parse_error, parse_exit, parse_plan, parse_read_file,
    parse_sleep, parse_stderr_flood, parse_stream, parse_terminal, parse_tool_call, parse_update,
    parse_usage, parse_word_arg, parse_write_file, raw_text, tool_step, unescape,
};

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
    /// A write straight to disk by the agent process itself, past the protocol.
    DiskWrite {
        path: String,
        content: String,
    },
    /// `sh -c COMMAND` in the session cwd, as an agent's shell tool would run it.
    Shell(String),
    /// Calls of a tool of the session's first MCP server: name, JSON arguments, and
    /// how many times (on one connection).
    Mcp {
        tool: String,
        arguments: String,
        times: u32,
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
    /// The prompt's answer carries `usage`: this JSON value, exactly as given.
    AnswerUsage(String),
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
#[cfg(test)]
pub fn parse_prompt(text: &str) -> Vec<Step> {
    parse_prompt_as(text, "")
}

/// Parses a prompt for the agent called `name`: a step written `NAME> step` runs
/// only on the agent of that name, so one prompt can script several agents.
pub fn parse_prompt_as(text: &str, name: &str) -> Vec<Step> {
    let (steps, addressed) = parse_steps_as(text, name);
    if !addressed && steps.iter().all(|s| matches!(s, Step::Unknown(_))) {
        return vec![Step::Echo(text.to_string())];
    }
    steps
}

/// Parses every step, recognised or not, in order.
#[cfg(test)]
pub fn parse_steps(text: &str) -> Vec<Step> {
    parse_steps_as(text, "").0
}

/// The steps for `name`, and whether any step was addressed to an agent by name.
fn parse_steps_as(text: &str, name: &str) -> (Vec<Step>, bool) {
    let mut steps = Vec::new();
    let mut addressed = false;
    for line in text.lines() {
        let mut rest = line.trim_start();
        while !rest.is_empty() {
            let (segment, remainder) = next_segment(rest);
            match addressee(segment.trim()) {
                Some((to, step)) => {
                    addressed = true;
                    if to.eq_ignore_ascii_case(name) && !step.is_empty() {
                        steps.push(parse_step(step));
                    }
                }
                None if !segment.trim().is_empty() => steps.push(parse_step(segment.trim())),
                None => {}
            }
            rest = remainder.trim_start();
        }
    }
    (steps, addressed)
}

/// `NAME> step` → (NAME, step).
fn addressee(segment: &str) -> Option<(&str, &str)> {
    let (to, step) = segment.split_once('>')?;
    let valid = !to.is_empty()
        && to
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then(|| (to, step.trim()))
}

/// Splits off the first step of a line: a JSON-taking step up to the end of its
/// JSON value, any other step up to the first unescaped `;`.
fn next_segment(line: &str) -> (&str, &str) {
    json_segment(line).unwrap_or_else(|| split_at_semicolon(line))
}

fn json_segment(line: &str) -> Option<(&str, &str)> {
    let keyword = first_word(line);
    if !["raw", "update", "usage"]
        .iter()
        .any(|k| keyword.eq_ignore_ascii_case(k))
    {
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
        ("write", "file") => Some(parse_write_file(after_words(segment, 2), false)),
        ("disk", "write") => Some(parse_write_file(after_words(segment, 2), true)),
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
        "usage" => parse_usage(args),
        "terminal" => parse_terminal(args),
        "elicit" => Step::Elicit(text()),
        "shell" if !args.trim().is_empty() => Step::Shell(text()),
        "mcp" => parse_mcp(args),
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

#[cfg(test)]
mod tests;

/// `mcp [xN] TOOL [JSON]`: the arguments default to `{}`, the times to one.
fn parse_mcp(args: &str) -> Step {
    let (times, args) = match args::first_word(args)
        .strip_prefix('x')
        .map(str::parse::<u32>)
    {
        Some(Ok(times)) => (times, args::after_words(args, 1)),
        _ => (1, args),
    };
    let tool = args::first_word(args);
    if tool.is_empty() {
        return Step::Bad {
            text: format!("mcp {args}"),
            reason: "expected `mcp TOOL [JSON]`".into(),
        };
    }
    // `\;` keeps a `;` in the JSON from ending the step (JSON itself has no `\;`).
    let rest = args::after_words(args, 1).replace("\\;", ";");
    Step::Mcp {
        tool: tool.to_string(),
        arguments: if rest.trim().is_empty() {
            "{}".into()
        } else {
            rest
        },
        times,
    }
}
