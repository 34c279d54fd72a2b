//! Messages from the editor: requests the proxy answers (initialize, sessions,
//! prompts, modes), notifications (cancel), and answers to requests it relayed.

use serde_json::{Value, json};

use super::Router;
use super::state::{Session, ToEditor};
use crate::acp::{self, EditorCapabilities, method};
use crate::editor::EditorInput;
use crate::error::RpcError;
use crate::ids::SessionId;
use crate::jsonrpc::{self, Body, Message, ParseErrorKind, RequestId};

impl Router {
    pub(super) fn handle_editor_input(&mut self, input: EditorInput) {
        match input {
            EditorInput::Message(message) => self.handle_editor_message(message),
            EditorInput::Malformed(error) => {
                tracing::warn!(detail = %error.detail, "malformed message from the editor");
                let (id, rpc) = match error.kind {
                    ParseErrorKind::NotJson => {
                        (RequestId::null(), RpcError::parse_error(error.detail))
                    }
                    ParseErrorKind::InvalidRequest => (
                        error.id.unwrap_or_else(RequestId::null),
                        RpcError::invalid_request(error.detail),
                    ),
                };
                self.respond_error(&id, &rpc);
            }
            EditorInput::TooLong { bytes } => {
                tracing::warn!(bytes, "over-long message from the editor; skipped");
                let detail = format!("message of {bytes} bytes is over the size limit; skipped");
                self.respond_error(&RequestId::null(), &RpcError::invalid_request(detail));
            }
            EditorInput::Closed => {
                self.editor.closed = true;
                self.begin_shutdown("editor closed its end");
            }
        }
    }

    fn handle_editor_message(&mut self, message: Message) {
        match message.body() {
            Body::Request { .. } => self.handle_editor_request(&message),
            Body::Notification { .. } => self.handle_editor_notification(&message),
            Body::Response { .. } => self.handle_editor_response(&message),
        }
    }

    fn handle_editor_request(&mut self, message: &Message) {
        let (Some(id), Some(name)) = (message.id().cloned(), message.method()) else {
            return;
        };
        let params = message.params();
        tracing::debug!(method = name, id = %id, "editor request");
        match name {
            method::INITIALIZE => self.handle_initialize(&id, params),
            method::AUTHENTICATE => self.respond(&id, &json!({})),
            method::SESSION_NEW => self.handle_new_session(&id, params),
            method::SESSION_PROMPT => self.handle_prompt(&id, params),
            method::SESSION_SET_MODE => self.handle_set_mode(&id, params),
            method::SESSION_SET_CONFIG_OPTION => self.handle_set_config_option(&id, params),
            method::SESSION_CLOSE => self.handle_close_session(&id, params),
            name if name.starts_with("_ourocodus/") => self.handle_extension(&id, name, params),
            other => self.respond_error(&id, &RpcError::method_not_found(other)),
        }
    }

    fn handle_editor_notification(&mut self, message: &Message) {
        let Some(name) = message.method() else {
            return;
        };
        match name {
            method::SESSION_CANCEL => self.handle_cancel(message.params()),
            method::CANCEL_REQUEST => self.handle_editor_cancel_request(message.params()),
            other => tracing::debug!(method = other, "editor notification ignored"),
        }
    }

    /// Answers at once: what the proxy can honour whatever its children turn out to be.
    fn handle_initialize(&mut self, id: &RequestId, params: Option<&str>) {
        let params: Value = match acp::parse_params(params) {
            Ok(p) => p,
            Err(e) => return self.respond_error(id, &RpcError::invalid_params(e)),
        };
        let caps = params
            .get("clientCapabilities")
            .cloned()
            .unwrap_or(Value::Null);
        self.editor.caps = EditorCapabilities::from_client_capabilities(&caps);
        tracing::info!(caps = ?self.editor.caps, "editor initialized");
        let roles: Vec<&str> = self.agents.keys().map(|r| r.as_str()).collect();
        self.respond(
            id,
            &json!({
                "protocolVersion": acp::PROTOCOL_VERSION,
                "agentCapabilities": {
                    "loadSession": false,
                    "promptCapabilities": { "image": true, "audio": false, "embeddedContext": true },
                    "mcpCapabilities": { "http": true, "sse": true },
                    "sessionCapabilities": { "close": {}, "additionalDirectories": {} },
                },
                "authMethods": [],
                "agentInfo": { "name": crate::NAME, "title": "Ourocodus", "version": crate::VERSION },
                "_meta": { "ourocodus": { "roles": roles, "route": self.team.route } },
            }),
        );
    }

