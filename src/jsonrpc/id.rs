//! `RequestId`: a JSON-RPC id (integer, string or null) with a private representation.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A JSON-RPC request id as it appears on one connection. Ids from different
/// connections and directions live in different spaces and must never be mixed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(Repr);

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Repr {
    Null,
    Number(i64),
    String(Box<str>),
}

impl RequestId {
    pub fn number(n: i64) -> Self {
        RequestId(Repr::Number(n))
    }

    pub fn string(s: impl Into<Box<str>>) -> Self {
        RequestId(Repr::String(s.into()))
    }

    pub fn null() -> Self {
        RequestId(Repr::Null)
    }

    /// The integer value, if this id is a number (ids the proxy mints are numbers).
    pub fn as_number(&self) -> Option<i64> {
        match self.0 {
            Repr::Number(n) => Some(n),
            _ => None,
        }
    }

    /// Appends the id as JSON to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Repr::Null => out.extend_from_slice(b"null"),
            Repr::Number(n) => {
                use std::io::Write as _;
                let _ = write!(out, "{n}");
            }
            Repr::String(s) => super::write_json_string(out, s),
        }
    }

    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Null => f.write_str("null"),
            Repr::Number(n) => write!(f, "{n}"),
            Repr::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Null => serializer.serialize_unit(),
            Repr::Number(n) => serializer.serialize_i64(*n),
            Repr::String(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IdVisitor)
    }
}

struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = RequestId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer, a string or null")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RequestId, E> {
        Ok(RequestId::number(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RequestId, E> {
        i64::try_from(v)
            .map(RequestId::number)
            .map_err(|_| E::custom("id out of range"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RequestId, E> {
        Ok(RequestId::string(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RequestId, E> {
        Ok(RequestId::null())
    }

    fn visit_none<E: de::Error>(self) -> Result<RequestId, E> {
        Ok(RequestId::null())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_json() {
        for text in ["1", "-7", "\"abc\"", "null", "\"a\\\"b\""] {
            let id: RequestId = serde_json::from_str(text).unwrap();
            assert_eq!(id.to_json(), text);
        }
    }

    #[test]
    fn fractional_ids_are_rejected() {
        assert!(serde_json::from_str::<RequestId>("1.5").is_err());
    }
}
