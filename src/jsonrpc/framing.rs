//! Newline framing with a size cap: turns a byte stream into lines, and skips an
//! over-long line to its newline without ever holding more than the cap.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One framed item from the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its `\n` (and without a trailing `\r`).
    Line(Vec<u8>),
    /// A line longer than the cap was dropped; `bytes` is how long it was.
    TooLong { bytes: usize },
}

/// One framed item, with a line that lies whole in the chunk given as its place there
/// (so it can be used without a copy).
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    /// A complete line within the chunk (without `\n` and a trailing `\r`).
    InChunk(std::ops::Range<usize>),
    /// A complete line that began in an earlier chunk.
    Joined(Vec<u8>),
    /// A line longer than the cap was dropped; `bytes` is how long it was.
    TooLong { bytes: usize },
}

/// Splits chunks of input into lines. Feed it whatever `read` returned.
#[derive(Debug)]
pub struct LineSplitter {
    partial: Vec<u8>,
    max_line: usize,
    /// Set while skipping the rest of an over-long line; counts its bytes.
    discarding: Option<usize>,
    /// Shared with other splitters: bounds what all of them hold together.
    budget: Option<Arc<LineBudget>>,
    /// What this splitter took from the budget for its unfinished line.
    reserved: usize,
}

/// A bound on the bytes several splitters hold for unfinished lines together, so
/// many peers sending huge lines at once cost at most the budget, not the cap each.
#[derive(Debug)]
pub struct LineBudget {
    limit: usize,
    held: AtomicUsize,
}

