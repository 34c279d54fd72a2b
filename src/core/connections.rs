//! The connections attached to the core and how output reaches them: a session's
//! events go to the store first, then to every connection attached to it; answers go
//! to their origin (a prompt's only once its events are committed); statuses go to
//! everyone. Attach and detach are events; detaching ends nothing but the connection.

use std::collections::VecDeque;
use std::time::Instant;

use smallvec::SmallVec;

use super::Core;
use super::api::{Connection, ConnectionId, Inbound, Origin, Waiter};
use super::output::{AgentSummary, Delivery, Output, Reply, SessionState, Severity, TeamEvent};
use super::record::write_payload;
use super::state::FastIndexMap;
use super::timers::Timer;

/// How long recorded events may wait for their commit when no answer waits for them.
const STORE_COMMIT_AFTER: std::time::Duration = std::time::Duration::from_millis(5);
use crate::error::RpcError;
use crate::ids::SessionId;

/// Every attached connection, in the order they attached.
#[derive(Default)]
pub struct Connections {
    map: FastIndexMap<ConnectionId, Attached>,
    /// Prompt answers waiting for their turn's events to be committed.
    held: VecDeque<HeldReply>,
}

/// One connection and what the core keeps about it.
pub struct Attached {
    pub connection: Box<dyn Connection>,
    /// The sessions it is attached to.
    pub sessions: SmallVec<[SessionId; 2]>,
    /// The tick the timer queue holds for it, if any.
    tick_armed: Option<Instant>,
}

struct HeldReply {
    /// The recorder's number of the last event the answer is about.
    after: u64,
    /// The session whose turn it ends: its next prompts wait for this answer, so no
    /// later turn's output comes before it.
    session: SessionId,
    origin: Origin,
    outcome: Result<Reply, RpcError>,
}

impl Connections {
    pub fn get(&self, id: ConnectionId) -> Option<&Attached> {
        self.map.get(&id)
    }

    pub fn get_mut(&mut self, id: ConnectionId) -> Option<&mut Attached> {
        self.map.get_mut(&id)
    }

    pub fn contains(&self, id: ConnectionId) -> bool {
        self.map.contains_key(&id)
    }

    pub fn ids(&self) -> impl Iterator<Item = ConnectionId> + '_ {
        self.map.keys().copied()
    }

    /// Renders one output on one connection (nothing if it is gone).
    pub fn deliver(&mut self, id: ConnectionId, output: Output<'_>) {
        if let Some(attached) = self.map.get_mut(&id) {
            attached.connection.deliver(output);
        }
    }

    /// The first connection not taking its output, as a future resolving when it does.
    pub fn congested(&self) -> Option<Waiter> {
        self.map
            .values()
            .find(|a| a.connection.congested())
            .map(|a| a.connection.drained())
    }

    /// The connections not taking their output.
    pub fn congested_ids(&self) -> SmallVec<[ConnectionId; 2]> {
        self.map
            .iter()
            .filter(|(_, a)| a.connection.congested())
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn nothing_held(&self) -> bool {
        self.held.is_empty()
    }

    /// Whether an answer ending a turn of `session` waits for the store.
    pub fn holds_answer_for(&self, session: &SessionId) -> bool {
        self.held.iter().any(|held| held.session == *session)
    }

    pub fn is_congested(&self, id: ConnectionId) -> bool {
        self.map.get(&id).is_some_and(|a| a.connection.congested())
    }
}

impl Core {
    pub(super) fn attach(&mut self, id: ConnectionId, connection: Box<dyn Connection>) {
        tracing::info!(connection = %id, "connection attached");
        let attached = Attached {
            connection,
            sessions: SmallVec::new(),
            tick_armed: None,
        };
        self.connections.map.insert(id, attached);
    }

    /// One input from a connection: decoded by its face, then each command handled.
    pub(super) fn handle_input(&mut self, id: ConnectionId, input: Inbound) {
        if matches!(input, Inbound::Closed) {
            return self.detach(id);
        }
        let mut commands = Vec::new();
        match self.connections.map.get_mut(&id) {
            Some(attached) => attached.connection.decode(input, &mut commands),
            None => return tracing::debug!(connection = %id, "input from a detached connection"),
        }
        for command in commands {
            self.handle_command(id, command);
        }
    }

