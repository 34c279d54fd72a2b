//! `LineSplitter` against a reference split of the whole input, whatever the chunks.

use proptest::prelude::*;

use super::config;
use crate::jsonrpc::{Frame, LineSplitter};

/// The frames of `input` read as one whole: each `\n`-terminated line and a non-empty
/// unterminated tail, in order. A line longer than `cap` bytes (a `\r` before its `\n`
/// counts) is `TooLong` with that length; otherwise one trailing `\r` is dropped and a
/// blank line yields nothing. With each frame, how many bytes must have arrived for
/// it to be complete (`None` for the tail, which only the end of input completes).
fn reference_frames(input: &[u8], cap: usize) -> Vec<(Frame, Option<usize>)> {
    let mut frames = Vec::new();
    let mut line_start = 0;
    for (i, byte) in input.iter().enumerate() {
        if *byte == b'\n' {
            let frame = reference_frame(&input[line_start..i], cap);
            frames.extend(frame.map(|frame| (frame, Some(i + 1))));
            line_start = i + 1;
        }
    }
    if line_start < input.len() {
        let frame = reference_frame(&input[line_start..], cap);
        frames.extend(frame.map(|frame| (frame, None)));
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

/// The byte a code stands for: often JSON-ish text, blanks, `\r` or bytes that are
/// not UTF-8; sometimes any byte but `\n`. Code 0 is `a`.
fn line_byte(code: u16) -> u8 {
    const JSONISH: &[u8] = b"{}\":, \t\r\xff\xc3\x80\x00\x0c";
    let [any_byte, class] = code.to_le_bytes();
    match class {
        0..=127 => b'a',
        128..=191 => JSONISH[usize::from(any_byte) % JSONISH.len()],
        _ if any_byte == b'\n' => b'a',
        _ => any_byte,
    }
}

/// A line's length: short, around the cap, or anywhere up to twice it.
fn line_length(cap: usize) -> impl Strategy<Value = usize> {
    prop_oneof![0..=3usize, cap.saturating_sub(2)..=cap + 2, 0..=2 * cap + 4,]
}

/// A line's end: `\n`, `\r\n`, or none (the line runs on into the next, or ends the input).
fn line_end() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(vec![&b"\n"[..], b"\n", b"\r\n", b""])
}

fn stream(cap: usize) -> impl Strategy<Value = Vec<u8>> {
    let body = prop::collection::vec(any::<u16>().prop_map(line_byte), 0..=2 * cap + 4);
    let line = (line_length(cap), body, line_end()).prop_map(|(length, mut body, end)| {
        body.truncate(length);
        (body, end)
    });
    prop::collection::vec(line, 0..8).prop_map(|lines| {
        lines
            .into_iter()
            .flat_map(|(body, end)| body.into_iter().chain(end.iter().copied()))
            .collect()
    })
}

/// A cap, an input, and the sizes of the chunks it arrives in (the rest comes last).
fn capped_input() -> impl Strategy<Value = (usize, Vec<u8>, Vec<usize>)> {
    (0usize..48).prop_flat_map(|cap| {
        let chunk_sizes = prop::collection::vec(0..=cap + 8, 0..24);
        (Just(cap), stream(cap), chunk_sizes)
    })
}

fn chunks<'a>(input: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut rest = input;
    let mut chunks = Vec::new();
    for &size in sizes {
        let (chunk, after) = rest.split_at(size.min(rest.len()));
        chunks.push(chunk);
        rest = after;
    }
    chunks.push(rest);
    chunks
}

proptest! {
    #![proptest_config(config(15_000))]

    #[test]
    fn the_splitter_yields_the_reference_frames_in_any_chunking(
        (cap, input, sizes) in capped_input()
    ) {
        let (expected, completed_at): (Vec<Frame>, Vec<Option<usize>>) =
            reference_frames(&input, cap).into_iter().unzip();
        let mut splitter = LineSplitter::new(cap);
        let mut frames = Vec::new();
        let mut consumed = 0;
        for chunk in chunks(&input, &sizes) {
            splitter.push(chunk, |frame| frames.push(frame));
            consumed += chunk.len();
            prop_assert!(splitter.buffered() <= cap, "holds {} > cap {cap}", splitter.buffered());
            let due = completed_at.iter().filter(|at| at.is_some_and(|at| at <= consumed)).count();
            prop_assert_eq!(frames.len(), due, "frames yielded once {} bytes arrived", consumed);
        }
        splitter.finish(|frame| frames.push(frame));
        prop_assert_eq!(frames, expected);
    }
}
