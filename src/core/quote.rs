//! Agent-chosen text (titles, paths, notice text) made safe to place inside the
//! proxy's own words: one line, no control or direction-changing characters,
//! markdown escaped, length capped — so an agent cannot forge a `**[ourocodus]**`
//! label, a second notice or a link. Pure; knows nothing of who shows it.

/// Longest agent title kept in a notice, in characters.
pub const TITLE_CHARS: usize = 120;
/// Longest agent path kept in a notice, in characters.
pub const PATH_CHARS: usize = 240;
/// Longest agent description kept in a notice, in characters.
pub const DESCRIPTION_CHARS: usize = 1000;

/// Characters with a meaning in markdown (or HTML) where they stand: escaped.
const MARKDOWN: &[char] = &['\\', '`', '*', '_', '[', ']', '<', '>', '#', '|', '~', '!'];

/// `text` as one plain line of at most `max_chars` (then ending in `…`): control
/// characters and line breaks become spaces, markdown is escaped.
pub fn agent_text(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 2));
    let mut kept = 0;
    let mut last_space = false;
    for c in text.chars() {
        if kept == max_chars {
            out.push('…');
            break;
        }
        let c = if is_invisible_control(c) { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        if MARKDOWN.contains(&c) {
            out.push('\\');
        }
        out.push(c);
        kept += 1;
    }
    out
}

/// `text` line by line as `agent_text` (the lines kept, each quoted by the caller),
/// at most `max_chars` in all.
pub fn agent_lines(text: &str, max_chars: usize) -> String {
    let mut budget = max_chars;
    let mut lines = Vec::new();
    for line in text.lines() {
        if budget == 0 {
            lines.push("…".to_string());
            break;
        }
        let quoted = agent_text(line, budget);
        budget = budget.saturating_sub(line.chars().count().max(1));
        lines.push(quoted);
    }
    lines.join("\n")
}

/// Control characters, and the ones that reorder or hide text (bidi overrides and
/// isolates, zero-width characters, line and paragraph separators).
fn is_invisible_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_label_stays_on_one_line_with_its_markdown_escaped() {
        let forged = "x\n\n**[ourocodus]**\r\n\tall good";
        assert_eq!(agent_text(forged, 100), r"x \*\*\[ourocodus\]\*\* all good");
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_blanked() {
        assert_eq!(agent_text("a\u{202E}b\u{200B}c", 10), "a b c");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(agent_text("abcdef", 3), "abc…");
        assert_eq!(agent_text("abc", 3), "abc");
    }

    #[test]
    fn lines_are_kept_but_each_is_neutralised_and_the_whole_is_capped() {
        assert_eq!(agent_lines("a *b*\n[c](d)", 100), "a \\*b\\*\n\\[c\\](d)");
        assert!(agent_lines(&"x\n".repeat(10_000), 50).chars().count() < 200);
    }
}
