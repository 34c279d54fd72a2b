//! The store file: recognising it (ours, foreign, newer, empty) before anything is written, its
//! schema and the migrations between versions, and the connection settings. Knows SQL and file
//! headers; nothing of events' meaning, the writer thread or the CLI.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

/// `PRAGMA application_id` of an Ourocodus store: "OURO" in ASCII.
pub const APPLICATION_ID: i32 = 0x4F55_524F;

/// One step from schema version `n` to `n + 1`, run inside the opening transaction.
type Migration = fn(&Transaction<'_>) -> rusqlite::Result<()>;

/// Step `i` takes the schema from version `i` to `i + 1`: adding version 2 means adding one
/// function here.
const MIGRATIONS: &[Migration] = &[create_v1];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long one statement waits for another process's write lock before `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Version 1. `sessions.id` is internal (events refer to it: an integer is smaller than the
/// public id on every row); `last_seq` is the session's event count, as seq is gap-free from one.
/// `events` is a rowid table: the rowid is the global commit order `log --follow` polls, and
/// UNIQUE(session, seq) serves replay and catches another process's concurrent appends (the
/// layout measured fastest among those that serve both; see `layouts.rs`).
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

/// What the first bytes of an existing file say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    Empty,
    NotSqlite,
    Sqlite {
        application_id: i32,
        user_version: i64,
    },
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

fn read_header(path: &Path) -> io::Result<Header> {
    let mut bytes = Vec::with_capacity(100);
    std::fs::File::open(path)?
        .take(100)
        .read_to_end(&mut bytes)?;
    if bytes.is_empty() {
        return Ok(Header::Empty);
    }
    if bytes.len() < 100 || &bytes[..16] != SQLITE_MAGIC {
        return Ok(Header::NotSqlite);
    }
    let be =
        |at: usize| i32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Ok(Header::Sqlite {
        application_id: be(68),
        user_version: i64::from(be(60)),
    })
}

/// What SQLite itself reports about a file.
struct Identity {
    application_id: i32,
    user_version: i64,
    tables: i64,
    /// Zero for a file SQLite sees as empty (zero length, or a first transaction rolled back).
    pages: i64,
}

/// One statement, so one snapshot: another process may be initialising the file meanwhile.
fn identify(conn: &Connection) -> rusqlite::Result<Identity> {
    conn.query_row(
        "SELECT (SELECT application_id FROM pragma_application_id), \
                (SELECT user_version FROM pragma_user_version), \
                (SELECT count(*) FROM sqlite_schema), \
                (SELECT page_count FROM pragma_page_count)",
        [],
        |row| {
            Ok(Identity {
                application_id: row.get(0)?,
                user_version: row.get(1)?,
                tables: row.get(2)?,
                pages: row.get(3)?,
            })
        },
    )
}

/// Whether an identity is ours to use (after migrating), to initialise, or to refuse.
enum Verdict {
    Initialise,
    Ours { version: i64 },
}

/// Only an empty database is initialised: ours always has its application id on its first
/// page, since initialising sets it in the same (rollback-journal) transaction as the tables.
fn judge(path: &Path, id: &Identity) -> Result<Verdict, OpenError> {
    let foreign = |what: String| OpenError::Foreign {
        path: path.to_owned(),
        what,
    };
    match id.application_id {
        APPLICATION_ID if id.user_version > SCHEMA_VERSION => Err(OpenError::Newer {
            path: path.to_owned(),
            found: id.user_version,
            known: SCHEMA_VERSION,
        }),
        APPLICATION_ID => Ok(Verdict::Ours {
            version: id.user_version,
        }),
        0 if id.pages == 0 => Ok(Verdict::Initialise),
        0 if id.tables == 0 => Err(foreign(
            "an SQLite database without tables or an application id".into(),
        )),
        0 => Err(foreign(
            "an SQLite database with tables but no application id".into(),
        )),
        other => Err(foreign(format!(
            "an SQLite database of another application (application id {other:#010x})"
        ))),
    }
}

/// Refuses, from the raw header alone, whatever SQLite must not even open read-write.
fn check_header(path: &Path) -> Result<Header, OpenError> {
    let header = read_header(path).map_err(|source| OpenError::Location {
        path: path.to_owned(),
        source,
    })?;
    match header {
        Header::NotSqlite => Err(OpenError::Foreign {
            path: path.to_owned(),
            what: "not an SQLite database".into(),
        }),
        Header::Sqlite {
            application_id,
            user_version,
        } if application_id != 0 => {
            // With an application id set, only the ids decide.
            let id = Identity {
                application_id,
                user_version,
                tables: 0,
                pages: 1,
            };
            judge(path, &id).map(|_| header)
        }
        _ => Ok(header),
    }
}

/// Looks inside an SQLite file whose header has no application id, to say what it is. The
/// connection is read-only and `immutable` (no locks, no WAL or shm files created): nothing
/// beside the file changes either.
fn inspect_read_only(path: &Path) -> OpenError {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let uri = format!("file:{}?immutable=1", uri_path(path));
    let identity = Connection::open_with_flags(uri, flags).and_then(|conn| identify(&conn));
    let what = match identity.map(|id| judge(path, &id)) {
        Ok(Err(refusal)) => return refusal,
        Ok(Ok(_)) => "an SQLite database without an application id".to_owned(),
        Err(e) => format!("an SQLite database without an application id ({e})"),
    };
    OpenError::Foreign {
        path: path.to_owned(),
        what,
    }
}

/// `path` for a `file:` URI: bytes other than unreserved ones and `/` percent-encoded.
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &byte in path.as_os_str().as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
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
