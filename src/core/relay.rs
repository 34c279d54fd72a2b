//! Requests from agents: permission requests, file access, terminals (`terminals`),
//! elicitation.
//! Policy is applied here, before anything reaches a client or the disk; what
//! passes is relayed to clients (`relays`), or served from disk when none can.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::files;
use super::output::{RelayKind, RelayRequest, TeamEvent};
use super::state::ToAgent;
use super::{Core, LocalEvent};
use crate::acp::method;
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::{self, Message, RequestId};
use crate::policy;
use crate::transport::AgentKey;

impl Core {
    pub(super) fn handle_agent_request(&mut self, key: &AgentKey, message: &Message) {
        let (Some(id), Some(name)) = (message.id().cloned(), message.method()) else {
            return;
        };
        tracing::debug!(role = %key.role, method = name, id = %id, "agent request");
        let params: Value = match message.params().map(jsonrpc::from_str_strict).transpose() {
            Ok(params) => params.unwrap_or(Value::Null),
            Err(e) => {
                return self.answer_agent(key, &id, Err(RpcError::invalid_params(e.to_string())));
            }
        };
        if let Err(error) = self.admit_open_request(&key.role, &params) {
            return self.answer_agent(key, &id, Err(error));
        }
        let handled = match name {
            method::REQUEST_PERMISSION => self.on_permission_request(key, &id, params),
            method::FS_WRITE => self.on_file_write(key, &id, params),
            method::FS_READ => self.on_file_read(key, &id, params),
            method::ELICITATION_CREATE => self.on_elicitation(key, &id, params),
            name if super::terminals::is_terminal_method(name) => {
                self.on_terminal(key, &id, name, params)
            }
            other => Err(RpcError::method_not_found(other)),
        };
        if let Err(error) = handled {
            self.answer_agent(key, &id, Err(error));
        }
    }

