//! Fuzz target `framing`: arbitrary bytes through `LineSplitter` in arbitrary chunks,
//! every line through `Message::parse_bytes`. Checks the frames against a reference
//! split, the cap on what is held, and that the parse never panics, classifies JSON
//! vs. not JSON as the spec does, and hands back spans that are the JSON they claim.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use ourocodus::jsonrpc::{Frame, LineSplitter, Message, ParseErrorKind};
use serde::de::IgnoredAny;

#[derive(Debug, Arbitrary)]
struct Input {
    /// The line cap, taken modulo `MAX_CAP`.
    cap: u16,
    /// Sizes of the chunks the bytes arrive in; what is left comes last.
    chunk_sizes: Vec<u16>,
    bytes: Vec<u8>,
}

const MAX_CAP: usize = 2048;

fuzz_target!(|input: Input| {
    let cap = usize::from(input.cap) % MAX_CAP;
    let expected = reference_frames(&input.bytes, cap);
    let frames = split(&input.bytes, cap, &input.chunk_sizes, &expected);
    let expected: Vec<&Frame> = expected.iter().map(|(frame, _)| frame).collect();
    assert_eq!(frames.iter().collect::<Vec<_>>(), expected);
    for frame in frames {
        if let Frame::Line(line) = frame {
            check_parse(line);
        }
    }
});

/// Feeds `bytes` in chunks; after each, checks the cap and that exactly the frames
/// completed so far have come out.
fn split(
    bytes: &[u8],
    cap: usize,
    chunk_sizes: &[u16],
    expected: &[(Frame, Option<usize>)],
) -> Vec<Frame> {
    let mut splitter = LineSplitter::new(cap);
    let mut frames = Vec::new();
    let mut rest = bytes;
    let mut sizes = chunk_sizes.iter().map(|size| usize::from(*size));
    while !rest.is_empty() {
        let size = sizes.next().unwrap_or(rest.len()).min(rest.len());
        let (chunk, after) = rest.split_at(size);
        splitter.push(chunk, |frame| frames.push(frame));
        rest = after;
        assert!(splitter.buffered() <= cap, "holds more than the cap");
        let consumed = bytes.len() - rest.len();
        let due = expected
            .iter()
            .filter(|(_, at)| at.is_some_and(|at| at <= consumed))
            .count();
        assert_eq!(frames.len(), due, "frames due after {consumed} bytes");
    }
    splitter.finish(|frame| frames.push(frame));
    frames
}

/// Each `\n`-terminated line and a non-empty unterminated tail, with the number of
/// bytes after which it is complete (`None` for the tail). Longer than `cap` (a `\r`
/// before the `\n` counts): `TooLong`; else one trailing `\r` goes and blank lines
/// yield nothing.
fn reference_frames(bytes: &[u8], cap: usize) -> Vec<(Frame, Option<usize>)> {
    let mut frames = Vec::new();
    let mut start = 0;
    for (i, byte) in bytes.iter().enumerate() {
        if *byte == b'\n' {
            frames.extend(reference_frame(&bytes[start..i], cap).map(|f| (f, Some(i + 1))));
            start = i + 1;
        }
    }
    if start < bytes.len() {
        frames.extend(reference_frame(&bytes[start..], cap).map(|f| (f, None)));
    }
    frames
}

fn reference_frame(line: &[u8], cap: usize) -> Option<Frame> {
    if line.len() > cap {
        return Some(Frame::TooLong { bytes: line.len() });
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let blank = line.iter().all(u8::is_ascii_whitespace);
    (!blank).then(|| Frame::Line(line.to_vec()))
}

/// The parse of one line: no panic; a parse error exactly for what is not JSON;
/// a message's method, params and outcome are what the line holds.
fn check_parse(line: Vec<u8>) {
    let text = String::from_utf8(line.clone()).ok();
    let is_json = text.as_deref().is_some_and(is_valid_json);
    match Message::parse_bytes(line) {
        Ok(message) => {
            assert!(is_json, "a message from a line that is not JSON");
            check_message(&message, text.as_deref().unwrap_or_default());
        }
        Err(e) if e.kind == ParseErrorKind::NotJson => {
            assert!(e.id.is_none(), "a parse error names no id");
            assert!(!is_json, "valid JSON answered as a parse error: {e:?}");
        }
        Err(_) => assert!(is_json, "an invalid request from a line that is not JSON"),
    }
}

/// JSON as the spec has it: serde_json refuses numbers beyond f64, which are valid.
fn is_valid_json(text: &str) -> bool {
    match serde_json::from_str::<IgnoredAny>(text) {
        Ok(_) => true,
        Err(e) => e.to_string().starts_with("number out of range"),
    }
}

fn check_message(message: &Message, text: &str) {
    assert_eq!(message.line(), text);
    let is_json = |part: &str| serde_json::from_str::<IgnoredAny>(part).is_ok();
    if let Some(params) = message.params() {
        assert!(is_json(params) && (params.starts_with('{') || params.starts_with('[')));
    }
    match message.outcome() {
        Some(Ok(part)) | Some(Err(part)) => assert!(is_json(part)),
        None => assert!(message.method().is_some(), "neither a call nor an answer"),
    }
    assert_eq!(
        message.id().is_some(),
        message.is_request() || message.outcome().is_some()
    );
}
