//! Durations as the config writes them (`"500ms"`, `"30s"`, `"2m"`, `"1h"`) and as
//! `config check` prints them. Knows units, not which keys hold durations.

use std::time::Duration;

/// What a duration string may look like, for error messages.
pub const DURATION_FORMS: &str =
    "a whole number with a unit (ms, s, m or h) like \"30s\", or a whole number of seconds";

const UNITS: &[(&str, u64)] = &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];

/// `"500ms"`, `"30s"`, `"2m"`, `"1h"`; `None` for anything else or an overflow.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return None;
    }
    let millis_per_unit = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, millis)| *millis)?;
    let count: u64 = number.parse().ok()?;
    count
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
}

/// The largest unit that divides the duration evenly: `2m`, `90s`, `500ms`.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_string();
    }
    let (name, per_unit) = UNITS
        .iter()
        .rev()
        .find(|(_, per_unit)| millis.is_multiple_of(u128::from(*per_unit)))
        .copied()
        .unwrap_or(("ms", 1));
    format!("{}{name}", millis / u128::from(per_unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_parses() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration(" 0s "), Some(Duration::ZERO));
    }

    #[test]
    fn malformed_durations_do_not_parse() {
        for bad in [
            "", "s", "30", "30x", "1.5s", "-3s", "3 s", "1m30s", "30S", "ms",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?} should not parse");
        }
    }

    #[test]
    fn overflowing_durations_do_not_parse() {
        assert_eq!(parse_duration("99999999999999999999h"), None);
        assert_eq!(parse_duration("18446744073709551615h"), None);
    }

    #[test]
    fn formatting_uses_the_largest_even_unit() {
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
