//! What the benchmark's editor needs from each line it reads, found cheaply: is it a
//! response (and to which id), or an update (from which role, which numbered chunk,
//! a speaker label or not). Also the per-role tally that tells whether every
//! streamed chunk arrived, once and in order.

use std::sync::LazyLock;

use memchr::memmem::{self, Finder, FinderRev};
use serde_json::Value;

/// The proxy and the fake agent both start their updates with exactly this; any
/// other spelling takes the slow path, which reads the same facts with serde_json.
const UPDATE_PREFIX: &[u8] = br#"{"jsonrpc":"2.0","method":"session/update","params":"#;
const ROLE_KEY: &[u8] = br#""ourocodus":{"role":""#;
const NUMBERED_TEXT: &[u8] = br##""text":"#"##;
const CHUNK_KIND: &[u8] = br#""sessionUpdate":"agent_message_chunk""#;

/// Searchers built once: building one costs more than a search of a short line.
static ROLE_SEARCH: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new(ROLE_KEY));
static TEXT_SEARCH: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(NUMBERED_TEXT));

/// One line, as far as the benchmark cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    Update(Update<'a>),
    /// A response to one of the editor's requests, with its numeric id.
    Response {
        id: i64,
    },
    /// Anything else (a request from the proxy, a non-numeric id...).
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update<'a> {
    /// `_meta.ourocodus.role`; empty when untagged (straight from an agent).
    pub role: &'a [u8],
    /// A speaker label the proxy wrote, not agent output.
    pub label: bool,
    /// The number of a streamed chunk (`#N ...`).
    pub seq: Option<u64>,
}

/// Classifies one line (without its newline).
pub fn classify(line: &[u8]) -> Line<'_> {
    match line.strip_prefix(UPDATE_PREFIX) {
        Some(params) => Line::Update(scan_update(params)),
        None => classify_slowly(line),
    }
}

/// Whether an update line is a text chunk; only asked of the few lines a latency
/// probe looks at.
pub fn is_message_chunk(line: &[u8]) -> bool {
    memmem::find(line, CHUNK_KIND).is_some()
}

fn scan_update(params: &[u8]) -> Update<'_> {
    let (role, label) = match ROLE_SEARCH.rfind(params) {
        Some(at) => {
            let rest = &params[at + ROLE_KEY.len()..];
            let end = memchr::memchr(b'"', rest).unwrap_or(rest.len());
            (
                &rest[..end],
                rest[end..].starts_with(&LABEL_FLAG_AFTER_ROLE[..]),
            )
        }
        None => (&params[..0], false),
    };
    let seq = TEXT_SEARCH.find(params).and_then(|at| {
        let digits = &params[at + NUMBERED_TEXT.len()..];
        parse_seq(digits)
    });
    Update { role, label, seq }
}

/// How the proxy writes a label's flag: right after the role string.
const LABEL_FLAG_AFTER_ROLE: [u8; 14] = *br#"","label":true"#;

/// Reads `123 ` (digits then a space) as 123.
fn parse_seq(text: &[u8]) -> Option<u64> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 || text.get(digits) != Some(&b' ') {
        return None;
    }
    std::str::from_utf8(&text[..digits]).ok()?.parse().ok()
}

/// The general path: parse the line as JSON and look at the same fields.
fn classify_slowly(line: &[u8]) -> Line<'_> {
    let Ok(value) = serde_json::from_slice::<Value>(line) else {
        return Line::Other;
    };
    if value.get("method").and_then(Value::as_str) == Some("session/update") {
        return Line::Update(update_from_value(line, &value["params"]["update"]));
    }
    let answered = value.get("result").is_some() || value.get("error").is_some();
    match value.get("id").and_then(Value::as_i64) {
        Some(id) if answered && value.get("method").is_none() => Line::Response { id },
        _ => Line::Other,
    }
}

fn update_from_value<'a>(line: &'a [u8], update: &Value) -> Update<'a> {
    let ours = &update["_meta"]["ourocodus"];
    let role = ours["role"]
        .as_str()
        .and_then(|role| memmem::find(line, role.as_bytes()).map(|at| &line[at..at + role.len()]))
        .unwrap_or(&line[..0]);
    let seq = update["content"]["text"]
        .as_str()
        .and_then(|text| text.strip_prefix('#'))
        .and_then(|text| parse_seq(text.as_bytes()));
    Update {
        role,
        label: ours["label"] == Value::Bool(true),
        seq,
    }
}

/// How the numbered chunks of one role arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleTally {
    /// Numbered chunks received.
    pub chunks: u64,
    /// The highest number seen.
    pub last_seq: u64,
    /// Chunks whose number was not one more than the previous one.
    pub out_of_order: u64,
}

/// Every role's chunks, plus the other updates (labels, notices, the persona note).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub roles: Vec<(String, RoleTally)>,
    pub other_updates: u64,
}

