//! The record batch: events encoded back to back in one reusable byte buffer, handed whole from
//! the core's handle to the writer thread. Knows the byte layout; nothing of SQL or of what a
//! payload means.
//!
//! One record, integers little-endian:
//! `time_ms: i64 | session: u32 len + bytes | role: u32 len + bytes (NO_ROLE = none) |
//! kind: u32 len + bytes | payload: u32 len + bytes`

/// A role length that means "no role".
const NO_ROLE: u32 = u32::MAX;
/// Longest session, role or kind kept (bytes); longer ones are cut at a character boundary.
const MAX_NAME_BYTES: usize = 64 * 1024;
/// Written in place of a payload that is empty or too long to encode.
const NULL_PAYLOAD: &[u8] = b"null";

/// Events handed to the writer in one piece: `through` is the local number of the last one.
#[derive(Debug)]
pub(crate) struct Batch {
    pub bytes: Vec<u8>,
    pub through: u64,
}

/// Appends one record to `buf`; the payload is written by `write_payload` straight into it.
pub(crate) fn push_record(
    buf: &mut Vec<u8>,
    session: &str,
    role: Option<&str>,
    kind: &str,
    time_ms: i64,
    write_payload: impl FnOnce(&mut Vec<u8>),
) {
    buf.extend_from_slice(&time_ms.to_le_bytes());
    push_name(buf, session);
    match role {
        Some(role) => push_name(buf, role),
        None => buf.extend_from_slice(&NO_ROLE.to_le_bytes()),
    }
    push_name(buf, kind);
    push_payload(buf, write_payload);
}

fn push_name(buf: &mut Vec<u8>, name: &str) {
    let name = &name[..name.floor_char_boundary(MAX_NAME_BYTES)];
    // At most MAX_NAME_BYTES, so the cast is exact.
    buf.extend_from_slice(&(name.len() as u32).to_le_bytes());
    buf.extend_from_slice(name.as_bytes());
}

fn push_payload(buf: &mut Vec<u8>, write_payload: impl FnOnce(&mut Vec<u8>)) {
    let length_at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    write_payload(buf);
    let mut length = buf.len() - length_at - 4;
    if length == 0 || u32::try_from(length).is_err() {
        if length != 0 {
            tracing::warn!(
                bytes = length,
                "event payload too large to record; stored as null"
            );
        }
        buf.truncate(length_at + 4);
        buf.extend_from_slice(NULL_PAYLOAD);
        length = NULL_PAYLOAD.len();
    }
    buf[length_at..length_at + 4].copy_from_slice(&(length as u32).to_le_bytes());
}

/// One decoded record, borrowing the batch's bytes. The names were `str`s when encoded; they
/// are checked as UTF-8 where they are first used, not on every record (most records repeat
/// the names of the one before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub time_ms: i64,
    pub session: &'a [u8],
    pub role: Option<&'a [u8]>,
    pub kind: &'a [u8],
    /// Meant to be one JSON value; only checked as UTF-8 where it is stored.
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed event batch: {0}")]
pub(crate) struct DecodeError(&'static str);

/// The records of a batch in order; stops after the first malformed one.
pub(crate) struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Records<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Records { rest: bytes }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError(what));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn take_u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn take_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let length = self.take_u32(what)?;
        self.take(length as usize, what)
    }

    fn take_role(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        let length = self.take_u32("role")?;
        if length == NO_ROLE {
            return Ok(None);
        }
        self.take(length as usize, "role").map(Some)
    }

    fn record(&mut self) -> Result<Record<'a>, DecodeError> {
        let time = self.take(8, "time")?;
        let mut time_bytes = [0; 8];
        time_bytes.copy_from_slice(time);
        Ok(Record {
            time_ms: i64::from_le_bytes(time_bytes),
            session: self.take_bytes("session")?,
            role: self.take_role()?,
            kind: self.take_bytes("kind")?,
            payload: self.take_bytes("payload")?,
        })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let record = self.record();
        if record.is_err() {
            self.rest = &[];
        }
        Some(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(records: &[(String, Option<String>, String, i64, String)]) -> Vec<u8> {
        let mut buf = Vec::new();
        for (session, role, kind, time, payload) in records {
            push_record(&mut buf, session, role.as_deref(), kind, *time, |out| {
                out.extend_from_slice(payload.as_bytes())
            });
        }
        buf
    }

    proptest! {
        #[test]
        fn records_round_trip(records in proptest::collection::vec(
            (".{0,40}", proptest::option::of(".{0,12}"), "[a-z_]{0,16}", any::<i64>(), ".{1,300}"),
            0..40,
        )) {
            let buf = encode(&records);
            let decoded: Vec<Record<'_>> = Records::new(&buf).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(decoded.len(), records.len());
            for (got, (session, role, kind, time, payload)) in decoded.iter().zip(&records) {
                prop_assert_eq!(got.session, session.as_bytes());
                prop_assert_eq!(got.role, role.as_deref().map(str::as_bytes));
                prop_assert_eq!(got.kind, kind.as_bytes());
                prop_assert_eq!(got.time_ms, *time);
                prop_assert_eq!(got.payload, payload.as_bytes());
            }
        }

        #[test]
        fn arbitrary_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let count = Records::new(&bytes).count();
            prop_assert!(count <= bytes.len() / 24 + 1, "each record takes at least 24 bytes");
        }

        #[test]
        fn a_cut_batch_yields_its_whole_records_then_one_error(cut in 0usize..200) {
            let records = vec![
                ("s1".to_string(), Some("backend".to_string()), "update".to_string(), 5, "{\"a\":1}".to_string());
                4
            ];
            let buf = encode(&records);
            let cut = cut.min(buf.len());
            let decoded: Vec<_> = Records::new(&buf[..cut]).collect();
            let whole = decoded.iter().take_while(|r| r.is_ok()).count();
            prop_assert!(decoded.len() - whole <= 1, "decoding stops at the first error");
            prop_assert_eq!(whole, cut / (buf.len() / 4));
        }
    }

    #[test]
    fn an_empty_payload_is_stored_as_null() {
        let mut buf = Vec::new();
        push_record(&mut buf, "s", None, "say", 1, |_| {});
        let record = Records::new(&buf).next().unwrap().unwrap();
        assert_eq!(record.payload, b"null");
        assert_eq!(record.role, None);
    }

    #[test]
    fn an_overlong_name_is_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_NAME_BYTES);
        let mut buf = Vec::new();
        push_record(&mut buf, &long, Some(&long), &long, 1, |out| out.push(b'1'));
        let record = Records::new(&buf).next().unwrap().unwrap();
        assert_eq!(record.session.len(), MAX_NAME_BYTES);
        assert!(long.as_bytes().starts_with(record.kind));
    }
}
