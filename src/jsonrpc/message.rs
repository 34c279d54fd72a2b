//! One parsed JSON-RPC message: the line it came from plus the envelope fields,
//! with `params`, `result` and `error` kept as unparsed spans of that line, and the
//! fields of object params indexed.
//!
//! A line is read by one validating scan (`scan`) that also indexes the params; what
//! the scan does not read itself (escaped envelope keys, unusual ids, errors of any
//! kind) goes to the thorough serde parse below, which decides what it means; a key
//! given twice in the envelope, the params or an object among the params' values makes
//! the line an invalid request (readers would disagree on which one counts). Lines
//! read together (`reads`) share one text and one index, so a line costs no
//! allocation of its own.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::ops::Range;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::RequestId;
use super::fields::{FieldSpan, ObjectFields};
use super::scan;

/// A message as received: its line (in a text of its own or shared with the other
/// lines of one read); params/result/error stay raw JSON text.
#[derive(Debug, Clone)]
pub struct Message {
    pub(super) text: Arc<SharedText>,
    /// Where the line lies in `text`.
    line: Range<usize>,
    body: Body,
    /// Where the index of object params lies in `text.spans`, when the scan that read
    /// the line made it.
    params_index: Option<Range<u32>>,
    /// The index made on the first `params_fields` call for a line the thorough
    /// parse read. A OnceCell because a message is read through `&self` by one task
    /// at a time.
    later_index: OnceCell<Box<[FieldSpan]>>,
}

/// The text lines lie in, with the index of their params: one line's, or one read's.
#[derive(Debug, Default)]
pub(super) struct SharedText {
    pub text: String,
    pub spans: Vec<FieldSpan>,
}

/// What kind of message this is, with spans into the line for the raw parts.
#[derive(Debug, Clone)]
pub enum Body {
    Request {
        id: RequestId,
        method: Name,
        params: Option<Range<usize>>,
    },
    Notification {
        method: Name,
        params: Option<Range<usize>>,
    },
    Response {
        id: RequestId,
        outcome: Result<Range<usize>, Range<usize>>,
    },
}

/// A method name: a span of the line, or owned when it needed unescaping.
#[derive(Debug, Clone)]
pub enum Name {
    Span(Range<usize>),
    Owned(Box<str>),
}

/// Why a line is not a usable message; `id` is set when it could be recovered,
/// so the error reply can name the request.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    pub id: Option<RequestId>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// Not JSON (or not UTF-8): answered with -32700 and id null.
    NotJson,
    /// JSON, but not a valid JSON-RPC 2.0 message: answered with -32600.
    InvalidRequest,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present")]
    id: Option<RequestId>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present_raw")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present_raw")]
    error: Option<&'a RawValue>,
}

/// A field that is present, even as `null` (`"result": null` is a success).
fn present_raw<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Distinguishes `"id": null` (a request with a null id) from a missing id (a notification).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<RequestId>, D::Error> {
    RequestId::deserialize(d).map(Some)
}

impl Message {
    /// Parses one line (without its newline).
    pub fn parse(line: impl Into<Box<str>>) -> Result<Message, ParseError> {
        let mut shared = SharedText {
            text: line.into().into_string(),
            spans: Vec::new(),
        };
        let whole = 0..shared.text.len();
        let (body, params_index) = read_line(&shared.text, &mut shared.spans)?;
        Ok(Message::new(Arc::new(shared), whole, body, params_index))
    }

    /// A message whose line lies at `line` in `text` (read by `read_line`).
    pub(super) fn new(
        text: Arc<SharedText>,
        line: Range<usize>,
        body: Body,
        params_index: Option<Range<u32>>,
    ) -> Message {
        Message {
            text,
            line,
            body,
            params_index,
            later_index: OnceCell::new(),
        }
    }

    /// Only the thorough parse, bypassing the scan (for the property tests that hold
    /// the two against each other).
    #[cfg(test)]
    pub(in crate::jsonrpc) fn parse_thoroughly(line: &str) -> Result<Message, ParseError> {
        let body = parse_body(line)?;
        let text = Arc::new(SharedText {
            text: line.to_string(),
            spans: Vec::new(),
        });
        Ok(Message::new(text, 0..line.len(), body, None))
    }

    /// Whether the one-pass scan reads `line` by itself (else the thorough parse does).
    #[cfg(test)]
    pub(in crate::jsonrpc) fn is_scanned(line: &str) -> bool {
        scanned_body(line, &mut Vec::new()).is_some()
    }

