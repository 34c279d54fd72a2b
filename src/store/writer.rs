//! The writer thread: takes batches from the core's handle, writes several per transaction,
//! settles their events and reports a failure once per episode. Knows channels and notices;
//! the SQL is in `insert`, the encoding in `batch`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use super::batch::Batch;
use super::handle::{BUFFER_BYTES, Backlog, ExitGuard, WriterInput};
use super::insert::Inserter;
use super::schema::is_busy;

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

/// Batches merged into one transaction, at most (bytes; a single larger batch goes alone).
const MERGE_BYTES: usize = 4 * 1024 * 1024;
/// Transactions tried when another process holds the write lock past the busy timeout.
const BUSY_ATTEMPTS: u32 = 6;

struct Writer<N> {
    inserter: Inserter,
    path: PathBuf,
    batches_rx: mpsc::Receiver<Batch>,
    spare_tx: mpsc::SyncSender<Vec<u8>>,
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
        batches_rx: input.batches_rx,
        spare_tx: input.spare_tx,
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
        while self.gather() {
            let result = self.write_merged();
            self.settle(result);
        }
        tracing::debug!(path = %self.path.display(), "store writer done");
    }

    /// Waits for a batch, then takes whatever else is queued (up to `MERGE_BYTES`). False once
    /// the handle is gone and everything it sent is written.
    fn gather(&mut self) -> bool {
        let Ok(first) = self.batches_rx.recv() else {
            return false;
        };
        let mut bytes = first.bytes.len();
        self.merged.push(first);
        while bytes < MERGE_BYTES {
            let Ok(next) = self.batches_rx.try_recv() else {
                break;
            };
            bytes += next.bytes.len();
            self.merged.push(next);
        }
        true
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
            recycle(&self.spare_tx, batch.bytes);
        }
    }
}

/// Hands a spent buffer back to the handle, unless it grew unusually large.
fn recycle(spare_tx: &mpsc::SyncSender<Vec<u8>>, mut bytes: Vec<u8>) {
    if bytes.capacity() <= 4 * BUFFER_BYTES {
        bytes.clear();
        let _ = spare_tx.try_send(bytes);
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
