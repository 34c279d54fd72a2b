//! Recognising a file before anything is written to it: its raw header, then what SQLite
//! reports, judged as ours (current, older, newer), empty, or foreign. Knows file formats and
//! pragmas; nothing of the schema's tables or of events.

use std::io::{self, Read};
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{APPLICATION_ID, OpenError, SCHEMA_VERSION};

/// What the first bytes of an existing file say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Header {
    Empty,
    NotSqlite,
    Sqlite {
        application_id: i32,
        user_version: i64,
    },
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

pub(super) fn read_header(path: &Path) -> io::Result<Header> {
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
pub(super) struct Identity {
    pub application_id: i32,
    pub user_version: i64,
    pub tables: i64,
    /// Zero for a file SQLite sees as empty (zero length, or a first transaction rolled back).
    pub pages: i64,
}

/// One statement, so one snapshot: another process may be initialising the file meanwhile.
pub(super) fn identify(conn: &Connection) -> rusqlite::Result<Identity> {
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
pub(super) enum Verdict {
    Initialise,
    Ours { version: i64 },
}

/// Only an empty database is initialised: ours always has its application id on its first
/// page, since initialising sets it in the same (rollback-journal) transaction as the tables.
pub(super) fn judge(path: &Path, id: &Identity) -> Result<Verdict, OpenError> {
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
pub(super) fn check_header(path: &Path) -> Result<Header, OpenError> {
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
pub(super) fn inspect_read_only(path: &Path) -> OpenError {
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
