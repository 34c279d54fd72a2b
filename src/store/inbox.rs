//! The hand-over from the core's handle to the writer thread. Batches wait here until the writer
//! takes them for one transaction: at once when one was flushed as urgent (a client's answer
//! waits for the commit), else up to the linger after the first of them came, so a stream of
//! small flushes becomes one transaction and the writer takes a CPU once per linger, not once
//! per flush. A small flush while a batch waits is added to that batch (a short copy instead of
//! another buffer). Knows batches, buffers and time; nothing of SQL or of what the bytes mean.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::batch::Batch;
use super::handle::Wake;

/// Batches merged into one transaction, at most (bytes; a single larger batch goes alone). A
/// waiting batch this large also ends the linger.
pub(crate) const MERGE_BYTES: usize = 1024 * 1024;
/// A flush at most this large is added to the waiting batch rather than handed over whole.
const COPY_BYTES: usize = 16 * 1024;
/// Room in a fresh buffer, so a pending batch rarely grows before it is flushed.
pub(crate) const BUFFER_BYTES: usize = 256 * 1024;
/// Spent buffers kept for reuse, at most (more are dropped), and the largest kept.
const SPARE_BUFFERS: usize = 4;
const SPARE_CAPACITY: usize = 2 * BUFFER_BYTES;

/// Shared by the handle and the writer: one lock, held only to push, append or swap.
pub(crate) struct Inbox {
    state: Mutex<State>,
    /// Wakes the writer: for a first batch while it idles, an urgent or large one, the end.
    wake: Condvar,
    linger: Duration,
}

#[derive(Default)]
struct State {
    batches: Vec<Batch>,
    bytes: usize,
    /// When the oldest waiting batch came: the writer takes it by this plus the linger.
    since: Option<Instant>,
    urgent: bool,
    /// The handle is gone: take what is left without lingering, then end.
    closed: bool,
    /// The writer thread is gone: nothing handed over would be written.
    writer_gone: bool,
    /// The writer waits for a first batch (neither lingering nor writing): a flush wakes it.
    writer_idle: bool,
    spares: Vec<Vec<u8>>,
}

/// A flush the writer will never take, as it has ended.
#[derive(Debug)]
pub(crate) struct WriterGone;

