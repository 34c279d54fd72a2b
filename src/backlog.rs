//! A byte count shared by a side that must never wait (the core's task, handing work
//! over) and the side that works it off (a writer thread or task): congested above a
//! high-water mark, and a future that resolves once the count is back at the low-water
//! mark. Knows nothing of what the bytes are or who holds them.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

#[derive(Debug)]
pub struct Backlog {
    /// Bytes handed over and not yet worked off: an atomic, since it is all the two
    /// sides share.
    queued: AtomicUsize,
    /// Wakes `drained` futures when the count falls to `low`.
    drained: Notify,
    high: usize,
    low: usize,
}

impl Backlog {
    /// Congested above `high` bytes; drained again at `low` or below.
    pub fn new(high: usize, low: usize) -> Arc<Backlog> {
        debug_assert!(low <= high);
        Arc::new(Backlog {
            queued: AtomicUsize::new(0),
            drained: Notify::new(),
            high,
            low,
        })
    }

    pub fn add(&self, bytes: usize) {
        self.queued.fetch_add(bytes, Ordering::Relaxed);
    }

    /// `bytes` are worked off (or given up); wakes waiters on crossing the low-water mark.
    pub fn release(&self, bytes: usize) {
        let before = self.queued.fetch_sub(bytes, Ordering::Relaxed);
        if before > self.low && before.saturating_sub(bytes) <= self.low {
            self.drained.notify_waiters();
        }
    }

    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    pub fn congested(&self) -> bool {
        self.queued() > self.high
    }

    /// Resolves once the count is at or below the low-water mark (owns what it needs,
    /// so awaiting it borrows nothing).
    pub fn drained(self: &Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        let backlog = self.clone();
        async move {
            loop {
                // Registered before the check: a release between the two still wakes it.
                let notified = backlog.drained.notified();
                if backlog.queued() <= backlog.low {
                    return;
                }
                notified.await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn congestion_clears_once_released_to_the_low_water_mark() {
        let backlog = Backlog::new(100, 20);
        backlog.add(101);
        assert!(backlog.congested());
        let waiting = tokio::spawn(backlog.drained());
        backlog.release(50);
        assert!(!backlog.congested(), "51 is under the high-water mark");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiting.is_finished(),
            "but above the low-water mark: still waiting"
        );
        backlog.release(31);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken at the low-water mark")
            .unwrap();
        assert_eq!(backlog.queued(), 20);
    }

    #[tokio::test]
    async fn a_drained_backlog_resolves_at_once() {
        let backlog = Backlog::new(100, 20);
        tokio::time::timeout(Duration::from_millis(100), backlog.drained())
            .await
            .expect("nothing queued");
    }
}
