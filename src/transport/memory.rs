//! Agents in memory: each agent the core starts is handed to a test as a pair of
//! queues — what the core sent it, and what it says back — with no process or pipe.
//! Knows nothing of ACP.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    AGENT_OUTBOX_CAPACITY, AgentControl, AgentEnvelope, AgentEvent, AgentKey, AgentLink,
    ExitReport, LaunchSpec, Transport,
};
use crate::error::Error;
use crate::jsonrpc::Message;

/// Starts agents in memory; the test receives each one from `started`.
#[derive(Debug, Clone)]
pub struct MemoryTransport {
    started: mpsc::UnboundedSender<MemoryAgent>,
}

impl MemoryTransport {
    pub fn new() -> (MemoryTransport, mpsc::UnboundedReceiver<MemoryAgent>) {
        let (started, receiver) = mpsc::unbounded_channel();
        (MemoryTransport { started }, receiver)
    }
}

/// One agent the core started, driven by a test.
#[derive(Debug)]
pub struct MemoryAgent {
    pub key: AgentKey,
    pub spec: LaunchSpec,
    lines: mpsc::Receiver<Vec<u8>>,
    events: mpsc::Sender<AgentEnvelope>,
    stop: CancellationToken,
}

impl MemoryAgent {
    /// The next message the core sent this agent; `None` once the core let go of it.
    pub async fn recv(&mut self) -> Option<Value> {
        let line = self.lines.recv().await?;
        serde_json::from_slice(&line).ok()
    }

    /// Says something as the agent, as if it wrote this line.
    pub async fn send(&self, message: &Value) -> bool {
        self.voice().send(message).await
    }

    /// A handle to speak as this agent from elsewhere (another task).
    pub fn voice(&self) -> AgentVoice {
        AgentVoice {
            key: self.key.clone(),
            events: self.events.clone(),
        }
    }

    /// Fires when the core asks this agent to end.
    pub fn stopped(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// The agent ends (as a process exits): reported once, after all it said.
    pub async fn end(self, status: &str) {
        let report = ExitReport {
            status: status.to_string(),
            ..Default::default()
        };
        let envelope = AgentEnvelope {
            key: self.key,
            event: AgentEvent::Ended(report),
        };
        let _ = self.events.send(envelope).await;
    }
}

/// Speaks as one in-memory agent.
#[derive(Debug, Clone)]
pub struct AgentVoice {
    key: AgentKey,
    events: mpsc::Sender<AgentEnvelope>,
}

impl AgentVoice {
    /// Says something as the agent, as if it wrote this line.
    pub async fn send(&self, message: &Value) -> bool {
        let Ok(parsed) = Message::parse(message.to_string()) else {
            return false;
        };
        let envelope = AgentEnvelope {
            key: self.key.clone(),
            event: AgentEvent::Messages(vec![parsed]),
        };
        self.events.send(envelope).await.is_ok()
    }
}

#[derive(Debug)]
struct MemoryControl {
    stop: CancellationToken,
}

impl AgentControl for MemoryControl {
    fn shutdown(&self) {
        self.stop.cancel();
    }

    fn pid(&self) -> Option<u32> {
        None
    }
}

impl Transport for MemoryTransport {
    fn start(
        &self,
        spec: &LaunchSpec,
        key: AgentKey,
        events: mpsc::Sender<AgentEnvelope>,
    ) -> Result<AgentLink, Error> {
        let (outbox, lines) = mpsc::channel(AGENT_OUTBOX_CAPACITY);
        let stop = CancellationToken::new();
        let agent = MemoryAgent {
            key,
            spec: spec.clone(),
            lines,
            events,
            stop: stop.clone(),
        };
        self.started
            .send(agent)
            .map_err(|_| Error::Other("nobody takes in-memory agents any more".into()))?;
        Ok(AgentLink::new(outbox, Arc::new(MemoryControl { stop })))
    }
}
