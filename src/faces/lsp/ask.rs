//! What the LSP face asks the team: the `ourocodus.ask` and `ourocodus.change`
//! commands' argument, the code actions that carry it, the prompt it becomes, and
//! an answer read back as replacement code. Pure: knows no client, no core state.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Command as LspCommand, Range, Uri,
};

use crate::ids::Role;

/// Ask a role (or the route, or the team) about some text.
pub const ASK: &str = "ourocodus.ask";
/// Ask a role for new code for a selection: the answer is offered as an edit.
pub const CHANGE: &str = "ourocodus.change";
/// Stop everything the team is doing in the workspace's session (no argument).
pub const CANCEL: &str = "ourocodus.cancel";
/// The mention that sends a prompt to every role.
const TEAM: &str = "all";
/// The most code one question carries (a selection read from a document, or `text`).
pub const MAX_TEXT: usize = 256 * 1024;

/// The one argument of `ourocodus.ask` and `ourocodus.change`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskArgs {
    /// A role, `all` for the team; none for the session's route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// What to ask. Absent: the code at `uri`/`range`, read from the open document
    /// when the command runs (what the code actions send, so a selection is not
    /// copied into every action the client is offered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<Uri>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
    /// The document's version when a code action offered this: the command is refused
    /// once the document has changed (the range may hold other code by then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
}

/// Why a command's arguments were refused (said to the client as invalid params).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AskError {
    #[error("{0} takes one argument, {{ role?, text?, uri?, range? }}")]
    Shape(&'static str),
    #[error("the argument is not {{ role?, text?, uri?, range? }}: {0}")]
    Invalid(String),
    #[error("the text to ask about is empty")]
    EmptyText,
    #[error("the text to ask about is {0} bytes; at most {MAX_TEXT}")]
    TooLarge(usize),
    #[error("uri and range must name code in a document open in the editor")]
    NotOpen,
    #[error(
        "the document changed since this was offered (version {offered}, now {now:?}): ask again"
    )]
    Stale { offered: i32, now: Option<i32> },
    #[error("a role name is letters, digits, `-` or `_`: {0:?}")]
    BadRole(String),
    #[error("{0} needs the uri and range of the code to change")]
    NoPlace(&'static str),
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
}

/// What kind of question a command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskKind {
    /// The answer is shown.
    Question,
    /// The answer is replacement code for the range, applied if the user approves.
    Change,
}

/// Reads an `executeCommand` into a question.
pub fn parse_command(command: &str, arguments: Vec<Value>) -> Result<(AskKind, AskArgs), AskError> {
    let (kind, name) = match command {
        ASK => (AskKind::Question, ASK),
        CHANGE => (AskKind::Change, CHANGE),
        other => return Err(AskError::UnknownCommand(other.to_string())),
    };
    let [argument] = <[Value; 1]>::try_from(arguments).map_err(|_| AskError::Shape(name))?;
    let args: AskArgs =
        serde_json::from_value(argument).map_err(|e| AskError::Invalid(e.to_string()))?;
    match &args.text {
        Some(text) if text.len() > MAX_TEXT => return Err(AskError::TooLarge(text.len())),
        Some(text) if !text.trim().is_empty() => {}
        _ if args.uri.is_some() && args.range.is_some() => {}
        _ => return Err(AskError::EmptyText),
    }
    if let Some(role) = &args.role
        && !is_role_name(role)
    {
        return Err(AskError::BadRole(role.clone()));
    }
    if kind == AskKind::Change && (args.uri.is_none() || args.range.is_none()) {
        return Err(AskError::NoPlace(name));
    }
    Ok((kind, args))
}

fn is_role_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The code actions offered for a selection: "Ask @role about this" per role, "Ask
/// the team", and "Ask @role to change this" per role. They carry the place, not the
/// code: it is read when one is run.
pub fn code_actions(
    roles: &[Role],
    uri: &Uri,
    range: Range,
    version: Option<i32>,
) -> Vec<CodeActionOrCommand> {
    let args = |role: &str| AskArgs {
        role: Some(role.to_string()),
        text: None,
        uri: Some(uri.clone()),
        range: Some(range),
        version,
    };
    let mut actions: Vec<_> = roles
        .iter()
        .map(|role| action(format!("Ask @{role} about this"), ASK, &args(role.as_str())))
        .collect();
    actions.push(action("Ask the team about this".into(), ASK, &args(TEAM)));
    actions.extend(roles.iter().map(|role| {
        action(
            format!("Ask @{role} to change this"),
            CHANGE,
            &args(role.as_str()),
        )
    }));
    actions
}

fn action(title: String, command: &str, args: &AskArgs) -> CodeActionOrCommand {
    let argument = serde_json::to_value(args).unwrap_or(Value::Null);
    CodeActionOrCommand::CodeAction(CodeAction {
        title: title.clone(),
        kind: Some(CodeActionKind::EMPTY),
        command: Some(LspCommand {
            title,
            command: command.to_string(),
            arguments: Some(vec![argument]),
        }),
        ..CodeAction::default()
    })
}

/// The prompt's content blocks: the mention (its own block, so nothing of the text
/// is taken for one), the text (`text`, or the code it is about), what is asked for a
/// change, and the file as a link.
pub fn prompt_blocks(kind: AskKind, args: &AskArgs, text: &str) -> Vec<Value> {
    let mut blocks = Vec::with_capacity(4);
    if let Some(role) = &args.role {
        blocks.push(json!({ "type": "text", "text": format!("@{role}") }));
    }
    blocks.push(json!({ "type": "text", "text": text }));
    if kind == AskKind::Change {
        blocks.push(json!({ "type": "text", "text":
            "[ourocodus] Answer with the replacement for this code only, in one fenced code block." }));
    }
    if let Some(uri) = &args.uri {
        blocks.push(json!({ "type": "resource_link", "uri": uri.as_str(), "name": place(uri, args.range.as_ref()) }));
    }
    blocks
}

