//! Drains a child's stderr continuously into a bounded tail of lines, logging each
//! line with the role. Never blocks the child and never grows without bound.

use std::collections::VecDeque;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::ids::Role;

/// Lines kept for the failure notice.
pub const TAIL_LINES: usize = 20;
/// A longer stderr line is cut to this many bytes in the tail.
const MAX_LINE: usize = 1000;

/// Reads `stderr` to its end and returns the last lines it held.
pub async fn drain(mut stderr: impl AsyncRead + Unpin, role: Role) -> Vec<String> {
    let mut tail = Tail::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => tail.push(&buf[..n], &role),
        }
    }
    tail.finish(&role);
    tail.lines.into()
}

#[derive(Default)]
struct Tail {
    lines: VecDeque<String>,
    partial: Vec<u8>,
}

impl Tail {
    fn push(&mut self, mut chunk: &[u8], role: &Role) {
        while let Some(pos) = memchr::memchr(b'\n', chunk) {
            self.extend(&chunk[..pos]);
            self.complete(role);
            chunk = &chunk[pos + 1..];
        }
        self.extend(chunk);
    }

    fn extend(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn complete(&mut self, role: &Role) {
        let line = String::from_utf8_lossy(&self.partial)
            .trim_end()
            .to_string();
        self.partial.clear();
        if line.is_empty() {
            return;
        }
        tracing::debug!(role = %role, line = %line, "agent stderr");
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    fn finish(&mut self, role: &Role) {
        if !self.partial.is_empty() {
            self.complete(role);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_tail_keeps_only_the_last_lines_and_cuts_long_ones() {
        let mut input = String::new();
        for i in 0..100 {
            input.push_str(&format!("line {i}\n"));
        }
        input.push_str(&"x".repeat(5000));
        let tail = drain(input.as_bytes(), Role::new("r")).await;
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail[0], "line 81");
        assert_eq!(tail.last().unwrap().len(), MAX_LINE);
    }
}
