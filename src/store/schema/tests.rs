use std::os::unix::fs::PermissionsExt;

use super::recognise::{Header, read_header};
use super::*;
use crate::store::{Store, StoreOptions, StoreReader};

fn open(path: &Path) -> Result<Store, OpenError> {
    Store::open(path, StoreOptions::default())
}

/// The file's bytes, and which files sit beside it.
fn snapshot(path: &Path) -> (Vec<u8>, Vec<String>) {
    let bytes = std::fs::read(path).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (bytes, names)
}

fn sqlite_file(path: &Path, sql: &str) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(sql).unwrap();
}

fn assert_refused_untouched(path: &Path, expect: impl Fn(&OpenError) -> bool) {
    let before = snapshot(path);
    let err = open(path).err().expect("refused");
    assert!(expect(&err), "{err}");
    assert!(err.to_string().contains("left untouched"), "{err}");
    let err = StoreReader::open(path)
        .err()
        .expect("refused by the reader too");
    assert!(expect(&err), "{err}");
    assert!(snapshot(path) == before, "file and directory unchanged");
}

fn is_foreign(what: &'static str) -> impl Fn(&OpenError) -> bool {
    move |e| matches!(e, OpenError::Foreign { what: w, .. } if w.contains(what))
}

#[test]
fn a_file_of_other_bytes_stays_byte_for_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "my notes, not a database\n".repeat(200)).unwrap();
    assert_refused_untouched(&path, is_foreign("not an SQLite database"));
    let short = dir.path().join("short.db");
    std::fs::write(&short, b"SQLite format 3\0 but cut").unwrap();
    assert_refused_untouched(&short, is_foreign("not an SQLite database"));
}

#[test]
fn an_sqlite_database_of_another_application_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    sqlite_file(
        &path,
        "PRAGMA application_id = 305419896; CREATE TABLE t (x); INSERT INTO t VALUES (1);",
    );
    assert_refused_untouched(
        &path,
        is_foreign("another application (application id 0x12345678)"),
    );
}

#[test]
fn an_sqlite_database_with_tables_but_no_application_id_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.db");
    sqlite_file(
        &path,
        "CREATE TABLE sessions (id); INSERT INTO sessions VALUES (1);",
    );
    assert_refused_untouched(&path, is_foreign("tables but no application id"));
    let wal = dir.path().join("plain-wal.db");
    sqlite_file(&wal, "PRAGMA journal_mode = WAL; CREATE TABLE t (x);");
    assert_refused_untouched(&wal, is_foreign("tables but no application id"));
}

#[test]
fn an_empty_sqlite_database_of_someone_else_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    sqlite_file(&path, "PRAGMA user_version = 7;");
    assert_refused_untouched(&path, is_foreign("without tables or an application id"));
}

#[test]
fn our_store_of_a_newer_schema_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(open(&path).unwrap());
    let newer = SCHEMA_VERSION + 1;
    sqlite_file(&path, &format!("PRAGMA user_version = {newer};"));
    assert_refused_untouched(
        &path,
        |e| matches!(e, OpenError::Newer { found, known, .. } if *found == newer && *known == SCHEMA_VERSION),
    );
}

#[test]
fn a_missing_store_is_created_private_with_its_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/store.db");
    drop(open(&path).unwrap());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("a")), 0o700);
    assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    let conn = Connection::open(&path).unwrap();
    let id = identify(&conn).unwrap();
    assert_eq!(
        (id.application_id, id.user_version),
        (APPLICATION_ID, SCHEMA_VERSION)
    );
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_zero_length_file_is_initialised_by_the_proxy_but_not_by_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    std::fs::write(&path, b"").unwrap();
    assert!(matches!(
        StoreReader::open(&path),
        Err(OpenError::Missing { .. })
    ));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    drop(open(&path).unwrap());
    drop(open(&path).expect("and opens again"));
    StoreReader::open(&path).expect("a reader opens it now");
}

