//! The writer thread: takes the batches of one transaction at a time from the inbox, writes
//! them, settles their events and reports a failure once per episode. Knows notices and the
//! inbox; the SQL is in `insert`, the encoding in `batch`, when to commit in `inbox`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::batch::Batch;
use super::handle::{ExitGuard, WriterInput};
use super::inbox::Inbox;
use super::insert::Inserter;
use super::schema::is_busy;
use crate::backlog::Backlog;

/// What the writer thread tells the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreNotice {
    /// Every event numbered `<= through` is settled: committed (`persisted: true`) or given up
    /// after a write error (`persisted: false`).
    Settled { through: u64, persisted: bool },
    /// Writing failed (disk full, read-only, I/O): a message for the user. Sent once per run
    /// of failures, again only after a success in between.
    WriteFailed(String),
}

/// Transactions tried when another process holds the write lock past the busy timeout.
const BUSY_ATTEMPTS: u32 = 6;

struct Writer<N> {
    inserter: Inserter,
    path: PathBuf,
    inbox: Arc<Inbox>,
    backlog: Arc<Backlog>,
    notify: N,
    /// Whether the last transaction failed, so a run of failures is reported once.
    failing: bool,
    /// The batches of the current transaction (reused).
    merged: Vec<Batch>,
    /// Last, so the exit is signalled after the connection has closed.
    _exit: ExitGuard,
}

pub(crate) fn spawn<N>(
    inserter: Inserter,
    path: PathBuf,
    input: WriterInput,
    notify: N,
) -> std::io::Result<JoinHandle<()>>
where
    N: Fn(StoreNotice) + Send + 'static,
{
    let writer = Writer {
        inserter,
        path,
        inbox: input.inbox,
        backlog: input.backlog,
        notify,
        failing: false,
        merged: Vec::new(),
        _exit: input.exit,
    };
    std::thread::Builder::new()
        .name("ourocodus-store".into())
        .spawn(move || writer.run())
}

impl<N: Fn(StoreNotice)> Writer<N> {
    fn run(mut self) {
        tracing::debug!(path = %self.path.display(), "store writer started");
        while self.inbox.take(&mut self.merged) {
            let result = self.write_merged();
            self.settle(result);
        }
        tracing::debug!(path = %self.path.display(), "store writer done");
    }

    fn write_merged(&mut self) -> rusqlite::Result<()> {
        let mut attempt = 1;
        loop {
            match self.inserter.write(&self.merged) {
                Err(e) if is_busy(&e) && attempt < BUSY_ATTEMPTS => {
                    tracing::warn!(attempt, "store locked by another process; retrying");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn settle(&mut self, result: rusqlite::Result<()>) {
        let through = self.merged.last().map_or(0, |batch| batch.through);
        match &result {
            Ok(()) if self.failing => {
                tracing::info!(through, "store writes resumed");
                self.failing = false;
            }
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %e, through, "store write failed; events not recorded");
                if !self.failing {
                    (self.notify)(StoreNotice::WriteFailed(describe(&self.path, e)));
                }
                self.failing = true;
            }
        }
        (self.notify)(StoreNotice::Settled {
            through,
            persisted: result.is_ok(),
        });
        for batch in self.merged.drain(..) {
            self.backlog.release(batch.bytes.len());
            self.inbox.recycle(batch.bytes);
        }
    }
}

impl<N> Drop for Writer<N> {
    /// Also on a panic: later flushes fail at once, and what waited is no longer queued.
    fn drop(&mut self) {
        for batch in self.inbox.writer_ended() {
            self.backlog.release(batch.bytes.len());
        }
    }
}

/// The user's message for a failed write.
fn describe(path: &Path, e: &rusqlite::Error) -> String {
    let reason = match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => {
            "the disk (or the store's size limit) is full".into()
        }
        Some(rusqlite::ErrorCode::ReadOnly) => "the store has become read-only".into(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            "another process holds the store's write lock".into()
        }
        Some(rusqlite::ErrorCode::SystemIoFailure) => format!("an i/o error ({e})"),
        _ => e.to_string(),
    };
    format!(
        "the session is not being recorded in {}: {reason}",
        path.display()
    )
}
