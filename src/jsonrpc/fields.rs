//! A JSON object's fields as spans of its text, found by one scan: each field's key
//! and raw value, and for a value that is itself an object, that object's fields (one
//! level down). Lets a reader look up and copy fields without parsing again; values
//! stay raw JSON text.

use std::borrow::Cow;
use std::ops::Range;

/// Where one field sits in the object's text. Compact (offsets as `u32`) so a message
/// can carry the index of its params inline: objects of 4 GiB or more are not indexed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FieldSpan {
    /// The key's contents, between its quotes.
    key_start: u32,
    key_end: u32,
    value_start: u32,
    value_end: u32,
    /// How many of the entries after this one are the fields of its value (the low
    /// bits), and the flags below (the top bits).
    nested_and_flags: u32,
}

const KEY_ESCAPED: u32 = 1 << 31;
const VALUE_ESCAPED: u32 = 1 << 30;
const VALUE_INDEXED: u32 = 1 << 29;
const NESTED: u32 = VALUE_INDEXED - 1;

// An object's index is its fields' spans in order, each followed by the spans of its
// value's fields when that value is an indexed object.

impl FieldSpan {
    pub(crate) fn new(
        key: Range<u32>,
        key_escaped: bool,
        value: Range<u32>,
        value_escaped: bool,
    ) -> Self {
        let flags = if key_escaped { KEY_ESCAPED } else { 0 }
            | if value_escaped { VALUE_ESCAPED } else { 0 };
        FieldSpan {
            key_start: key.start,
            key_end: key.end,
            value_start: value.start,
            value_end: value.end,
            nested_and_flags: flags,
        }
    }

    /// The value is an object whose `nested` fields follow this entry; `None` for more
    /// than 2^29 of them.
    pub(crate) fn with_nested(self, nested: u32) -> Option<Self> {
        (nested <= NESTED).then_some(FieldSpan {
            nested_and_flags: self.nested_and_flags | VALUE_INDEXED | nested,
            ..self
        })
    }

    #[inline]
    fn has(&self, flag: u32) -> bool {
        self.nested_and_flags & flag != 0
    }

    #[inline]
    fn nested(&self) -> usize {
        (self.nested_and_flags & NESTED) as usize
    }

    #[inline]
    fn key(&self) -> Range<usize> {
        self.key_start as usize..self.key_end as usize
    }

    #[inline]
    fn value(&self) -> Range<usize> {
        self.value_start as usize..self.value_end as usize
    }
}

/// The fields of one JSON object, borrowed from its text and its index.
#[derive(Debug, Clone, Copy)]
pub struct ObjectFields<'a> {
    /// The text the spans are offsets into (the outermost indexed object).
    text: &'a str,
    spans: &'a [FieldSpan],
}

/// One field: its key, its raw value, and the value's own fields if it was indexed.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    text: &'a str,
    span: FieldSpan,
    nested: &'a [FieldSpan],
}

/// An object's text with its index, for text that did not come in a `Message`.
#[derive(Debug, Clone)]
pub struct IndexedObject<'a> {
    text: &'a str,
    index: Vec<FieldSpan>,
}

impl<'a> IndexedObject<'a> {
    /// Indexes `text`; `None` unless it is one JSON object (of under 4 GiB).
    pub fn new(text: &'a str) -> Option<Self> {
        let mut index = Vec::new();
        super::scan::index_object(text, &mut index)?;
        Some(IndexedObject { text, index })
    }

    pub fn fields(&self) -> ObjectFields<'_> {
        ObjectFields::new(self.text, &self.index)
    }

    /// The object's text, as indexed.
    pub fn text(&self) -> &'a str {
        self.text
    }
}

/// Many objects' texts and indexes kept in two buffers: for objects indexed on one
/// thread and read on another, a few allocations for thousands of them.
#[derive(Debug, Default)]
pub struct IndexedTexts {
    text: String,
    index: Vec<FieldSpan>,
}

/// Where one object sits in an `IndexedTexts`.
#[derive(Debug, Clone)]
pub struct IndexedAt {
    text: Range<usize>,
    index: Range<usize>,
}

impl IndexedTexts {
    /// Room for `size` (another's `size()`): a run of similar batches grows none.
    pub fn with_capacity(size: (usize, usize)) -> Self {
        IndexedTexts {
            text: String::with_capacity(size.0),
            index: Vec::with_capacity(size.1),
        }
    }

    /// How much text and index are kept.
    pub fn size(&self) -> (usize, usize) {
        (self.text.len(), self.index.len())
    }

    /// Copies and indexes `text`; `None` (and nothing kept) unless it is one JSON
    /// object of under 4 GiB.
    pub fn push(&mut self, text: &str) -> Option<IndexedAt> {
        let index_start = self.index.len();
        if super::scan::index_object(text, &mut self.index).is_none() {
            self.index.truncate(index_start);
            return None;
        }
        let text_start = self.text.len();
        self.text.push_str(text);
        Some(IndexedAt {
            text: text_start..self.text.len(),
            index: index_start..self.index.len(),
        })
    }