impl Tally {
    pub fn count(&mut self, update: &Update<'_>) {
        let Some(seq) = update.seq.filter(|_| !update.label) else {
            self.other_updates += 1;
            return;
        };
        let role = self.role_mut(update.role);
        role.chunks += 1;
        if seq != role.last_seq + 1 {
            role.out_of_order += 1;
        }
        role.last_seq = seq;
    }

    fn role_mut(&mut self, role: &[u8]) -> &mut RoleTally {
        let at = match self.roles.iter().position(|(r, _)| r.as_bytes() == role) {
            Some(at) => at,
            None => {
                let name = String::from_utf8_lossy(role).into_owned();
                self.roles.push((name, RoleTally::default()));
                self.roles.len() - 1
            }
        };
        &mut self.roles[at].1
    }

    pub fn total_chunks(&self) -> u64 {
        self.roles.iter().map(|(_, r)| r.chunks).sum()
    }

    /// What is wrong if each of `roles` should have sent chunks 1..=`per_role` in order.
    pub fn shortfall(&self, roles: &[String], per_role: u64) -> Option<String> {
        let problems: Vec<String> = roles
            .iter()
            .filter_map(|name| {
                let got = self.roles.iter().find(|(r, _)| r == name).map(|(_, t)| t);
                let got = got.cloned().unwrap_or_default();
                let complete = got.chunks == per_role && got.out_of_order == 0;
                (!complete).then(|| {
                    format!(
                        "{name}: {} of {per_role} chunks, {} out of order, last #{}",
                        got.chunks, got.out_of_order, got.last_seq
                    )
                })
            })
            .collect();
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROXY_CHUNK: &str = r##"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"ouro-1","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"#12 lorem\n"},"_meta":{"ourocodus":{"role":"r3"}}}}}"##;
    const LABEL: &str = r##"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"ouro-1","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"**[r3]**\n\n"},"_meta":{"ourocodus":{"role":"r3","label":true}}}}}"##;
    const AGENT_CHUNK: &str = r##"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"fake-1","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"#7 x\n"}}}}"##;

    fn update(line: &str) -> Update<'_> {
        match classify(line.as_bytes()) {
            Line::Update(update) => update,
            other => panic!("not an update: {other:?}"),
        }
    }

    #[test]
    fn a_proxy_chunk_gives_its_role_and_number() {
        let u = update(PROXY_CHUNK);
        assert_eq!((u.role, u.label, u.seq), (&b"r3"[..], false, Some(12)));
    }

    #[test]
    fn a_label_is_told_apart_from_agent_output() {
        let u = update(LABEL);
        assert_eq!((u.role, u.label, u.seq), (&b"r3"[..], true, None));
    }

    #[test]
    fn an_agent_chunk_has_no_role() {
        let u = update(AGENT_CHUNK);
        assert_eq!((u.role, u.seq), (&b""[..], Some(7)));
    }

    #[test]
    fn the_slow_path_reads_the_same_facts_from_other_spellings() {
        let spaced = PROXY_CHUNK.replacen(r#""jsonrpc":"2.0","#, r#""jsonrpc": "2.0", "#, 1);
        assert_eq!(update(&spaced), update(PROXY_CHUNK));
        let spaced_label = LABEL.replacen(r#""jsonrpc":"2.0","#, r#""jsonrpc": "2.0", "#, 1);
        assert_eq!(update(&spaced_label), update(LABEL));
    }

    #[test]
    fn responses_give_their_id_and_requests_are_other() {
        let response = classify(br#"{"jsonrpc":"2.0","id":4,"result":{"stopReason":"end_turn"}}"#);
        assert_eq!(response, Line::Response { id: 4 });
        let error = classify(br#"{"jsonrpc":"2.0","id":5,"error":{"code":1,"message":"x"}}"#);
        assert_eq!(error, Line::Response { id: 5 });
        let request =
            classify(br#"{"jsonrpc":"2.0","id":1,"method":"fs/read_text_file","params":{}}"#);
        assert_eq!(request, Line::Other);
        assert_eq!(classify(b"garbage"), Line::Other);
    }

    #[test]
    fn the_tally_finds_missing_and_reordered_chunks() {
        let mut tally = Tally::default();
        for seq in [1, 2, 4, 3] {
            let line = PROXY_CHUNK.replace("#12 ", &format!("#{seq} "));
            tally.count(&update(&line));
        }
        tally.count(&update(LABEL));
        assert_eq!(tally.total_chunks(), 4);
        assert_eq!(tally.other_updates, 1);
        let roles = ["r3".to_string(), "r4".to_string()];
        let report = tally.shortfall(&roles, 4).expect("problems");
        assert!(
            report.contains("r3: 4 of 4 chunks, 2 out of order"),
            "{report}"
        );
        assert!(report.contains("r4: 0 of 4"), "{report}");
    }

    #[test]
    fn a_complete_stream_has_no_shortfall() {
        let mut tally = Tally::default();
        for seq in 1..=3 {
            let line = PROXY_CHUNK.replace("#12 ", &format!("#{seq} "));
            tally.count(&update(&line));
        }
        assert_eq!(tally.shortfall(&["r3".to_string()], 3), None);
    }
}
