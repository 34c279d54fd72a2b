//! Helpers: a started store whose notices arrive on a channel, waits bounded by a timeout.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::ids::{Role, SessionId};
use crate::store::{Store, StoreHandle, StoreNotice, StoreOptions, StoreReader};

/// The longest any test waits for the writer.
pub const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Started {
    pub handle: StoreHandle,
    pub notices: mpsc::Receiver<StoreNotice>,
}

pub fn start(path: &Path, options: StoreOptions) -> Started {
    let store = Store::open(path, options).expect("store opens");
    let (tx, notices) = mpsc::channel();
    let handle = store
        .start_writer(move |notice| {
            let _ = tx.send(notice);
        })
        .expect("writer starts");
    Started { handle, notices }
}

/// Notices up to and including the `Settled` that covers `through`.
pub fn settle(notices: &mpsc::Receiver<StoreNotice>, through: u64) -> Vec<StoreNotice> {
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let notice = notices
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no Settled through {through} in time ({e}); saw {seen:?}"));
        let done = matches!(notice, StoreNotice::Settled { through: t, .. } if t >= through);
        seen.push(notice);
        if done {
            return seen;
        }
    }
}

/// Whether every event in `notices` settled persisted.
pub fn all_persisted(notices: &[StoreNotice]) -> bool {
    notices.iter().all(|n| match n {
        StoreNotice::Settled { persisted, .. } => *persisted,
        StoreNotice::WriteFailed(_) => false,
    })
}

pub fn close(handle: StoreHandle) {
    assert!(
        handle.close().wait_blocking(TIMEOUT),
        "writer ended in time"
    );
}

pub fn sid(id: &str) -> SessionId {
    SessionId::new(id)
}

pub fn role(name: &str) -> Role {
    Role::new(name)
}

/// Appends one event whose payload is `json`.
pub fn append(
    handle: &mut StoreHandle,
    session: &SessionId,
    role: Option<&Role>,
    kind: &str,
    time_ms: i64,
    json: &str,
) -> u64 {
    handle.append(session, role, kind, time_ms, |out| {
        out.extend_from_slice(json.as_bytes())
    })
}

pub fn reader(path: &Path) -> StoreReader {
    StoreReader::open(path).expect("reader opens")
}
