//! One write transaction: the records of several batches become `events` rows with per-session
//! sequence numbers, and their `sessions` rows are created and kept current (cwd, title,
//! updated_at). Knows SQL and the two payloads it reads (`session`, `prompt`); nothing of
//! threads, channels or notices.

use std::borrow::Cow;
use std::collections::HashMap;

use rusqlite::{Connection, Statement, Transaction, TransactionBehavior, params};
use serde::Deserialize;

use super::batch::{Batch, Record, Records};

const INSERT_EVENT: &str = "INSERT INTO events (session, seq, time, role, kind, payload) \
                            VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const FIND_SESSION: &str = "SELECT id, title IS NOT NULL, \
                            (SELECT max(seq) FROM events WHERE session = sessions.id) \
                            FROM sessions WHERE public_id = ?1";
const CREATE_SESSION: &str = "INSERT INTO sessions (public_id, cwd, created_at, updated_at) \
                              VALUES (?1, '', ?2, ?2)";
const MAX_SEQ: &str = "SELECT coalesce(max(seq), 0) FROM events WHERE session = ?1";
const SET_CWD: &str = "UPDATE sessions SET cwd = ?2 WHERE id = ?1";
const SET_TITLE: &str = "UPDATE sessions SET title = ?2 WHERE id = ?1 AND title IS NULL";
const TOUCH_SESSION: &str = "UPDATE sessions SET updated_at = max(updated_at, ?2), \
                             last_seq = max(last_seq, ?3) WHERE id = ?1";

/// Longest title kept, in characters (an ellipsis included).
const TITLE_CHARS: usize = 80;

/// Sessions by public id; foldhash, as this is looked up once per event.
type SessionCache = HashMap<String, CachedSession, foldhash::fast::RandomState>;

/// What the writer remembers of a session between transactions.
#[derive(Debug, Clone, Copy)]
struct CachedSession {
    rowid: i64,
    next_seq: i64,
    titled: bool,
}

/// A session written in the current transaction, to bring its row up to date at the end.
#[derive(Debug, Clone, Copy)]
struct Touched {
    rowid: i64,
    last_seq: i64,
    time_ms: i64,
}

/// The writer's connection and what it caches to avoid a lookup per event.
pub(crate) struct Inserter {
    conn: Connection,
    /// By public session id. Only rows known to be committed; cleared on any failed
    /// transaction so a rollback can leave no gap in seq.
    sessions: SessionCache,
    touched: Vec<Touched>,
}

impl Inserter {
    pub fn new(conn: Connection) -> Self {
        conn.set_prepared_statement_cache_capacity(16);
        Inserter {
            conn,
            sessions: SessionCache::default(),
            touched: Vec::new(),
        }
    }

    /// Writes every record of `batches` in one transaction.
    pub fn write(&mut self, batches: &[Batch]) -> rusqlite::Result<()> {
        let result = self.write_once(batches);
        if result.is_err() {
            self.sessions.clear();
        }
        result
    }

    fn write_once(&mut self, batches: &[Batch]) -> rusqlite::Result<()> {
        let Inserter {
            conn,
            sessions,
            touched,
        } = self;
        touched.clear();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut insert = tx.prepare_cached(INSERT_EVENT)?;
        for batch in batches {
            for record in Records::new(&batch.bytes) {
                match record {
                    Ok(record) => insert_record(&tx, &mut insert, sessions, touched, &record)?,
                    // Our own encoding: a bug, not a reason to lose the other batches.
                    Err(e) => tracing::error!(error = %e, "rest of an event batch skipped"),
                }
            }
        }
        drop(insert);
        let mut touch = tx.prepare_cached(TOUCH_SESSION)?;
        for t in touched.iter() {
            touch.execute(params![t.rowid, t.time_ms, t.last_seq])?;
        }
        drop(touch);
        tx.commit()
    }
}

fn insert_record(
    tx: &Transaction<'_>,
    insert: &mut Statement<'_>,
    sessions: &mut SessionCache,
    touched: &mut Vec<Touched>,
    record: &Record<'_>,
) -> rusqlite::Result<()> {
    // A failed write clears the cache, so a half-updated entry is never seen again.
    if let Some(cached) = sessions.get_mut(record.session) {
        return insert_for_session(tx, insert, cached, touched, record);
    }
    let mut session = find_or_create_session(tx, record)?;
    insert_for_session(tx, insert, &mut session, touched, record)?;
    sessions.insert(record.session.to_owned(), session);
    Ok(())
}

fn insert_for_session(
    tx: &Transaction<'_>,
    insert: &mut Statement<'_>,
    session: &mut CachedSession,
    touched: &mut Vec<Touched>,
    record: &Record<'_>,
) -> rusqlite::Result<()> {
    apply_session_fields(tx, session, record)?;
    let seq = insert_event(tx, insert, session, record)?;
    note_touched(touched, session.rowid, seq, record.time_ms);
    Ok(())
}

