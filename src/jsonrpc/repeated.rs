//! Whether one JSON object gives a key twice, keys compared as unescaped: cheap for
//! the few keys objects on the per-message path have. Knows nothing of what the
//! object is.

use std::borrow::Cow;

use super::scan::Str;

/// Objects with at most this many keys are checked pair by pair (no allocation);
/// larger ones by sorting their keys.
const PAIRWISE_KEYS: usize = 16;

/// The first key of `keys` (spans of `text`) that an earlier one already gave.
pub(super) fn repeated_key<'a>(text: &'a str, keys: &[Str]) -> Option<Cow<'a, str>> {
    if keys.len() <= PAIRWISE_KEYS {
        return keys.iter().enumerate().find_map(|(at, a)| {
            keys[..at]
                .iter()
                .any(|b| same_key(text, *a, *b))
                .then(|| key_text(text, *a))
        });
    }
    let mut names: Vec<_> = keys.iter().map(|k| key_text(text, *k)).collect();
    names.sort_unstable();
    names
        .windows(2)
        .find(|pair| pair[0] == pair[1])
        .map(|pair| pair[0].clone())
}

fn same_key(text: &str, a: Str, b: Str) -> bool {
    if !a.escaped && !b.escaped {
        return text.as_bytes()[a.span()] == text.as_bytes()[b.span()];
    }
    key_text(text, a) == key_text(text, b)
}

/// A key unescaped (the scan checked that it unescapes).
fn key_text(text: &str, key: Str) -> Cow<'_, str> {
    if !key.escaped {
        return Cow::Borrowed(&text[key.span()]);
    }
    let literal = &text[key.start - 1..key.end + 1];
    serde_json::from_str::<String>(literal)
        .map(Cow::Owned)
        .unwrap_or(Cow::Borrowed(&text[key.span()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of a flat object written as `"k":0,` pairs (no quotes inside keys).
    fn keys_of(text: &str) -> Vec<Str> {
        let mut keys = Vec::new();
        let mut at = 0;
        while let Some(open) = text[at..].find('"').map(|i| at + i + 1) {
            let close = open + text[open..].find('"').unwrap();
            let escaped = text[open..close].contains('\\');
            keys.push(Str {
                start: open,
                end: close,
                escaped,
            });
            at = text[close..].find(',').map_or(text.len(), |i| close + i);
        }
        keys
    }

    #[test]
    fn a_repeat_is_found_among_few_keys_or_many_and_escapes_do_not_hide_it() {
        let few = r#"{"a":0,"b":0,"\u0061":0}"#;
        assert_eq!(repeated_key(few, &keys_of(few)).as_deref(), Some("a"));
        let many: String = (0..100).map(|n| format!(r#""k{n}":0,"#)).collect();
        let text = format!(r#"{{{many}"k7":0}}"#);
        assert_eq!(repeated_key(&text, &keys_of(&text)).as_deref(), Some("k7"));
        let distinct = format!(r#"{{{many}"z":0}}"#);
        assert_eq!(repeated_key(&distinct, &keys_of(&distinct)), None);
    }
}