    fn handle_new_session(&mut self, id: &RequestId, params: Option<&str>) {
        let params: acp::NewSessionParams = match acp::parse_params(params) {
            Ok(p) => p,
            Err(e) => return self.respond_error(id, &RpcError::invalid_params(e)),
        };
        if !std::path::Path::new(&params.cwd).is_absolute() {
            let e = RpcError::invalid_params(format!(
                "cwd must be an absolute path, got {:?}",
                params.cwd
            ));
            return self.respond_error(id, &e);
        }
        let session_id = SessionId::new(format!("ouro-{}", uuid::Uuid::new_v4().simple()));
        let roles = self.role_names();
        let session = Session::new(session_id.clone(), params, &roles);
        self.sessions.insert(session_id.clone(), session);
        tracing::info!(session = %session_id, "session created");
        let result = json!({
            "sessionId": session_id.as_str(),
            "modes": self.session_modes(&session_id),
            "configOptions": self.config_options(&session_id),
        });
        self.respond(id, &result);
        self.announce_commands(&session_id);
        for role in roles {
            self.open_role_in_session(&session_id, &role);
        }
    }

    fn handle_close_session(&mut self, id: &RequestId, params: Option<&str>) {
        let session_id = match self.session_param(params) {
            Ok(s) => s,
            Err(e) => return self.respond_error(id, &e),
        };
        self.cancel_session_turns(&session_id);
        self.close_child_sessions(&session_id);
        self.sessions.remove(&session_id);
        self.respond(id, &json!({}));
    }

    /// The editor's answer to a request the proxy sent it.
    fn handle_editor_response(&mut self, message: &Message) {
        let Some(our_id) = message.id().and_then(RequestId::as_number) else {
            tracing::warn!("editor answered a request the proxy never sent");
            return;
        };
        let Some(ToEditor::Relayed(relayed)) = self.editor.pending.remove(&our_id) else {
            tracing::warn!(
                id = our_id,
                "editor answered an unknown or finished request"
            );
            return;
        };
        if relayed.answered {
            return;
        }
        let line = match message.outcome() {
            Some(Ok(result)) => jsonrpc::response_raw(&relayed.agent_request, result),
            Some(Err(error)) => {
                let error: RpcError = serde_json::from_str(error).unwrap_or_else(|_| {
                    RpcError::internal("the editor answered with a malformed error")
                });
                jsonrpc::error_response(&relayed.agent_request, &error)
            }
            None => return,
        };
        self.send_to_agent_key(&relayed.key, line);
    }

    /// `$/cancel_request` from the editor: for a prompt, cancel its turn.
    fn handle_editor_cancel_request(&mut self, params: Option<&str>) {
        let Ok(params) = acp::parse_params::<acp::CancelRequestParams>(params) else {
            return;
        };
        let turn = self
            .turns
            .iter()
            .find(|(_, t)| t.editor_request == params.request_id)
            .map(|(id, _)| *id);
        if let Some(turn) = turn {
            self.cancel_turn(turn);
        }
    }

    /// Reads `sessionId` from params and checks the session exists.
    pub(super) fn session_param(&self, params: Option<&str>) -> Result<SessionId, RpcError> {
        let params: acp::SessionRef =
            acp::parse_params(params).map_err(RpcError::invalid_params)?;
        let id = SessionId::new(params.session_id.as_ref());
        if self.sessions.contains_key(&id) {
            Ok(id)
        } else {
            Err(unknown_session(&id))
        }
    }
}

pub(super) fn unknown_session(id: &SessionId) -> RpcError {
    RpcError::new(
        jsonrpc::codes::RESOURCE_NOT_FOUND,
        format!("unknown session {id}"),
    )
}

impl Session {
    pub(super) fn new(
        id: SessionId,
        params: acp::NewSessionParams,
        roles: &[crate::ids::Role],
    ) -> Self {
        Session {
            id,
            cwd: params.cwd.into(),
            editor_mcp_servers: params.mcp_servers,
            additional_directories: params.additional_directories.unwrap_or_default(),
            route: None,
            roles: roles
                .iter()
                .map(|r| (r.clone(), Default::default()))
                .collect(),
            floor: Default::default(),
            floor_timer_armed: false,
            plans: Default::default(),
            file_owners: Default::default(),
            turn_seq: 0,
        }
    }
}
