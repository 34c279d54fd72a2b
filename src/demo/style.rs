//! How the transcript looks on this terminal: whether to colour at all, and the
//! colour each speaker and kind of line gets. Pure apart from reading the environment.

use std::io::IsTerminal;

/// What a piece of transcript is, which decides its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A role's text and headers; the number picks its colour from the palette.
    Role(usize),
    /// The proxy speaking for itself (notices about the team).
    Proxy,
    /// What the user typed.
    User,
    /// Section headings.
    Heading,
    /// Asides: explanations, stop reasons, what the demo editor does.
    Dim,
    Success,
    Warning,
    Failure,
}

/// Colours for roles, in order of appearance (ANSI foreground codes).
const ROLE_PALETTE: &[&str] = &["36", "35", "32", "34", "33", "96", "95", "92"];

/// Paints text with ANSI escapes, or leaves it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Painter {
    colour: bool,
}

impl Painter {
    pub fn new(colour: bool) -> Self {
        Painter { colour }
    }

    #[cfg(test)]
    pub fn plain() -> Self {
        Painter::new(false)
    }

    /// Colour only on a terminal, and never when NO_COLOR is set (non-empty) or
    /// `--no-color` was given.
    pub fn for_stdout(no_color_flag: bool) -> Self {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Painter::new(!no_color_flag && !no_color_env && std::io::stdout().is_terminal())
    }

    pub fn paint(&self, tone: Tone, text: &str) -> String {
        if !self.colour || text.is_empty() {
            return text.to_string();
        }
        format!("\x1b[{}m{text}\x1b[0m", sgr(tone))
    }

    /// Like `paint`, in bold as well.
    pub fn paint_strong(&self, tone: Tone, text: &str) -> String {
        if !self.colour || text.is_empty() {
            return text.to_string();
        }
        format!("\x1b[1;{}m{text}\x1b[0m", sgr(tone))
    }
}

/// The SGR parameters for a tone.
fn sgr(tone: Tone) -> &'static str {
    match tone {
        Tone::Role(index) => ROLE_PALETTE[index % ROLE_PALETTE.len()],
        Tone::Proxy => "33",
        Tone::User => "1;97",
        Tone::Heading => "1",
        Tone::Dim => "2",
        Tone::Success => "32",
        Tone::Warning => "1;33",
        Tone::Failure => "1;31",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_painter_leaves_text_alone() {
        assert_eq!(Painter::plain().paint(Tone::Role(0), "backend"), "backend");
    }

    #[test]
    fn a_colour_painter_wraps_text_in_escapes_and_resets() {
        let painted = Painter::new(true).paint(Tone::Role(1), "test");
        assert_eq!(painted, "\x1b[35mtest\x1b[0m");
    }

    #[test]
    fn roles_beyond_the_palette_reuse_its_colours() {
        let painter = Painter::new(true);
        let wrapped = painter.paint(Tone::Role(ROLE_PALETTE.len()), "x");
        assert_eq!(wrapped, painter.paint(Tone::Role(0), "x"));
    }
}
