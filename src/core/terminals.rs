//! Terminals agents ask clients for: only the ACP method names, spelled exactly; a
//! role denied `execute` runs none; a new terminal starts inside the role's
//! directories (in its worktree, for a role that has one); and a terminal belongs to
//! the role that created it, so no other role reads, waits on, kills or releases it.
//! Relaying itself is `relays`'.

use serde_json::{Value, json};

use super::Core;
use super::output::RelayKind;
use super::state::Relay;
use crate::acp::method;
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::RequestId;
use crate::policy::{self, ToolDecision};
use crate::transport::AgentKey;

/// The terminal methods of ACP v1; any other name (another case too) is unknown.
const TERMINAL_METHODS: &[&str] = &[
    method::TERMINAL_CREATE,
    method::TERMINAL_OUTPUT,
    method::TERMINAL_WAIT_FOR_EXIT,
    method::TERMINAL_KILL,
    method::TERMINAL_RELEASE,
];

/// Whether `name` is one of the terminal methods, exactly.
pub(super) fn is_terminal_method(name: &str) -> bool {
    TERMINAL_METHODS.contains(&name)
}

impl Core {
    pub(super) fn on_terminal(
        &mut self,
        key: &AgentKey,
        id: &RequestId,
        name: &str,
        mut params: Value,
    ) -> Result<(), RpcError> {
        let session = self.session_of_request(&key.role, &params)?;
        if !self.client_can(&session, RelayKind::Terminal) {
            return Err(RpcError::method_not_found(name));
        }
        if name == method::TERMINAL_CREATE {
            self.check_terminal_create(&key.role, &session, &mut params)?;
        } else {
            self.check_terminal_owner(&key.role, &session, &params)?;
        }
        let request = super::output::RelayRequest {
            kind: RelayKind::Terminal,
            method: name.to_string(),
            params,
        };
        self.relay(key, id, &session, request);
        Ok(())
    }

    /// A role may run commands unless `execute` is denied, and only in a `cwd` inside
    /// its directories (written back resolved, so the client starts where was checked).
    fn check_terminal_create(
        &self,
        role: &Role,
        session: &SessionId,
        params: &mut Value,
    ) -> Result<(), RpcError> {
        let spec = &self
            .agents
            .get(role)
            .ok_or_else(|| RpcError::internal("role gone"))?
            .spec;
        let decision = policy::decide_tool(
            &spec.tools_allow,
            &spec.tools_deny,
            Some("execute"),
            Some("Bash"),
        );
        if let ToolDecision::Deny { pattern } = decision {
            let why = format!("{role} may not run commands (tools_deny entry `{pattern}`)");
            return Err(RpcError::policy_denied(why));
        }
        // A worktree role's terminal starts in its worktree even when it names no cwd
        // (the client would start it in the session's directory).
        let in_worktree = spec.worktree.enabled;
        if spec.directories.is_empty() && !in_worktree {
            return Ok(());
        }
        let asked = match params.get("cwd") {
            None | Some(Value::Null) => None,
            Some(Value::String(cwd)) => Some(cwd.clone()),
            Some(_) => return Err(RpcError::invalid_params("`cwd` is not a string")),
        };
        let cwd = self.role_cwd(session, role)?;
        let asked_or_here = asked.as_deref().unwrap_or(".");
        if spec.directories.is_empty() {
            params["cwd"] = json!(policy::resolve(&cwd.join(asked_or_here)));
            return Ok(());
        }
        let check = policy::check_write(asked_or_here, &cwd, &spec.directories);
        if let Some(refusal) = check.refusal {
            return Err(RpcError::policy_denied(format!("terminal cwd: {refusal}")));
        }
        if asked.is_some() || in_worktree {
            params["cwd"] = json!(check.resolved);
        }
        Ok(())
    }

    /// Only the role that created a terminal may use it.
    fn check_terminal_owner(
        &self,
        role: &Role,
        session: &SessionId,
        params: &Value,
    ) -> Result<(), RpcError> {
        let terminal = params
            .get("terminalId")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("missing or non-string field `terminalId`"))?;
        let owner = self
            .sessions
            .get(session)
            .and_then(|s| s.terminals.get(terminal));
        if owner != Some(role) {
            return Err(RpcError::invalid_params(format!(
                "{role} has no terminal {terminal}"
            )));
        }
        Ok(())
    }

    /// A client answered a terminal request: a created terminal belongs to the role
    /// that asked (noted before the agent learns its id); a released one is gone.
    pub(super) fn note_terminal_answer(
        &mut self,
        relay: &Relay,
        outcome: &Result<String, RpcError>,
    ) {
        let Ok(result) = outcome else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&relay.session) else {
            return;
        };
        match relay.request.method.as_str() {
            method::TERMINAL_CREATE => {
                let created: Option<String> = serde_json::from_str::<Value>(result)
                    .ok()
                    .and_then(|v| v.get("terminalId")?.as_str().map(str::to_string));
                if let Some(terminal) = created {
                    session.terminals.insert(terminal, relay.key.role.clone());
                }
            }
            method::TERMINAL_RELEASE => {
                if let Some(terminal) = relay
                    .request
                    .params
                    .get("terminalId")
                    .and_then(Value::as_str)
                {
                    session.terminals.remove(terminal);
                }
            }
            _ => {}
        }
    }
}