    /// The editor session an agent's request belongs to, from its `sessionId`.
    pub(super) fn session_of_request(
        &self,
        role: &Role,
        params: &Value,
    ) -> Result<SessionId, RpcError> {
        let child = params
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("missing field `sessionId`"))?;
        self.agents
            .get(role)
            .and_then(|slot| slot.sessions.get(child))
            .cloned()
            .ok_or_else(|| RpcError::invalid_params(format!("unknown session {child}")))
    }

    fn on_file_write(
        &mut self,
        key: &AgentKey,
        id: &RequestId,
        params: Value,
    ) -> Result<(), RpcError> {
        let role = &key.role;
        let session = self.session_of_request(role, &params)?;
        let path = path_field(&params)?;
        let content = string_field(&params, "content")?;
        let cwd = self.role_cwd(&session, role)?;
        let directories = self
            .agents
            .get(role)
            .map(|s| s.spec.directories.clone())
            .unwrap_or_default();
        let check = policy::check_write(&path, &cwd, &directories);
        let resolved = check.resolved.to_string_lossy().to_string();
        let event = TeamEvent::FileWrite {
            role,
            path: &path,
            resolved: &resolved,
            allowed: check.refusal.is_none(),
            reason: check.refusal.as_deref(),
        };
        self.emit(&session, &event);
        if let Some(refusal) = check.refusal {
            tracing::warn!(role = %role, path = %path, "file write refused by policy");
            let data = json!({ "ourocodus": { "role": role.as_str(), "path": path, "resolved": resolved, "directories": directories } });
            return Err(RpcError::policy_denied(refusal).with_data(data));
        }
        self.note_file_touched(&session, role, &resolved);
        if self.client_can(&session, RelayKind::WriteFile) {
            let mut params = params;
            params["path"] = json!(resolved);
            self.relay(
                key,
                id,
                &session,
                relay_request(RelayKind::WriteFile, method::FS_WRITE, params),
            );
            return Ok(());
        }
        let target = checked(check)?;
        self.serve_file_off_loop(key, id, move |_| files::write_file(&target, &content))
    }

    fn on_file_read(
        &mut self,
        key: &AgentKey,
        id: &RequestId,
        params: Value,
    ) -> Result<(), RpcError> {
        let role = &key.role;
        let session = self.session_of_request(role, &params)?;
        let path = path_field(&params)?;
        let cwd = self.role_cwd(&session, role)?;
        // The same roots hold whether the editor or the proxy reads the file.
        let check = policy::check_read(&path, &cwd, &self.readable_roots(&session, role));
        if let Some(refusal) = check.refusal {
            return Err(RpcError::policy_denied(refusal));
        }
        if self.client_can(&session, RelayKind::ReadFile) {
            let mut params = params;
            params["path"] = json!(utf8(check.resolved)?);
            self.relay(
                key,
                id,
                &session,
                relay_request(RelayKind::ReadFile, method::FS_READ, params),
            );
            return Ok(());
        }
        let line = params.get("line").and_then(Value::as_u64);
        let limit = params.get("limit").and_then(Value::as_u64);
        let target = checked(check)?;
        self.serve_file_off_loop(key, id, move |max| {
            files::read_file(&target, line, limit, max)
        })
    }

    /// Where the proxy itself may read for a role: where it works (relative roots
    /// count from there), the session's directories, and the role's.
    fn readable_roots(&self, session: &SessionId, role: &Role) -> Vec<PathBuf> {
        let mut roots = vec![PathBuf::from(".")];
        if let Some(s) = self.sessions.get(session) {
            if self.uses_worktree(role) {
                roots.push(s.cwd.clone());
            }
            roots.extend(s.additional_directories.iter().map(PathBuf::from));
        }
        if let Some(slot) = self.agents.get(role) {
            roots.extend(slot.spec.directories.iter().cloned());
        }
        roots
    }

    pub(super) fn session_cwd(&self, session: &SessionId) -> Result<PathBuf, RpcError> {
        self.sessions
            .get(session)
            .map(|s| s.cwd.clone())
            .ok_or_else(|| RpcError::invalid_params(format!("unknown session {session}")))
    }

    /// Runs blocking file work on the blocking pool, a few requests per role at a
    /// time (`work` gets the largest read to return); the answer comes back as an event.
    fn serve_file_off_loop(
        &mut self,
        key: &AgentKey,
        id: &RequestId,
        work: impl FnOnce(usize) -> Result<String, RpcError> + Send + 'static,
    ) -> Result<(), RpcError> {
        self.files.start(&key.role)?;
        let max_read_bytes = self.files.max_read_bytes;
        let events = self.local_tx.clone();
        let (key, request) = (key.clone(), id.clone());
        tokio::task::spawn_blocking(move || {
            let result = work(max_read_bytes);
            let _ = events.send(LocalEvent::FileDone {
                key,
                request,
                result,
            });
        });
        Ok(())
    }

    fn on_elicitation(
        &mut self,
        key: &AgentKey,
        id: &RequestId,
        mut params: Value,
    ) -> Result<(), RpcError> {
        let session = match params.get("requestId").cloned() {
            Some(request) => self.rescope_request(key, &mut params, &request)?,
            None => self.session_of_request(&key.role, &params)?,
        };
        if !self.client_can(&session, RelayKind::Elicitation) {
            return Err(RpcError::method_not_found(method::ELICITATION_CREATE));
        }
        if let Some(tid) = params.get("toolCallId").and_then(Value::as_str) {
            let team_id = self.team_tool_call_id(&session, &key.role, tid);
            params["toolCallId"] = json!(team_id);
        }
        let request = relay_request(RelayKind::Elicitation, method::ELICITATION_CREATE, params);
        self.relay(key, id, &session, request);
        Ok(())
    }

    /// A request-scoped elicitation names one of the proxy's requests to the agent;
    /// the client that sent the prompt behind it knows it by its own request id (so
    /// only that client can answer it).
    fn rescope_request(
        &self,
        key: &AgentKey,
        params: &mut Value,
        request: &Value,
    ) -> Result<SessionId, RpcError> {
        let ours = request
            .as_i64()
            .ok_or_else(|| RpcError::invalid_params("unknown requestId"))?;
        let slot = self
            .agents
            .get(&key.role)
            .ok_or_else(|| RpcError::internal("role gone"))?;
        let Some(ToAgent::Prompt { turn, session }) = slot.pending.get(&ours) else {
            return Err(RpcError::invalid_params(
                "requestId names no prompt in progress",
            ));
        };
        let turn = self
            .turns
            .get(turn)
            .ok_or_else(|| RpcError::invalid_params("the prompt is over"))?;
        let super::api::Origin::Connection {
            connection,
            request,
        } = &turn.origin
        else {
            return Err(RpcError::internal(
                "this prompt came from a task, not from a client",
            ));
        };
        if !self.connections.contains(*connection) {
            return Err(RpcError::internal(
                "the client that sent this prompt is gone",
            ));
        }
        params["requestId"] = serde_json::to_value(request).unwrap_or(Value::Null);
        Ok(session.clone())
    }
}

fn relay_request(kind: RelayKind, method: &str, params: Value) -> RelayRequest {
    RelayRequest {
        kind,
        method: method.to_string(),
        params,
    }
}

fn string_field(params: &Value, field: &str) -> Result<String, RpcError> {
    params
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| RpcError::invalid_params(format!("missing or non-string field `{field}`")))
}

/// The `path` of a file request, refused (invalid params) when no path could be it.
fn path_field(params: &Value) -> Result<String, RpcError> {
    let path = string_field(params, "path")?;
    match policy::refuse_path_text(&path) {
        Some(why) => Err(RpcError::invalid_params(why)),
        None => Ok(path),
    }
}

/// A resolved path as text for a client; a symlink's target may be any bytes.
fn utf8(path: PathBuf) -> Result<String, RpcError> {
    path.into_os_string().into_string().map_err(|path| {
        RpcError::invalid_params(format!(
            "{} resolves to a name that is not UTF-8",
            PathBuf::from(path).display()
        ))
    })
}

/// An allowed check's root and resolved path, for the proxy's own file work.
fn checked(check: policy::WriteCheck) -> Result<files::Checked, RpcError> {
    let root = check
        .root
        .ok_or_else(|| RpcError::internal("an allowed path without its directory"))?;
    Ok(files::Checked {
        root,
        resolved: check.resolved,
    })
}
