//! Deadlines the router keeps: agent start-up, child sessions, cancel grace, the
//! speaker floor, shutdown. Each fires once into the loop as an event.

use std::time::Duration;

use super::Router;
use super::state::{AgentState, ChildSession, TurnId};
use crate::ids::SessionId;
use crate::transport::AgentKey;

/// How long a role's agent may keep a cancelled turn open before it counts as cancelled.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);
/// How long a role may hold the floor mid-line while others wait to speak.
pub const FLOOR_PATIENCE: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone)]
pub enum Timer {
    ShutdownDeadline,
    InitializeTimeout(AgentKey),
    SessionNewTimeout {
        key: AgentKey,
        session: SessionId,
    },
    CancelGrace(TurnId, crate::ids::Role),
    /// A restarting agent's backoff is over.
    Restart(AgentKey),
    /// Time to check whether a working agent has gone silent.
    Silence(AgentKey),
    FloorBreak(SessionId),
}

impl Router {
    pub(super) fn handle_timer(&mut self, timer: Timer) {
        match timer {
            Timer::ShutdownDeadline => self.on_shutdown_deadline(),
            Timer::InitializeTimeout(key) => self.on_initialize_timeout(key),
            Timer::SessionNewTimeout { key, session } => self.on_session_new_timeout(key, session),
            Timer::CancelGrace(turn, role) => self.on_cancel_grace(turn, role),
            Timer::FloorBreak(session) => self.on_floor_break(session),
            Timer::Restart(key) => self.on_restart_due(key),
            Timer::Silence(key) => self.on_silence_check(key),
        }
    }

    fn on_shutdown_deadline(&mut self) {
        tracing::warn!("agents did not end in time; stopping anyway");
        for slot in self.agents.values_mut() {
            slot.link = None;
        }
    }

    fn on_initialize_timeout(&mut self, key: AgentKey) {
        let Some(slot) = self.agents.get(&key.role) else {
            return;
        };
        if slot.generation != key.generation || slot.state != AgentState::Starting {
            return;
        }
        let limit = slot.spec.timeouts.initialize;
        self.fail_agent_start(
            &key.role,
            format!("initialize timed out after {}", human(limit)),
        );
    }

    fn on_session_new_timeout(&mut self, key: AgentKey, session: SessionId) {
        let limit = match self.agents.get(&key.role) {
            Some(slot) if slot.generation == key.generation => slot.spec.timeouts.session_new,
            _ => return,
        };
        let pending = self
            .sessions
            .get(&session)
            .and_then(|s| s.roles.get(&key.role))
            .is_some_and(|rs| rs.child == ChildSession::Opening);
        if pending {
            let why = format!("session/new timed out after {}", human(limit));
            self.fail_child_session(&session, &key.role, why);
        }
    }

    fn on_cancel_grace(&mut self, turn: TurnId, role: crate::ids::Role) {
        let working = self
            .turns
            .get(&turn)
            .and_then(|t| t.roles.get(&role))
            .is_some_and(|outcome| *outcome == super::state::RoleOutcome::Working);
        if working {
            tracing::warn!(role = %role, "agent did not answer a cancelled prompt in time");
            self.settle_role(turn, &role, super::state::RoleOutcome::Cancelled);
        }
    }

    fn on_floor_break(&mut self, session_id: SessionId) {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return;
        };
        session.floor_timer_armed = false;
        let outputs = session.floor.force_break();
        self.send_floor_outputs(&session_id, outputs);
    }
}

/// `1500ms` → "1.5s", `120s` → "2m".
pub fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 60.0 && d.as_secs().is_multiple_of(60) {
        format!("{}m", d.as_secs() / 60)
    } else if secs >= 1.0 {
        format!("{}s", (secs * 10.0).round() / 10.0)
    } else {
        format!("{}ms", d.as_millis())
    }
}
