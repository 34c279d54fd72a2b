//! The running text of the transcript: chunks streamed by roles, printed as they
//! arrive with a little markdown (`**strong**`, `> ` quotes) and an indent on every
//! line. Tracks whether the terminal is mid-line, so blocks can start on a new one.

use crate::demo::style::{Painter, Tone};

/// Indent of role text, under the two-space indent of role headers.
pub const TEXT_INDENT: &str = "    ";

#[derive(Debug)]
pub struct TextFlow {
    /// Characters held back until the next chunk says what they are (a `*` that may
    /// start `**`, a `>` at a line start that may open a quote).
    held: String,
    /// The tone of the chunk the held characters came from.
    held_tone: Tone,
    strong: bool,
    at_line_start: bool,
    /// The last line written was empty (collapses runs of blank lines).
    last_line_blank: bool,
}

impl Default for TextFlow {
    fn default() -> Self {
        TextFlow {
            held: String::new(),
            held_tone: Tone::Dim,
            strong: false,
            at_line_start: true,
            last_line_blank: true,
        }
    }
}

impl TextFlow {
    /// Renders one chunk of text in `tone`.
    pub fn push(&mut self, text: &str, tone: Tone, painter: &Painter) -> String {
        self.held_tone = tone;
        let input: Vec<char> = std::mem::take(&mut self.held)
            .chars()
            .chain(text.chars())
            .collect();
        let mut runs = Runs::default();
        let mut i = 0;
        while i < input.len() {
            i = self.step(&input, i, tone, &mut runs);
        }
        runs.finish(painter)
    }

    /// Renders the character at `i` (and any it consumes); returns the next index.
    fn step(&mut self, input: &[char], i: usize, tone: Tone, runs: &mut Runs) -> usize {
        let c = input[i];
        let next = input.get(i + 1).copied();
        if self.must_hold(c, next) {
            self.held = input[i..].iter().collect();
            return input.len();
        }
        if c == '\n' {
            self.end_line(runs);
            return i + 1;
        }
        if self.at_line_start {
            self.start_line(runs);
            if c == '>' && next == Some(' ') {
                runs.push(Tone::Dim, false, "│ ");
                return i + 2;
            }
        }
        if c == '*' && next == Some('*') {
            self.strong = !self.strong;
            return i + 2;
        }
        runs.push(tone, self.strong, c.encode_utf8(&mut [0; 4]));
        i + 1
    }

    /// A lone `*` or a line-start `>` at the end of a chunk waits for the next one.
    fn must_hold(&self, c: char, next: Option<char>) -> bool {
        next.is_none() && (c == '*' || (c == '>' && self.at_line_start))
    }

    fn start_line(&mut self, runs: &mut Runs) {
        runs.raw(TEXT_INDENT);
        self.at_line_start = false;
    }

    fn end_line(&mut self, runs: &mut Runs) {
        let blank = self.at_line_start;
        if !(blank && self.last_line_blank) {
            runs.raw("\n");
        }
        self.last_line_blank = blank;
        self.at_line_start = true;
        self.strong = false;
    }

    /// Ends the current line if text left it open; anything held back is written
    /// first, as it is. Call before a block (header, card, plan...).
    pub fn break_line(&mut self, painter: &Painter) -> String {
        let mut out = String::new();
        if !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            let mut runs = Runs::default();
            if self.at_line_start {
                self.start_line(&mut runs);
            }
            runs.push(self.held_tone, self.strong, &held);
            out.push_str(&runs.finish(painter));
        }
        if !self.at_line_start {
            out.push('\n');
        }
        self.at_line_start = true;
        self.last_line_blank = false;
        self.strong = false;
        out
    }

    /// A block written outside the flow ended with a blank line.
    pub fn note_blank_line(&mut self) {
        self.last_line_blank = true;
    }
}

/// Text split into runs of one style (or none), painted when finished.
#[derive(Default)]
struct Runs {
    runs: Vec<(Option<(Tone, bool)>, String)>,
}

impl Runs {
    fn push(&mut self, tone: Tone, strong: bool, text: &str) {
        self.push_styled(Some((tone, strong)), text);
    }

    /// Text left unpainted: indents and line ends, so no escape spans a line.
    fn raw(&mut self, text: &str) {
        self.push_styled(None, text);
    }

    fn push_styled(&mut self, style: Option<(Tone, bool)>, text: &str) {
        match self.runs.last_mut() {
            Some((last, run)) if *last == style => run.push_str(text),
            _ => self.runs.push((style, text.to_string())),
        }
    }

    fn finish(self, painter: &Painter) -> String {
        self.runs
            .iter()
            .map(|(style, text)| match style {
                _ if text.trim().is_empty() => text.clone(),
                Some((tone, true)) => painter.paint_strong(*tone, text),
                Some((tone, false)) => painter.paint(*tone, text),
                None => text.clone(),
            })
            .collect()
    }
}
