//! Config errors that point into the text: `file:line:col: what is wrong`. Knows byte
//! offsets, lines and columns; knows nothing of the team schema.

use std::fmt;
use std::ops::Range;

use super::ConfigOrigin;

/// The name config errors use for the built-in team.
pub const BUILT_IN_SOURCE_NAME: &str = "<built-in>";

/// A place in a config text: 1-based line, 1-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The line and column of a byte offset into `text` (clamped to the text).
    pub fn of_offset(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// Why a team could not be loaded. `Display` reads `file:line:col: message`, or
/// `file: message` when the problem has no place in the text (an unreadable file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file as the user named it, or `<built-in>`.
    pub source_name: String,
    /// Where in the text, when the problem has a place.
    pub position: Option<Position>,
    /// What is wrong: lowercase, no trailing period.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(Position { line, column }) => {
                write!(f, "{}:{line}:{column}: {}", self.source_name, self.message)
            }
            None => write!(f, "{}: {}", self.source_name, self.message),
        }
    }
}

/// A config text with the name its errors carry.
pub struct ConfigText<'t> {
    pub name: String,
    pub text: &'t str,
}

impl<'t> ConfigText<'t> {
    pub fn new(origin: &ConfigOrigin, text: &'t str) -> Self {
        ConfigText {
            name: source_name(origin),
            text,
        }
    }

    /// An error at the start of `span`.
    pub fn error_at(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            source_name: self.name.clone(),
            position: Some(Position::of_offset(self.text, span.start)),
            message: message.into(),
        }
    }

    /// A TOML syntax error, keeping the toml crate's explanation.
    pub fn syntax_error(&self, error: &toml::de::Error) -> ConfigError {
        let message = self.explain_syntax_error(error);
        match error.span() {
            Some(span) => self.error_at(span, message),
            None => ConfigError {
                source_name: self.name.clone(),
                position: None,
                message,
            },
        }
    }

    fn explain_syntax_error(&self, error: &toml::de::Error) -> String {
        let explanation = error.message().trim().replace('\n', "; ");
        let Some(span) = error.span() else {
            return explanation;
        };
        match (explanation.as_str(), self.text.get(span.clone())) {
            ("duplicate key", Some(key)) if !key.is_empty() => self.explain_duplicate(key, span),
            _ => explanation,
        }
    }

    /// TOML says only "duplicate key"; name the key, and the table when it is a header.
    fn explain_duplicate(&self, key: &str, span: Range<usize>) -> String {
        let line = self.line_around(span.start).trim();
        if line.starts_with('[') {
            format!("duplicate key `{key}`: table `{line}` is defined more than once")
        } else {
            format!("duplicate key `{key}`")
        }
    }

    fn line_around(&self, offset: usize) -> &'t str {
        let text = self.text;
        let start = text[..offset].rfind('\n').map_or(0, |newline| newline + 1);
        let end = text[offset..]
            .find('\n')
            .map_or(text.len(), |newline| offset + newline);
        &text[start..end]
    }
}

/// How errors name a config: the file path as given, or `<built-in>`.
pub fn source_name(origin: &ConfigOrigin) -> String {
    match origin {
        ConfigOrigin::File(path) => path.display().to_string(),
        ConfigOrigin::BuiltIn => BUILT_IN_SOURCE_NAME.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(
            Position::of_offset(text, 0),
            Position { line: 1, column: 1 }
        );
        assert_eq!(
            Position::of_offset(text, 6),
            Position { line: 2, column: 1 }
        );
        let after_accent = text.find(" = 2").unwrap_or_default();
        assert_eq!(
            Position::of_offset(text, after_accent),
            Position { line: 2, column: 3 }
        );
    }

    #[test]
    fn offsets_past_the_end_or_inside_a_character_are_clamped() {
        let text = "é";
        assert_eq!(
            Position::of_offset(text, 1),
            Position { line: 1, column: 1 }
        );
        assert_eq!(
            Position::of_offset(text, 99),
            Position { line: 1, column: 2 }
        );
    }

    #[test]
    fn display_starts_with_file_line_and_column() {
        let error = ConfigText::new(&ConfigOrigin::BuiltIn, "x\ny").error_at(2..3, "bad thing");
        assert_eq!(error.to_string(), "<built-in>:2:1: bad thing");
    }

    #[test]
    fn display_without_position_names_only_the_file() {
        let error = ConfigError {
            source_name: "team.toml".into(),
            position: None,
            message: "config file not found".into(),
        };
        assert_eq!(error.to_string(), "team.toml: config file not found");
    }
}
