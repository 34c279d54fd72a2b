//! Strategies for JSON text as a peer might write it: any spacing between tokens,
//! strings spelled with any mix of plain characters and escapes, nested values.
//! Every text fits on one line (no raw `\n`), as it would inside a frame.
//!
//! Leaves are drawn as plain integers and turned into characters, spellings and
//! spaces by table: one small value tree per leaf keeps thousands of cases cheap
//! in a debug build, and shrinking still moves toward short, plain text.

use proptest::prelude::*;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A string as it decodes, and one way of writing it as a JSON literal.
#[derive(Debug, Clone)]
pub(crate) struct JsonString {
    pub decoded: String,
    pub literal: String,
}

/// How one character is written inside a literal.
#[derive(Debug, Clone, Copy)]
enum Spelling {
    Plain,
    ShortEscape,
    UnicodeEscape { upper_hex: bool },
}

const CHARS_NEEDING_CARE: [char; 10] = [
    '"', '\\', '/', ' ', '@', '\u{7f}', 'é', '\u{2028}', '😀', '\u{ffff}',
];

/// A character for a code: mostly lowercase letters, often characters that need care
/// (quotes, backslashes, slashes, control characters, non-ASCII, beyond the basic
/// plane), sometimes any character at all. Code 0 is `a`, so shrinking ends on it.
pub(crate) fn char_for(code: u32) -> char {
    let pick = code % 16;
    let detail = code >> 4;
    match pick {
        0..=9 => char::from(b'a' + (detail % 26) as u8),
        10 | 11 => CHARS_NEEDING_CARE[detail as usize % CHARS_NEEDING_CARE.len()],
        12 => char::from_u32(detail % 0x20).unwrap_or('a'),
        _ => char::from_u32(detail % 0x11_0000).unwrap_or('\u{fffd}'),
    }
}

/// A spelling for a code: mostly plain. Code 0 is plain.
fn spelling_for(code: u32) -> Spelling {
    match code % 8 {
        0..=5 => Spelling::Plain,
        6 => Spelling::ShortEscape,
        _ => Spelling::UnicodeEscape {
            upper_hex: code & 8 != 0,
        },
    }
}

/// Whitespace between tokens for a code: mostly none; spaces, tabs or `\r`. No `\n`.
pub(crate) fn whitespace_for(code: u8) -> &'static str {
    const SPACES: [&str; 16] = [
        "", "", "", "", "", "", "", "", "", " ", " ", "  ", "\t", "\r", " \t ", "\r\t",
    ];
    SPACES[usize::from(code % 16)]
}

fn short_escape(c: char) -> Option<&'static str> {
    Some(match c {
        '"' => "\\\"",
        '\\' => "\\\\",
        '/' => "\\/",
        '\u{8}' => "\\b",
        '\u{c}' => "\\f",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        _ => return None,
    })
}

fn may_be_plain(c: char) -> bool {
    c >= ' ' && c != '"' && c != '\\'
}

fn push_unicode_escape(c: char, upper_hex: bool, out: &mut String) {
    let mut units = [0u16; 2];
    for unit in c.encode_utf16(&mut units) {
        if upper_hex {
            out.push_str(&format!("\\u{unit:04X}"));
        } else {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }
}

/// Writes `c` as asked when that spelling can express it, else the next that can.
fn spell(c: char, spelling: Spelling, out: &mut String) {
    match spelling {
        Spelling::Plain if may_be_plain(c) => out.push(c),
        Spelling::Plain | Spelling::ShortEscape => match short_escape(c) {
            Some(escape) => out.push_str(escape),
            None if may_be_plain(c) => out.push(c),
            None => push_unicode_escape(c, false, out),
        },
        Spelling::UnicodeEscape { upper_hex } => push_unicode_escape(c, upper_hex, out),
    }
}

/// `decoded` written as a literal, character `i` spelled by `spellings[i]` (plain past
/// the end).
fn literal_of(decoded: String, spellings: &[u32]) -> JsonString {
    let mut literal = String::from("\"");
    let codes = spellings.iter().copied().chain(std::iter::repeat(0));
    for (c, code) in decoded.chars().zip(codes) {
        spell(c, spelling_for(code), &mut literal);
    }
    literal.push('"');
    JsonString { decoded, literal }
}

/// Any short string, spelled any way.
pub(crate) fn json_string() -> impl Strategy<Value = JsonString> + Clone {
    prop::collection::vec(any::<u32>(), 0..10).prop_map(|codes| {
        let decoded = codes.iter().map(|code| char_for(*code)).collect();
        let spellings: Vec<u32> = codes.iter().map(|code| code.rotate_right(7)).collect();
        literal_of(decoded, &spellings)
    })
}

/// A given string, spelled any way.
pub(crate) fn json_string_of(decoded: String) -> impl Strategy<Value = JsonString> {
    let length = decoded.chars().count();
    prop::collection::vec(any::<u32>(), length)
        .prop_map(move |spellings| literal_of(decoded.clone(), &spellings))
}

/// A number as written: integers of any size, and decimals with fractions and exponents.
pub(crate) fn json_number() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec!["0", "-0", "1.5", "-2.25e3", "1E-2", "0.0", "6.02e+23"])
            .prop_map(String::from),
        1 => any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
    ]
}

