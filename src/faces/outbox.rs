//! The queue of lines to one client, with byte accounting so the core can stop
//! taking agent output while the client is not reading (backpressure without a lock
//! or a blocked core).

use std::cell::RefCell;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::backlog::Backlog;

/// Above this many queued bytes the client counts as congested.
pub const HIGH_WATER_BYTES: usize = 4 * 1024 * 1024;
/// Once congested, agent output resumes below this many queued bytes.
pub const LOW_WATER_BYTES: usize = 1024 * 1024;

/// The core's side of a client's output queue. Sending never blocks: lines
/// collect in a local buffer that `flush` hands to the writer in one piece, so the
/// writer is woken once per batch of work rather than once per line.
#[derive(Debug)]
pub struct Outbox {
    lines: mpsc::UnboundedSender<Vec<u8>>,
    /// Lines sent since the last flush. A RefCell because only the core's one task
    /// touches it, through `&self`.
    pending: RefCell<Vec<u8>>,
    /// Buffers the writer is done with, reused so steady output allocates nothing.
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    /// Bytes sent but not yet written.
    backlog: Arc<Backlog>,
    /// Cancelled when the core's side is dropped: the connection is detached.
    detached: CancellationToken,
}

/// A flush happens anyway once this much is pending.
const FLUSH_BYTES: usize = 64 * 1024;
/// Room in a buffer, so the line that crosses `FLUSH_BYTES` rarely makes it grow.
const BUFFER_BYTES: usize = 2 * FLUSH_BYTES;
/// Output smaller than this is handed over as a copy (see `flush`).
const COPY_BELOW_BYTES: usize = 16 * 1024;
/// Spare buffers kept at most (more are dropped). Measured with 8 agents streaming
/// (`bench --only memory`, `--only fan-in`): keeping as many as the high-water mark lets be
/// queued (64) cost 2-3 MiB of peak RSS; 8 no less memory than 16 but more CPU per message.
const SPARE_BUFFERS: usize = 16;

/// The writer's side: take lines, write them, then `release` their bytes.
#[derive(Debug)]
pub struct OutboxReceiver {
    pub lines: mpsc::UnboundedReceiver<Vec<u8>>,
    spare: std::sync::mpsc::SyncSender<Vec<u8>>,
    backlog: Arc<Backlog>,
    detached: CancellationToken,
}

impl Outbox {
    pub fn new() -> (Outbox, OutboxReceiver) {
        Outbox::with_marks(HIGH_WATER_BYTES, LOW_WATER_BYTES)
    }

    /// An outbox congested above `high` queued bytes and drained at `low` (a hub
    /// client is dropped at its cap instead of holding every agent's output up).
    pub fn with_marks(high: usize, low: usize) -> (Outbox, OutboxReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (spare_tx, spare_rx) = std::sync::mpsc::sync_channel(SPARE_BUFFERS);
        let backlog = Backlog::new(high, low.min(high));
        let detached = CancellationToken::new();
        let outbox = Outbox {
            lines: tx,
            pending: RefCell::new(Vec::with_capacity(BUFFER_BYTES)),
            spare: spare_rx,
            backlog: backlog.clone(),
            detached: detached.clone(),
        };
        let receiver = OutboxReceiver {
            lines: rx,
            spare: spare_tx,
            backlog,
            detached,
        };
        (outbox, receiver)
    }

    /// Queues one complete line (ending in `\n`).
    pub fn send(&self, line: &[u8]) {
        let full = {
            let mut pending = self.pending.borrow_mut();
            pending.extend_from_slice(line);
            pending.len() >= FLUSH_BYTES
        };
        if full {
            self.flush();
        }
    }

    /// Writes one line straight into the pending output (no intermediate buffer).
    pub fn send_with(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let full = {
            let mut pending = self.pending.borrow_mut();
            write(&mut pending);
            pending.len() >= FLUSH_BYTES
        };
        if full {
            self.flush();
        }
    }

    /// Hands everything sent so far to the writer. A little output (the core
    /// flushes after every event) goes as a copy of its own size and the big buffer
    /// stays; only a full one changes hands. Handing over a big buffer per event made
    /// the writer free them faster than they came back: an mmap and its page faults
    /// each time (~150 ns per proxied message, measured).
    pub fn flush(&self) {
        let chunk = {
            let mut pending = self.pending.borrow_mut();
            if pending.is_empty() {
                return;
            }
            if pending.len() < COPY_BELOW_BYTES {
                let chunk = pending.as_slice().to_vec();
                pending.clear();
                chunk
            } else {
                let next = self
                    .spare
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BUFFER_BYTES));
                std::mem::replace(&mut *pending, next)
            }
        };
        self.backlog.add(chunk.len());
        if self.lines.send(chunk).is_err() {
            tracing::debug!("client output closed; output dropped");
        }
    }

    pub fn queued_bytes(&self) -> usize {
        self.backlog.queued()
    }

    pub fn congested(&self) -> bool {
        self.backlog.congested()
    }

    /// Resolves once the queue is at the low-water mark (owns what it needs, so
    /// awaiting it borrows nothing of the outbox).
    pub fn drained(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.backlog.drained()
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.flush();
        self.detached.cancel();
    }
}

impl OutboxReceiver {
    /// Fires once the core has let go of this client (it detached, or the core ended).
    pub fn detached(&self) -> CancellationToken {
        self.detached.clone()
    }

    /// Hands a written buffer back for reuse.
    pub fn recycle(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() >= FLUSH_BYTES && buffer.capacity() <= 4 * BUFFER_BYTES {
            buffer.clear();
            let _ = self.spare.try_send(buffer);
        }
    }

    /// Marks `bytes` as written; wakes the core when the queue drains.
    pub fn release(&self, bytes: usize) {
        self.backlog.release(bytes);
    }

    /// Whether more is queued than the high-water mark.
    pub fn congested(&self) -> bool {
        self.backlog.congested()
    }

    /// The byte count itself, for a writer that releases from another task than
    /// the one taking the lines.
    pub fn counter(&self) -> Arc<Backlog> {
        self.backlog.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn congestion_clears_when_the_writer_releases_below_low_water() {
        let (outbox, receiver) = Outbox::new();
        outbox.send(&vec![b'x'; HIGH_WATER_BYTES + 1]);
        assert!(outbox.congested(), "a big line flushes at once");
        let release = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            receiver.release(HIGH_WATER_BYTES + 1);
            receiver
        });
        tokio::time::timeout(std::time::Duration::from_secs(5), outbox.drained())
            .await
            .expect("drained in time");
        assert!(!outbox.congested());
        drop(release.await);
    }
}
