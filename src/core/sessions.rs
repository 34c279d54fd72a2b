//! Sessions coming and going: new ones, loaded ones (replayed from the history, then
//! the team brought back), live ones another connection attaches to, listing and
//! closing. The replay itself is read off the loop (`history`); here its chunks are
//! shown to the loading connection and the session's state is rebuilt from them.

use std::path::PathBuf;
use std::sync::Arc;

use super::Core;
use super::api::{ConnectionId, Origin};
use super::command::SessionParams;
use super::commands::unknown_session;
use super::history::{
    ChunkContent, HistoryAnswer, Phase, ReplayChunk, ReplayPurpose, StoredSession, spawn_reader,
};
use super::output::{
    Delivery, Output, Reply, RoleOutcome, SessionListing, SessionRecord, Severity, TeamEvent,
};
use super::recall::{Decoded, Recollection};
use super::state::Session;
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::IndexedTexts;
use crate::jsonrpc::codes;

/// Sessions per page of `session/list`.
const LIST_PAGE: usize = 50;

impl Core {
    pub(super) fn handle_new_session(
        &mut self,
        from: ConnectionId,
        origin: &Origin,
        params: SessionParams,
    ) {
        if let Err(e) = absolute_cwd(&params.cwd) {
            return self.reply(origin, Err(e));
        }
        let session_id = SessionId::new(format!("ouro-{}", uuid::Uuid::new_v4().simple()));
        let roles = self.role_names();
        let session = Session::new(session_id.clone(), params, &roles);
        let record = self.session_record(&session);
        self.sessions.insert(session_id.clone(), session);
        self.join(from, &session_id);
        self.join_watchers(from, &session_id);
        tracing::info!(session = %session_id, connection = %from, "session created");
        self.emit(&session_id, &TeamEvent::Opened(&record));
        self.reply_opened(origin, &session_id);
        self.tell_store_problem(&session_id);
        for role in roles {
            self.open_role_in_session(&session_id, &role);
        }
    }

    /// Answers with the session's modes and options, then tells its merged commands.
    fn reply_opened(&mut self, origin: &Origin, session: &SessionId) {
        let opened = Reply::Opened {
            session: session.clone(),
            modes: self.session_modes(session),
            config_options: self.config_options(session),
        };
        self.reply(origin, Ok(opened));
        self.announce_commands(session);
        self.show_task_plan(session);
    }

    fn tell_store_problem(&mut self, session: &SessionId) {
        if let Some(problem) = self.store_problem.clone() {
            let title = "This session is not being saved";
            self.notify(session, None, Severity::Warning, title, Some(&problem));
        }
    }

    /// What the record of a session says about it (never a role's environment).
    fn session_record(&self, session: &Session) -> SessionRecord {
        let team = self
            .agents
            .iter()
            .map(|(role, slot)| (role.clone(), crate::config::describe_role_json(&slot.spec)))
            .collect();
        SessionRecord {
            cwd: session.cwd.clone(),
            additional_directories: session.additional_directories.clone(),
            route: self.team.route.clone(),
            team,
        }
    }

    pub(super) fn handle_load_session(
        &mut self,
        from: ConnectionId,
        origin: Origin,
        session: SessionId,
        params: SessionParams,
        replay: bool,
    ) {
        if self.sessions.contains_key(&session) {
            return self.attach_live(from, origin, &session, replay);
        }
        let Some(history) = self.history.clone() else {
            let why = format!("cannot load {session}: this proxy runs without a session store");
            return self.reply(&origin, Err(RpcError::new(codes::RESOURCE_NOT_FOUND, why)));
        };
        if let Err(e) = absolute_cwd(&params.cwd) {
            return self.reply(&origin, Err(e));
        }
        let purpose = ReplayPurpose::Open { params, replay };
        let job = self
            .replays
            .start(from, session.clone(), origin, purpose, 0);
        let reader = spawn_reader(history, job, session, 0, true);
        if let Some(job) = self.replays.get_mut(job) {
            job.phase = Phase::Reading(reader);
        }
    }

