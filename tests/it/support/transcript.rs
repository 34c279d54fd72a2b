//! Golden transcripts: the wire as a list of lines, with ids that change from run to
//! run replaced by stable names (`session:0`, `sub:0`, `$CWD`), compared with a file
//! under tests/transcripts/. `UPDATE_EXPECT=1` rewrites the files.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

use super::{Dir, Proxy};

/// Session-state updates whose timing depends on when each agent's session opened
/// (like `_ourocodus/agent_status` notifications, timed by the agents' start-up);
/// they are checked by their own tests and left out of goldens.
const STATE_UPDATES: &[&str] = &["config_option_update", "available_commands_update"];

/// Normalizes the transcript (without session-state updates) and compares it with
/// `tests/transcripts/<name>.jsonl`.
pub fn assert_golden(proxy: &Proxy, name: &str) {
    let transcript: Vec<(Dir, Value)> = proxy
        .transcript
        .iter()
        .filter(|(_, m)| {
            let kind = m["params"]["update"]["sessionUpdate"]
                .as_str()
                .unwrap_or_default();
            !STATE_UPDATES.contains(&kind) && m["method"] != "_ourocodus/agent_status"
        })
        .cloned()
        .collect();
    let actual = normalize(&transcript, &proxy.cwd().to_string_lossy());
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(format!("{name}.jsonl"));
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &actual).expect("write golden transcript");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no golden transcript at {}; run with UPDATE_EXPECT=1 to create it\n{actual}",
            path.display()
        )
    });
    if expected != actual {
        let diff = first_difference(&expected, &actual);
        panic!(
            "transcript {name} differs from {} (UPDATE_EXPECT=1 to accept)\n{diff}\n--- actual ---\n{actual}",
            path.display()
        );
    }
}

/// One line per message: `> ` to the proxy, `< ` from it, ids made stable.
pub fn normalize(transcript: &[(Dir, Value)], cwd: &str) -> String {
    let mut names = Names::default();
    let mut out = String::new();
    for (dir, message) in transcript {
        let arrow = if *dir == Dir::ToProxy { ">" } else { "<" };
        let text = names.rewrite(&message.to_string(), cwd);
        out.push_str(&format!("{arrow} {text}\n"));
    }
    out
}

#[derive(Default)]
struct Names {
    seen: HashMap<String, String>,
    sessions: usize,
    subagents: usize,
}

impl Names {
    fn rewrite(&mut self, text: &str, cwd: &str) -> String {
        let mut text = text.replace(cwd, "$CWD");
        for token in session_tokens(&text) {
            let stable = match self.seen.get(&token) {
                Some(stable) => stable.clone(),
                None => {
                    let stable = if token.matches(':').count() >= 2 {
                        self.subagents += 1;
                        format!("sub:{}", self.subagents - 1)
                    } else {
                        self.sessions += 1;
                        format!("session:{}", self.sessions - 1)
                    };
                    self.seen.insert(token.clone(), stable.clone());
                    stable
                }
            };
            text = text.replace(&token, &stable);
        }
        text
    }
}

/// Proxy session ids (`ouro-<32 hex>`, optionally `:role:n` for subagents), longest first.
fn session_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("ouro-") {
        let tail = &rest[start..];
        let end = tail.find(['"', ' ', '\\']).unwrap_or(tail.len());
        tokens.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    tokens.sort_by_key(|t| std::cmp::Reverse(t.len()));
    tokens.dedup();
    tokens
}

fn first_difference(expected: &str, actual: &str) -> String {
    for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            return format!("line {}:\n- {e}\n+ {a}", i + 1);
        }
    }
    format!(
        "lengths differ: expected {} lines, got {}",
        expected.lines().count(),
        actual.lines().count()
    )
}
