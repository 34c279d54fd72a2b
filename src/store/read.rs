//! Queries on the store through a connection of their own (blocking: call from blocking
//! threads): the sessions list with keyset paging, one session's events in seq order for
//! replay, and the log of events after a position for `log --follow`. Knows SQL; nothing of
//! what payloads mean.

use std::path::Path;

use rusqlite::{Connection, Row, params};

use super::schema::{self, Create, OpenError};
use crate::ids::SessionId;

/// Reads a store; refuses what `Store::open` refuses, and never creates one.
pub struct StoreReader {
    conn: Connection,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a session list cursor: {0:?}")]
    BadCursor(String),
    #[error("cannot read the event store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("an event names a role or kind code that is not in the store: {0}")]
    UnknownCode(i64),
    #[error("a stored value is not of its column's type: {0}")]
    Value(#[from] rusqlite::types::FromSqlError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub id: SessionId,
    pub cwd: String,
    pub title: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// How many events the session has (its last seq: seq is gap-free from 1).
    pub events: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPage {
    pub sessions: Vec<SessionSummary>,
    /// Pass back for the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: u64,
    pub time_ms: i64,
    pub role: Option<String>,
    pub kind: String,
    /// One JSON value, as the core wrote it.
    pub payload: String,
}

/// Where a log reading stopped; `LogPosition::default()` is the beginning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogPosition {
    /// The global commit order (the events rowid), for the log of all sessions.
    id: i64,
    /// The seq, for the log of one session.
    seq: i64,
}

/// One event as the database holds it, for as long as its row is current.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub seq: u64,
    pub role: Option<&'a str>,
    pub kind: &'a str,
    pub payload: &'a str,
}

/// Which events a log shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogFilter<'a> {
    pub session: Option<&'a SessionId>,
    pub role: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    pub position: LogPosition,
    pub session: SessionId,
    pub event: StoredEvent,
}

const SESSION_COLUMNS: &str = "public_id, cwd, title, created_at, updated_at, last_seq";

/// Where a run's rows after seq ?2 start: at the exact rowid when the run has no other
/// session's rows (rowid and seq rise in step), else at its first row.
macro_rules! run_rows {
    ($joins:expr) => {
        concat!(
            "FROM runs r CROSS JOIN events e \
            ON e.id BETWEEN r.first_id + iif(r.last_id - r.first_id = r.last_seq - r.first_seq, \
                max(?2 + 1 - r.first_seq, 0), 0) AND r.last_id \
            AND e.session = r.session AND e.seq > ?2 ",
            $joins,
            " WHERE r.session = (SELECT id FROM sessions WHERE public_id = ?1) AND r.last_seq > ?2"
        )
    };
}

/// Role and kind names from their tables.
macro_rules! names {
    () => {
        "LEFT JOIN roles ro ON ro.id = e.role_id JOIN kinds k ON k.id = e.kind_id"
    };
}

/// A session's events after seq ?2 from its runs (see `insert/runs.rs`): a rowid range each,
/// read in run order (the runs' primary key) and rowid order within. CROSS JOIN keeps `runs`
/// the outer loop; role and kind names come from their tables.
const EVENTS: &str = concat!(
    "SELECT e.seq, e.time, ro.name, k.name, e.payload ",
    run_rows!(names!()),
    " ORDER BY r.last_seq, e.id LIMIT ?3"
);

/// As `EVENTS`, with role and kind codes for the reader to name.
const EVENT_CODES: &str = concat!(
    "SELECT e.seq, e.role_id, e.kind_id, e.payload ",
    run_rows!(""),
    " ORDER BY r.last_seq, e.id LIMIT ?3"
);

/// A role filter: `?N` is the role's name, or NULL for every role.
macro_rules! role_filter {
    ($n:literal) => {
        concat!(
            "(?",
            $n,
            " IS NULL OR e.role_id = (SELECT id FROM roles WHERE name = ?",
            $n,
            "))"
        )
    };
}

