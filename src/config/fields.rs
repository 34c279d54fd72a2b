//! Typed reads from the spanned TOML tree, each failing with an error that names the
//! key, the table it sits in and its line. Knows TOML shapes, not what keys mean.

use std::borrow::Cow;
use std::ops::Range;
use std::time::Duration;

use indexmap::IndexMap;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::diagnostic::{ConfigError, ConfigText};
use super::duration::{DURATION_FORMS, parse_duration};

pub type Key<'i> = Spanned<Cow<'i, str>>;
pub type Value<'i> = Spanned<DeValue<'i>>;

/// A table's entries in the order they were written (the parsed map is sorted).
pub fn in_written_order<'t, 'i>(table: &'t DeTable<'i>) -> Vec<(&'t Key<'i>, &'t Value<'i>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
}

/// One table being read: the text it came from, its dotted path, and how messages
/// name it (`in [roles.backend]`, `at the top level`).
pub struct Place<'a> {
    text: &'a ConfigText<'a>,
    path: String,
    label: String,
}

impl<'a> Place<'a> {
    pub fn top(text: &'a ConfigText<'a>) -> Self {
        Place {
            text,
            path: String::new(),
            label: "at the top level".to_string(),
        }
    }

    /// The table under `key`, named `[path.key]`.
    pub fn table(&self, key: &str) -> Place<'a> {
        let path = self.child_path(key);
        let label = format!("in [{path}]");
        Place {
            text: self.text,
            path,
            label,
        }
    }

    /// Entry `index` (0-based) of the array of tables under `key`.
    pub fn entry(&self, key: &str, index: usize) -> Place<'a> {
        let path = self.child_path(key);
        let label = format!("in [{path}] entry {}", index + 1);
        Place {
            text: self.text,
            path,
            label,
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// `in [roles.backend]`: how messages say where something is.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        self.text.error_at(span, message)
    }

    /// Fails on the first key (in written order) that is not in `allowed`.
    pub fn check_keys(&self, table: &DeTable<'_>, allowed: &[&str]) -> Result<(), ConfigError> {
        let unknown = in_written_order(table)
            .into_iter()
            .map(|(key, _)| key)
            .find(|key| !allowed.contains(&key.get_ref().as_ref()));
        match unknown {
            Some(key) => Err(self.error(
                key.span(),
                format!(
                    "unknown key `{}` {} (expected one of: {})",
                    key.get_ref(),
                    self.label,
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    /// A required key of an inline or header table; the error points at the table.
    pub fn required<'t, 'i>(
        &self,
        table: &'t DeTable<'i>,
        table_span: Range<usize>,
        key: &str,
    ) -> Result<&'t Value<'i>, ConfigError> {
        table
            .get(key)
            .ok_or_else(|| self.error(table_span, format!("missing key `{key}` {}", self.label)))
    }

    pub fn wrong_type(&self, key: &str, value: &Value<'_>, expected: &str) -> ConfigError {
        self.error(
            value.span(),
            format!(
                "wrong type for `{key}` {}: expected {expected}, found {}",
                self.label,
                kind_of(value.get_ref())
            ),
        )
    }

    pub fn as_table<'t, 'i>(
        &self,
        key: &str,
        value: &'t Value<'i>,
    ) -> Result<&'t DeTable<'i>, ConfigError> {
        match value.get_ref() {
            DeValue::Table(table) => Ok(table),
            _ => Err(self.wrong_type(key, value, "a table")),
        }
    }

    pub fn as_array<'t, 'i>(
        &self,
        key: &str,
        value: &'t Value<'i>,
        expected: &str,
    ) -> Result<&'t DeArray<'i>, ConfigError> {
        match value.get_ref() {
            DeValue::Array(array) => Ok(array),
            _ => Err(self.wrong_type(key, value, expected)),
        }
    }

    pub fn string(&self, key: &str, value: &Value<'_>) -> Result<String, ConfigError> {
        match value.get_ref() {
            DeValue::String(text) => Ok(text.to_string()),
            _ => Err(self.wrong_type(key, value, "a string")),
        }
    }

    /// A string that must say something (`command`, `mode`, a name).
    pub fn non_empty_string(&self, key: &str, value: &Value<'_>) -> Result<String, ConfigError> {
        let text = self.string(key, value)?;
        if text.trim().is_empty() {
            return Err(self.error(value.span(), format!("empty `{key}` {}", self.label)));
        }
        Ok(text)
    }

    /// An array of strings, each with its span (for errors about one entry).
    pub fn spanned_strings(
        &self,
        key: &str,
        value: &Value<'_>,
    ) -> Result<Vec<Spanned<String>>, ConfigError> {
        let array = self.as_array(key, value, "an array of strings")?;
        array
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let text = self.string(&format!("{key}[{index}]"), item)?;
                Ok(Spanned::new(item.span(), text))
            })
            .collect()
    }

    pub fn strings(&self, key: &str, value: &Value<'_>) -> Result<Vec<String>, ConfigError> {
        let items = self.spanned_strings(key, value)?;
        Ok(items.into_iter().map(Spanned::into_inner).collect())
    }

    /// An array of strings none of which is empty (directories, tool patterns).
    pub fn non_empty_strings(
        &self,
        key: &str,
        value: &Value<'_>,
    ) -> Result<Vec<String>, ConfigError> {
        let items = self.spanned_strings(key, value)?;
        if let Some(empty) = items.iter().find(|item| item.get_ref().trim().is_empty()) {
            let message = format!("empty string in `{key}` {}", self.label);
            return Err(self.error(empty.span(), message));
        }
        Ok(items.into_iter().map(Spanned::into_inner).collect())
    }

    /// A table of string values (`env`, `headers`), in written order.
    pub fn string_map(
        &self,
        key: &str,
        value: &Value<'_>,
    ) -> Result<IndexMap<String, String>, ConfigError> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.wrong_type(key, value, "a table of strings"));
        };
        let mut map = IndexMap::new();
        for (name, item) in in_written_order(table) {
            if name.get_ref().trim().is_empty() {
                let message = format!("empty name in `{key}` {}", self.label);
                return Err(self.error(name.span(), message));
            }
            let text = self.string(&format!("{key}.{}", name.get_ref()), item)?;
            map.insert(name.get_ref().to_string(), text);
        }
        Ok(map)
    }

    pub fn boolean(&self, key: &str, value: &Value<'_>) -> Result<bool, ConfigError> {
        match value.get_ref() {
            DeValue::Boolean(flag) => Ok(*flag),
            _ => Err(self.wrong_type(key, value, "true or false")),
        }
    }

    /// A whole number from 0 to `max`.
    pub fn unsigned(&self, key: &str, value: &Value<'_>, max: u64) -> Result<u64, ConfigError> {
        let DeValue::Integer(integer) = value.get_ref() else {
            return Err(self.wrong_type(key, value, "a whole number"));
        };
        let parsed = u64::from_str_radix(integer.as_str(), integer.radix()).ok();
        parsed.filter(|number| *number <= max).ok_or_else(|| {
            let message = format!(
                "`{key}` {} is out of range: expected 0 to {max}, found {integer}",
                self.label
            );
            self.error(value.span(), message)
        })
    }

    /// A duration longer than zero: `"30s"` and friends, or a whole number of seconds.
    pub fn duration(&self, key: &str, value: &Value<'_>) -> Result<Duration, ConfigError> {
        let duration = match value.get_ref() {
            DeValue::String(text) => parse_duration(text),
            DeValue::Integer(integer) => u64::from_str_radix(integer.as_str(), integer.radix())
                .ok()
                .map(Duration::from_secs),
            _ => return Err(self.wrong_type(key, value, "a duration like \"30s\"")),
        };
        match duration {
            Some(duration) if !duration.is_zero() => Ok(duration),
            Some(_) => Err(self.error(
                value.span(),
                format!("`{key}` {} must be longer than zero", self.label),
            )),
            None => Err(self.bad_duration(key, value)),
        }
    }

    fn bad_duration(&self, key: &str, value: &Value<'_>) -> ConfigError {
        let written = self.text.text.get(value.span()).unwrap_or_default();
        let message = format!(
            "bad duration {written} for `{key}` {}: expected {DURATION_FORMS}",
            self.label
        );
        self.error(value.span(), message)
    }
}

