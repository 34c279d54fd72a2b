//! The fast paths for bulk output: numbered `agent_message_chunk` lines built from a
//! pre-serialized template into large batches, and one big chunk. Knows nothing of
//! queues or cancellation; the caller sends each batch.

use crate::jsonrpc::write_json_string;

/// About this many bytes of lines go into one batch (one queue item, one write).
pub const BATCH_BYTES: usize = 64 * 1024;

/// Text used to pad lines; ASCII with nothing to escape.
const FILLER: &[u8] =
    b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";

/// Builds line after line of `{"jsonrpc":"2.0","method":"session/update","params":
/// {"sessionId":S,"update":{"sessionUpdate":"agent_message_chunk","content":
/// {"type":"text","text":"#SEQ filler...\n"}}}}` of a fixed target length.
pub struct ChunkLines {
    prefix: Vec<u8>,
    filler: Vec<u8>,
    /// Target line length including the newline.
    line_bytes: usize,
    /// An upper bound on the length of any line built.
    longest_line: usize,
    next_seq: u64,
    last_seq: u64,
}

/// Each chunk's text ends its line, as streamed model output does every so often.
const SUFFIX: &[u8] = b"\\n\"}}}}\n";

impl ChunkLines {
    /// Lines numbered `#1` to `#count` for `session_id`, each about `line_bytes`
    /// long (never shorter than the envelope and the number).
    pub fn new(session_id: &str, count: u64, line_bytes: usize) -> Self {
        let mut prefix =
            br#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"#.to_vec();
        write_json_string(&mut prefix, session_id);
        prefix.extend_from_slice(br##","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"#"##);
        let filler = FILLER.iter().copied().cycle().take(line_bytes).collect();
        let longest_line = line_bytes.max(prefix.len() + 20 + 1 + SUFFIX.len());
        ChunkLines {
            prefix,
            filler,
            line_bytes,
            longest_line,
            next_seq: 1,
            last_seq: count,
        }
    }

    pub fn is_done(&self) -> bool {
        self.next_seq > self.last_seq
    }

    /// The next batch of whole lines, about `BATCH_BYTES` long (at least one line);
    /// empty when all lines were built.
    pub fn next_batch(&mut self) -> Vec<u8> {
        let mut batch = Vec::with_capacity(BATCH_BYTES.max(self.longest_line));
        while !self.is_done()
            && (batch.is_empty() || batch.len() + self.longest_line <= BATCH_BYTES)
        {
            self.push_line(&mut batch);
        }
        batch
    }

    fn push_line(&mut self, out: &mut Vec<u8>) {
        let mut digits = [0u8; 20];
        let number = format_decimal(self.next_seq, &mut digits);
        self.next_seq += 1;
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(number);
        out.push(b' ');
        let fixed = self.prefix.len() + number.len() + 1 + SUFFIX.len();
        let pad = self.line_bytes.saturating_sub(fixed);
        out.extend_from_slice(&self.filler[..pad]);
        out.extend_from_slice(SUFFIX);
    }
}

/// Writes `n` in decimal into the end of `buf`; returns the digits.
fn format_decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

/// Exactly `bytes` bytes of ASCII filler text, for the `big` step.
pub fn big_text(bytes: usize) -> String {
    FILLER
        .iter()
        .map(|&b| b as char)
        .cycle()
        .take(bytes)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn lines(batch: &[u8]) -> Vec<&[u8]> {
        batch.split_inclusive(|&b| b == b'\n').collect()
    }

    fn text_of(line: &[u8]) -> String {
        let v: Value = serde_json::from_slice(line).unwrap();
        v["params"]["update"]["content"]["text"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn every_line_is_a_session_update_of_the_requested_length() {
        let mut chunks = ChunkLines::new("fake-1", 1000, 250);
        let batch = chunks.next_batch();
        for line in lines(&batch) {
            assert_eq!(line.len(), 250);
            let v: Value = serde_json::from_slice(line).unwrap();
            assert_eq!(v["method"], "session/update");
            assert_eq!(v["params"]["sessionId"], "fake-1");
            assert_eq!(
                v["params"]["update"]["sessionUpdate"],
                "agent_message_chunk"
            );
        }
    }

    #[test]
    fn lines_are_numbered_from_one_in_order_across_batches_without_gaps() {
        let mut chunks = ChunkLines::new("s", 2000, 100);
        let mut seen = Vec::new();
        while !chunks.is_done() {
            let batch = chunks.next_batch();
            assert!(batch.len() <= BATCH_BYTES);
            for line in lines(&batch) {
                let text = text_of(line);
                let number = text
                    .trim_start_matches('#')
                    .split(' ')
                    .next()
                    .unwrap()
                    .to_string();
                seen.push(number.parse::<u64>().unwrap());
            }
        }
        assert_eq!(seen, (1..=2000).collect::<Vec<_>>());
        assert!(chunks.next_batch().is_empty());
    }

    #[test]
    fn a_line_size_below_the_envelope_gives_the_shortest_line_instead() {
        let mut chunks = ChunkLines::new("s", 3, 10);
        let batch = chunks.next_batch();
        let all = lines(&batch);
        assert_eq!(all.len(), 3);
        assert_eq!(text_of(all[2]), "#3 \n");
    }

    #[test]
    fn a_line_bigger_than_a_batch_still_makes_progress() {
        let mut chunks = ChunkLines::new("s", 2, BATCH_BYTES * 2);
        assert_eq!(lines(&chunks.next_batch()).len(), 1);
        assert_eq!(lines(&chunks.next_batch()).len(), 1);
        assert!(chunks.is_done());
    }

    #[test]
    fn session_ids_are_escaped() {
        let mut chunks = ChunkLines::new("a\"b", 1, 200);
        let v: Value = serde_json::from_slice(&chunks.next_batch()).unwrap();
        assert_eq!(v["params"]["sessionId"], "a\"b");
    }

    #[test]
    fn decimal_formatting_covers_zero_and_the_largest_number() {
        let mut buf = [0u8; 20];
        assert_eq!(format_decimal(0, &mut buf), b"0");
        assert_eq!(
            format_decimal(u64::MAX, &mut buf),
            u64::MAX.to_string().as_bytes()
        );
    }

    #[test]
    fn big_text_has_exactly_the_requested_size() {
        assert_eq!(big_text(0).len(), 0);
        assert_eq!(big_text(100_003).len(), 100_003);
    }
}
