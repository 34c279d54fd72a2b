//! The core's side of the writer: events go into a pending batch without I/O or waiting, and
//! each flush hands it to the writer through the inbox; a byte count of the backlog gives
//! backpressure. Knows the batch encoding and the inbox; nothing of SQL.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::batch;
use super::inbox::{BUFFER_BYTES, Inbox};
use crate::backlog::Backlog;
use crate::ids::{Role, SessionId};

/// Above this many handed-over bytes not yet written, the store counts as congested.
pub const HIGH_WATER_BYTES: usize = 2 * 1024 * 1024;
/// Once congested, `drained` resolves at or below this many.
pub const LOW_WATER_BYTES: usize = 512 * 1024;
/// A pending batch this large is handed over at once, whatever the core's loop does.
const FLUSH_BYTES: usize = 128 * 1024;

/// Appends events for the writer thread. Owned by the core's one task: `append` and the
/// flushes take `&mut self` and never block (the inbox's lock is held only for a push or a
/// short copy). Dropping it hands over what is pending and lets the writer commit everything
/// and end; `exit()` tells when it has.
pub struct StoreHandle {
    /// Events appended since the last flush.
    pending: Vec<u8>,
    /// The local number the next `append` returns.
    next_number: u64,
    /// The number of the last event handed over.
    flushed_through: u64,
    inbox: Arc<Inbox>,
    backlog: Arc<Backlog>,
    exit: WriterExit,
}

/// The writer's ends of what the handle shares.
pub(crate) struct WriterInput {
    pub inbox: Arc<Inbox>,
    pub backlog: Arc<Backlog>,
    pub exit: ExitGuard,
}

/// When a hand-over wakes the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Not at all (the owner will flush urgently).
    No,
    /// If it idles: it then commits within the linger.
    Linger,
    /// At once, to commit everything now.
    Now,
}

pub(crate) fn channel(linger: Duration) -> (StoreHandle, WriterInput) {
    let inbox = Arc::new(Inbox::new(linger));
    let backlog = Backlog::new(HIGH_WATER_BYTES, LOW_WATER_BYTES);
    let exit = WriterExit(Arc::new(ExitSignal::default()));
    let handle = StoreHandle {
        pending: Vec::with_capacity(BUFFER_BYTES),
        next_number: 1,
        flushed_through: 0,
        inbox: inbox.clone(),
        backlog: backlog.clone(),
        exit: exit.clone(),
    };
    let input = WriterInput {
        inbox,
        backlog,
        exit: ExitGuard(exit.0),
    };
    (handle, input)
}

impl StoreHandle {
    /// Appends one event to the pending batch (no I/O, no wait) and returns its local number
    /// (1, 2, 3 … per handle). `write_payload` writes one JSON value straight into the batch.
    pub fn append(
        &mut self,
        session: &SessionId,
        role: Option<&Role>,
        kind: &str,
        time_ms: i64,
        write_payload: impl FnOnce(&mut Vec<u8>),
    ) -> u64 {
        let role = role.map(Role::as_str);
        batch::push_record(
            &mut self.pending,
            session.as_str(),
            role,
            kind,
            time_ms,
            write_payload,
        );
        let number = self.next_number;
        self.next_number += 1;
        if self.pending.len() >= FLUSH_BYTES {
            self.hand_over(Wake::Linger);
        }
        number
    }

    /// Hands the pending events to the writer (once per core loop iteration). The writer may
    /// wait up to the linger (`StoreOptions::linger`) for more before it commits them.
    pub fn flush(&mut self) {
        self.hand_over(Wake::Linger);
    }

    /// Hands the pending events to the writer without waking it: they are committed with
    /// the next urgent flush (or after the linger, if the writer wakes for other work).
    /// For an owner that flushes urgently on a timer of its own, so that no flush wakes
    /// a second thread while a reply is on its way.
    pub fn hand_over_quietly(&mut self) {
        self.hand_over(Wake::No);
    }

    /// Hands the pending events to the writer and has it commit everything handed over
    /// without lingering: for when a client's answer waits for the commit.
    pub fn flush_urgent(&mut self) {
        self.hand_over(Wake::Now);
    }

    fn hand_over(&mut self, wake: Wake) {
        if self.pending.is_empty() && wake != Wake::Now {
            return;
        }
        let size = self.pending.len();
        let through = self.next_number - 1;
        self.backlog.add(size);
        match self.inbox.put(&mut self.pending, through, wake) {
            Ok(()) => self.flushed_through = through,
            Err(_) => {
                if size > 0 {
                    tracing::error!(bytes = size, "store writer gone; events not recorded");
                }
                self.backlog.release(size);
            }
        }
    }

    /// Bytes handed over and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.backlog.queued()
    }

    /// More than `HIGH_WATER_BYTES` handed over and not yet written: stop taking agent output.
    pub fn congested(&self) -> bool {
        self.backlog.congested()
    }

    /// Resolves once the backlog is at or below `LOW_WATER_BYTES` (owns what it needs).
    pub fn drained(&self) -> impl Future<Output = ()> + Send + 'static {
        self.backlog.drained()
    }

    /// Tells when the writer thread has committed everything and ended.
    pub fn exit(&self) -> WriterExit {
        self.exit.clone()
    }

    /// Hands over what is pending and ends the writer's input; wait on the result (with a
    /// timeout) for everything to be committed.
    pub fn close(self) -> WriterExit {
        self.exit.clone()
    }
}

impl Drop for StoreHandle {
    fn drop(&mut self) {
        self.hand_over(Wake::Linger);
        self.inbox.close();
        tracing::debug!(through = self.flushed_through, "store handle closed");
    }
}

/// Set once the writer thread has ended (by the guard it holds, so even an unwinding thread
/// sets it).
#[derive(Debug, Default)]
struct ExitSignal {
    finished: Mutex<bool>,
    /// Wakes blocking waiters.
    finished_cv: Condvar,
    /// Wakes async waiters.
    finished_notify: Notify,
}

/// Waits for the writer thread's end, from a blocking thread or an async task.
#[derive(Debug, Clone)]
pub struct WriterExit(Arc<ExitSignal>);

impl WriterExit {
    pub fn is_finished(&self) -> bool {
        *self.0.finished.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks up to `timeout`; true if the writer ended.
    pub fn wait_blocking(&self, timeout: Duration) -> bool {
        let finished = self.0.finished.lock().unwrap_or_else(|e| e.into_inner());
        let (finished, _) = self
            .0
            .finished_cv
            .wait_timeout_while(finished, timeout, |finished| !*finished)
            .unwrap_or_else(|e| e.into_inner());
        *finished
    }

    /// Waits up to `timeout`; true if the writer ended.
    pub async fn wait(&self, timeout: Duration) -> bool {
        let signal = self.0.clone();
        let ended = async move {
            loop {
                let notified = signal.finished_notify.notified();
                if *signal.finished.lock().unwrap_or_else(|e| e.into_inner()) {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, ended).await.is_ok()
    }
}

/// Held by the writer thread; marks the exit when dropped.
pub(crate) struct ExitGuard(Arc<ExitSignal>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        *self.0.finished.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.0.finished_cv.notify_all();
        self.0.finished_notify.notify_waiters();
    }
}
