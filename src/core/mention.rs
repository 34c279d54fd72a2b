//! `@role` mentions in prompt text: which roles a prompt names, and the text with
//! those mentions removed. Code spans and fenced blocks are left alone, and so are
//! e-mail addresses and scoped names like `@types/node`. Pure.

/// What a prompt's text addressed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Known roles named, in order of first mention, without repeats.
    pub roles: Vec<String>,
    /// `@all` was used.
    pub all: bool,
    /// `@words` that look like mentions but name no role, in order, without repeats.
    pub unknown: Vec<String>,
}

/// Finds mentions in `text`; `is_role` says whether a lowercased name is a role.
/// Returns the text with known mentions (and `@all`) removed.
pub fn extract(text: &str, is_role: impl Fn(&str) -> bool) -> (String, Mentions) {
    let mut mentions = Mentions::default();
    let mut out = String::with_capacity(text.len());
    let mut code = CodeTracker::default();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(skip) = code.advance(rest) {
            out.push_str(&rest[..skip]);
            rest = &rest[skip..];
            continue;
        }
        if c == '@'
            && !code.inside()
            && starts_word(&out)
            && let Some(name) = mention_at(rest)
        {
            let lower = name.to_ascii_lowercase();
            if lower == "all" || is_role(&lower) {
                record(&mut mentions, lower);
                rest = drop_one_space(&out, after_mention(&rest[1 + name.len()..]));
                continue;
            }
            push_unique(&mut mentions.unknown, name.to_string());
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    (out.trim_start().to_string(), mentions)
}

fn record(mentions: &mut Mentions, name: String) {
    if name == "all" {
        mentions.all = true;
    } else {
        push_unique(&mut mentions.roles, name);
    }
}

fn push_unique(list: &mut Vec<String>, name: String) {
    if !list.contains(&name) {
        list.push(name);
    }
}

/// A mention may start a line or follow whitespace or an opening bracket.
fn starts_word(before: &str) -> bool {
    before
        .chars()
        .next_back()
        .is_none_or(|c| c.is_whitespace() || matches!(c, '(' | '[' | '{' | '"' | '\''))
}

/// The name after `@` if what follows is a mention: name characters, then the end,
/// whitespace or sentence punctuation (not `/`, `.` + letter, or `@`).
fn mention_at(text: &str) -> Option<&str> {
    let after = &text[1..];
    let len = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(after.len());
    let name = &after[..len];
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let tail = &after[len..];
    let next = tail.chars().next();
    let ends = match next {
        None => true,
        Some(c) if c.is_whitespace() => true,
        Some('.') => !tail[1..].starts_with(|c: char| c.is_alphanumeric()),
        Some(c) => matches!(
            c,
            ',' | ':' | ';' | '!' | '?' | ')' | ']' | '}' | '"' | '\''
        ),
    };
    ends.then_some(name)
}

/// A `:` or `,` right after a mention (`@backend: do x`) goes with it.
fn after_mention(rest: &str) -> &str {
    match rest.strip_prefix([':', ',']) {
        Some(tail) if tail.is_empty() || tail.starts_with(char::is_whitespace) => tail,
        _ => rest,
    }
}

/// After removing a mention, avoid leaving a double space behind.
fn drop_one_space<'a>(out: &str, rest: &'a str) -> &'a str {
    let out_ends_space = out.is_empty() || out.ends_with(char::is_whitespace);
    match rest.strip_prefix(' ') {
        Some(stripped) if out_ends_space => stripped,
        _ => rest,
    }
}

/// Tracks whether the scan is inside inline code or a fenced block.
#[derive(Default)]
struct CodeTracker {
    fence: bool,
    /// The length of the backtick run that opened the current code span: only a run
    /// of exactly that length closes it (as in CommonMark).
    inline: Option<usize>,
}

impl CodeTracker {
    fn inside(&self) -> bool {
        self.fence || self.inline.is_some()
    }

    /// If a backtick run starts here, updates the state and returns its length.
    fn advance(&mut self, rest: &str) -> Option<usize> {
        let ticks = rest.bytes().take_while(|b| *b == b'`').count();
        match (ticks, self.inline) {
            (0, _) => return None,
            (opened, Some(closing)) if opened == closing => self.inline = None,
            (_, Some(_)) => {}
            (3.., None) => self.fence = !self.fence,
            (_, None) if !self.fence => self.inline = Some(ticks),
            _ => {}
        }
        Some(ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(name: &str) -> bool {
        matches!(name, "backend" | "test" | "front-end")
    }

    #[test]
    fn known_mentions_are_removed_and_collected_in_order() {
        let (text, m) = extract("@backend @test add paging to /users", roles);
        assert_eq!(text, "add paging to /users");
        assert_eq!(m.roles, vec!["backend", "test"]);
        assert!(!m.all && m.unknown.is_empty());
    }

    #[test]
    fn mentions_anywhere_with_punctuation_and_case() {
        let (text, m) = extract("please, @Backend: fix it (and @front-end)", roles);
        assert_eq!(text, "please, fix it (and )");
        assert_eq!(m.roles, vec!["backend", "front-end"]);
    }

    #[test]
    fn all_and_unknown_mentions() {
        let (text, m) = extract("@all ping @nobody now", roles);
        assert_eq!(text, "ping @nobody now");
        assert!(m.all);
        assert_eq!(m.unknown, vec!["nobody"]);
    }

    #[test]
    fn code_emails_and_scoped_packages_are_not_mentions() {
        let input =
            "mail a@backend.com, use `@backend` and @types/node\n```\n@test\n```\n@backend.";
        let (text, m) = extract(input, roles);
        assert_eq!(m.roles, vec!["backend"]);
        assert!(m.unknown.is_empty());
        assert!(
            text.contains("`@backend`")
                && text.contains("@types/node")
                && text.contains("\n@test\n")
        );
        assert!(text.ends_with("\n."));
    }

    #[test]
    fn a_mention_before_a_slash_command_leaves_the_command_first() {
        let (text, _) = extract("@backend /review src", roles);
        assert_eq!(text, "/review src");
    }
}