    /// The connection is gone: it leaves its sessions; turns it started go on (their
    /// answers have nowhere to go), requests waiting on it go to the others.
    pub(super) fn detach(&mut self, id: ConnectionId) {
        let Some(attached) = self.connections.map.shift_remove(&id) else {
            return;
        };
        tracing::info!(connection = %id, sessions = attached.sessions.len(), "connection detached");
        for session in &attached.sessions {
            if let Some(s) = self.sessions.get_mut(session) {
                s.attached.retain(|c| *c != id);
            }
        }
        self.replays.forget_connection(id);
        self.reroute_relays_of(id);
    }

    /// Joins a connection to a session's events.
    pub(super) fn join(&mut self, id: ConnectionId, session: &SessionId) {
        let (Some(attached), Some(s)) = (
            self.connections.map.get_mut(&id),
            self.sessions.get_mut(session),
        ) else {
            return;
        };
        if !s.attached.contains(&id) {
            s.attached.push(id);
        }
        if !attached.sessions.contains(session) {
            attached.sessions.push(session.clone());
        }
        self.offer_waiting_relays(session);
    }

    /// Joins every watcher but `opener` to a session just opened, and tells them.
    pub(super) fn join_watchers(&mut self, opener: ConnectionId, session: &SessionId) {
        let watchers: SmallVec<[ConnectionId; 2]> = self
            .connections
            .map
            .iter()
            .filter(|(id, a)| **id != opener && a.connection.watches_all_sessions())
            .map(|(id, _)| *id)
            .collect();
        for id in watchers {
            self.join(id, session);
            let Some(s) = self.sessions.get(session) else {
                return;
            };
            let output = Output::SessionOpened {
                session,
                cwd: &s.cwd,
            };
            self.connections.deliver(id, output);
        }
    }

    /// Records an event of a session, then shows it to every connection attached to
    /// it (those still catching up on its history get it after their replay).
    /// Returns the store's number for it, if there is a store.
    pub(super) fn emit(&mut self, session: &SessionId, event: &TeamEvent<'_>) -> Option<u64> {
        let recorded = self.record(session, event);
        let s = self.sessions.get_mut(session)?;
        if let Some(number) = recorded {
            s.last_record = number;
        }
        if !event.is_shown() {
            return recorded;
        }
        let origin = match event {
            TeamEvent::Prompt { origin, .. } => origin.and_then(|o| o.connection()),
            _ => None,
        };
        for id in &s.attached {
            if self.replays.holds_back(*id, session) {
                continue;
            }
            if let Some(attached) = self.connections.map.get_mut(id) {
                let delivery = Delivery::Live {
                    yours: origin == Some(*id),
                };
                attached.connection.deliver(Output::Event {
                    session,
                    event,
                    delivery,
                });
            }
        }
        recorded
    }

    /// Appends an event to the store, if there is one; returns its number there.
    fn record(&mut self, session: &SessionId, event: &TeamEvent<'_>) -> Option<u64> {
        let recorder = self.recorder.as_mut()?;
        self.uncommitted = true;
        let (kind, role) = super::record::kind_and_role(event);
        Some(recorder.record(session, role, kind, &mut |out| write_payload(event, out)))
    }

    /// A session's merged state, to every connection attached to it.
    pub(super) fn show_state(&mut self, session: &SessionId, state: SessionState<'_>) {
        let Some(s) = self.sessions.get(session) else {
            return;
        };
        for id in &s.attached {
            self.connections
                .deliver(*id, Output::State { session, state });
        }
    }

    /// Answers a command at once (if its connection is still attached).
    pub(super) fn reply(&mut self, origin: &Origin, outcome: Result<Reply, RpcError>) {
        match origin {
            Origin::Connection {
                connection,
                request,
            } => self
                .connections
                .deliver(*connection, Output::Reply { request, outcome }),
            Origin::Task(_) | Origin::Team { .. } => {}
        }
    }