#[test]
fn a_missing_store_is_not_created_by_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nothing/store.db");
    let err = StoreReader::open(&path).err().unwrap();
    assert!(matches!(err, OpenError::Missing { .. }), "{err}");
    assert!(!dir.path().join("nothing").exists());
}

#[test]
fn an_unwritable_location_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let err = open(&file.join("store.db")).err().unwrap();
    assert!(matches!(err, OpenError::Location { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot create the event store at"),
        "{err}"
    );
    let err = open(Path::new("/proc/ourocodus-test/store.db"))
        .err()
        .unwrap();
    assert!(matches!(err, OpenError::Location { .. }), "{err}");
    let err = open(dir.path()).err().unwrap();
    assert!(is_foreign("not a regular file")(&err), "{err}");
}

#[test]
fn a_read_only_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(open(&path).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    if std::fs::OpenOptions::new().write(true).open(&path).is_ok() {
        eprintln!("skipped: file modes do not bind this user (root)");
        return;
    }
    let err = open(&path).err().unwrap();
    assert!(matches!(err, OpenError::ReadOnly { .. }), "{err}");
}

#[test]
fn two_proxies_initialising_one_new_file_at_once_both_open_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || open(&path).map(drop))
        })
        .collect();
    for opened in opens {
        opened.join().unwrap().expect("opened");
    }
}

#[test]
fn an_older_store_of_ours_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    // Version 0 of ours: the application id set, nothing else yet.
    sqlite_file(&path, &format!("PRAGMA application_id = {APPLICATION_ID};"));
    drop(open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    assert_eq!(identify(&conn).unwrap().user_version, SCHEMA_VERSION);
}

fn add_notes(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE notes (text TEXT); ALTER TABLE sessions ADD COLUMN pinned INTEGER",
    )
}

fn fail_half_way(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch("CREATE TABLE half (x); SELECT * FROM no_such_table")
}

#[test]
fn a_new_version_is_one_more_function_and_its_steps_run_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(open(&path).unwrap());
    let mut conn = Connection::open(&path).unwrap();
    let steps: Vec<Migration> = MIGRATIONS
        .iter()
        .copied()
        .chain([add_notes as Migration, fail_half_way])
        .collect();
    let current = SCHEMA_VERSION;
    let tx = conn.transaction().unwrap();
    assert!(migrate(&tx, current, &steps).is_err());
    drop(tx);
    assert_eq!(
        identify(&conn).unwrap().user_version,
        current,
        "a failed step changes nothing"
    );
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name IN ('notes', 'half')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0);
    let tx = conn.transaction().unwrap();
    migrate(&tx, current, &steps[..steps.len() - 1]).unwrap();
    tx.commit().unwrap();
    assert_eq!(identify(&conn).unwrap().user_version, current + 1);
    conn.execute("INSERT INTO notes VALUES ('next')", [])
        .unwrap();
}

#[test]
fn the_header_is_read_as_sqlite_stores_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    sqlite_file(
        &path,
        "PRAGMA application_id = -2; PRAGMA user_version = 9; CREATE TABLE t (x);",
    );
    let header = read_header(&path).unwrap();
    assert_eq!(
        header,
        Header::Sqlite {
            application_id: -2,
            user_version: 9
        }
    );
}

/// A version 1 store as the v1 writer left it (checkpointed): session `fixture-a` (cwd /w/a,
/// title "fix the build", 13 events: session, prompt, six `backend` updates, four `test` updates
/// interleaved with `fixture-b`'s, turn_end) and `fixture-b` (cwd /w/b, 6 events, the last a
/// payload that was not UTF-8); 19 rows, ids 1..=19 in append order.
const V1_FIXTURE: &[u8] = include_bytes!("fixtures/v1.db");