    /// Parses raw bytes, rejecting non-UTF-8 input as a parse error.
    pub fn parse_bytes(bytes: Vec<u8>) -> Result<Message, ParseError> {
        match String::from_utf8(bytes) {
            Ok(line) => Message::parse(line),
            Err(e) => Err(ParseError {
                kind: ParseErrorKind::NotJson,
                id: None,
                detail: format!("invalid utf-8: {}", e.utf8_error()),
            }),
        }
    }

    pub fn line(&self) -> &str {
        // A line begins and ends at an ASCII byte or an end of its checked text, so at
        // character boundaries.
        self.text.text.get(self.line.clone()).unwrap_or_default()
    }

    pub fn body(&self) -> &Body {
        &self.body
    }

    pub fn method(&self) -> Option<&str> {
        match &self.body {
            Body::Request { method, .. } | Body::Notification { method, .. } => {
                Some(self.name(method))
            }
            Body::Response { .. } => None,
        }
    }

    pub fn id(&self) -> Option<&RequestId> {
        match &self.body {
            Body::Request { id, .. } | Body::Response { id, .. } => Some(id),
            Body::Notification { .. } => None,
        }
    }

    /// The raw params text, if any.
    pub fn params(&self) -> Option<&str> {
        match &self.body {
            Body::Request { params, .. } | Body::Notification { params, .. } => {
                params.as_ref().map(|r| &self.line()[r.clone()])
            }
            Body::Response { .. } => None,
        }
    }

    /// The fields of the params, when they are an object: each key with its raw value,
    /// and for each value that is an object, its fields too (two levels, as a
    /// `session/update`'s params and their `update` need). Indexed when the line was
    /// read, so looking fields up scans nothing again; for a line the scan left to the
    /// thorough parse, indexed on the first call. `None` without object params (or for
    /// params of 4 GiB or more).
    pub fn params_fields(&self) -> Option<ObjectFields<'_>> {
        let params = self.params().filter(|p| p.starts_with('{'))?;
        let index = match &self.params_index {
            Some(at) => self.text.spans.get(at.start as usize..at.end as usize)?,
            None => match self.later_index.get() {
                Some(index) => index,
                None => {
                    let mut index = Vec::new();
                    scan::index_object(params, &mut index)?;
                    self.later_index.get_or_init(|| index.into_boxed_slice())
                }
            },
        };
        Some(ObjectFields::new(params, index))
    }

    /// For a response: Ok(raw result) or Err(raw error object).
    pub fn outcome(&self) -> Option<Result<&str, &str>> {
        match &self.body {
            Body::Response { outcome, .. } => Some(match outcome {
                Ok(r) => Ok(&self.line()[r.clone()]),
                Err(r) => Err(&self.line()[r.clone()]),
            }),
            _ => None,
        }
    }

    pub fn is_request(&self) -> bool {
        matches!(self.body, Body::Request { .. })
    }

    fn name<'a>(&'a self, name: &'a Name) -> &'a str {
        match name {
            Name::Span(r) => &self.line()[r.clone()],
            Name::Owned(s) => s,
        }
    }
}

fn span_of(line: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - line.as_ptr() as usize;
    start..start + part.len()
}

fn name_of(line: &str, method: Cow<'_, str>) -> Name {
    match method {
        Cow::Borrowed(s) => Name::Span(span_of(line, s)),
        Cow::Owned(s) => Name::Owned(s.into()),
    }
}

/// Reads one line: by the scan when it can (appending the params' index to `spans`
/// and giving its place there), else by the thorough parse.
pub(super) fn read_line(
    line: &str,
    spans: &mut Vec<FieldSpan>,
) -> Result<(Body, Option<Range<u32>>), ParseError> {
    let before = spans.len();
    match scanned_body(line, spans) {
        Some(scanned) => Ok(scanned),
        None => {
            spans.truncate(before);
            Ok((parse_body(line)?, None))
        }
    }
}

