//! Talking to agents: requests remembered by what they are for, notifications, and
//! answers to an agent's own requests. Never waits: a full queue is an error.

use super::Core;
use super::state::ToAgent;
use crate::error::RpcError;
use crate::ids::Role;
use crate::jsonrpc::{self, RequestId};
use crate::transport::{AgentKey, SendError};

impl Core {
    /// Sends a request to `role`'s agent and remembers what it is for.
    pub(super) fn request_agent(
        &mut self,
        role: &Role,
        name: &str,
        params: &str,
        purpose: ToAgent,
    ) -> Result<(), RpcError> {
        let slot = self
            .agents
            .get_mut(role)
            .ok_or_else(|| RpcError::internal(format!("no role named {role}")))?;
        let id = slot.next_request_id();
        let line = jsonrpc::request(&RequestId::number(id), name, Some(params));
        let link = slot
            .link
            .as_ref()
            .ok_or_else(|| RpcError::internal(format!("{role} is not running")))?;
        link.send(line).map_err(|e| send_error(role, e))?;
        slot.pending.insert(id, purpose);
        Ok(())
    }

    /// A notification to `role`'s agent (best effort).
    pub(super) fn notify_agent(&mut self, role: &Role, name: &str, params: &str) {
        let line = jsonrpc::notification(name, Some(params));
        if let Some(link) = self.agents.get(role).and_then(|s| s.link.as_ref())
            && let Err(e) = link.send(line)
        {
            tracing::warn!(role = %role, method = name, error = %send_error(role, e).message, "notification not delivered");
        }
    }

    /// Sends a line to the agent of `key`, if that incarnation is still the live one.
    pub(super) fn send_to_agent_key(&self, key: &AgentKey, line: Vec<u8>) {
        let Some(slot) = self
            .agents
            .get(&key.role)
            .filter(|s| s.generation == key.generation)
        else {
            tracing::debug!(agent = %key, "answer for an agent that is gone; dropped");
            return;
        };
        if let Some(link) = &slot.link
            && let Err(e) = link.send(line)
        {
            tracing::warn!(agent = %key, error = %send_error(&key.role, e).message, "answer not delivered");
        }
    }

    /// Answers an agent's request.
    pub(super) fn answer_agent(
        &self,
        key: &AgentKey,
        request: &RequestId,
        result: Result<String, RpcError>,
    ) {
        let line = match result {
            Ok(result) => jsonrpc::response_raw(request, &result),
            Err(error) => jsonrpc::error_response(request, &error),
        };
        self.send_to_agent_key(key, line);
    }
}

fn send_error(role: &Role, e: SendError) -> RpcError {
    match e {
        SendError::Full => RpcError::internal(format!("{role} is not reading its input")),
        SendError::Closed => RpcError::internal(format!("{role} has stopped")),
    }
}
