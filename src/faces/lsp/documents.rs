//! The editor's open documents as the LSP face keeps them (full text sync), and the
//! text of a range in one of them, counted in UTF-16 code units as LSP counts. Knows
//! nothing of the core or of agents.

use std::collections::HashMap;

use tower_lsp_server::ls_types::{Position, Range, Uri};

/// Open documents by URI: their whole text and version, as last sent.
#[derive(Debug, Default)]
pub struct Documents {
    texts: HashMap<Uri, (String, i32)>,
}

impl Documents {
    pub fn open(&mut self, uri: Uri, text: String, version: i32) {
        self.texts.insert(uri, (text, version));
    }

    /// A full-sync change: the last change's text is the document.
    pub fn replace(&mut self, uri: Uri, text: String, version: i32) {
        self.texts.insert(uri, (text, version));
    }

    pub fn close(&mut self, uri: &Uri) {
        self.texts.remove(uri);
    }

    /// The text of `range` in the document, if it is open.
    pub fn text_in(&self, uri: &Uri, range: &Range) -> Option<String> {
        self.read_range(uri, range, str::to_string)
    }

    /// `read` applied to the text of `range` where it lies (no copy), if the document is open.
    pub fn read_range<R>(
        &self,
        uri: &Uri,
        range: &Range,
        read: impl FnOnce(&str) -> R,
    ) -> Option<R> {
        let (text, _) = self.texts.get(uri)?;
        Some(read(slice(text, range)))
    }

    /// The document's version, if it is open.
    pub fn version(&self, uri: &Uri) -> Option<i32> {
        self.texts.get(uri).map(|(_, version)| *version)
    }
}

/// The part of `text` inside `range`; positions past a line's end or the text's
/// end are clamped to it (as the LSP specification asks).
pub fn slice<'t>(text: &'t str, range: &Range) -> &'t str {
    let start = offset(text, range.start);
    let end = offset(text, range.end).max(start);
    &text[start..end]
}

/// The byte offset of an LSP position (line, UTF-16 column).
fn offset(text: &str, position: Position) -> usize {
    let Some(line_start) = line_start(text, position.line) else {
        return text.len();
    };
    let line = &text[line_start..];
    let line_end = line.find('\n').unwrap_or(line.len());
    let mut units = 0u32;
    for (at, c) in line[..line_end].char_indices() {
        if units >= position.character {
            return line_start + at;
        }
        units += c.len_utf16() as u32;
    }
    let end = line_start + line_end;
    // A `\r\n` line ends before its `\r`.
    if text[..end].ends_with('\r') {
        end - 1
    } else {
        end
    }
}

/// The byte offset where line `line` (from 0) starts, if the text has it.
fn line_start(text: &str, line: u32) -> Option<usize> {
    if line == 0 {
        return Some(0);
    }
    text.match_indices('\n')
        .nth(line as usize - 1)
        .map(|(at, _)| at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(l1: u32, c1: u32, l2: u32, c2: u32) -> Range {
        Range::new(Position::new(l1, c1), Position::new(l2, c2))
    }

    #[test]
    fn a_range_over_lines_is_cut_at_its_columns() {
        let text = "fn main() {\n    run();\n}\n";
        assert_eq!(slice(text, &range(1, 4, 1, 10)), "run();");
        assert_eq!(slice(text, &range(0, 3, 1, 7)), "main() {\n    run");
    }

    #[test]
    fn columns_count_utf16_units() {
        let text = "é😀x\n";
        // é is 1 unit, 😀 is 2.
        assert_eq!(slice(text, &range(0, 1, 0, 3)), "😀");
        assert_eq!(slice(text, &range(0, 3, 0, 4)), "x");
    }

    #[test]
    fn positions_past_the_end_are_clamped() {
        let text = "ab\r\ncd";
        assert_eq!(slice(text, &range(0, 0, 0, 99)), "ab");
        assert_eq!(slice(text, &range(1, 0, 9, 0)), "cd");
        assert_eq!(slice(text, &range(1, 2, 0, 0)), "");
    }
}