impl Inbox {
    pub fn new(linger: Duration) -> Self {
        Inbox {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            linger,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands over the events in `pending` (numbered up to `through`), leaving it empty and
    /// ready for more; `Wake::Now` asks for a commit of everything waiting now, `Wake::No`
    /// leaves an idle writer asleep.
    pub fn put(&self, pending: &mut Vec<u8>, through: u64, wake: Wake) -> Result<(), WriterGone> {
        let urgent = wake == Wake::Now;
        let mut state = self.lock();
        if state.writer_gone {
            pending.clear();
            return Err(WriterGone);
        }
        let was_empty = state.batches.is_empty();
        if !pending.is_empty() {
            state.bytes += pending.len();
            state.add(pending, through);
            state.since.get_or_insert_with(Instant::now);
        }
        state.urgent |= urgent && !state.batches.is_empty();
        let wake =
            (wake == Wake::Linger && was_empty && state.writer_idle && !state.batches.is_empty())
                || state.urgent
                || state.bytes >= MERGE_BYTES;
        drop(state);
        if wake {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// The handle is gone: the writer takes what is left at once, then ends.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// The writer has ended: later flushes fail rather than wait for it.
    pub fn writer_ended(&self) -> Vec<Batch> {
        let mut state = self.lock();
        state.writer_gone = true;
        state.bytes = 0;
        std::mem::take(&mut state.batches)
    }

    /// For the writer: waits for batches and moves those of one transaction into `into`
    /// (empty on entry). False once the handle is gone and everything it sent was taken.
    pub fn take(&self, into: &mut Vec<Batch>) -> bool {
        let mut state = self.lock();
        loop {
            let Some(since) = state.since else {
                if state.closed {
                    return false;
                }
                state.writer_idle = true;
                state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                state.writer_idle = false;
                continue;
            };
            let deadline = since + self.linger;
            let now = Instant::now();
            if state.urgent || state.closed || state.bytes >= MERGE_BYTES || now >= deadline {
                state.take_into(into);
                return true;
            }
            state = self
                .wake
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// For the writer: a buffer it is done with, kept for the handle's next batch.
    pub fn recycle(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() > SPARE_CAPACITY {
            return;
        }
        buffer.clear();
        let mut state = self.lock();
        if state.spares.len() < SPARE_BUFFERS {
            state.spares.push(buffer);
        }
    }
}

impl State {
    /// Adds a small flush to the waiting batch, or hands over the whole buffer for a spare.
    fn add(&mut self, pending: &mut Vec<u8>, through: u64) {
        if let Some(last) = self.batches.last_mut()
            && pending.len() <= COPY_BYTES
            && last.bytes.len() + pending.len() <= MERGE_BYTES
        {
            last.bytes.extend_from_slice(pending);
            last.through = through;
            pending.clear();
            return;
        }
        let fresh = self
            .spares
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BUFFER_BYTES));
        let bytes = std::mem::replace(pending, fresh);
        self.batches.push(Batch { bytes, through });
    }

    /// Moves the oldest batches, up to `MERGE_BYTES` (at least one), into `into`.
    fn take_into(&mut self, into: &mut Vec<Batch>) {
        let mut bytes = 0;
        let count = self
            .batches
            .iter()
            .take_while(|batch| {
                let first = bytes == 0;
                bytes += batch.bytes.len();
                first || bytes <= MERGE_BYTES
            })
            .count();
        into.extend(self.batches.drain(..count));
        let taken: usize = into.iter().map(|batch| batch.bytes.len()).sum();
        self.bytes -= taken;
        if self.batches.is_empty() {
            self.since = None;
            self.urgent = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Vec<u8> {
        vec![b'x'; n]
    }

    #[test]
    fn small_flushes_join_the_waiting_batch() {
        let inbox = Inbox::new(Duration::ZERO);
        let mut pending = bytes(10);
        inbox.put(&mut pending, 1, Wake::Linger).unwrap();
        assert!(pending.is_empty());
        pending.extend_from_slice(&bytes(20));
        inbox.put(&mut pending, 3, Wake::Linger).unwrap();
        let mut taken = Vec::new();
        assert!(inbox.take(&mut taken));
        assert_eq!(taken.len(), 1);
        assert_eq!((taken[0].bytes.len(), taken[0].through), (30, 3));
    }

    #[test]
    fn a_large_flush_is_a_batch_of_its_own_and_takes_a_spare() {
        let inbox = Inbox::new(Duration::ZERO);
        inbox.recycle(Vec::with_capacity(100));
        let mut pending = bytes(10);
        inbox.put(&mut pending, 1, Wake::Linger).unwrap();
        let mut large = bytes(COPY_BYTES + 1);
        inbox.put(&mut large, 2, Wake::Linger).unwrap();
        assert!(large.is_empty() && large.capacity() >= 100, "a spare");
        let mut taken = Vec::new();
        assert!(inbox.take(&mut taken));
        let throughs: Vec<u64> = taken.iter().map(|b| b.through).collect();
        assert_eq!(throughs, [1, 2]);
    }

    #[test]
    fn a_transaction_takes_batches_up_to_the_merge_limit() {
        let inbox = Inbox::new(Duration::ZERO);
        for through in 1..=3 {
            let mut pending = bytes(MERGE_BYTES / 2);
            inbox.put(&mut pending, through, Wake::Linger).unwrap();
        }
        let mut taken = Vec::new();
        assert!(inbox.take(&mut taken));
        assert_eq!(taken.len(), 2);
        taken.clear();
        inbox.close();
        assert!(inbox.take(&mut taken));
        assert_eq!(taken[0].through, 3);
        taken.clear();
        assert!(!inbox.take(&mut taken), "closed and empty");
    }

    #[test]
    fn flushes_after_the_writer_ended_fail() {
        let inbox = Inbox::new(Duration::ZERO);
        let mut pending = bytes(5);
        inbox.put(&mut pending, 1, Wake::Linger).unwrap();
        assert_eq!(inbox.writer_ended().len(), 1);
        let mut pending = bytes(5);
        assert!(inbox.put(&mut pending, 2, Wake::Now).is_err());
        assert!(pending.is_empty());
    }
}