    /// Another connection joins a session that is live here: it catches up on the
    /// history first (once the store has everything so far), then gets live events.
    fn attach_live(
        &mut self,
        from: ConnectionId,
        origin: Origin,
        session: &SessionId,
        replay: bool,
    ) {
        self.join(from, session);
        let through = self.sessions.get(session).map_or(0, |s| s.last_record);
        if !replay || self.history.is_none() {
            return self.reply_opened(&origin, session);
        }
        let purpose = ReplayPurpose::CatchUp;
        self.replays
            .start(from, session.clone(), origin, purpose, through);
        self.start_settled_replays(self.settled_through);
    }

    /// Replays waiting for the store to commit up to `through` start reading.
    pub(super) fn start_settled_replays(&mut self, through: u64) {
        let Some(history) = self.history.clone() else {
            return;
        };
        for id in self.replays.settled(through) {
            if let Some(job) = self.replays.get_mut(id) {
                let reader = spawn_reader(
                    Arc::clone(&history),
                    id,
                    job.session.clone(),
                    job.read_through,
                    false,
                );
                job.phase = Phase::Reading(reader);
            }
        }
    }

    pub(super) fn handle_replay_chunk(&mut self, chunk: ReplayChunk) {
        let job = chunk.job;
        match chunk.content {
            ChunkContent::Found(Some(stored)) => self.replay_found(job, stored),
            ChunkContent::Found(None) => self.replay_failed(job, None),
            ChunkContent::Events(chunk) => self.replay_events(job, &chunk),
            ChunkContent::End => self.replay_end(job),
            ChunkContent::Failed(why) => self.replay_failed(job, Some(why)),
        }
    }

    /// The session exists in the history: its state is rebuilt as the replay goes.
    fn replay_found(&mut self, job: u64, stored: StoredSession) {
        let roles = self.role_names();
        let Some(job) = self.replays.get_mut(job) else {
            return;
        };
        let ReplayPurpose::Open { params, .. } = &job.purpose else {
            return;
        };
        let mut params = params.clone();
        if !stored.cwd.as_os_str().is_empty() && stored.cwd != params.cwd {
            tracing::info!(asked = %params.cwd.display(), recorded = %stored.cwd.display(), "a loaded session keeps its recorded cwd");
            params.cwd = stored.cwd;
        }
        job.loading = Some(Session::new(stored.id, params, &roles));
    }

    fn replay_failed(&mut self, job: u64, why: Option<String>) {
        let Some(job) = self.replays.remove(job) else {
            return;
        };
        let error = match why {
            None => unknown_session(&job.session),
            Some(why) => {
                RpcError::internal(format!("cannot read the history of {}: {why}", job.session))
            }
        };
        self.reply(&job.origin, Err(error));
    }

    fn replay_events(&mut self, job_id: u64, chunk: &Recollection) {
        let Some(job) = self.replays.get_mut(job_id) else {
            return;
        };
        let connection = job.connection;
        let session = job.session.clone();
        let show = !matches!(job.purpose, ReplayPurpose::Open { replay: false, .. });
        let texts = &chunk.texts;
        for recalled in &chunk.events {
            job.read_through = recalled.seq;
            let decoded = match &recalled.decoded {
                Ok(decoded) => decoded,
                Err(kind) => {
                    tracing::warn!(session = %session, seq = recalled.seq, %kind, "a recorded event could not be read; skipped");
                    continue;
                }
            };
            if let Some(loading) = job.loading.as_mut() {
                rebuild(loading, &mut job.open_turns, decoded, texts);
            }
            if let Some(event) = decoded.event(texts).filter(|_| show) {
                let output = Output::Event {
                    session: &session,
                    event: &event,
                    delivery: Delivery::Replay,
                };
                self.connections.deliver(connection, output);
            }
        }
    }

