//! Mention extraction on any text, and on prompts built from known pieces: known
//! mentions are reported and removed, nothing else but whitespace is, and code is
//! never touched.

use proptest::prelude::*;
use proptest::sample::select;

use super::config;
use crate::core::{Mentions, extract_mentions as extract};

const ROLES: [&str; 4] = ["backend", "test", "front-end", "qa_2"];

fn is_role(name: &str) -> bool {
    ROLES.contains(&name)
}

/// One piece of a prompt; pieces are written with whitespace between them.
#[derive(Debug, Clone)]
enum Piece {
    /// Plain words: no `@`, no backtick, no whitespace.
    Word(String),
    /// `@name` plus an optional `:` or `,`, where the name is a role, `all`, or unknown.
    Mention { name: String, suffix: &'static str },
    /// Looks like a mention and is not one: an e-mail, a scoped package, `@1x`...
    NotAMention(String),
    /// Inline code or a fenced block, written whole.
    Code(String),
}

impl Piece {
    fn text(&self) -> String {
        match self {
            Piece::Word(s) | Piece::NotAMention(s) | Piece::Code(s) => s.clone(),
            Piece::Mention { name, suffix } => format!("@{name}{suffix}"),
        }
    }

    /// A mention the extraction removes: a role or `@all`, any case.
    fn removed(&self) -> bool {
        match self {
            Piece::Mention { name, .. } => {
                let lower = name.to_ascii_lowercase();
                lower == "all" || is_role(&lower)
            }
            _ => false,
        }
    }
}

/// Changes the case of the letters `flips` picks.
fn with_case(name: &str, flips: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| match flips >> (i % 64) & 1 {
            1 => c.to_ascii_uppercase(),
            _ => c,
        })
        .collect()
}

fn mention() -> impl Strategy<Value = Piece> {
    let known = (select(ROLES.to_vec()), any::<u64>()).prop_map(|(n, flips)| with_case(n, flips));
    let all = any::<u64>().prop_map(|flips| with_case("all", flips));
    let unknown = "[a-zA-Z][a-zA-Z0-9_-]{0,7}".prop_filter("not a known name", |n| {
        let lower = n.to_ascii_lowercase();
        lower != "all" && !is_role(&lower)
    });
    let name = prop_oneof![4 => known, 1 => all, 2 => unknown];
    (name, select(vec!["", "", ":", ","]))
        .prop_map(|(name, suffix)| Piece::Mention { name, suffix })
}

fn not_a_mention() -> impl Strategy<Value = Piece> {
    let role = select(ROLES.to_vec());
    let shape = select(vec![
        "a@{}.com", "@{}/node", "@{}.x", "x@{}", "@1{}", "@{}@x",
    ]);
    (role, shape).prop_map(|(role, shape)| Piece::NotAMention(shape.replace("{}", role)))
}

/// Code text: words and mentions and spaces, no backticks.
fn code_body() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![word(), mention().prop_map(|m| m.text()), Just(" ".into())],
        1..5,
    )
    .prop_map(|parts| parts.concat())
}

fn code() -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => code_body().prop_map(|body| Piece::Code(format!("`{body}`"))),
        1 => code_body().prop_map(|body| Piece::Code(format!("``{body}``"))),
        1 => (code_body(), code_body())
            .prop_map(|(a, b)| Piece::Code(format!("```\n{a}\n{b} ` ``\n```"))),
    ]
}

fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9.,!?()/é漢-]{1,8}"
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => word().prop_map(Piece::Word),
        4 => mention(),
        1 => not_a_mention(),
        2 => code(),
    ]
}

/// A prompt of pieces with whitespace between them (some of it more than one space).
fn prompt() -> impl Strategy<Value = Vec<(&'static str, Piece)>> {
    prop::collection::vec(
        (
            select(vec![" ", " ", " ", "  ", "\n", "\t", " \n"]),
            piece(),
        ),
        0..12,
    )
}

fn render(pieces: &[(&str, Piece)]) -> String {
    pieces
        .iter()
        .map(|(space, piece)| format!("{space}{}", piece.text()))
        .collect()
}