/// The body of a line the one-pass scan can read by itself, with the place of the
/// params' index in `spans`; `None` leaves the line to `parse_body`, which knows every
/// rule and error.
fn scanned_body(line: &str, spans: &mut Vec<FieldSpan>) -> Option<(Body, Option<Range<u32>>)> {
    let envelope = scan::envelope(line, spans).ok()?;
    let params = match envelope.params {
        Some(p) if !matches!(line.as_bytes()[p.start], b'{' | b'[') => {
            if &line[p] != "null" {
                return None;
            }
            None
        }
        p => p,
    };
    let body = match (
        envelope.method,
        envelope.id,
        envelope.result,
        envelope.error,
    ) {
        (Some(method), Some(id), None, None) => Body::Request {
            id,
            method: Name::Span(method),
            params,
        },
        (Some(method), None, None, None) => Body::Notification {
            method: Name::Span(method),
            params,
        },
        (None, Some(id), Some(result), None) => Body::Response {
            id,
            outcome: Ok(result),
        },
        (None, Some(id), None, Some(error)) => Body::Response {
            id,
            outcome: Err(error),
        },
        _ => return None,
    };
    let index = envelope
        .params_index
        .and_then(|at| Some(u32::try_from(at.start).ok()?..u32::try_from(at.end).ok()?));
    Some((body, index))
}

fn parse_body(line: &str) -> Result<Body, ParseError> {
    // Only an object can be a message (serde would read an array by position).
    if !line.trim_start().starts_with('{') {
        return Err(not_an_object(line));
    }
    let env: Envelope<'_> = serde_json::from_str(line).map_err(|e| classify(line, e))?;
    let id = env.id;
    let invalid_id = id.clone();
    let invalid = move |detail: &str| ParseError {
        kind: ParseErrorKind::InvalidRequest,
        id: invalid_id.clone(),
        detail: detail.to_string(),
    };
    if env.jsonrpc.as_deref() != Some("2.0") {
        return Err(invalid("\"jsonrpc\" must be \"2.0\""));
    }
    let params = match env.params {
        Some(p) if !matches!(p.get().as_bytes().first(), Some(b'{' | b'[')) => {
            if p.get() == "null" {
                None
            } else {
                return Err(invalid("\"params\" must be an object or an array"));
            }
        }
        p => p.map(|p| span_of(line, p.get())),
    };
    let object_params = params.clone().filter(|p| line.as_bytes()[p.start] == b'{');
    if let Some(key) = object_params.and_then(|p| scan::duplicate_key(&line[p])) {
        return Err(invalid(&format!("the params give the key `{key}` twice")));
    }
    match (env.method, id, env.result, env.error) {
        (Some(method), Some(id), None, None) => Ok(Body::Request {
            id,
            method: name_of(line, method),
            params,
        }),
        (Some(method), None, None, None) => Ok(Body::Notification {
            method: name_of(line, method),
            params,
        }),
        (None, Some(id), Some(result), None) => Ok(Body::Response {
            id,
            outcome: Ok(span_of(line, result.get())),
        }),
        (None, Some(id), None, Some(error)) => Ok(Body::Response {
            id,
            outcome: Err(span_of(line, error.get())),
        }),
        _ => Err(invalid(
            "expected a request (method, id), a notification (method) or a response (id with result or error)",
        )),
    }
}

/// A JSON syntax error is -32700; valid JSON of the wrong shape is -32600.
fn classify(line: &str, e: serde_json::Error) -> ParseError {
    let kind = if is_json(line) {
        ParseErrorKind::InvalidRequest
    } else {
        ParseErrorKind::NotJson
    };
    // Valid JSON of the wrong shape may still carry a usable id to answer with.
    let id = (kind == ParseErrorKind::InvalidRequest)
        .then(|| serde_json::from_str::<IdOnly>(line).ok()?.id)
        .flatten();
    ParseError {
        kind,
        id,
        detail: e.to_string(),
    }
}

fn not_an_object(line: &str) -> ParseError {
    ParseError {
        kind: if is_json(line) {
            ParseErrorKind::InvalidRequest
        } else {
            ParseErrorKind::NotJson
        },
        id: None,
        detail: "a message must be a JSON object".to_string(),
    }
}

/// Whether `line` is JSON at all (serde_json refuses numbers beyond f64 with a
/// syntax error, but they are valid JSON).
fn is_json(line: &str) -> bool {
    match serde_json::from_str::<serde::de::IgnoredAny>(line) {
        Ok(_) => true,
        Err(e) => e.to_string().starts_with("number out of range"),
    }
}

/// Just the id of an otherwise unusable message.
#[derive(Deserialize)]
struct IdOnly {
    #[serde(default, deserialize_with = "present")]
    id: Option<RequestId>,
}

#[cfg(test)]
mod tests;
