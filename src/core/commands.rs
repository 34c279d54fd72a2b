//! Commands from connections, each handed to its named handler with the origin its
//! answer goes back to.

use super::Core;
use super::api::{ConnectionId, Origin};
use super::command::{Command, TeamCommand};
use super::output::Reply;
use crate::error::RpcError;
use crate::jsonrpc::{self, RequestId};

fn origin(connection: ConnectionId, request: RequestId) -> Origin {
    Origin::Connection {
        connection,
        request,
    }
}

impl Core {
    pub(super) fn handle_command(&mut self, from: ConnectionId, command: Command) {
        match command {
            Command::Hello { request } => self.handle_hello(&origin(from, request)),
            Command::NewSession { request, params } => {
                self.handle_new_session(from, &origin(from, request), params)
            }
            Command::LoadSession {
                request,
                session,
                params,
                replay,
            } => self.handle_load_session(from, origin(from, request), session, params, replay),
            Command::ListSessions {
                request,
                cwd,
                cursor,
            } => self.handle_list_sessions(origin(from, request), cwd, cursor),
            Command::CloseSession { request, session } => {
                self.handle_close_session(&origin(from, request), &session)
            }
            Command::Prompt {
                request,
                session,
                blocks,
                meta,
            } => self.handle_prompt(origin(from, request), &session, blocks, meta),
            Command::Cancel { session, scope } => self.handle_cancel(&session, scope),
            Command::CancelRequest { request } => {
                self.handle_cancel_request(&origin(from, request))
            }
            Command::SetMode {
                request,
                session,
                mode,
            } => self.handle_set_mode(&origin(from, request), &session, &mode),
            Command::SetConfigOption {
                request,
                session,
                option,
                value,
                kind,
            } => {
                self.handle_set_config_option(origin(from, request), &session, &option, value, kind)
            }
            Command::Team { request, command } => {
                self.handle_team_command(&origin(from, request), command)
            }
            Command::Answer { relay, outcome } => self.handle_answer(from, relay, outcome),
        }
    }

    fn handle_hello(&mut self, origin: &Origin) {
        let welcome = Reply::Welcome {
            roles: self.role_names(),
            route: self.team.route.clone(),
            history: self.history.is_some(),
        };
        self.reply(origin, Ok(welcome));
    }

    fn handle_team_command(&mut self, origin: &Origin, command: TeamCommand) {
        let outcome = match command {
            TeamCommand::Agents => Ok(Reply::Agents(self.all_agent_summaries())),
            TeamCommand::Spawn(request) => self.spawn_role(request).map(Reply::Agent),
            TeamCommand::Kill(role) => self
                .known_role(&role)
                .and_then(|role| self.kill_role(&role))
                .map(Reply::Agent),
            TeamCommand::Restart(role) => self
                .known_role(&role)
                .and_then(|role| self.restart_role(&role))
                .map(Reply::Agent),
            TeamCommand::Tasks(session) => self.tasks_reply(&session),
            TeamCommand::Gate {
                session,
                task,
                feedback,
            } => self.gate_reply(&session, &task, feedback),
            TeamCommand::Usage(session) => self.usage_summary(&session).map(Reply::Usage),
            TeamCommand::Merge { session, role } => {
                return self.handle_merge_request(origin, &session, &role);
            }
        };
        self.reply(origin, outcome);
    }
}

/// The error for a session that does not exist here.
pub(super) fn unknown_session(id: &crate::ids::SessionId) -> RpcError {
    RpcError::new(
        jsonrpc::codes::RESOURCE_NOT_FOUND,
        format!("unknown session {id}"),
    )
}
