//! Past sessions as the core reads them: the `History` it is given (the event store's
//! reading side), and the replays in progress — each read off the loop in chunks and
//! handed to the core as events, one connection at a time, only as fast as that
//! connection takes its output. Knows no SQL.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use super::api::{ConnectionId, Origin};
use super::command::SessionParams;
use super::connections::Connections;
use super::recall::{Recaller, Recollection};
use super::state::Session;
use crate::ids::{Role, SessionId};

/// Events read per chunk of a replay: a chunk's texts (~100 KiB of typical updates)
/// stay under the allocator's mmap threshold, so chunks reuse the heap instead of
/// faulting in fresh pages each time.
const CHUNK_EVENTS: usize = 512;
/// Chunks read ahead of the core.
const CHUNKS_AHEAD: usize = 2;

/// Where the core reads past sessions from. Called on blocking threads, never on
/// the core's own task.
pub trait History: Send + Sync {
    /// Sessions, most recently updated first, optionally only those in `cwd`.
    fn list(
        &self,
        cwd: Option<&Path>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<HistoryPage, String>;
    fn session(&self, id: &SessionId) -> Result<Option<StoredSession>, String>;
    /// Shows `each` a session's events after `after_seq`, in order, at most `limit`;
    /// returns how many it showed.
    fn events(
        &self,
        id: &SessionId,
        after_seq: u64,
        limit: usize,
        each: &mut dyn FnMut(RecordedEvent<'_>),
    ) -> Result<usize, String>;
}

#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub sessions: Vec<StoredSession>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StoredSession {
    pub id: SessionId,
    pub cwd: PathBuf,
    pub title: Option<String>,
    /// ISO 8601, UTC.
    pub updated_at: String,
}

/// One recorded event, borrowed from wherever the history keeps it.
#[derive(Debug, Clone, Copy)]
pub struct RecordedEvent<'a> {
    pub seq: u64,
    pub role: Option<&'a str>,
    pub kind: &'a str,
    pub payload: &'a str,
}

/// An answer from the history, back on the loop.
#[derive(Debug)]
pub enum HistoryAnswer {
    Listed {
        origin: Origin,
        page: Result<HistoryPage, String>,
    },
}

/// A piece of a replay, back on the loop.
#[derive(Debug)]
pub struct ReplayChunk {
    pub job: u64,
    pub content: ChunkContent,
}

#[derive(Debug)]
pub enum ChunkContent {
    /// The session's facts, first of a replay that opens a session.
    Found(Option<StoredSession>),
    /// Events decoded on the reading thread, so the core only shows them.
    Events(Recollection),
    /// Every event there was when the reader got to the end.
    End,
    Failed(String),
}

/// Why a replay runs.
#[derive(Debug, Clone)]
pub enum ReplayPurpose {
    /// Opens a session that is not live here: the team comes back after the replay.
    Open { params: SessionParams, replay: bool },
    /// Catches a connection up on a live session before it gets live events.
    CatchUp,
}

/// One replay: a connection, a session, and where reading stands.
pub struct ReplayJob {
    pub id: u64,
    pub connection: ConnectionId,
    pub session: SessionId,
    pub origin: Origin,
    pub purpose: ReplayPurpose,
    /// The last seq read.
    pub read_through: u64,
    /// The core's record number this pass of the replay is complete up to.
    pub settle_point: u64,
    pub phase: Phase,
    /// Turns of the history not ended yet (the process running them may have died),
    /// with the roles still working on each.
    pub open_turns: Vec<(u64, Vec<Role>)>,
    /// The session being rebuilt from its history (for `ReplayPurpose::Open`).
    pub loading: Option<Session>,
}

pub enum Phase {
    /// Waits for the store to commit every event numbered up to this.
    Settling(u64),
    Reading(mpsc::Receiver<ReplayChunk>),
}

/// The replays in progress.
#[derive(Default)]
pub struct Replays {
    jobs: Vec<ReplayJob>,
    next_job: u64,
}