const LOG_ALL: &str = concat!(
    "SELECT e.id, s.public_id, e.seq, e.time, ro.name, k.name, e.payload \
    FROM events e JOIN sessions s ON s.id = e.session \
    LEFT JOIN roles ro ON ro.id = e.role_id JOIN kinds k ON k.id = e.kind_id \
    WHERE e.id > ?1 AND ",
    role_filter!(2),
    " ORDER BY e.id LIMIT ?3"
);

/// As `EVENTS`, with the rowid for the position and a role filter.
const LOG_SESSION: &str = concat!(
    "SELECT e.id, ?1, e.seq, e.time, ro.name, k.name, e.payload ",
    run_rows!(names!()),
    " AND ",
    role_filter!(3),
    " ORDER BY r.last_seq, e.id LIMIT ?4"
);

impl StoreReader {
    /// Opens the store at `path`: a missing or empty file is `OpenError::Missing`.
    pub fn open(path: &Path) -> Result<StoreReader, OpenError> {
        let conn = schema::open_checked(path, Create::Never)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(|e| schema::sqlite(path, e))?;
        Ok(StoreReader { conn })
    }

    /// Sessions, most recently updated first, `limit` per page, optionally only those in `cwd`.
    pub fn list_sessions(
        &self,
        cwd: Option<&Path>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SessionPage, ReadError> {
        let limit = limit.max(1);
        let cwd = cwd.map(|p| p.to_string_lossy());
        let sql = match cursor {
            None => format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE ?1 IS NULL AND ?2 IS NULL \
                 AND (?3 IS NULL OR cwd = ?3) ORDER BY updated_at DESC, public_id DESC LIMIT ?4"
            ),
            Some(_) => format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE (updated_at, public_id) < (?1, ?2) \
                 AND (?3 IS NULL OR cwd = ?3) ORDER BY updated_at DESC, public_id DESC LIMIT ?4"
            ),
        };
        let (after_time, after_id) = match cursor {
            Some(cursor) => {
                let (time, id) = decode_cursor(cursor)?;
                (Some(time), Some(id))
            }
            None => (None, None),
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                after_time,
                after_id,
                cwd.as_deref(),
                sql_limit(limit.saturating_add(1))
            ],
            session_summary,
        )?;
        let mut sessions = rows.collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if sessions.len() > limit {
            sessions.truncate(limit);
            sessions
                .last()
                .map(|s| encode_cursor(s.updated_at_ms, s.id.as_str()))
        } else {
            None
        };
        Ok(SessionPage {
            sessions,
            next_cursor,
        })
    }

    pub fn session(&self, id: &SessionId) -> Result<Option<SessionSummary>, ReadError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE public_id = ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query_map([id.as_str()], session_summary)?;
        Ok(rows.next().transpose()?)
    }

    /// Up to `limit` events of `session` with seq above `after_seq`, in seq order (replay in
    /// chunks: pass the last seq back).
    pub fn events(
        &self,
        session: &SessionId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, ReadError> {
        let mut stmt = self.conn.prepare_cached(EVENTS)?;
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![session.as_str(), after, sql_limit(limit)], |row| {
            stored_event(row, 0)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Like `events`, but shows each row to `each` as SQLite holds it, copying nothing;
    /// returns how many there were.
    pub fn visit_events(
        &self,
        session: &SessionId,
        after_seq: u64,
        limit: usize,
        each: &mut dyn FnMut(EventRef<'_>),
    ) -> Result<usize, ReadError> {
        // One snapshot for the names and the rows: a role first written meanwhile is
        // in both or neither.
        let snapshot = self.conn.unchecked_transaction()?;
        let roles = self.names("SELECT id, name FROM roles")?;
        let kinds = self.names("SELECT id, name FROM kinds")?;
        let mut stmt = self.conn.prepare_cached(EVENT_CODES)?;
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![session.as_str(), after, sql_limit(limit)])?;
        let mut seen = 0;
        while let Some(row) = rows.next()? {
            let role = match row.get::<_, Option<i64>>(1)? {
                Some(code) => Some(name_of(&roles, code)?),
                None => None,
            };
            each(EventRef {
                seq: count(row.get(0)?),
                role,
                kind: name_of(&kinds, row.get(2)?)?,
                payload: row.get_ref(3)?.as_str()?,
            });
            seen += 1;
        }
        drop(rows);
        drop(stmt);
        snapshot.finish()?;
        Ok(seen)
    }

    /// A code table (`roles` or `kinds`), by code.
    fn names(&self, sql: &str) -> Result<Vec<(i64, String)>, ReadError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        let mut names = rows.collect::<Result<Vec<(i64, String)>, _>>()?;
        names.sort_unstable_by_key(|(code, _)| *code);
        Ok(names)
    }

    /// Up to `limit` events after `position` that pass `filter`: all sessions in commit order,
    /// or one session in seq order. Poll again from the last event's position for new ones.
    pub fn log_after(
        &self,
        position: LogPosition,
        filter: LogFilter<'_>,
        limit: usize,
    ) -> Result<Vec<LoggedEvent>, ReadError> {
        let limit = sql_limit(limit);
        let rows = match filter.session {
            None => {
                let mut stmt = self.conn.prepare_cached(LOG_ALL)?;
                let rows =
                    stmt.query_map(params![position.id, filter.role, limit], logged_event)?;
                rows.collect::<Result<Vec<_>, _>>()
            }
            Some(session) => {
                let mut stmt = self.conn.prepare_cached(LOG_SESSION)?;
                let values = params![session.as_str(), position.seq, filter.role, limit];
                let rows = stmt.query_map(values, logged_event)?;
                rows.collect::<Result<Vec<_>, _>>()
            }
        };
        Ok(rows?)
    }
}

fn name_of(names: &[(i64, String)], code: i64) -> Result<&str, ReadError> {
    match names.binary_search_by_key(&code, |(c, _)| *c) {
        Ok(at) => Ok(&names[at].1),
        Err(_) => Err(ReadError::UnknownCode(code)),
    }
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn session_summary(row: &Row<'_>) -> rusqlite::Result<SessionSummary> {
    Ok(SessionSummary {
        id: SessionId::new(row.get_ref(0)?.as_str()?),
        cwd: row.get(1)?,
        title: row.get(2)?,
        created_at_ms: row.get(3)?,
        updated_at_ms: row.get(4)?,
        events: count(row.get(5)?),
    })
}

/// The event's columns from `first` on: seq, time, role, kind, payload.
fn stored_event(row: &Row<'_>, first: usize) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: count(row.get(first)?),
        time_ms: row.get(first + 1)?,
        role: row.get(first + 2)?,
        kind: row.get(first + 3)?,
        payload: row.get(first + 4)?,
    })
}

