//! LSP's Content-Length framing, read defensively: a header block without a usable
//! `Content-Length` is reported and skipped, a body over the size cap is skipped
//! without being held, and reading goes on with the next header block. Pure: bytes
//! in, frames out; knows nothing of JSON-RPC.

/// A header block longer than this is not one: it is reported and skipped.
const MAX_HEADER_BYTES: usize = 8 * 1024;
const HEADER_END: &[u8] = b"\r\n\r\n";

/// One thing read from the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Body(Vec<u8>),
    /// A header block that says no usable length (it was skipped).
    BadHeader(String),
    /// A body over the cap (its bytes are skipped as they come).
    TooLong {
        bytes: usize,
    },
}

#[derive(Debug)]
enum State {
    Headers,
    Body { length: usize },
    Skip { left: usize },
}

/// Splits a byte stream into frames.
#[derive(Debug)]
pub struct FrameReader {
    buffer: Vec<u8>,
    state: State,
    max_body: usize,
}

impl FrameReader {
    pub fn new(max_body: usize) -> Self {
        FrameReader {
            buffer: Vec::new(),
            state: State::Headers,
            max_body,
        }
    }

    /// Takes the next bytes; each frame they complete goes to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut impl FnMut(Frame)) {
        loop {
            if let State::Skip { left } = &mut self.state {
                let skipped = (*left).min(bytes.len());
                bytes = &bytes[skipped..];
                *left -= skipped;
                if *left > 0 {
                    return;
                }
                self.state = State::Headers;
            }
            self.buffer.extend_from_slice(bytes);
            bytes = &[];
            if !self.step(out) {
                return;
            }
        }
    }

    /// Makes what progress the buffer allows; true when more may be possible.
    fn step(&mut self, out: &mut impl FnMut(Frame)) -> bool {
        match self.state {
            State::Headers => self.read_headers(out),
            State::Body { length } if self.buffer.len() >= length => {
                let rest = self.buffer.split_off(length);
                out(Frame::Body(std::mem::replace(&mut self.buffer, rest)));
                self.state = State::Headers;
                true
            }
            State::Body { .. } | State::Skip { .. } => false,
        }
    }

    fn read_headers(&mut self, out: &mut impl FnMut(Frame)) -> bool {
        let Some(end) = find(&self.buffer, HEADER_END) else {
            if self.buffer.len() > MAX_HEADER_BYTES {
                out(Frame::BadHeader(format!(
                    "no header end in {} bytes",
                    self.buffer.len()
                )));
                self.buffer.clear();
            }
            return false;
        };
        let block = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
        self.buffer.drain(..end + HEADER_END.len());
        match content_length(&block) {
            Ok(length) if length > self.max_body => {
                out(Frame::TooLong { bytes: length });
                let held = length.min(self.buffer.len());
                self.buffer.drain(..held);
                self.state = State::Skip {
                    left: length - held,
                };
            }
            Ok(length) => self.state = State::Body { length },
            Err(why) => out(Frame::BadHeader(why)),
        }
        true
    }
}

/// The `Content-Length` of a header block (names are case-insensitive; other
/// headers, such as `Content-Type`, are ignored).
fn content_length(block: &str) -> Result<usize, String> {
    let mut length = None;
    for line in block.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("not a header: {:?}", cut(line)));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let value = value.trim();
            let parsed = value
                .parse()
                .map_err(|_| format!("bad Content-Length: {:?}", cut(value)))?;
            length = Some(parsed);
        }
    }
    length.ok_or_else(|| "no Content-Length header".to_string())
}

fn cut(text: &str) -> String {
    text.chars().take(80).collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One frame as written: the header, then the body.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    framed.extend_from_slice(body);
    framed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(chunks: &[&[u8]], max: usize) -> Vec<Frame> {
        let mut reader = FrameReader::new(max);
        let mut frames = Vec::new();
        for chunk in chunks {
            reader.push(chunk, &mut |f| frames.push(f));
        }
        frames
    }

    #[test]
    fn frames_are_read_whole_across_reads() {
        let frames = read(
            &[
                b"Content-Length: 2\r\n",
                b"\r\n{}Content-length:3\r\nContent-Type: x\r\n\r\n[1",
                b"]",
            ],
            100,
        );
        assert_eq!(
            frames,
            [Frame::Body(b"{}".to_vec()), Frame::Body(b"[1]".to_vec())]
        );
    }

    #[test]
    fn a_bad_header_is_skipped_and_reading_goes_on() {
        let frames = read(&[b"Content-Type: nothing\r\n\r\nContent-Length: x\r\n\r\ngarbage\r\n\r\nContent-Length: 1\r\n\r\n1"], 100);
        assert!(matches!(&frames[0], Frame::BadHeader(why) if why.contains("no Content-Length")));
        assert!(matches!(&frames[1], Frame::BadHeader(why) if why.contains("bad Content-Length")));
        assert!(matches!(&frames[2], Frame::BadHeader(why) if why.contains("not a header")));
        assert_eq!(frames[3], Frame::Body(b"1".to_vec()));
    }

    #[test]
    fn an_over_long_body_is_skipped_without_being_held() {
        let frames = read(
            &[
                b"Content-Length: 10\r\n\r\n01234",
                b"56789Content-Length: 1\r\n\r\nx",
            ],
            8,
        );
        assert_eq!(
            frames,
            [Frame::TooLong { bytes: 10 }, Frame::Body(b"x".to_vec())]
        );
    }

    #[test]
    fn endless_headers_are_dropped() {
        let frames = read(&[&[b'a'; MAX_HEADER_BYTES + 1]], 100);
        assert!(matches!(&frames[0], Frame::BadHeader(_)));
    }
}
