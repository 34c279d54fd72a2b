//! JSON read into a `serde_json::Value` with the keys of every object checked at
//! every depth: a key given twice is an error, not "the last one wins". For what the
//! proxy reads of a message as a whole (agents' requests, rare updates), so that what
//! it decides on is what any reader of the same text would see.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `text`, refusing an object anywhere in it that gives a key twice.
pub fn from_str_strict(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str::<Strict>(text).map(|strict| strict.0)
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "the key `{key}` is given twice"
                )));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_given_twice_at_any_depth_is_refused() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"toolCall":{"kind":"read","kind":"execute"}}"#,
            r#"{"x":[{"y":{"z":1,"\u007a":2}}]}"#,
        ] {
            let error = from_str_strict(text).unwrap_err();
            assert!(error.to_string().contains("twice"), "{text}: {error}");
        }
    }

    #[test]
    fn values_without_repeated_keys_read_as_serde_reads_them() {
        let text =
            r#"{"a":[1,-2,3.5,"s",null,true,{"b":{}}],"c":{"a":1},"big":18446744073709551615}"#;
        let strict = from_str_strict(text).unwrap();
        assert_eq!(strict, serde_json::from_str::<Value>(text).unwrap());
    }
}
