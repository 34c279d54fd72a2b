//! Raw JSON object surgery for the per-message path: read an object's top-level
//! fields without parsing their values, and write objects field by field (fields
//! kept as written are copied verbatim). Knows no protocol beyond JSON.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use smallvec::SmallVec;

use crate::jsonrpc::{write_json_escaped, write_json_string};

/// A JSON object's top-level fields in order; values stay raw and borrowed.
#[derive(Debug)]
pub struct RawObject<'a> {
    fields: SmallVec<[(Cow<'a, str>, &'a RawValue); 6]>,
}

impl<'a> RawObject<'a> {
    pub fn parse(text: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.fields.iter().map(|(k, v)| (k.as_ref(), *v))
    }
}

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = RawObject<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = SmallVec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            fields.push((key, value));
        }
        Ok(RawObject { fields })
    }
}

/// An object key, borrowed from the input unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Writes a JSON object field by field into a buffer.
pub struct ObjectWriter<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> ObjectWriter<'o> {
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjectWriter { out, first: true }
    }

    fn separate(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        self.separate();
        write_json_string(self.out, key);
        self.out.push(b':');
        self.out
    }

    /// A field copied as it was written (`"key": value`, from `Field::text`).
    pub fn verbatim(&mut self, field: &str) {
        self.separate();
        self.out.extend_from_slice(field.as_bytes());
    }

    pub fn raw(&mut self, key: &str, value: &str) {
        self.key(key).extend_from_slice(value.as_bytes());
    }

    pub fn string(&mut self, key: &str, value: &str) {
        let out = self.key(key);
        write_json_string(out, value);
    }

    /// A string made of the `prefix` parts followed by `value`, escaped as one.
    pub fn prefixed_string(&mut self, key: &str, prefix: &[&str], value: &str) {
        let out = self.key(key);
        out.push(b'"');
        for part in prefix {
            write_json_escaped(out, part);
        }
        write_json_escaped(out, value);
        out.push(b'"');
    }

    /// A value written by `write` (which must write exactly one JSON value).
    pub fn with(&mut self, key: &str, write: impl FnOnce(&mut Vec<u8>)) {
        write(self.key(key));
    }

    pub fn finish(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_object_keeps_values_verbatim_and_in_order() {
        let obj = RawObject::parse(r#"{"b": [1, 2], "a":{"x" : 1},"s":"t\"q"}"#).unwrap();
        let fields: Vec<_> = obj
            .fields()
            .map(|(k, v)| (k.to_string(), v.get().to_string()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("b".into(), "[1, 2]".into()),
                ("a".into(), r#"{"x" : 1}"#.into()),
                ("s".into(), r#""t\"q""#.into())
            ]
        );
    }

    #[test]
    fn writer_escapes_prefixed_strings_as_one_value() {
        let mut out = Vec::new();
        let mut w = ObjectWriter::new(&mut out);
        w.prefixed_string("id", &["back\"end", "/"], "tool\n1");
        w.raw("n", "1");
        w.finish();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "back\"end/tool\n1");
        assert_eq!(v["n"], 1);
    }
}
