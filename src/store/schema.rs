//! The store file: creating it, the schema and the migrations between versions, opening (after
//! `recognise` has said the file is ours, or empty) and the connection settings. Knows SQL and
//! files; nothing of events' meaning, the writer thread or the CLI.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

mod recognise;
use recognise::{Header, Verdict, check_header, identify, inspect_read_only, judge};

/// `PRAGMA application_id` of an Ourocodus store: "OURO" in ASCII.
pub const APPLICATION_ID: i32 = 0x4F55_524F;

/// One step from schema version `n` to `n + 1`, run inside the opening transaction.
type Migration = fn(&Transaction<'_>) -> rusqlite::Result<()>;

/// Step `i` takes the schema from version `i` to `i + 1`: adding version 3 means adding one
/// function here.
const MIGRATIONS: &[Migration] = &[create_v1, cheaper_rows_v2];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The page size of a new store: an event row is ~300 bytes, and bigger pages mean fewer WAL
/// frames to write and fewer page splits per row (measured: 16 KiB took ~30% less CPU per
/// event than SQLite's 4 KiB, and neither 32 nor 64 KiB less than 16). Older stores keep theirs.
const PAGE_SIZE: i64 = 16 * 1024;

/// How long one statement waits for another process's write lock before `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Version 1. `sessions.id` is internal (events refer to it: an integer is smaller than the
/// public id on every row); `last_seq` is the session's event count, as seq is gap-free from one.
/// `events` is a rowid table: the rowid is the global commit order `log --follow` polls, and
/// UNIQUE(session, seq) served replay.
fn create_v1(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE sessions (
             id INTEGER PRIMARY KEY,
             public_id TEXT NOT NULL UNIQUE,
             cwd TEXT NOT NULL,
             title TEXT,
             created_at INTEGER NOT NULL,
             updated_at INTEGER NOT NULL,
             last_seq INTEGER NOT NULL DEFAULT 0
         );
         CREATE INDEX sessions_by_update ON sessions (updated_at, public_id);
         CREATE TABLE events (
             id INTEGER PRIMARY KEY,
             session INTEGER NOT NULL,
             seq INTEGER NOT NULL,
             time INTEGER NOT NULL,
             role TEXT,
             kind TEXT NOT NULL,
             payload TEXT NOT NULL,
             UNIQUE (session, seq)
         );",
    )
}

/// Version 2, for a cheaper row. `events` has no index of its own: appended in rowid order
/// only (an index entry per event cost more than the row), its events are found by `runs`: a
/// run is seq `first_seq..=last_seq` of one session, its rows of rowids `first_id..=last_id`
/// (see `insert/runs.rs`; the writer keeps seq gap-free by reading `sessions.last_seq` under the
/// write lock). Roles and kinds are codes into `roles` and `kinds`, in columns named anew
/// (`role_id`, `kind_id`) so that a version 1 process still running fails to write rather than
/// write rows no run finds. Migrating copies `events` once (SQLite cannot drop a UNIQUE
/// constraint) and finds runs in the old rows: rows of a session whose rowid and seq rise in
/// step.
fn cheaper_rows_v2(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE roles (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
         CREATE TABLE kinds (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
         INSERT INTO roles (name) SELECT DISTINCT role FROM events WHERE role IS NOT NULL;
         INSERT INTO kinds (name) SELECT DISTINCT kind FROM events;
         CREATE TABLE events_v2 (
             id INTEGER PRIMARY KEY,
             session INTEGER NOT NULL,
             seq INTEGER NOT NULL,
             time INTEGER NOT NULL,
             role_id INTEGER,
             kind_id INTEGER NOT NULL,
             payload TEXT NOT NULL
         );
         INSERT INTO events_v2 (id, session, seq, time, role_id, kind_id, payload)
             SELECT e.id, e.session, e.seq, e.time, r.id, k.id, e.payload
             FROM events e LEFT JOIN roles r ON r.name = e.role JOIN kinds k ON k.name = e.kind
             ORDER BY e.id;
         DROP TABLE events;
         ALTER TABLE events_v2 RENAME TO events;
         CREATE TABLE runs (
             session INTEGER NOT NULL,
             last_seq INTEGER NOT NULL,
             first_seq INTEGER NOT NULL,
             first_id INTEGER NOT NULL,
             last_id INTEGER NOT NULL,
             PRIMARY KEY (session, last_seq)
         ) WITHOUT ROWID;
         INSERT INTO runs (session, last_seq, first_seq, first_id, last_id)
             SELECT session, max(seq), min(seq), min(id), max(id) FROM events
             GROUP BY session, id - seq;
         UPDATE sessions SET last_seq =
             coalesce((SELECT max(last_seq) FROM runs WHERE session = sessions.id), 0);",
    )
}

/// Why a store could not be opened. Every refusal of an existing file leaves it untouched.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("no event store at {path}")]
    Missing { path: PathBuf },
    #[error("cannot create the event store at {path}: {source}")]
    Location {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is {what}, not an ourocodus event store; it was left untouched")]
    Foreign { path: PathBuf, what: String },
    #[error(
        "{path} is an ourocodus event store of schema version {found}, newer than this build's {known}; it was left untouched"
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("the event store at {path} is read-only")]
    ReadOnly { path: PathBuf },
    #[error("cannot open the event store at {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

pub(crate) fn sqlite(path: &Path, source: rusqlite::Error) -> OpenError {
    OpenError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

/// Creates the parent directories (0700) and an empty file (0600) if the path is missing.
fn create_missing(path: &Path) -> Result<(), OpenError> {
    let location = |source| OpenError::Location {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(location)?;
    }
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(location(e)),
    }
}

/// Whether opening may create a missing store (the proxy) or not (the CLI's readers).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    IfMissing,
    Never,
}