/// What the prompt names: roles (lowercased) and unknown names (as written), each
/// once in order of first mention, and whether `@all` was used; code names nothing.
fn expected_mentions(pieces: &[(&str, Piece)]) -> Mentions {
    let mut mentions = Mentions::default();
    for (_, piece) in pieces {
        let Piece::Mention { name, .. } = piece else {
            continue;
        };
        let lower = name.to_ascii_lowercase();
        let (list, entry) = match lower.as_str() {
            "all" => {
                mentions.all = true;
                continue;
            }
            known if is_role(known) => (&mut mentions.roles, lower.clone()),
            _ => (&mut mentions.unknown, name.clone()),
        };
        if !list.contains(&entry) {
            list.push(entry);
        }
    }
    mentions
}

/// Whether `shorter` is `longer` with only some whitespace taken out.
fn is_longer_less_whitespace(shorter: &str, longer: &str) -> bool {
    let mut shorter = shorter.chars().peekable();
    for c in longer.chars() {
        if shorter.peek() == Some(&c) {
            shorter.next();
        } else if !c.is_whitespace() {
            return false;
        }
    }
    shorter.peek().is_none()
}

/// Text of every character, weighted toward the ones mentions and code are made of.
fn any_text() -> impl Strategy<Value = String> {
    let bits = select(vec![
        "@", "`", "```", " ", "\n", ":", ",", ".", "/", "(", "'", "a", "é", "\u{2003}", "backend",
        "ALL", "test", "-", "_", "1",
    ]);
    prop_oneof![
        any::<String>(),
        prop::collection::vec(bits, 0..24).prop_map(|bits| bits.concat()),
    ]
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn any_text_is_scanned_without_panic_and_only_shortened(text in any_text()) {
        let (cleaned, _) = extract(&text, is_role);
        prop_assert!(cleaned.len() <= text.len());
        let (_, again) = extract(&cleaned, is_role);
        let names_none = again.roles.is_empty() && !again.all;
        prop_assert!(names_none, "still names {:?} in {:?}", again, cleaned);
    }
}

proptest! {
    #![proptest_config(config(5_000))]

    #[test]
    fn known_mentions_are_reported_and_removed_and_code_is_left_alone(pieces in prompt()) {
        let text = render(&pieces);
        let (cleaned, mentions) = extract(&text, is_role);
        prop_assert_eq!(mentions, expected_mentions(&pieces), "text: {:?}", text);
        let kept: String = pieces
            .iter()
            .map(|(space, p)| match p.removed() {
                true => space.to_string(),
                false => format!("{space}{}", p.text()),
            })
            .collect();
        prop_assert!(
            is_longer_less_whitespace(&cleaned, &kept),
            "{:?} became {:?}", text, cleaned
        );
        let mut rest = cleaned.as_str();
        for (_, piece) in &pieces {
            if let Piece::Code(code) = piece {
                let at = rest.find(code.as_str());
                prop_assert!(at.is_some(), "code {:?} changed in {:?}", code, cleaned);
                rest = &rest[at.unwrap_or(0) + code.len()..];
            }
        }
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]

    fn code_spans_opened_with_two_backticks_are_left_alone(
        pieces in prompt(),
        (inside, after) in (code_body(), code_body()),
    ) {
        let code = format!("`` {inside} ` {after} ``");
        let text = format!("{} {code}", render(&pieces));
        let (cleaned, mentions) = extract(&text, is_role);
        prop_assert!(cleaned.ends_with(&code), "{:?} became {:?}", text, cleaned);
        prop_assert_eq!(mentions, expected_mentions(&pieces), "text: {:?}", text);
    }
}

#[test]

fn a_mention_after_a_lone_backtick_in_a_double_backtick_span_stays() {
    let (cleaned, mentions) = extract("see `` a ` @backend ``", is_role);
    assert_eq!(cleaned, "see `` a ` @backend ``");
    assert!(mentions.roles.is_empty());
}