    fn replay_end(&mut self, job_id: u64) {
        let Some(job) = self.replays.get_mut(job_id) else {
            return;
        };
        if matches!(job.purpose, ReplayPurpose::CatchUp) {
            let last = self.sessions.get(&job.session).map_or(0, |s| s.last_record);
            if last > job.settle_point {
                // Events came while it read: another pass for those.
                job.settle_point = last;
                job.phase = Phase::Settling(last);
                return self.start_settled_replays(self.settled_through);
            }
        }
        let Some(job) = self.replays.remove(job_id) else {
            return;
        };
        match job.purpose {
            ReplayPurpose::CatchUp => self.reply_opened(&job.origin, &job.session),
            ReplayPurpose::Open { .. } => self.open_loaded(job),
        }
    }

    /// A loaded session goes live: turns that never ended are closed, the loading
    /// connection is answered, and the team comes back.
    fn open_loaded(&mut self, job: super::history::ReplayJob) {
        let Some(session) = job.loading else {
            return self.reply(&job.origin, Err(unknown_session(&job.session)));
        };
        let id = session.id.clone();
        if self.sessions.contains_key(&id) {
            // Another client loaded it meanwhile: this one joins it as it is.
            self.join(job.connection, &id);
            return self.reply_opened(&job.origin, &id);
        }
        let roles: Vec<Role> = session.roles.keys().cloned().collect();
        self.sessions.insert(id.clone(), session);
        self.join(job.connection, &id);
        self.join_watchers(job.connection, &id);
        tracing::info!(session = %id, connection = %job.connection, "session loaded");
        self.close_interrupted_turns(&id, &job.open_turns);
        self.reply_opened(&job.origin, &id);
        self.tell_store_problem(&id);
        for role in roles {
            self.open_role_in_session(&id, &role);
        }
        self.resume_task_graph(&id);
    }

    /// Turns the history shows started but never ended: the process running them
    /// stopped. They are closed on the record, so the next replay is whole.
    fn close_interrupted_turns(&mut self, session: &SessionId, open: &[(u64, Vec<Role>)]) {
        for (turn, roles) in open {
            for role in roles {
                let event = TeamEvent::RoleEnded {
                    turn: *turn,
                    role,
                    outcome: &RoleOutcome::Cancelled,
                };
                self.emit(session, &event);
            }
            let outcome = Err(RpcError::internal(
                "the proxy stopped before this turn ended",
            ));
            self.emit(
                session,
                &TeamEvent::TurnEnded {
                    turn: *turn,
                    outcome: &outcome,
                },
            );
        }
        if !open.is_empty() {
            let title = "The proxy stopped during the last turn";
            let why = "What the roles said until then is above; their work did not finish.";
            self.notify(session, None, Severity::Warning, title, Some(why));
        }
    }

    pub(super) fn handle_list_sessions(
        &mut self,
        origin: Origin,
        cwd: Option<PathBuf>,
        cursor: Option<String>,
    ) {
        if let Some(Err(e)) = cwd.as_deref().map(absolute_cwd) {
            return self.reply(&origin, Err(e));
        }
        let Some(history) = self.history.clone() else {
            let empty = Reply::Sessions {
                sessions: Vec::new(),
                next_cursor: None,
            };
            return self.reply(&origin, Ok(empty));
        };
        let events = self.local_tx.clone();
        tokio::task::spawn_blocking(move || {
            let page = history.list(cwd.as_deref(), cursor.as_deref(), LIST_PAGE);
            let answer = HistoryAnswer::Listed { origin, page };
            let _ = events.send(super::LocalEvent::History(answer));
        });
    }

    pub(super) fn handle_history_answer(&mut self, answer: HistoryAnswer) {
        match answer {
            HistoryAnswer::Listed { origin, page } => {
                let outcome = page
                    .map(|page| Reply::Sessions {
                        sessions: page.sessions.into_iter().map(listing).collect(),
                        next_cursor: page.next_cursor,
                    })
                    .map_err(|e| RpcError::invalid_params(format!("cannot list sessions: {e}")));
                self.reply(&origin, outcome);
            }
        }
    }

