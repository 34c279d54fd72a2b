//! Messages from a byte stream, read by read. The lines that lie whole in one read
//! share that read's buffer as their text (and one index of their params), so a line
//! costs no allocation and no copy of its own; a buffer is read into again once every
//! message pointing into it is gone. Lines that span reads are joined by the
//! `LineSplitter` and get a text of their own.

use std::ops::Range;
use std::sync::Arc;

use super::framing::{LineSplitter, Piece};
use super::message::{Body, SharedText, read_line};
use super::{Message, ParseError, ParseErrorKind};

/// Buffers kept for reuse, at most: a reader ahead of its consumer by more than this
/// many reads allocates new ones (freed when their messages are).
const KEPT_BUFFERS: usize = 4;

/// What one line of the stream turned out to be.
#[derive(Debug)]
pub enum Incoming {
    Message(Message),
    /// Not a JSON-RPC message (not UTF-8, not JSON, or not a valid envelope).
    Malformed(ParseError),
    /// A line longer than the cap was dropped; `bytes` is how long it was.
    TooLong {
        bytes: usize,
    },
}

/// Splits and parses reads of one stream, handing out buffers to read into.
#[derive(Debug)]
pub struct ReadParser {
    splitter: LineSplitter,
    read_size: usize,
    /// The texts of recent reads: one that no message points into any more is reused.
    recent: Vec<Arc<SharedText>>,
    /// The pieces of the read being parsed (kept for their capacity).
    pieces: Vec<Piece>,
    /// The lines of the read being parsed, before their messages exist.
    lines: Vec<Pending>,
}

/// A line of the read being parsed.
#[derive(Debug)]
enum Pending {
    /// Read from the shared text: its place there, its body and its index's place.
    Shared(Range<usize>, Body, Option<Range<u32>>),
    Done(Incoming),
}