/// "a string", "an integer": how messages name what was found.
fn kind_of(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::load_error;

    #[test]
    fn wrong_value_types_name_the_key_the_expected_and_the_found_type() {
        let cases = [
            (
                "[roles.a]\nargs = \"-y\"\n",
                "team.toml:2:8: wrong type for `args` in [roles.a]: expected an array of strings, found a string",
            ),
            (
                "[roles.a]\nargs = [\"-y\", 3]\n",
                "team.toml:2:15: wrong type for `args[1]` in [roles.a]: expected a string, found an integer",
            ),
            (
                "[roles.a]\npersona = 1.5\n",
                "team.toml:2:11: wrong type for `persona` in [roles.a]: expected a string, found a float",
            ),
            (
                "[roles.a]\nenv = [\"X=1\"]\n",
                "team.toml:2:7: wrong type for `env` in [roles.a]: expected a table of strings, found an array",
            ),
            (
                "[roles.a]\nenv = { X = 1 }\n",
                "team.toml:2:13: wrong type for `env.X` in [roles.a]: expected a string, found an integer",
            ),
            (
                "[roles.a]\nrestart = 3\n",
                "team.toml:2:11: wrong type for `restart` in [roles.a]: expected a table, found an integer",
            ),
            (
                "[roles.a]\nrestart = { attempts = \"3\" }\n",
                "team.toml:2:24: wrong type for `attempts` in [roles.a.restart]: expected a whole number, found a string",
            ),
            (
                "[roles.a]\ntimeouts = { silence = true }\n",
                "team.toml:2:24: wrong type for `silence` in [roles.a.timeouts]: expected a duration like \"30s\", found a boolean",
            ),
            (
                "[roles]\na = \"architect\"\n",
                "team.toml:2:5: wrong type for `a` in [roles]: expected a table, found a string",
            ),
            (
                "roles = [\"a\"]\n",
                "team.toml:1:9: wrong type for `roles` at the top level: expected a table, found an array",
            ),
            (
                "defaults = 1\n[roles.a]\n",
                "team.toml:1:12: wrong type for `defaults` at the top level: expected a table, found an integer",
            ),
            (
                "[defaults]\nroute = \"a\"\n[roles.a]\n",
                "team.toml:2:9: wrong type for `route` in [defaults]: expected an array of strings, found a string",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(load_error(text), expected, "for {text:?}");
        }
    }

    #[test]
    fn out_of_range_numbers_are_rejected() {
        let error = load_error("[roles.a]\nrestart = { attempts = -1 }\n");
        assert_eq!(
            error,
            "team.toml:2:24: `attempts` in [roles.a.restart] is out of range: expected 0 to 4294967295, found -1"
        );
        let error = load_error("[roles.a]\nrestart = { attempts = 4294967296 }\n");
        assert!(error.contains("is out of range"), "{error}");
    }

    #[test]
    fn bad_durations_are_rejected_with_the_forms_allowed() {
        let error = load_error("[roles.a]\ntimeouts = { silence = \"2 minutes\" }\n");
        assert_eq!(
            error,
            "team.toml:2:24: bad duration \"2 minutes\" for `silence` in [roles.a.timeouts]: \
             expected a whole number with a unit (ms, s, m or h) like \"30s\", or a whole number \
             of seconds"
        );
        let error = load_error("[defaults]\ntimeouts = { initialize = -5 }\n[roles.a]\n");
        assert!(
            error.starts_with(
                "team.toml:2:27: bad duration -5 for `initialize` in [defaults.timeouts]"
            ),
            "{error}"
        );
    }

    #[test]
    fn zero_durations_are_rejected() {
        let error = load_error("[roles.a]\ntimeouts = { initialize = \"0s\" }\n");
        assert_eq!(
            error,
            "team.toml:2:27: `initialize` in [roles.a.timeouts] must be longer than zero"
        );
    }

    #[test]
    fn empty_command_is_rejected_in_a_role_and_in_defaults() {
        assert_eq!(
            load_error("[roles.a]\ncommand = \"\"\n"),
            "team.toml:2:11: empty `command` in [roles.a]"
        );
        assert_eq!(
            load_error("[defaults]\ncommand = \"  \"\n[roles.a]\n"),
            "team.toml:2:11: empty `command` in [defaults]"
        );
    }

    #[test]
    fn empty_mode_directory_and_tool_pattern_are_rejected() {
        assert_eq!(
            load_error("[roles.a]\nmode = \"\"\n"),
            "team.toml:2:8: empty `mode` in [roles.a]"
        );
        assert_eq!(
            load_error("[roles.a]\ndirectories = [\"src\", \"\"]\n"),
            "team.toml:2:23: empty string in `directories` in [roles.a]"
        );
        assert_eq!(
            load_error("[roles.a]\ntools_deny = [\"\"]\n"),
            "team.toml:2:15: empty string in `tools_deny` in [roles.a]"
        );
    }
}
