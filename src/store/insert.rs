//! One write transaction: the records of several batches become `events` rows with per-session
//! sequence numbers (several rows to a statement, see `rows`) and the `runs` that find them again;
//! their `sessions` rows are created and kept current (cwd, title, updated_at, last_seq). Knows
//! SQL and the two payloads it reads (`session`, `prompt`); nothing of threads, channels or
//! notices.

mod names;
mod rows;
mod runs;

use std::borrow::Cow;
use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Deserialize;

use super::batch::{Batch, Record, Records};
use names::{NameCodes, NameTable};
use rows::{CHUNK_ROWS, EventRow, InsertSql};
use runs::{Run, Runs};

const NEXT_ID: &str = "SELECT coalesce(max(id), 0) + 1 FROM events";
const FIND_SESSION: &str = "SELECT id FROM sessions WHERE public_id = ?1";
const CREATE_SESSION: &str = "INSERT INTO sessions (public_id, cwd, created_at, updated_at) \
                              VALUES (?1, '', ?2, ?2)";
const SESSION_STATE: &str = "SELECT last_seq, title IS NOT NULL FROM sessions WHERE id = ?1";
const SET_CWD: &str = "UPDATE sessions SET cwd = ?2 WHERE id = ?1";
const SET_TITLE: &str = "UPDATE sessions SET title = ?2 WHERE id = ?1 AND title IS NULL";
const TOUCH_SESSION: &str = "UPDATE sessions SET updated_at = max(updated_at, ?2), \
                             last_seq = ?3 WHERE id = ?1";

/// Longest title kept, in characters (an ellipsis included).
const TITLE_CHARS: usize = 80;

/// Session rowids by public id (as the batch has it); foldhash, as this is looked up once per
/// run of events of one session.
type SessionIds = HashMap<Box<[u8]>, i64, foldhash::fast::RandomState>;

/// A session written in the current transaction. Its seq is read from its row once per
/// transaction, under the write lock, so another process appending to it is no surprise.
#[derive(Debug, Clone, Copy)]
struct Open {
    rowid: i64,
    next_seq: i64,
    titled: bool,
    last_time_ms: i64,
    /// The run the session's rows go into (see `runs`).
    run: Option<Run>,
}

/// The writer's connection and what it keeps between transactions.
pub(crate) struct Inserter {
    conn: Connection,
    known: Known,
    insert_sql: InsertSql,
}

/// Rowids and codes looked up once and remembered. Only rows known to be committed: forgotten
/// after any failed transaction, which may have created some of them.
struct Known {
    session_ids: SessionIds,
    roles: NameCodes,
    kinds: NameCodes,
}

impl Known {
    fn forget(&mut self) {
        self.session_ids.clear();
        self.roles.forget();
        self.kinds.forget();
    }
}

impl Inserter {
    pub fn new(conn: Connection) -> Self {
        let insert_sql = InsertSql::new();
        conn.set_prepared_statement_cache_capacity(insert_sql.sizes() + 16);
        Inserter {
            conn,
            known: Known {
                session_ids: SessionIds::default(),
                roles: NameCodes::new(NameTable::Roles),
                kinds: NameCodes::new(NameTable::Kinds),
            },
            insert_sql,
        }
    }

    /// Writes every record of `batches` in one transaction.
    pub fn write(&mut self, batches: &[Batch]) -> rusqlite::Result<()> {
        let result = self.write_once(batches);
        if result.is_err() {
            self.known.forget();
        }
        result
    }

    fn write_once(&mut self, batches: &[Batch]) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let next_id = tx
            .prepare_cached(NEXT_ID)?
            .query_row([], |row| row.get(0))?;
        let mut written = Written::new(next_id);
        for record in batches.iter().flat_map(|batch| Records::new(&batch.bytes)) {
            match record {
                Ok(record) => written.add(&tx, &mut self.known, &record)?,
                // Our own encoding: a bug, not a reason to lose the other batches.
                Err(e) => tracing::error!(error = %e, "rest of an event batch skipped"),
            }
            if written.rows.len() == CHUNK_ROWS {
                self.insert_sql.insert_all(&tx, &mut written.rows)?;
            }
        }
        self.insert_sql.insert_all(&tx, &mut written.rows)?;
        written.finish(&tx)?;
        tx.commit()
    }
}

/// What one transaction has written so far, borrowing its batches.
struct Written<'b> {
    /// The rowid the next row gets.
    next_id: i64,
    open: Vec<Open>,
    runs: Runs,
    /// Rows not yet inserted (fewer than `CHUNK_ROWS`).
    rows: Vec<EventRow<'b>>,
    /// The session of the previous record and its index in `open`, as events come in runs
    /// of one session.
    current: Option<(&'b [u8], usize)>,
}

