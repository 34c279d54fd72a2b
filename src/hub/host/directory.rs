//! The read-mostly directory of what the hub hosts: each session's AHP summary and
//! each role's status. Only the host task writes it; connection tasks read it to
//! answer `listSessions` and `_ourocodus/agents`-style questions without a hop
//! through the host. Knows nothing of how it is filled.

use std::sync::Arc;

use ahp_types::state::SessionSummary;
use dashmap::DashMap;

use crate::core::AgentSummary;

#[derive(Clone, Default)]
pub struct Directory {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By session URI.
    sessions: DashMap<String, SessionSummary>,
    agents: DashMap<String, AgentSummary>,
}

impl Directory {
    pub fn set_session(&self, summary: SessionSummary) {
        self.inner
            .sessions
            .insert(summary.resource.clone(), summary);
    }

    pub fn remove_session(&self, uri: &str) {
        self.inner.sessions.remove(uri);
    }

    pub fn set_agent(&self, agent: AgentSummary) {
        self.inner.agents.insert(agent.role.to_string(), agent);
    }

    /// The sessions, most recently modified first.
    pub fn sessions(&self) -> Vec<SessionSummary> {
        let mut all: Vec<SessionSummary> = self
            .inner
            .sessions
            .iter()
            .map(|e| e.value().clone())
            .collect();
        all.sort_by(|a, b| {
            b.modified_at
                .cmp(&a.modified_at)
                .then(a.resource.cmp(&b.resource))
        });
        all
    }

    pub fn session_count(&self) -> usize {
        self.inner.sessions.len()
    }

    /// The roles' last known statuses, by role name.
    pub fn agents(&self) -> Vec<AgentSummary> {
        let mut all: Vec<AgentSummary> = self
            .inner
            .agents
            .iter()
            .map(|e| e.value().clone())
            .collect();
        all.sort_by(|a, b| a.role.cmp(&b.role));
        all
    }
}