fn logged_event(row: &Row<'_>) -> rusqlite::Result<LoggedEvent> {
    let event = stored_event(row, 2)?;
    Ok(LoggedEvent {
        position: LogPosition {
            id: row.get(0)?,
            seq: row.get(2)?,
        },
        session: SessionId::new(row.get_ref(1)?.as_str()?),
        event,
    })
}

/// `<updated_at>.<public id in hex>`: opaque to callers, stable across calls.
fn encode_cursor(updated_at_ms: i64, id: &str) -> String {
    let mut cursor = format!("{updated_at_ms}.");
    for byte in id.bytes() {
        cursor.push_str(&format!("{byte:02x}"));
    }
    cursor
}

fn decode_cursor(cursor: &str) -> Result<(i64, String), ReadError> {
    let bad = || ReadError::BadCursor(cursor.chars().take(80).collect());
    let (time, hex) = cursor.split_once('.').ok_or_else(bad)?;
    let time = time.parse().map_err(|_| bad())?;
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    let id = String::from_utf8(bytes).map_err(|_| bad())?;
    Ok((time, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let cursor = encode_cursor(-5, "sess-ü/1");
        assert_eq!(
            decode_cursor(&cursor).unwrap(),
            (-5, "sess-ü/1".to_string())
        );
    }

    #[test]
    fn garbage_cursors_are_errors() {
        for garbage in [
            "",
            ".",
            "x.00",
            "5.0",
            "5.zz",
            "5.ff",
            "5",
            "5.é0",
            "99999999999999999999.00",
        ] {
            assert!(
                matches!(decode_cursor(garbage), Err(ReadError::BadCursor(_))),
                "{garbage:?}"
            );
        }
    }
}