impl<'b> Written<'b> {
    fn new(next_id: i64) -> Self {
        Written {
            next_id,
            open: Vec::new(),
            runs: Runs::default(),
            rows: Vec::with_capacity(CHUNK_ROWS),
            current: None,
        }
    }

    /// Adds the record's row (inserted later, with others) and applies its session fields.
    fn add(
        &mut self,
        tx: &Transaction<'_>,
        known: &mut Known,
        record: &Record<'b>,
    ) -> rusqlite::Result<()> {
        let at = match self.current {
            Some((public_id, at)) if public_id == record.session => at,
            _ => open_session(tx, &mut known.session_ids, &mut self.open, record)?,
        };
        self.current = Some((record.session, at));
        let session = &mut self.open[at];
        apply_session_fields(tx, session, record)?;
        let role = match record.role {
            Some(role) => Some(known.roles.code(tx, role)?),
            None => None,
        };
        let kind = known.kinds.code(tx, record.kind)?;
        let codes = (role, kind);
        let row = event_row(self.next_id, session, &mut self.runs, record, codes);
        self.rows.push(row);
        self.next_id += 1;
        Ok(())
    }

    /// Inserts the runs and brings the sessions' rows up to date (the rows are inserted).
    fn finish(mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        for session in &mut self.open {
            self.runs.end(session.rowid, &mut session.run);
        }
        self.runs.insert(tx)?;
        touch_sessions(tx, &self.open)
    }
}

/// The next row of `session`, which takes its next seq.
fn event_row<'a>(
    id: i64,
    session: &mut Open,
    runs: &mut Runs,
    record: &Record<'a>,
    (role, kind): (Option<i64>, i64),
) -> EventRow<'a> {
    let seq = session.next_seq;
    session.next_seq += 1;
    runs.add(session.rowid, &mut session.run, seq, id);
    session.last_time_ms = session.last_time_ms.max(record.time_ms);
    EventRow {
        id,
        session: session.rowid,
        seq,
        time_ms: record.time_ms,
        role,
        kind,
        payload: rows::checked_text(record.payload),
    }
}

/// The index in `open` of the record's session, found, created or read for this transaction.
fn open_session(
    tx: &Transaction<'_>,
    session_ids: &mut SessionIds,
    open: &mut Vec<Open>,
    record: &Record<'_>,
) -> rusqlite::Result<usize> {
    let rowid = match session_ids.get(record.session) {
        Some(&rowid) => rowid,
        None => {
            let rowid = find_or_create_session(tx, record)?;
            session_ids.insert(record.session.into(), rowid);
            rowid
        }
    };
    if let Some(at) = open.iter().position(|s| s.rowid == rowid) {
        return Ok(at);
    }
    let (last_seq, titled) = tx
        .prepare_cached(SESSION_STATE)?
        .query_row([rowid], |row| Ok((row.get::<_, i64>(0)?, row.get(1)?)))?;
    open.push(Open {
        rowid,
        next_seq: last_seq + 1,
        titled,
        last_time_ms: i64::MIN,
        run: None,
    });
    Ok(open.len() - 1)
}

fn find_or_create_session(tx: &Transaction<'_>, record: &Record<'_>) -> rusqlite::Result<i64> {
    // A str when encoded: lossy only if the batch was damaged.
    let public_id = String::from_utf8_lossy(record.session);
    let found = tx
        .prepare_cached(FIND_SESSION)?
        .query_row([public_id.as_ref()], |row| row.get(0))
        .optional()?;
    if let Some(rowid) = found {
        return Ok(rowid);
    }
    tx.prepare_cached(CREATE_SESSION)?
        .execute(params![public_id.as_ref(), record.time_ms])?;
    Ok(tx.last_insert_rowid())
}

/// Brings each written session's row up to date: its last seq and latest time.
fn touch_sessions(tx: &Transaction<'_>, open: &[Open]) -> rusqlite::Result<()> {
    let mut touch = tx.prepare_cached(TOUCH_SESSION)?;
    for session in open {
        touch.execute(params![
            session.rowid,
            session.last_time_ms,
            session.next_seq - 1
        ])?;
    }
    Ok(())
}

/// The `session` event's cwd and the first prompt's title: the only payloads read here.
fn apply_session_fields(
    tx: &Transaction<'_>,
    session: &mut Open,
    record: &Record<'_>,
) -> rusqlite::Result<()> {
    match record.kind {
        b"session" => {
            if let Some(cwd) = field_of::<CwdField<'_>>(record.payload).and_then(|p| p.cwd) {
                tx.prepare_cached(SET_CWD)?
                    .execute(params![session.rowid, cwd.as_ref()])?;
            }
        }
        b"prompt" if !session.titled => {
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