fn find_or_create_session(
    tx: &Transaction<'_>,
    record: &Record<'_>,
) -> rusqlite::Result<CachedSession> {
    let found = tx
        .prepare_cached(FIND_SESSION)?
        .query_row([record.session], |row| {
            Ok(CachedSession {
                rowid: row.get(0)?,
                titled: row.get(1)?,
                next_seq: row.get::<_, Option<i64>>(2)?.unwrap_or(0) + 1,
            })
        });
    match found {
        Err(rusqlite::Error::QueryReturnedNoRows) => {
            tx.prepare_cached(CREATE_SESSION)?
                .execute(params![record.session, record.time_ms])?;
            Ok(CachedSession {
                rowid: tx.last_insert_rowid(),
                next_seq: 1,
                titled: false,
            })
        }
        other => other,
    }
}

/// The `session` event's cwd and the first prompt's title: the only payloads read here.
fn apply_session_fields(
    tx: &Transaction<'_>,
    session: &mut CachedSession,
    record: &Record<'_>,
) -> rusqlite::Result<()> {
    match record.kind {
        "session" => {
            if let Some(cwd) = field_of::<CwdField<'_>>(record.payload).and_then(|p| p.cwd) {
                tx.prepare_cached(SET_CWD)?
                    .execute(params![session.rowid, cwd.as_ref()])?;
            }
        }
        "prompt" if !session.titled => {
            let text = field_of::<TextField<'_>>(record.payload).and_then(|p| p.text);
            if let Some(title) = text.as_deref().and_then(title_of) {
                tx.prepare_cached(SET_TITLE)?
                    .execute(params![session.rowid, title])?;
                session.titled = true;
            }
        }
        _ => {}
    }
    Ok(())
}

#[derive(Deserialize)]
struct CwdField<'a> {
    #[serde(borrow)]
    cwd: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TextField<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

/// A payload's field struct, or `None` if it is not JSON of that shape.
fn field_of<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Option<T> {
    match serde_json::from_slice(payload) {
        Ok(fields) => Some(fields),
        Err(e) => {
            tracing::debug!(error = %e, "event payload not of the expected shape");
            None
        }
    }
}

/// The first non-empty line, trimmed, at most `TITLE_CHARS` characters (an ellipsis if cut).
pub(crate) fn title_of(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    if line.chars().count() <= TITLE_CHARS {
        return Some(line.to_owned());
    }
    let mut title: String = line.chars().take(TITLE_CHARS - 1).collect();
    title.truncate(title.trim_end().len());
    title.push('…');
    Some(title)
}

/// Inserts the event with the session's next seq. Another process may have appended to the
/// same session since it was cached: the UNIQUE index says so, and the seq is read again.
fn insert_event(
    tx: &Transaction<'_>,
    insert: &mut Statement<'_>,
    session: &mut CachedSession,
    record: &Record<'_>,
) -> rusqlite::Result<i64> {
    // Valid UTF-8 is the rule (the core writes JSON from strings): check it on the fast path.
    let payload = match std::str::from_utf8(record.payload) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(record.payload),
    };
    let rowid = session.rowid;
    let mut attempt = |seq: i64| {
        insert.execute(params![
            rowid,
            seq,
            record.time_ms,
            record.role,
            record.kind,
            payload.as_ref()
        ])
    };
    match attempt(session.next_seq) {
        Err(e) if is_unique_violation(&e) => {
            let max: i64 = tx
                .prepare_cached(MAX_SEQ)?
                .query_row([rowid], |row| row.get(0))?;
            tracing::debug!(
                session = record.session,
                seq = max + 1,
                "seq taken by another writer"
            );
            session.next_seq = max + 1;
            attempt(session.next_seq)?;
        }
        other => {
            other?;
        }
    }
    session.next_seq += 1;
    Ok(session.next_seq - 1)
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_extended_error_code(),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

fn note_touched(touched: &mut Vec<Touched>, rowid: i64, seq: i64, time_ms: i64) {
    match touched.iter_mut().find(|t| t.rowid == rowid) {
        Some(t) => {
            t.last_seq = t.last_seq.max(seq);
            t.time_ms = t.time_ms.max(time_ms);
        }
        None => touched.push(Touched {
            rowid,
            last_seq: seq,
            time_ms,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::title_of;

    #[test]
    fn the_title_is_the_first_non_empty_line_trimmed() {
        assert_eq!(
            title_of("\n  \n  fix the build  \nmore").as_deref(),
            Some("fix the build")
        );
        assert_eq!(title_of(" \n\t\n"), None);
        assert_eq!(title_of(""), None);
    }

    #[test]
    fn a_long_title_is_cut_to_eighty_characters_with_an_ellipsis() {
        let title = title_of(&"ä".repeat(200)).unwrap();
        assert_eq!(title.chars().count(), 80);
        assert!(title.ends_with('…'));
        assert_eq!(title_of(&"b".repeat(80)).unwrap(), "b".repeat(80));
    }
}
