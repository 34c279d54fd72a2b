//! The event store: every event of a team session in an embedded SQLite file, so sessions can
//! be listed, replayed and resumed after the proxy ends. Knows sessions by id and roles by name;
//! nothing of routing, ACP or editors (payloads are opaque JSON to it, but for the `session`
//! event's cwd and the first prompt's text).
//!
//! - `schema`  recognising the file (`schema::recognise`), DDL, migrations, connection settings.
//! - `batch`   the byte encoding of events from the core to the writer.
//! - `handle`  the core's side: append without waiting, flush, backpressure, exit.
//! - `inbox`   the hand-over to the writer: when it commits (linger, urgent flushes), buffers.
//! - `writer`  the writer thread: transactions, settling, failure notices.
//! - `insert`  the SQL of one write transaction: rows several to a statement, seq numbers, runs
//!   (how replay finds a session's rows), role and kind codes, session rows.
//! - `read`    queries: sessions, replay, the log.
//! - `time`    ISO 8601 and clock formatting of unix milliseconds.
//! - `render`, `cli`  `ourocodus log` and `ourocodus sessions`.
//!
//! From the core: `Store::open` (blocking: file checks, up to `BUSY_TIMEOUT` waiting for another
//! process) at start-up, then `start_writer` with a `notify` that posts into the core's inbox.
//! Per event `StoreHandle::append`, once per loop iteration `flush` (the writer may linger a few
//! ms for more before committing), or `flush_urgent` when a client's answer waits for the
//! commit; while `congested()`, take no agent output until `drained()`. At exit `close()` and wait on the `WriterExit` with a
//! timeout: a process that ends first loses what was not yet committed (never what was settled).

mod batch;
mod bench;
pub mod cli;
pub mod cli_tasks;
mod handle;
mod inbox;
mod insert;
#[cfg(test)]
mod layouts;
mod read;
pub(crate) mod render;
mod schema;
mod time;
mod writer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub use bench::{BenchError, bench_append};
pub use handle::{HIGH_WATER_BYTES, LOW_WATER_BYTES, StoreHandle, WriterExit};
pub use read::{
    EventRef, LogFilter, LogPosition, LoggedEvent, ReadError, SessionPage, SessionSummary,
    StoreReader, StoredEvent,
};
pub use schema::{APPLICATION_ID, OpenError, SCHEMA_VERSION};
pub use time::{clock_utc, iso8601_utc};
pub use writer::StoreNotice;

/// The environment variable `StoreOptions::from_env` reads the page limit from.
pub const MAX_PAGES_ENV: &str = "OUROCODUS_STORE_MAX_PAGES";

/// The writer's page cache (`PRAGMA cache_size`, negative: KiB). Appending needs little more
/// than the b-tree's right edge. Measured with 8 agents streaming (`bench --only memory`): with
/// SQLite's 2 MiB of 16 KiB pages peak RSS was 39-42 MiB, with 1 MiB 27-37 (4 KiB pages and
/// 2 MiB: 34-36); the writer's CPU per event the same at 0.5, 1 and 2 MiB.
const WRITER_CACHE_KIB: i64 = -1024;

/// How long the writer waits after a (non-urgent) flush for more events to commit with it.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(3);

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// `PRAGMA max_page_count` on the writer's connection: a store this size counts as a full
    /// disk (tests use it; `None` leaves SQLite's limit).
    pub max_page_count: Option<u32>,
    /// How long the writer may wait after a flush for more before it commits (`flush_urgent`
    /// ends the wait); `DEFAULT_LINGER` by default.
    pub linger: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_page_count: None,
            linger: DEFAULT_LINGER,
        }
    }
}

impl StoreOptions {
    /// Options from `OUROCODUS_STORE_MAX_PAGES` (a page count); anything unparsable is ignored.
    pub fn from_env() -> Self {
        let value = std::env::var(MAX_PAGES_ENV).ok();
        StoreOptions {
            max_page_count: max_pages_from(value.as_deref()),
            ..StoreOptions::default()
        }
    }
}

fn max_pages_from(value: Option<&str>) -> Option<u32> {
    let value = value?;
    let parsed = value.trim().parse().ok();
    if parsed.is_none() {
        tracing::warn!(value, "{MAX_PAGES_ENV} is not a page count; ignored");
    }
    parsed
}

/// `$XDG_DATA_HOME/ourocodus/store.db`, else `$HOME/.local/share/ourocodus/store.db`.
pub fn default_path() -> Option<PathBuf> {
    let absolute = |var| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let data = absolute("XDG_DATA_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".local/share")))?;
    Some(data.join("ourocodus").join("store.db"))
}

/// An opened store, ready to start its writer thread.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    linger: Duration,
}

impl Store {
    /// Opens the store at `path`, creating it (and its directories) if missing. Anything there
    /// that is not our store (or is ours from a newer build) is refused and left untouched.
    pub fn open(path: &Path, options: StoreOptions) -> Result<Store, OpenError> {
        let conn = schema::open_checked(path, schema::Create::IfMissing)?;
        conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)
            .map_err(|e| schema::sqlite(path, e))?;
        if let Some(pages) = options.max_page_count {
            conn.pragma_update(None, "max_page_count", pages)
                .map_err(|e| schema::sqlite(path, e))?;
        }
        tracing::info!(path = %path.display(), "event store opened");
        Ok(Store {
            conn,
            path: path.to_owned(),
            linger: options.linger,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts the writer thread; `notify` is called from it after each transaction.
    pub fn start_writer(
        self,
        notify: impl Fn(StoreNotice) + Send + 'static,
    ) -> std::io::Result<StoreHandle> {
        let (handle, input) = handle::channel(self.linger);
        writer::spawn(insert::Inserter::new(self.conn), self.path, input, notify)?;
        Ok(handle)
    }
}
