//! The event store in the assembly: which file (or none), opened once, its writing
//! side handed to the core as its recorder and its reading side as its history. A
//! store that cannot be used is told on stderr and in every session, and the team
//! goes on without it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::core::{
    Core, History, HistoryPage, LocalEvent, RecordedEvent, Recorder, StoredSession, Waiter,
};
use crate::ids::{Role, SessionId};
use crate::store::{self, Store, StoreHandle, StoreNotice, StoreOptions, StoreReader, WriterExit};

/// Where the event store is, as the command line and the config chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// No store: nothing recorded, nothing to load.
    Off,
    /// The default file (`$XDG_DATA_HOME/ourocodus/store.db`).
    Default,
    Path(PathBuf),
}

impl StoreChoice {
    /// The store's file, if there is one.
    pub fn path(&self) -> Option<PathBuf> {
        match self {
            StoreChoice::Off => None,
            StoreChoice::Path(path) => Some(path.clone()),
            StoreChoice::Default => store::default_path(),
        }
    }
}

/// The store's writer, to wait for at exit.
pub struct OpenStore {
    exit: WriterExit,
}

impl OpenStore {
    /// Waits (at most `grace`) for the writer to commit what is left; the core has
    /// let go of its handle by now, which asked the writer to finish.
    pub async fn close(self, grace: Duration) {
        if !self.exit.wait(grace).await {
            tracing::warn!("the event store did not finish writing in time");
        }
    }
}

/// Opens the chosen store and attaches it to the core; `None` without one (a store
/// that was wanted but cannot be used becomes the core's store problem).
pub async fn attach(core: &mut Core, choice: &StoreChoice) -> Option<OpenStore> {
    let path = match choice {
        StoreChoice::Off => return None,
        StoreChoice::Path(path) => path.clone(),
        StoreChoice::Default => match store::default_path() {
            Some(path) => path,
            None => {
                refuse(
                    core,
                    "no data directory ($XDG_DATA_HOME and $HOME are unset)".into(),
                );
                return None;
            }
        },
    };
    // Opening checks the file and may wait for another process's lock: off the loop.
    let opened = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || open(&path)).await
    };
    let (store, reader) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(why)) => {
            refuse(core, why);
            return None;
        }
        Err(_) => {
            refuse(core, "opening the store failed".into());
            return None;
        }
    };
    let events = core.local_events();
    let notify = move |notice| {
        let event = match notice {
            StoreNotice::Settled { through, persisted } => {
                LocalEvent::StoreSettled { through, persisted }
            }
            StoreNotice::WriteFailed(why) => LocalEvent::StoreFailed(why),
        };
        let _ = events.send(event);
    };
    let handle = match store.start_writer(notify) {
        Ok(handle) => handle,
        Err(e) => {
            refuse(core, format!("cannot start its writer: {e}"));
            return None;
        }
    };
    tracing::info!(path = %path.display(), "event store open");
    let exit = handle.exit();
    core.set_recorder(Box::new(StoreRecorder(handle)));
    core.set_history(Arc::new(StoreHistory(Mutex::new(reader))));
    Some(OpenStore { exit })
}

fn open(path: &Path) -> Result<(Store, StoreReader), String> {
    let store = Store::open(path, StoreOptions::from_env()).map_err(|e| e.to_string())?;
    let reader = StoreReader::open(path).map_err(|e| e.to_string())?;
    Ok((store, reader))
}

/// The store cannot be used: said on stderr now, and in every session.
fn refuse(core: &mut Core, why: String) {
    let message = format!("{why}. Sessions will not be saved and cannot be loaded later.");
    eprintln!("ourocodus: event store: {message}");
    tracing::error!(why = %why, "event store not used");
    core.set_store_problem(message);
}

/// The core's recorder: each event appended to the writer's batch, stamped now.
struct StoreRecorder(StoreHandle);

impl Recorder for StoreRecorder {
    fn record(
        &mut self,
        session: &SessionId,
        role: Option<&Role>,
        kind: &str,
        payload: &mut dyn FnMut(&mut Vec<u8>),
    ) -> u64 {
        self.0
            .append(session, role, kind, now_ms(), |out| payload(out))
    }

    fn flush(&mut self, urgent: bool) {
        // A normal flush leaves the writer asleep (the core flushes urgently on a
        // timer of its own, and when an answer waits); an urgent one commits at once.
        if urgent {
            self.0.flush_urgent();
        } else {
            self.0.hand_over_quietly();
        }
    }

    fn congested(&self) -> bool {
        self.0.congested()
    }

    fn drained(&self) -> Waiter {
        Box::pin(self.0.drained())
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The core's history: the store's reader, one query at a time (queries run on
/// blocking threads, never on the core's task).
struct StoreHistory(Mutex<StoreReader>);

impl StoreHistory {
    fn reader(&self) -> Result<std::sync::MutexGuard<'_, StoreReader>, String> {
        self.0
            .lock()
            .map_err(|_| "the store reader failed earlier".to_string())
    }
}

impl History for StoreHistory {
    fn list(
        &self,
        cwd: Option<&Path>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<HistoryPage, String> {
        let page = self
            .reader()?
            .list_sessions(cwd, cursor, limit)
            .map_err(|e| e.to_string())?;
        Ok(HistoryPage {
            sessions: page.sessions.into_iter().map(stored_session).collect(),
            next_cursor: page.next_cursor,
        })
    }

    fn session(&self, id: &SessionId) -> Result<Option<StoredSession>, String> {
        let found = self.reader()?.session(id).map_err(|e| e.to_string())?;
        Ok(found.map(stored_session))
    }

    fn events(
        &self,
        id: &SessionId,
        after_seq: u64,
        limit: usize,
        each: &mut dyn FnMut(RecordedEvent<'_>),
    ) -> Result<usize, String> {
        let mut show = |e: store::EventRef<'_>| {
            each(RecordedEvent {
                seq: e.seq,
                role: e.role,
                kind: e.kind,
                payload: e.payload,
            })
        };
        self.reader()?
            .visit_events(id, after_seq, limit, &mut show)
            .map_err(|e| e.to_string())
    }
}

fn stored_session(summary: store::SessionSummary) -> StoredSession {
    StoredSession {
        id: summary.id,
        cwd: PathBuf::from(summary.cwd),
        title: summary.title,
        updated_at: store::iso8601_utc(summary.updated_at_ms),
    }
}
