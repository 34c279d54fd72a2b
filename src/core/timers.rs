//! Deadlines the core keeps: agent start-up, child sessions, cancel grace, the
//! silence watchdog, connections' ticks, shutdown. Each fires once into the loop as
//! an event.

use std::fmt;
use std::time::Duration;

use super::Core;
use super::api::ConnectionId;
use super::output::RoleOutcome;
use super::state::{AgentState, ChildSession, TurnId};
use crate::ids::SessionId;
use crate::transport::AgentKey;

/// How long a role's agent may keep a cancelled turn open before it counts as cancelled.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// An agent took too long for a step of its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{step} timed out after {}", human(*.after))]
pub struct Timeout {
    pub step: Step,
    pub after: Duration,
}

/// The steps of an agent's start that have a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Initialize,
    SessionNew,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Initialize => "initialize",
            Step::SessionNew => "session/new",
        })
    }
}

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
    /// A connection asked to be ticked (e.g. a speaker's patience ran out).
    ConnectionTick(ConnectionId),
    /// Time for the store to commit what it was handed since its last commit.
    StoreCommit,
    /// A task's run (its `runs` count when it started) may be past its role's
    /// `task_timeout`.
    TaskTimeout {
        session: SessionId,
        task: super::tasks::TaskId,
        run: u32,
    },
    /// A task given back may be handed out again.
    TaskRetry(SessionId),
}

impl Core {
    pub(super) fn handle_timer(&mut self, timer: Timer) {
        match timer {
            Timer::ShutdownDeadline => self.on_shutdown_deadline(),
            Timer::InitializeTimeout(key) => self.on_initialize_timeout(key),
            Timer::SessionNewTimeout { key, session } => self.on_session_new_timeout(key, session),
            Timer::CancelGrace(turn, role) => self.on_cancel_grace(turn, role),
            Timer::ConnectionTick(id) => self.on_connection_tick(id),
            Timer::StoreCommit => self.on_store_commit_due(),
            Timer::Restart(key) => self.on_restart_due(key),
            Timer::Silence(key) => self.on_silence_check(key),
            Timer::TaskTimeout { session, task, run } => self.on_task_timeout(session, task, run),
            Timer::TaskRetry(session) => self.dispatch_tasks(&session),
        }
    }

    fn on_shutdown_deadline(&mut self) {
        tracing::warn!("agents did not end in time; stopping anyway");
        for slot in self.agents.values_mut() {
            slot.link = None;
        }
        self.shutdown_overdue = true;
    }

    fn on_initialize_timeout(&mut self, key: AgentKey) {
        let Some(slot) = self.agents.get(&key.role) else {
            return;
        };
        if slot.generation != key.generation || slot.state != AgentState::Starting {
            return;
        }
        let timeout = Timeout {
            step: Step::Initialize,
            after: slot.spec.timeouts.initialize,
        };
        self.fail_agent_start(&key.role, timeout.to_string());
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
            let timeout = Timeout {
                step: Step::SessionNew,
                after: limit,
            };
            self.fail_child_session(&session, &key.role, timeout.to_string());
        }
    }

    fn on_cancel_grace(&mut self, turn: TurnId, role: crate::ids::Role) {
        let working = self
            .turns
            .get(&turn)
            .and_then(|t| t.roles.get(&role))
            .is_some_and(|outcome| *outcome == RoleOutcome::Working);
        if working {
            tracing::warn!(role = %role, "agent did not answer a cancelled prompt in time");
            self.settle_role(turn, &role, RoleOutcome::Cancelled);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_say_which_step_and_how_long() {
        let t = Timeout {
            step: Step::SessionNew,
            after: Duration::from_secs(60),
        };
        assert_eq!(t.to_string(), "session/new timed out after 1m");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }
}