impl Replays {
    pub fn start(
        &mut self,
        connection: ConnectionId,
        session: SessionId,
        origin: Origin,
        purpose: ReplayPurpose,
        settle_point: u64,
    ) -> u64 {
        self.next_job += 1;
        self.jobs.push(ReplayJob {
            id: self.next_job,
            connection,
            session,
            origin,
            purpose,
            read_through: 0,
            settle_point,
            phase: Phase::Settling(settle_point),
            open_turns: Vec::new(),
            loading: None,
        });
        self.next_job
    }

    pub fn get_mut(&mut self, job: u64) -> Option<&mut ReplayJob> {
        self.jobs.iter_mut().find(|j| j.id == job)
    }

    pub fn remove(&mut self, job: u64) -> Option<ReplayJob> {
        let at = self.jobs.iter().position(|j| j.id == job)?;
        Some(self.jobs.remove(at))
    }

    /// Whether live events of `session` wait for `connection` (it is replaying it).
    pub fn holds_back(&self, connection: ConnectionId, session: &SessionId) -> bool {
        !self.jobs.is_empty()
            && self
                .jobs
                .iter()
                .any(|j| j.connection == connection && j.session == *session)
    }

    pub fn forget_connection(&mut self, connection: ConnectionId) {
        self.jobs.retain(|j| j.connection != connection);
    }

    /// Jobs whose wait for the store is over, ready to read.
    pub fn settled(&mut self, through: u64) -> Vec<u64> {
        self.jobs
            .iter()
            .filter(|j| matches!(j.phase, Phase::Settling(n) if n <= through))
            .map(|j| j.id)
            .collect()
    }

    /// Whether any job can deliver a chunk now.
    pub fn any_ready(&self, connections: &Connections) -> bool {
        self.jobs.iter().any(|j| {
            matches!(j.phase, Phase::Reading(_)) && !connections.is_congested(j.connection)
        })
    }

    /// The next chunk of any reading job whose connection is not `blocked`.
    pub fn poll(
        &mut self,
        blocked: &[ConnectionId],
        cx: &mut Context<'_>,
    ) -> Poll<Option<ReplayChunk>> {
        for job in &mut self.jobs {
            if blocked.contains(&job.connection) {
                continue;
            }
            if let Phase::Reading(rx) = &mut job.phase {
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(chunk)) => return Poll::Ready(Some(chunk)),
                    Poll::Ready(None) => {
                        let failed = ChunkContent::Failed("the history reader stopped".into());
                        job.phase = Phase::Settling(u64::MAX);
                        return Poll::Ready(Some(ReplayChunk {
                            job: job.id,
                            content: failed,
                        }));
                    }
                    Poll::Pending => {}
                }
            }
        }
        Poll::Pending
    }
}

/// Reads a session's events after `after` off the loop, in chunks, into a channel
/// the core polls; the session's facts first when `with_facts`.
pub fn spawn_reader(
    history: Arc<dyn History>,
    job: u64,
    session: SessionId,
    after: u64,
    with_facts: bool,
) -> mpsc::Receiver<ReplayChunk> {
    let (tx, rx) = mpsc::channel(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let send = |content| tx.blocking_send(ReplayChunk { job, content }).is_ok();
        if with_facts {
            match history.session(&session) {
                Ok(found) => {
                    let missing = found.is_none();
                    if !send(ChunkContent::Found(found)) || missing {
                        return;
                    }
                }
                Err(e) => {
                    send(ChunkContent::Failed(e));
                    return;
                }
            }
        }
        read_events(&*history, &session, after, &send);
    });
    rx
}

fn read_events(
    history: &dyn History,
    session: &SessionId,
    mut after: u64,
    send: &dyn Fn(ChunkContent) -> bool,
) {
    let mut recaller = Recaller::default();
    loop {
        let mut chunk = recaller.chunk(CHUNK_EVENTS);
        let read = history.events(session, after, CHUNK_EVENTS, &mut |event| {
            recaller.recall(&mut chunk, event);
        });
        recaller.done(&chunk);
        match read {
            Ok(count) => {
                if let Some(event) = chunk.events.last() {
                    after = event.seq;
                }
                if !chunk.events.is_empty() && !send(ChunkContent::Events(chunk)) {
                    return;
                }
                if count < CHUNK_EVENTS {
                    send(ChunkContent::End);
                    return;
                }
            }
            Err(e) => {
                send(ChunkContent::Failed(e));
                return;
            }
        }
    }
}
