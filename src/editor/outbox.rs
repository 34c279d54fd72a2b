//! The queue of lines to one editor, with byte accounting so the router can stop
//! taking agent output while the editor is not reading (backpressure without a lock
//! or a blocked router).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, mpsc};

/// Above this many queued bytes the editor counts as congested.
pub const HIGH_WATER_BYTES: usize = 4 * 1024 * 1024;
/// Once congested, agent output resumes below this many queued bytes.
pub const LOW_WATER_BYTES: usize = 1024 * 1024;

/// The router's side of the editor's output queue. Sending never blocks.
#[derive(Debug, Clone)]
pub struct EditorOutbox {
    lines: mpsc::UnboundedSender<Vec<u8>>,
    shared: Arc<Shared>,
}

/// The writer's side: take lines, write them, then `release` their bytes.
#[derive(Debug)]
pub struct OutboxReceiver {
    pub lines: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Bytes sent but not yet written; an atomic because writer and router are
    /// different threads and this is the only thing they share.
    queued: AtomicUsize,
    /// Wakes a router waiting for the queue to drain below the low-water mark.
    drained: Notify,
}

impl EditorOutbox {
    pub fn new() -> (EditorOutbox, OutboxReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let outbox = EditorOutbox {
            lines: tx,
            shared: shared.clone(),
        };
        (outbox, OutboxReceiver { lines: rx, shared })
    }

    /// Queues one complete line (ending in `\n`).
    pub fn send(&self, line: Vec<u8>) {
        self.shared.queued.fetch_add(line.len(), Ordering::Relaxed);
        if self.lines.send(line).is_err() {
            tracing::debug!("editor output closed; line dropped");
        }
    }

    pub fn queued_bytes(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed)
    }

    pub fn congested(&self) -> bool {
        self.queued_bytes() > HIGH_WATER_BYTES
    }

    /// Resolves once the queue is below the low-water mark.
    pub async fn drained(&self) {
        loop {
            let notified = self.shared.drained.notified();
            if self.queued_bytes() <= LOW_WATER_BYTES {
                return;
            }
            notified.await;
        }
    }
}

impl OutboxReceiver {
    /// Marks `bytes` as written; wakes the router when the queue drains.
    pub fn release(&self, bytes: usize) {
        let before = self.shared.queued.fetch_sub(bytes, Ordering::Relaxed);
        if before > LOW_WATER_BYTES && before - bytes <= LOW_WATER_BYTES {
            self.shared.drained.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn congestion_clears_when_the_writer_releases_below_low_water() {
        let (outbox, receiver) = EditorOutbox::new();
        outbox.send(vec![b'x'; HIGH_WATER_BYTES + 1]);
        assert!(outbox.congested());
        let waiter = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.drained().await }
        });
        receiver.release(HIGH_WATER_BYTES + 1);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("drained in time")
            .unwrap();
        assert!(!outbox.congested());
    }
}
