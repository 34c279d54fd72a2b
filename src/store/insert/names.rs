//! Role and kind names as small integer codes: each name is a row of `roles` or `kinds`, made
//! the first time it is written, and `events` holds its rowid (an integer binds and stores for
//! less than text on every row). Knows those two tables; nothing of events.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction};

/// Which lookup table a name is in.
#[derive(Debug, Clone, Copy)]
pub(super) enum NameTable {
    Roles,
    Kinds,
}

impl NameTable {
    fn find_sql(self) -> &'static str {
        match self {
            NameTable::Roles => "SELECT id FROM roles WHERE name = ?1",
            NameTable::Kinds => "SELECT id FROM kinds WHERE name = ?1",
        }
    }

    fn create_sql(self) -> &'static str {
        match self {
            NameTable::Roles => "INSERT INTO roles (name) VALUES (?1)",
            NameTable::Kinds => "INSERT INTO kinds (name) VALUES (?1)",
        }
    }
}

/// The codes of one table's names the writer has seen.
pub(super) struct NameCodes {
    table: NameTable,
    /// By name as the batch has it. Only codes known to be committed: cleared after a failed
    /// transaction (see `forget`).
    codes: HashMap<Box<[u8]>, i64, foldhash::fast::RandomState>,
    /// The last name looked up and its code, as the same one mostly comes again.
    last: Option<(Vec<u8>, i64)>,
}

impl NameCodes {
    pub fn new(table: NameTable) -> Self {
        NameCodes {
            table,
            codes: HashMap::default(),
            last: None,
        }
    }

    /// The code of `name`, made in `tx` if the table does not have it yet.
    pub fn code(&mut self, tx: &Transaction<'_>, name: &[u8]) -> rusqlite::Result<i64> {
        if let Some((last, code)) = &self.last
            && last == name
        {
            return Ok(*code);
        }
        let code = match self.codes.get(name) {
            Some(&code) => code,
            None => {
                let code = self.find_or_create(tx, name)?;
                self.codes.insert(name.into(), code);
                code
            }
        };
        let mut last = self.last.take().map(|(text, _)| text).unwrap_or_default();
        last.clear();
        last.extend_from_slice(name);
        self.last = Some((last, code));
        Ok(code)
    }

    /// After a failed transaction: codes made in it are gone with it.
    pub fn forget(&mut self) {
        self.codes.clear();
        self.last = None;
    }

    fn find_or_create(&self, tx: &Transaction<'_>, name: &[u8]) -> rusqlite::Result<i64> {
        // A str when encoded: lossy only if the batch was damaged.
        let name = String::from_utf8_lossy(name);
        let found = tx
            .prepare_cached(self.table.find_sql())?
            .query_row([name.as_ref()], |row| row.get(0))
            .optional()?;
        if let Some(code) = found {
            return Ok(code);
        }
        tx.prepare_cached(self.table.create_sql())?
            .execute([name.as_ref()])?;
        Ok(tx.last_insert_rowid())
    }
}
