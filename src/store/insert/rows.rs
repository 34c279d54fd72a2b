//! `events` rows written several to a statement: one `INSERT … VALUES (…), (…), …` per full
//! chunk of rows, and the rest in power-of-two sizes, so a transaction steps few statements and
//! only `log2(CHUNK_ROWS) + 1` distinct ones are ever prepared. SQLite picks each rowid (one
//! more than the largest, which costs no lookup, where a given rowid would be checked for a
//! duplicate) and the rowids are checked to be those the caller counted on. Knows the `events`
//! columns; nothing of sessions or seq numbers.

use std::borrow::Cow;

use rusqlite::Transaction;
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};

/// Rows per statement at most (6 parameters each, well under SQLite's limit of 32766).
pub(super) const CHUNK_ROWS: usize = 64;
/// The columns of one row, in binding order.
const COLUMNS: &str = "session, seq, time, role_id, kind_id, payload";
const PARAMS_PER_ROW: usize = 6;

/// One event row, borrowing the batch it came from.
#[derive(Debug)]
pub(super) struct EventRow<'a> {
    /// The rowid SQLite is expected to give it (not bound).
    pub id: i64,
    pub session: i64,
    pub seq: i64,
    pub time_ms: i64,
    /// Codes in `roles` and `kinds`.
    pub role: Option<i64>,
    pub kind: i64,
    /// UTF-8, checked (see `checked_text`).
    pub payload: Cow<'a, [u8]>,
}

/// `bytes` if they are UTF-8, else the text with replacement characters. ASCII, the common
/// case, is checked first with one OR over all bytes (which the compiler vectorises; quicker
/// than `is_ascii` or `from_utf8` on a few hundred bytes).
pub(super) fn checked_text(bytes: &[u8]) -> Cow<'_, [u8]> {
    let ascii = bytes.iter().fold(0, |high, &byte| high | byte) < 0x80;
    if ascii || std::str::from_utf8(bytes).is_ok() {
        return Cow::Borrowed(bytes);
    }
    Cow::Owned(String::from_utf8_lossy(bytes).into_owned().into_bytes())
}

/// Checked UTF-8 bound as text straight from its bytes.
struct Text<'a>(&'a [u8]);

impl ToSql for Text<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0)))
    }
}

/// The SQL of each statement size: `sql[k]` inserts `2^k` rows.
pub(super) struct InsertSql {
    sql: Vec<String>,
}

impl InsertSql {
    pub fn new() -> Self {
        let sizes =
            std::iter::successors(Some(1), |n| Some(n * 2)).take_while(|&n| n <= CHUNK_ROWS);
        InsertSql {
            sql: sizes.map(insert_sql).collect(),
        }
    }

    /// Statements of this many sizes are prepared at most.
    pub fn sizes(&self) -> usize {
        self.sql.len()
    }

    /// Inserts `rows`, the largest statements first; leaves `rows` empty.
    pub fn insert_all(
        &self,
        tx: &Transaction<'_>,
        rows: &mut Vec<EventRow<'_>>,
    ) -> rusqlite::Result<()> {
        let mut done = 0;
        for (k, sql) in self.sql.iter().enumerate().rev() {
            let size = 1 << k;
            if rows.len() - done < size {
                continue;
            }
            let mut stmt = tx.prepare_cached(sql)?;
            while rows.len() - done >= size {
                let chunk = &rows[done..done + size];
                bind_rows(&mut stmt, chunk)?;
                stmt.raw_execute()?;
                check_rowid(tx, chunk)?;
                done += size;
            }
        }
        rows.clear();
        Ok(())
    }
}

/// The runs are only right if the rows got the rowids counted on: SQLite gives one more than
/// the largest unless that is `i64::MAX`.
fn check_rowid(tx: &Transaction<'_>, chunk: &[EventRow<'_>]) -> rusqlite::Result<()> {
    let expected = chunk.last().map_or(0, |row| row.id);
    let got = tx.last_insert_rowid();
    if got == expected {
        return Ok(());
    }
    Err(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERNAL),
        Some(format!("event rowid {got}, expected {expected}")),
    ))
}

/// `OR FAIL`: a statement that may stop half-way after some of its rows (a constraint's
/// ABORT) needs a statement journal, a copy of every page it changes (measured: ~800
/// instructions per event with 16 KiB pages); a failure rolls back the whole transaction here
/// anyway.
fn insert_sql(rows: usize) -> String {
    let mut sql = format!("INSERT OR FAIL INTO events ({COLUMNS}) VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?)");
    }
    sql
}

/// Binds each value with its own type (no `dyn ToSql`: the conversions inline).
fn bind_rows(stmt: &mut rusqlite::Statement<'_>, rows: &[EventRow<'_>]) -> rusqlite::Result<()> {
    for (i, row) in rows.iter().enumerate() {
        let first = i * PARAMS_PER_ROW + 1;
        stmt.raw_bind_parameter(first, row.session)?;
        stmt.raw_bind_parameter(first + 1, row.seq)?;
        stmt.raw_bind_parameter(first + 2, row.time_ms)?;
        stmt.raw_bind_parameter(first + 3, row.role)?;
        stmt.raw_bind_parameter(first + 4, row.kind)?;
        stmt.raw_bind_parameter(first + 5, Text(row.payload.as_ref()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_kept_if_it_is_utf_8_and_mended_if_not() {
        let ascii = br#"{"text":"plain"}"#;
        assert!(matches!(checked_text(ascii), Cow::Borrowed(b) if b == ascii));
        let wide = "{\"text\":\"caf\u{e9} \u{2026}\"}".as_bytes();
        assert!(matches!(checked_text(wide), Cow::Borrowed(b) if b == wide));
        let broken = b"\"\xff\xfe\"";
        assert_eq!(
            checked_text(broken).as_ref(),
            "\"\u{fffd}\u{fffd}\"".as_bytes()
        );
    }

    #[test]
    fn every_statement_size_is_a_power_of_two_up_to_the_chunk() {
        let sql = InsertSql::new();
        assert_eq!(sql.sizes(), 7);
        assert!(sql.sql[0].ends_with("VALUES (?,?,?,?,?,?)"));
        assert_eq!(sql.sql[6].matches('(').count(), 1 + CHUNK_ROWS);
    }
}