    /// The fields of an object pushed here (empty for a place from elsewhere).
    pub fn fields(&self, at: &IndexedAt) -> ObjectFields<'_> {
        ObjectFields::new(
            self.text(at),
            self.index.get(at.index.clone()).unwrap_or(&[]),
        )
    }

    pub fn text(&self, at: &IndexedAt) -> &str {
        self.text.get(at.text.clone()).unwrap_or("{}")
    }
}

/// A reusable index for reading one object at a time without allocating.
#[derive(Debug, Default)]
pub struct IndexScratch(Vec<FieldSpan>);

impl IndexScratch {
    /// `text`'s fields; `None` unless it is one JSON object (of under 4 GiB).
    pub fn fields<'a>(&'a mut self, text: &'a str) -> Option<ObjectFields<'a>> {
        self.0.clear();
        super::scan::index_object(text, &mut self.0)?;
        Some(ObjectFields::new(text, &self.0))
    }
}

impl<'a> ObjectFields<'a> {
    pub(crate) fn new(text: &'a str, spans: &'a [FieldSpan]) -> Self {
        ObjectFields { text, spans }
    }

    /// The fields in the order they were written (a key given twice comes twice).
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = Field<'a>> + 'a {
        let (text, mut rest) = (self.text, self.spans);
        std::iter::from_fn(move || {
            let (span, after) = rest.split_first()?;
            let (nested, after) = after.split_at(span.nested());
            rest = after;
            Some(Field {
                text,
                span: *span,
                nested,
            })
        })
    }

    /// The first field named `key`.
    #[inline]
    pub fn get(&self, key: &str) -> Option<Field<'a>> {
        self.iter().find(|field| field.key_is(key))
    }

    /// The first field named `key`, if its value is a string: that string.
    pub fn get_str(&self, key: &str) -> Option<Cow<'a, str>> {
        self.get(key)?.as_str()
    }
}

impl<'a> Field<'a> {
    /// The key, unescaped.
    #[inline]
    pub fn key(&self) -> Cow<'a, str> {
        if self.span.has(KEY_ESCAPED) {
            return Cow::Owned(self.unescaped_key());
        }
        Cow::Borrowed(&self.text[self.span.key()])
    }

    /// Whether the key, unescaped, is `name` (no allocation unless it has escapes).
    #[inline]
    pub fn key_is(&self, name: &str) -> bool {
        if self.span.has(KEY_ESCAPED) {
            return self.unescaped_key() == name;
        }
        self.text.as_bytes().get(self.span.key()) == Some(name.as_bytes())
    }

    #[cold]
    fn unescaped_key(&self) -> String {
        let literal = &self.text[self.span.key_start as usize - 1..self.span.key_end as usize + 1];
        // Indexing checked that an escaped key unescapes.
        serde_json::from_str(literal).unwrap_or_else(|_| self.text[self.span.key()].to_string())
    }

    /// The value as raw JSON text.
    #[inline]
    pub fn value(&self) -> &'a str {
        &self.text[self.span.value()]
    }

    /// The whole field as written: `"key": value`.
    #[inline]
    pub fn text(&self) -> &'a str {
        &self.text[self.span.key_start as usize - 1..self.span.value_end as usize]
    }

    /// The value, if it is a string (borrowed unless it has escapes).
    #[inline]
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        let value = self.value();
        let inner = value.strip_prefix('"')?.strip_suffix('"')?;
        if !self.span.has(VALUE_ESCAPED) {
            return Some(Cow::Borrowed(inner));
        }
        serde_json::from_str::<String>(value).ok().map(Cow::Owned)
    }

    /// The value's own fields, when it is an object that was indexed.
    #[inline]
    pub fn object(&self) -> Option<ObjectFields<'a>> {
        self.span.has(VALUE_INDEXED).then_some(ObjectFields {
            text: self.text,
            spans: self.nested,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_order_spelling_and_raw_values() {
        let text = r#" {"a" : [1, 2], "b\u0063":{"x":{"deep":1},"y":"t\"q"}, "s":"plain", "e":{}}"#;
        let indexed = IndexedObject::new(text).unwrap();
        let fields = indexed.fields();
        let keys: Vec<_> = fields.iter().map(|f| f.key().into_owned()).collect();
        assert_eq!(keys, ["a", "bc", "s", "e"]);
        let a = fields.get("a").unwrap();
        assert_eq!((a.value(), a.text()), ("[1, 2]", r#""a" : [1, 2]"#));
        assert!(a.object().is_none() && a.as_str().is_none());
        let bc = fields.get("bc").unwrap().object().unwrap();
        assert_eq!(bc.get("x").unwrap().value(), r#"{"deep":1}"#);
        assert!(
            bc.get("x").unwrap().object().is_none(),
            "two levels are indexed"
        );
        assert_eq!(bc.get_str("y").as_deref(), Some("t\"q"));
        assert_eq!(fields.get_str("s"), Some(Cow::Borrowed("plain")));
        assert_eq!(fields.get("e").unwrap().object().unwrap().iter().count(), 0);
    }

    #[test]
    fn only_one_whole_object_is_indexed() {
        for text in [
            "[1]",
            "{} {}",
            r#"{"a":1"#,
            r#"{"a":"\u12"}"#,
            r#"{"\ud800":1}"#,
            r#"{"a":{"\udc00":1}}"#,
            "",
        ] {
            assert!(IndexedObject::new(text).is_none(), "{text}");
        }
    }
}