/// Opens a read-write connection to our store at `path`, after proving it is ours (or missing,
/// or empty), then initialises or migrates it in one transaction and sets WAL mode.
pub(crate) fn open_checked(path: &Path, create: Create) -> Result<Connection, OpenError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => match create {
            Create::IfMissing => create_missing(path)?,
            Create::Never => {
                return Err(OpenError::Missing {
                    path: path.to_owned(),
                });
            }
        },
        Err(source) => {
            return Err(OpenError::Location {
                path: path.to_owned(),
                source,
            });
        }
        Ok(meta) if !meta.is_file() => {
            return Err(OpenError::Foreign {
                path: path.to_owned(),
                what: "not a regular file".into(),
            });
        }
        Ok(meta) if meta.len() == 0 && create == Create::Never => {
            return Err(OpenError::Missing {
                path: path.to_owned(),
            });
        }
        Ok(_) => {}
    }
    // A non-empty file without our application id in its header is not ours (see `judge`).
    if let Header::Sqlite {
        application_id: 0, ..
    } = check_header(path)?
    {
        return Err(inspect_read_only(path));
    }
    let mut conn = open_read_write(path)?;
    prepare_patiently(&mut conn, path, create)?;
    Ok(conn)
}

fn open_read_write(path: &Path) -> Result<Connection, OpenError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite(path, e))?;
    // SQLite quietly opens a write-protected file read-only.
    if conn.is_readonly("main").map_err(|e| sqlite(path, e))? {
        return Err(OpenError::ReadOnly {
            path: path.to_owned(),
        });
    }
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sqlite(path, e))?;
    Ok(conn)
}

/// Tries `prepare` again while another process holds a lock that SQLite's busy handler does
/// not wait for (switching to WAL, or two rollback-journal transactions at once).
fn prepare_patiently(conn: &mut Connection, path: &Path, create: Create) -> Result<(), OpenError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match prepare(conn, path, create) {
            Err(OpenError::Sqlite { source, .. })
                if is_busy(&source) && std::time::Instant::now() < deadline =>
            {
                tracing::debug!(path = %path.display(), "store busy while opening; retrying");
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Brings the file to our current schema, then switches to WAL. A store already current needs
/// only reads; otherwise the check is repeated under the write lock (so two proxies starting at
/// once agree) and the file initialised or migrated in that one transaction. Initialising
/// happens before WAL, in the rollback journal, so a crash mid-way leaves the file empty.
fn prepare(conn: &mut Connection, path: &Path, create: Create) -> Result<(), OpenError> {
    let fail = |e| write_error(path, e);
    let id = identify(conn).map_err(|e| sqlite(path, e))?;
    let verdict = judge(path, &id)?;
    let current = matches!(verdict, Verdict::Ours { version } if version == SCHEMA_VERSION);
    if !current {
        if id.pages == 0 {
            // Only a file with no pages yet takes a page size.
            conn.pragma_update(None, "page_size", PAGE_SIZE)
                .map_err(fail)?;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let mut locked = identify(&tx).map_err(fail)?;
        if locked.tables == 0 {
            // A write transaction counts the first page it is about to create.
            locked.pages = id.pages;
        }
        let from = match judge(path, &locked)? {
            Verdict::Initialise if create == Create::Never => {
                return Err(OpenError::Missing {
                    path: path.to_owned(),
                });
            }
            Verdict::Initialise => 0,
            Verdict::Ours { version } => version,
        };
        if from < SCHEMA_VERSION {
            tracing::info!(path = %path.display(), from, to = SCHEMA_VERSION, "store schema update");
            migrate(&tx, from, MIGRATIONS).map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
    }
    set_wal(conn).map_err(fail)
}

/// Runs `steps[from..]` and records the new version and our application id.
fn migrate(tx: &Transaction<'_>, from: i64, steps: &[Migration]) -> rusqlite::Result<()> {
    let start = usize::try_from(from).unwrap_or(usize::MAX);
    for step in steps.iter().skip(start) {
        step(tx)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", steps.len() as i64)
}

fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
}

/// A failed write while opening: read-only storage gets its own message.
fn write_error(path: &Path, e: rusqlite::Error) -> OpenError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ReadOnly) => OpenError::ReadOnly {
            path: path.to_owned(),
        },
        _ => sqlite(path, e),
    }
}

#[cfg(test)]
mod tests;