impl LineBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(LineBudget {
            limit,
            held: AtomicUsize::new(0),
        })
    }

    /// Takes `bytes` from the budget, or nothing if that would exceed it.
    fn take(&self, bytes: usize) -> bool {
        let before = self.held.fetch_add(bytes, Ordering::Relaxed);
        if before + bytes > self.limit {
            self.held.fetch_sub(bytes, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn give_back(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::Relaxed);
    }

    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

impl LineSplitter {
    pub fn new(max_line: usize) -> Self {
        LineSplitter {
            partial: Vec::new(),
            max_line,
            discarding: None,
            budget: None,
            reserved: 0,
        }
    }

    /// A splitter whose unfinished line also counts against a shared budget: a line
    /// that cannot fit in it is treated as over-long.
    pub fn with_budget(max_line: usize, budget: Arc<LineBudget>) -> Self {
        LineSplitter {
            partial: Vec::new(),
            max_line,
            discarding: None,
            budget: Some(budget),
            reserved: 0,
        }
    }

    /// Feeds one chunk; calls `emit` for every frame it completes, in order.
    pub fn push(&mut self, chunk: &[u8], mut emit: impl FnMut(Frame)) {
        self.push_pieces(chunk, |piece| emit(Frame::from_piece(chunk, piece)));
    }

    /// Feeds one chunk; calls `emit` for every piece it completes, in order: lines
    /// whole in `chunk` as their places in it.
    pub fn push_pieces(&mut self, chunk: &[u8], mut emit: impl FnMut(Piece)) {
        let mut at = 0;
        while at < chunk.len() {
            match memchr::memchr(b'\n', &chunk[at..]) {
                Some(pos) => {
                    self.finish_line(chunk, at..at + pos, &mut emit);
                    at += pos + 1;
                }
                None => {
                    self.extend_partial(&chunk[at..]);
                    at = chunk.len();
                }
            }
        }
    }

    /// Bytes currently held for an unfinished line.
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// At end of input: a final unterminated line, if any, is still a frame.
    pub fn finish(&mut self, mut emit: impl FnMut(Frame)) {
        if self.discarding.is_some() || !self.partial.is_empty() {
            self.finish_line(&[], 0..0, &mut |piece| emit(Frame::from_piece(&[], piece)));
        }
    }

    fn extend_partial(&mut self, bytes: &[u8]) {
        if let Some(skipped) = self.discarding.as_mut() {
            *skipped += bytes.len();
        } else if self.partial.len() + bytes.len() > self.max_line || !self.grow_for(bytes.len()) {
            self.discarding = Some(self.partial.len() + bytes.len());
            self.give_back_budget();
            self.partial = Vec::new();
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    /// Makes room for `more` bytes; with a budget, the memory a growth takes (its
    /// capacity, not just its length) must fit in the budget first.
    fn grow_for(&mut self, more: usize) -> bool {
        let needed = self.partial.len() + more;
        let Some(budget) = &self.budget else {
            return true;
        };
        if needed <= self.reserved {
            return true;
        }
        let grown = needed.max(self.reserved * 2).min(self.max_line);
        if !budget.take(grown - self.reserved) {
            return false;
        }
        self.reserved = grown;
        self.partial.reserve_exact(grown - self.partial.len());
        true
    }

    /// Returns what the unfinished line held to the shared budget.
    fn give_back_budget(&mut self) {
        if let Some(budget) = &self.budget {
            budget.give_back(self.reserved);
        }
        self.reserved = 0;
    }

    /// The line that ends at `tail` (a range of `chunk`, its newline excluded).
    fn finish_line(&mut self, chunk: &[u8], tail: Range<usize>, emit: &mut impl FnMut(Piece)) {
        if self.partial.is_empty() && self.discarding.is_none() && tail.len() <= self.max_line {
            // The common case: nothing held over, so no budget and no copy.
            let mut line = tail;
            if line.end > line.start && chunk[line.end - 1] == b'\r' {
                line.end -= 1;
            }
            if !is_blank(&chunk[line.clone()]) {
                emit(Piece::InChunk(line));
            }
            return;
        }
        self.extend_partial(&chunk[tail]);
        if let Some(bytes) = self.discarding.take() {
            emit(Piece::TooLong { bytes });
            return;
        }
        self.give_back_budget();
        let mut line = std::mem::take(&mut self.partial);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if !is_blank(&line) {
            emit(Piece::Joined(line));
        }
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

impl Frame {
    fn from_piece(chunk: &[u8], piece: Piece) -> Frame {
        match piece {
            Piece::InChunk(line) => Frame::Line(chunk[line].to_vec()),
            Piece::Joined(line) => Frame::Line(line),
            Piece::TooLong { bytes } => Frame::TooLong { bytes },
        }
    }
}

impl Drop for LineSplitter {
    fn drop(&mut self) {
        self.give_back_budget();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max: usize, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, |f| out.push(f));
        }
        s.finish(|f| out.push(f));
        out
    }

    #[test]
    fn lines_split_across_chunks_are_joined() {
        let frames = split(100, &[b"ab", b"c\nde", b"f\n\ng\r\n"]);
        assert_eq!(
            frames,
            vec![
                Frame::Line(b"abc".to_vec()),
                Frame::Line(b"def".to_vec()),
                Frame::Line(b"g".to_vec())
            ]
        );
    }

    #[test]
    fn an_overlong_line_is_skipped_to_its_newline_and_reading_continues() {
        let frames = split(4, &[b"123", b"456", b"789\nok\n"]);
        assert_eq!(
            frames,
            vec![Frame::TooLong { bytes: 9 }, Frame::Line(b"ok".to_vec())]
        );
    }

    #[test]
    fn an_overlong_line_never_holds_more_than_the_cap() {
        let mut s = LineSplitter::new(8);
        for _ in 0..1000 {
            s.push(b"xxxxxxx", |_| panic!("no frame yet"));
            assert!(s.buffered() <= 8);
        }
    }

    #[test]
    fn splitters_sharing_a_budget_hold_no_more_than_it_together() {
        let budget = LineBudget::new(10);
        let mut a = LineSplitter::with_budget(8, budget.clone());
        let mut b = LineSplitter::with_budget(8, budget.clone());
        a.push(b"aaaaaa", |_| panic!("unfinished"));
        let mut frames = Vec::new();
        b.push(b"bbbbbb", |f| frames.push(f));
        b.push(b"\nok\n", |f| frames.push(f));
        assert_eq!(
            frames,
            vec![Frame::TooLong { bytes: 6 }, Frame::Line(b"ok".to_vec())]
        );
        a.push(b"\n", |f| assert_eq!(f, Frame::Line(b"aaaaaa".to_vec())));
        assert_eq!(budget.held(), 0);
        b.push(b"held", |_| {});
        drop(b);
        assert_eq!(budget.held(), 0, "a dropped splitter gives its bytes back");
    }

    #[test]
    fn an_unterminated_last_line_is_delivered_at_the_end() {
        assert_eq!(
            split(10, &[b"a\nb"]),
            vec![Frame::Line(b"a".to_vec()), Frame::Line(b"b".to_vec())]
        );
    }
}