    /// Answers the end of a turn of `session` once every event recorded so far is
    /// committed (the durability point: nothing a client was answered about can be
    /// lost to a crash after the answer).
    pub(super) fn reply_when_committed(
        &mut self,
        session: &SessionId,
        origin: &Origin,
        outcome: Result<Reply, RpcError>,
        after: Option<u64>,
    ) {
        match after {
            Some(after) => self.connections.held.push_back(HeldReply {
                after,
                session: session.clone(),
                origin: origin.clone(),
                outcome,
            }),
            None => self.reply(origin, outcome),
        }
    }

    pub(super) fn release_held_replies(&mut self, through: u64, persisted: bool) {
        if !persisted {
            tracing::warn!(through, "events settled without being stored");
        }
        let mut released = Vec::new();
        while self
            .connections
            .held
            .front()
            .is_some_and(|held| held.after <= through)
        {
            if let Some(held) = self.connections.held.pop_front() {
                self.reply(&held.origin, held.outcome);
                released.push(held.session);
            }
        }
        // Prompts that waited for these answers go now.
        for session in released {
            self.pump_session(&session);
        }
    }

    /// A role's status, to every connection.
    pub(super) fn broadcast_status(&mut self, summary: &AgentSummary) {
        for attached in self.connections.map.values_mut() {
            attached.connection.deliver(Output::AgentStatus(summary));
        }
    }

    /// The store failed to write: every session hears it, once (a store that fills
    /// up fails and succeeds by turns as batches of different sizes come).
    pub(super) fn report_store_failure(&mut self, why: &str) {
        tracing::error!(error = why, "event store write failed");
        let sessions: Vec<SessionId> = self
            .sessions
            .iter_mut()
            .filter_map(|(id, s)| {
                let first = !std::mem::replace(&mut s.told_store_failed, true);
                first.then(|| id.clone())
            })
            .collect();
        let title = "The session history could not be saved";
        let description = format!(
            "{why}. The team goes on; what happens until this is fixed may be missing from the history."
        );
        for session in sessions {
            self.notify(&session, None, Severity::Error, title, Some(&description));
        }
    }

    /// Hands everything written this round to the store's and the clients' writers,
    /// and arms the ticks connections ask for.
    pub(super) fn flush_outputs(&mut self) {
        if let Some(recorder) = self.recorder.as_mut() {
            // An answer waiting for the commit makes it urgent; otherwise the store is
            // told to commit on a timer, so no flush wakes its writer while a reply is
            // on its way (on two cores, that wake took the CPU an agent needed).
            let urgent = self
                .connections
                .held
                .back()
                .is_some_and(|held| held.after > self.settled_through);
            recorder.flush(urgent);
            if urgent {
                self.uncommitted = false;
                // A timer left behind would wake the loop for nothing.
                if let Some(key) = self.commit_timer.take() {
                    self.timers.remove(&key);
                }
            } else if self.uncommitted && self.commit_timer.is_none() {
                let key = self.timers.insert(Timer::StoreCommit, STORE_COMMIT_AFTER);
                self.commit_timer = Some(key);
            }
        }
        for (id, attached) in self.connections.map.iter_mut() {
            attached.connection.flush();
            let due = attached.connection.next_tick();
            let sooner = match (due, attached.tick_armed) {
                (Some(due), Some(armed)) => due < armed,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if let Some(due) = due.filter(|_| sooner) {
                attached.tick_armed = Some(due);
                let wait = due.saturating_duration_since(Instant::now());
                self.timers.insert(Timer::ConnectionTick(*id), wait);
            }
        }
    }

    /// The store's commit timer: everything handed over since the last commit goes now.
    pub(super) fn on_store_commit_due(&mut self) {
        self.commit_timer = None;
        if std::mem::take(&mut self.uncommitted)
            && let Some(recorder) = self.recorder.as_mut()
        {
            recorder.flush(true);
        }
    }

    pub(super) fn on_connection_tick(&mut self, id: ConnectionId) {
        if let Some(attached) = self.connections.map.get_mut(&id) {
            attached.tick_armed = None;
            attached.connection.tick(Instant::now());
        }
    }

    /// At the end: whatever answers still wait for the store go out (the store is
    /// flushed and closed by the assembly), and every writer gets its last output.
    pub(super) fn finish(&mut self) {
        while let Some(held) = self.connections.held.pop_front() {
            self.reply(&held.origin, held.outcome);
        }
        self.flush_outputs();
    }
}