    /// `session/close`: the connection leaves the session; the last one to leave
    /// ends it (its turns are cancelled and its child sessions closed).
    pub(super) fn handle_close_session(&mut self, origin: &Origin, session_id: &SessionId) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return self.reply(origin, Err(unknown_session(session_id)));
        };
        let from = origin.connection();
        session.attached.retain(|c| Some(*c) != from);
        if let Some(attached) = from.and_then(|c| self.connections.get_mut(c)) {
            attached.sessions.retain(|s| s != session_id);
        }
        if self
            .sessions
            .get(session_id)
            .is_some_and(|s| s.attached.is_empty())
        {
            self.cancel_session_turns(session_id);
            self.close_child_sessions(session_id);
            // Gates and questions of a session nobody has open go; a load asks again.
            self.withdraw_relays(|r| r.session == *session_id && r.agent_request().is_none());
            self.sessions.remove(session_id);
            self.workdirs.forget_session(session_id);
        }
        self.reply(origin, Ok(Reply::Empty));
    }

    /// Reads a session id and checks the session exists.
    pub(super) fn known_session(&self, id: &SessionId) -> Result<(), RpcError> {
        if self.sessions.contains_key(id) {
            Ok(())
        } else {
            Err(unknown_session(id))
        }
    }
}

/// Rebuilds a loaded session's state from one event of its history.
fn rebuild(
    session: &mut Session,
    open_turns: &mut Vec<(u64, Vec<Role>)>,
    event: &Decoded,
    texts: &IndexedTexts,
) {
    super::metering::recall_usage(&mut session.usage, event, texts);
    match event {
        Decoded::Prompt { turn, roles, .. } => {
            session.turn_seq = session.turn_seq.max(*turn);
            open_turns.push((*turn, roles.clone()));
        }
        Decoded::RoleEnded { turn, role, .. } => {
            if let Some((_, roles)) = open_turns.iter_mut().find(|(t, _)| t == turn) {
                roles.retain(|r| r != role);
            }
        }
        Decoded::TurnEnded { turn, .. } => open_turns.retain(|(t, _)| t != turn),
        Decoded::Update {
            role,
            turn,
            tool_call_id: Some(team_id),
            params,
            ..
        } => {
            let update = texts.fields(params).get("update").and_then(|f| f.object());
            let id = update.and_then(|u| u.get_str("toolCallId"));
            if let (Some(rs), Some(id)) = (session.roles.get_mut(role), id) {
                rs.tool_calls.remember(&id, *turn, team_id);
            }
        }
        Decoded::Task(task) => session.tasks.restore(task.as_ref().clone()),
        Decoded::ChildSession { role, child } => {
            if let Some(rs) = session.roles.get_mut(role) {
                rs.previous_child = Some(child.clone());
            }
        }
        Decoded::Mode {
            role: None,
            option,
            value,
        } if option == "route" => {
            let chosen = value.as_str().map(Role::new);
            session.route = chosen.filter(|r| session.roles.contains_key(r));
        }
        _ => {}
    }
}

fn listing(stored: StoredSession) -> SessionListing {
    SessionListing {
        session: stored.id,
        cwd: stored.cwd,
        title: stored.title,
        updated_at: stored.updated_at,
    }
}

fn absolute_cwd(cwd: &std::path::Path) -> Result<(), RpcError> {
    if cwd.is_absolute() {
        Ok(())
    } else {
        Err(RpcError::invalid_params(format!(
            "cwd must be an absolute path, got {:?}",
            cwd.display().to_string()
        )))
    }
}

impl Session {
    pub(super) fn new(id: SessionId, params: SessionParams, roles: &[Role]) -> Self {
        Session {
            id,
            cwd: params.cwd,
            client_mcp_servers: params.mcp_servers,
            additional_directories: params.additional_directories,
            route: None,
            roles: roles
                .iter()
                .map(|r| (r.clone(), Default::default()))
                .collect(),
            attached: Default::default(),
            file_owners: Default::default(),
            terminals: Default::default(),
            turn_seq: 0,
            last_record: 0,
            told_store_failed: false,
            tasks: Default::default(),
            usage: Default::default(),
        }
    }
}