impl ReadParser {
    /// Reads of `read_size` bytes, framed by `splitter`.
    pub fn new(splitter: LineSplitter, read_size: usize) -> Self {
        ReadParser {
            splitter,
            read_size,
            recent: Vec::new(),
            pieces: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// An empty buffer with room for one read (to be filled without zeroing it first,
    /// as `read_buf` does): an earlier read's, when its messages are gone.
    pub fn buffer(&mut self) -> Vec<u8> {
        let reused = self
            .recent
            .iter_mut()
            .find_map(Arc::get_mut)
            .map(|shared| std::mem::take(&mut shared.text).into_bytes());
        let mut buffer = reused.unwrap_or_default();
        buffer.clear();
        buffer.reserve_exact(self.read_size);
        buffer
    }

    /// The lines completed by one read (all of `buffer`), in order, to `emit`.
    pub fn parse(&mut self, buffer: Vec<u8>, mut emit: impl FnMut(Incoming)) {
        let mut pieces = std::mem::take(&mut self.pieces);
        self.splitter
            .push_pieces(&buffer, |piece| pieces.push(piece));
        let mut shared = self.free_text();
        let (text, mut not_utf8) = text_of_lines(buffer, &pieces);
        shared.text = text;
        for (at, piece) in pieces.drain(..).enumerate() {
            let line = match piece {
                Piece::InChunk(_) if not_utf8.first().is_some_and(|(bad, _)| *bad == at) => {
                    let (_, error) = not_utf8.remove(0);
                    self.lines.push(Pending::Done(Incoming::Malformed(error)));
                    continue;
                }
                Piece::InChunk(line) => line,
                Piece::Joined(line) => {
                    self.lines
                        .push(Pending::Done(incoming(Message::parse_bytes(line))));
                    continue;
                }
                Piece::TooLong { bytes } => {
                    self.lines.push(Pending::Done(Incoming::TooLong { bytes }));
                    continue;
                }
            };
            // Whole lines of a UTF-8 text begin and end at character boundaries.
            let text = shared.text.get(line.clone()).unwrap_or_default();
            self.lines.push(match read_line(text, &mut shared.spans) {
                Ok((body, index)) => Pending::Shared(line, body, index),
                Err(e) => Pending::Done(Incoming::Malformed(e)),
            });
        }
        self.pieces = pieces;
        let shared = self.keep(shared);
        for line in self.lines.drain(..) {
            emit(match line {
                Pending::Shared(line, body, index) => {
                    Incoming::Message(Message::new(shared.clone(), line, body, index))
                }
                Pending::Done(incoming) => incoming,
            });
        }
    }

    /// At the end of the stream: a last line without a newline, if any.
    pub fn finish(&mut self, mut emit: impl FnMut(Incoming)) {
        self.splitter.finish(|frame| {
            emit(match frame {
                super::Frame::Line(line) => incoming(Message::parse_bytes(line)),
                super::Frame::TooLong { bytes } => Incoming::TooLong { bytes },
            })
        });
    }

    /// An emptied text to fill: a kept one no message points into, or a new one.
    fn free_text(&mut self) -> SharedText {
        match self.recent.iter_mut().find_map(Arc::get_mut) {
            Some(shared) => {
                shared.spans.clear();
                SharedText {
                    text: std::mem::take(&mut shared.text),
                    spans: std::mem::take(&mut shared.spans),
                }
            }
            None => SharedText::default(),
        }
    }

    /// Shares a filled text, keeping it (in a free slot, or a new one while there are
    /// fewer than `KEPT_BUFFERS`) to be reused once its messages are gone.
    fn keep(&mut self, filled: SharedText) -> Arc<SharedText> {
        for slot in &mut self.recent {
            if let Some(free) = Arc::get_mut(slot) {
                *free = filled;
                return slot.clone();
            }
        }
        let shared = Arc::new(filled);
        if self.recent.len() < KEPT_BUFFERS {
            self.recent.push(shared.clone());
        }
        shared
    }
}

fn incoming(parsed: Result<Message, ParseError>) -> Incoming {
    match parsed {
        Ok(message) => Incoming::Message(message),
        Err(e) => Incoming::Malformed(e),
    }
}

/// Spaces instead of `bytes`, unless they are ASCII already (newlines mostly).
fn blank(bytes: &mut [u8]) {
    if !bytes.is_ascii() {
        bytes.fill(b' ');
    }
}

/// The read as text: every byte that is not part of a whole line (the ends of lines
/// joined across reads, dropped lines) becomes a space unless it is ASCII, so the
/// text is UTF-8 when its lines are. A line that is not UTF-8 is blanked too, and comes back
/// (by its place among `pieces`) with the error `Message::parse_bytes` would give it.
fn text_of_lines(mut buffer: Vec<u8>, pieces: &[Piece]) -> (String, Vec<(usize, ParseError)>) {
    let mut end_of_last = 0;
    for piece in pieces {
        if let Piece::InChunk(line) = piece {
            blank(&mut buffer[end_of_last..line.start]);
            end_of_last = line.end;
        }
    }
    blank(&mut buffer[end_of_last..]);
    let mut buffer = match String::from_utf8(buffer) {
        Ok(text) => return (text, Vec::new()),
        Err(e) => e.into_bytes(),
    };
    // Rare: some line is not UTF-8.
    let mut not_utf8 = Vec::new();
    for (at, piece) in pieces.iter().enumerate() {
        let Piece::InChunk(line) = piece else {
            continue;
        };
        if let Err(e) = std::str::from_utf8(&buffer[line.clone()]) {
            buffer[line.clone()].fill(b' ');
            not_utf8.push((
                at,
                ParseError {
                    kind: ParseErrorKind::NotJson,
                    id: None,
                    detail: format!("invalid utf-8: {e}"),
                },
            ));
        }
    }
    let text = String::from_utf8(buffer)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    (text, not_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each line became, as text: the line of a message, or the kind of failure.
    fn outcomes(parser: &mut ReadParser, reads: &[&[u8]]) -> (Vec<String>, Vec<Message>) {
        let mut seen = Vec::new();
        let mut messages = Vec::new();
        let mut note = |incoming: Incoming| match incoming {
            Incoming::Message(m) => {
                seen.push(m.line().to_string());
                messages.push(m);
            }
            Incoming::Malformed(e) => seen.push(format!("malformed: {}", e.detail)),
            Incoming::TooLong { bytes } => seen.push(format!("too long: {bytes}")),
        };
        for read in reads {
            let mut buffer = parser.buffer();
            buffer.extend_from_slice(read);
            parser.parse(buffer, &mut note);
        }
        parser.finish(&mut note);
        (seen, messages)
    }

    const A: &str = r#"{"jsonrpc":"2.0","method":"a","params":{"x":{"y":1}}}"#;
    const B: &str = r#"{"jsonrpc":"2.0","id":1,"result":"é"}"#;

    #[test]
    fn lines_within_and_across_reads_come_out_in_order() {
        let mut parser = ReadParser::new(LineSplitter::new(1000), 256);
        let joined = format!("{A}\n{B}\r\n \n{A}");
        let (cut1, cut2) = (10, A.len() + 5);
        let bytes = joined.as_bytes();
        let (seen, messages) = outcomes(
            &mut parser,
            &[&bytes[..cut1], &bytes[cut1..cut2], &bytes[cut2..]],
        );
        assert_eq!(seen, [A, B, A]);
        let x = messages[2].params_fields().unwrap().get("x").unwrap();
        assert_eq!(x.object().unwrap().get("y").unwrap().value(), "1");
    }

    #[test]
    fn a_line_that_is_not_utf8_is_an_error_in_its_place() {
        let mut parser = ReadParser::new(LineSplitter::new(1000), 256);
        let mut read = format!("{A}\n").into_bytes();
        read.extend_from_slice(b"{\"a\":\"\xff\"}\n");
        read.extend_from_slice(format!("{B}\nnot json\n").as_bytes());
        let (seen, _) = outcomes(&mut parser, &[&read]);
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[0], A);
        assert!(seen[1].starts_with("malformed: invalid utf-8"), "{seen:?}");
        assert_eq!(seen[2], B);
        assert!(seen[3].starts_with("malformed: "), "{seen:?}");
    }

    #[test]
    fn an_overlong_line_is_reported_and_reading_goes_on() {
        let mut parser = ReadParser::new(LineSplitter::new(60), 256);
        let long = format!("[{}]", "1,".repeat(40) + "1");
        let read = format!("{long}\n{B}\n");
        let (seen, _) = outcomes(&mut parser, &[read.as_bytes()]);
        assert_eq!(seen, [format!("too long: {}", long.len()), B.to_string()]);
    }

    #[test]
    fn a_buffer_is_reused_only_once_its_messages_are_gone() {
        let mut parser = ReadParser::new(LineSplitter::new(1000), 256);
        let read = format!("{A}\n");
        let (_, held) = outcomes(&mut parser, &[read.as_bytes()]);
        let first = Arc::as_ptr(&held[0].text);
        let (_, second) = outcomes(&mut parser, &[read.as_bytes()]);
        assert_ne!(Arc::as_ptr(&second[0].text), first, "still in use");
        assert_eq!(held[0].line(), A);
        drop((held, second));
        let (_, third) = outcomes(&mut parser, &[read.as_bytes()]);
        assert_eq!(parser.recent.len(), 2);
        assert!(parser.recent.iter().any(|r| Arc::ptr_eq(r, &third[0].text)));
    }
}