/// A leaf value: null, a boolean, a number or a string.
pub(crate) fn json_scalar() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        1 => prop::sample::select(vec!["null", "true", "false"]).prop_map(String::from),
        2 => json_number(),
        3 => json_string().prop_map(|s| s.literal),
    ]
}

/// Any JSON value, nested up to three levels.
pub(crate) fn json_value() -> BoxedStrategy<String> {
    json_scalar()
        .prop_recursive(3, 16, 4, |inner| {
            prop_oneof![json_array_of(inner.clone()), json_object_of(inner)]
        })
        .boxed()
}

/// An object or an array (what `params` may be), nested values inside.
pub(crate) fn json_structured() -> BoxedStrategy<String> {
    prop_oneof![json_array_of(json_value()), json_object_of(json_value())].boxed()
}

/// An array of `item`s with any spacing.
pub(crate) fn json_array_of(
    item: impl Strategy<Value = String> + 'static,
) -> BoxedStrategy<String> {
    (
        prop::collection::vec((item, any::<u8>()), 0..5),
        any::<u8>(),
    )
        .prop_map(|(items, last_space)| {
            let mut text = String::from("[");
            for (i, (item, space)) in items.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(whitespace_for(*space));
                text.push_str(item);
                text.push_str(whitespace_for(space >> 4));
            }
            text.push_str(whitespace_for(last_space));
            text.push(']');
            text
        })
        .boxed()
}

/// An object with distinct keys (distinct once unescaped) and `value`s, any spacing.
pub(crate) fn json_object_of(
    value: impl Strategy<Value = String> + 'static,
) -> BoxedStrategy<String> {
    (
        prop::collection::vec((json_string(), value), 0..5),
        spacing(),
    )
        .prop_map(|(fields, spaces)| {
            let literals: Vec<(String, String)> = distinct_keys(fields)
                .into_iter()
                .map(|(k, v)| (k.literal, v))
                .collect();
            object_text(&literals, &spaces)
        })
        .boxed()
}

/// Keeps the first field of each key, compared unescaped.
pub(crate) fn distinct_keys<V>(fields: Vec<(JsonString, V)>) -> Vec<(JsonString, V)> {
    let mut seen = std::collections::HashSet::new();
    fields
        .into_iter()
        .filter(|(key, _)| seen.insert(key.decoded.clone()))
        .collect()
}

/// Codes for the spaces of one object (see `object_text`).
pub(crate) fn spacing() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop::collection::vec(any::<u8>(), 0..24)
}

/// Writes an object of already-written keys and values; `spaces` picks the spacing
/// around each token (none once it runs out).
pub(crate) fn object_text(fields: &[(String, String)], spaces: &[u8]) -> String {
    let mut codes = spaces.iter().flat_map(|code| [*code, code >> 4]);
    let mut space = || whitespace_for(codes.next().unwrap_or(0));
    let mut text = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let (a, b, c, d) = (space(), space(), space(), space());
        text.push_str(&format!("{a}{key}{b}:{c}{value}{d}"));
    }
    text.push_str(space());
    text.push('}');
    text
}

/// Codes for a reordering (see `reorder`).
pub(crate) fn swaps() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..8)
}

/// Swaps item `i` with one at or before it as `swaps[i]` says; zeros leave the order.
pub(crate) fn reorder<T>(items: &mut [T], swaps: &[u8]) {
    for (i, swap) in swaps.iter().enumerate().take(items.len()) {
        items.swap(i, i - usize::from(*swap) % (i + 1));
    }
}

/// An object's fields in order, keys unescaped, values as written, duplicates kept;
/// `None` when `text` is not a JSON object.
pub(crate) fn raw_fields(text: &str) -> Option<Vec<(String, Box<RawValue>)>> {
    serde_json::from_str::<RawFields>(text).ok().map(|f| f.0)
}

struct RawFields(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for RawFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = RawFields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(RawFields(fields))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}