#[test]
fn a_version_1_store_is_migrated_with_every_event_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    std::fs::write(&path, V1_FIXTURE).unwrap();
    drop(open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    assert_eq!(identify(&conn).unwrap().user_version, SCHEMA_VERSION);
    let reader = StoreReader::open(&path).unwrap();
    let (a, b) = (
        crate::ids::SessionId::new("fixture-a"),
        crate::ids::SessionId::new("fixture-b"),
    );
    let summary = reader.session(&a).unwrap().unwrap();
    assert_eq!(
        (
            summary.cwd.as_str(),
            summary.title.as_deref(),
            summary.events
        ),
        ("/w/a", Some("fix the build"), 13)
    );
    let events = reader.events(&a, 0, 100).unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=13).collect::<Vec<_>>());
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds[..3], ["session", "prompt", "update"]);
    assert_eq!(events[12].kind, "turn_end");
    assert_eq!(events[8].role.as_deref(), Some("test"));
    assert!(events[8].payload.contains(r#""text":"t0""#));
    let later = reader.events(&a, 9, 2).unwrap();
    assert_eq!(later.iter().map(|e| e.seq).collect::<Vec<_>>(), [10, 11]);
    let b_events = reader.events(&b, 0, 100).unwrap();
    assert_eq!(b_events.len(), 6);
    assert_eq!(b_events[5].payload, "\"\u{fffd}\"");
    let log = reader
        .log_after(
            crate::store::LogPosition::default(),
            Default::default(),
            100,
        )
        .unwrap();
    let order: Vec<(String, u64)> = log
        .iter()
        .map(|e| (e.session.to_string(), e.event.seq))
        .collect();
    assert_eq!(order.len(), 19);
    assert_eq!(
        order[8..11],
        [
            ("fixture-b".into(), 1),
            ("fixture-a".into(), 9),
            ("fixture-b".into(), 2)
        ]
    );
}

#[test]
fn a_migrated_store_takes_new_events_after_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    std::fs::write(&path, V1_FIXTURE).unwrap();
    let store = open(&path).unwrap();
    let mut handle = store.start_writer(|_| {}).unwrap();
    let a = crate::ids::SessionId::new("fixture-a");
    for i in 0..3 {
        handle.append(&a, None, "say", 4_000 + i, |out| {
            out.extend_from_slice(format!(r#"{{"text":"new {i}"}}"#).as_bytes())
        });
    }
    assert!(handle.close().wait_blocking(Duration::from_secs(60)));
    let reader = StoreReader::open(&path).unwrap();
    assert_eq!(reader.session(&a).unwrap().unwrap().events, 16);
    let events = reader.events(&a, 12, 100).unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [13, 14, 15, 16]);
    assert_eq!(events[3].payload, r#"{"text":"new 2"}"#);
}

#[test]
fn a_new_store_has_big_pages_and_an_old_one_keeps_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let page_size = |path: &Path| -> i64 {
        Connection::open(path)
            .unwrap()
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap()
    };
    let new = dir.path().join("new.db");
    drop(open(&new).unwrap());
    assert_eq!(page_size(&new), PAGE_SIZE);
    let old = dir.path().join("old.db");
    std::fs::write(&old, V1_FIXTURE).unwrap();
    drop(open(&old).unwrap());
    assert_eq!(page_size(&old), 4096);
}

#[test]
fn a_version_1_writer_still_running_cannot_write_into_version_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    std::fs::write(&path, V1_FIXTURE).unwrap();
    let old_writer = Connection::open(&path).unwrap();
    let v1_insert = "INSERT INTO events (session, seq, time, role, kind, payload) \
                     VALUES (1, 99, 5000, 'backend', 'update', '{}')";
    old_writer.execute(v1_insert, []).unwrap();
    old_writer
        .execute("DELETE FROM events WHERE seq = 99", [])
        .unwrap();
    drop(open(&path).unwrap());
    let err = old_writer.execute(v1_insert, []).unwrap_err();
    assert!(err.to_string().contains("no column named role"), "{err}");
}