/// `file.rs:3-5` (lines from 1), for links and messages.
pub fn place(uri: &Uri, range: Option<&Range>) -> String {
    let path = uri.as_str();
    let name = path.rsplit('/').next().unwrap_or(path);
    match range {
        Some(r) if r.start.line == r.end.line => format!("{name}:{}", r.start.line + 1),
        Some(r) => format!("{name}:{}-{}", r.start.line + 1, r.end.line + 1),
        None => name.to_string(),
    }
}

/// An answer as replacement code: the first fenced block's contents, else the
/// whole answer trimmed.
pub fn replacement_code(answer: &str) -> String {
    let Some(open) = answer.find("```") else {
        return answer.trim().to_string();
    };
    let after_fence = &answer[open + 3..];
    let Some(body_start) = after_fence.find('\n') else {
        return answer.trim().to_string();
    };
    let body = &after_fence[body_start + 1..];
    match body.find("```") {
        Some(close) => body[..close].to_string(),
        None => body.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::ls_types::Position;

    fn uri() -> Uri {
        "file:///p/src/lib.rs".parse().unwrap()
    }

    #[test]
    fn a_command_reads_its_one_argument() {
        let arg = json!({ "role": "backend", "text": "why?", "uri": "file:///p/a.rs",
            "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 1, "character": 2 } } });
        let (kind, args) = parse_command(ASK, vec![arg]).unwrap();
        assert_eq!(kind, AskKind::Question);
        assert_eq!(args.role.as_deref(), Some("backend"));
        assert_eq!(
            parse_command(ASK, vec![json!({ "text": "hi" })])
                .unwrap()
                .1
                .role,
            None
        );
    }

    #[test]
    fn bad_arguments_are_refused_with_the_reason() {
        assert_eq!(parse_command(ASK, vec![]), Err(AskError::Shape(ASK)));
        assert_eq!(
            parse_command(ASK, vec![json!({ "text": " " })]),
            Err(AskError::EmptyText)
        );
        assert_eq!(
            parse_command(ASK, vec![json!({})]),
            Err(AskError::EmptyText)
        );
        let big = "x".repeat(MAX_TEXT + 1);
        assert_eq!(
            parse_command(ASK, vec![json!({ "text": big })]),
            Err(AskError::TooLarge(MAX_TEXT + 1))
        );
        assert!(matches!(
            parse_command(ASK, vec![json!({ "txt": "a" })]),
            Err(AskError::Invalid(_))
        ));
        assert!(matches!(
            parse_command(ASK, vec![json!({ "text": "a", "role": "x y" })]),
            Err(AskError::BadRole(_))
        ));
        assert_eq!(
            parse_command(CHANGE, vec![json!({ "text": "a" })]),
            Err(AskError::NoPlace(CHANGE))
        );
        assert!(matches!(
            parse_command("rm", vec![]),
            Err(AskError::UnknownCommand(_))
        ));
    }

    #[test]
    fn each_role_gets_an_action_and_the_team_one() {
        let roles = [Role::new("backend"), Role::new("test")];
        let range = Range::new(Position::new(2, 0), Position::new(4, 1));
        let actions = code_actions(&roles, &uri(), range, None);
        let titles: Vec<_> = actions
            .iter()
            .map(|a| match a {
                CodeActionOrCommand::CodeAction(a) => a.title.clone(),
                CodeActionOrCommand::Command(c) => c.title.clone(),
            })
            .collect();
        assert_eq!(
            titles,
            [
                "Ask @backend about this",
                "Ask @test about this",
                "Ask the team about this",
                "Ask @backend to change this",
                "Ask @test to change this"
            ]
        );
    }

    #[test]
    fn an_action_carries_the_place_not_the_code_and_a_command_without_text_is_valid_with_a_place() {
        let range = Range::new(Position::new(2, 0), Position::new(4, 1));
        let actions = code_actions(&[Role::new("backend")], &uri(), range, Some(3));
        let CodeActionOrCommand::CodeAction(action) = &actions[0] else {
            panic!("a code action");
        };
        let argument = action.command.as_ref().unwrap().arguments.as_ref().unwrap()[0].clone();
        assert_eq!(argument.get("text"), None);
        let (_, args) = parse_command(ASK, vec![argument]).unwrap();
        assert_eq!((args.uri, args.range), (Some(uri()), Some(range)));
        assert_eq!(args.version, Some(3));
    }

    #[test]
    fn a_prompt_mentions_its_role_apart_and_links_the_file() {
        let args = AskArgs {
            role: Some("backend".into()),
            text: None,
            uri: Some(uri()),
            range: Some(Range::new(Position::new(2, 0), Position::new(4, 1))),
            version: None,
        };
        let blocks = prompt_blocks(AskKind::Question, &args, "@x fn");
        assert_eq!(blocks[0]["text"], "@backend");
        assert_eq!(blocks[1]["text"], "@x fn");
        assert_eq!(blocks[2]["name"], "lib.rs:3-5");
    }

    #[test]
    fn replacement_code_is_the_first_fenced_block() {
        assert_eq!(
            replacement_code("Here:\n```rust\nfn a() {}\n```\nDone"),
            "fn a() {}\n"
        );
        assert_eq!(replacement_code("  just this  "), "just this");
        assert_eq!(replacement_code("```\nopen"), "open");
    }
}
