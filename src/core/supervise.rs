//! When an agent ends: everything it owed is answered, the user is told what
//! happened, and it is started again with exponential backoff (or stays stopped or
//! failed). Also the silence watchdog and `_ourocodus/agent_status` announcements.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Core;
use super::output::{AgentChange, AgentStatus, RoleOutcome, Severity};
use super::state::{AgentState, ChildSession, ExitPlan, ToAgent};
use super::timers::{Timer, human};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::transport::{AgentKey, ExitReport};

/// An agent that ran this long before ending is not in a crash loop: its failure
/// count starts again.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// Stderr lines shown in the notice about an agent's end.
const STDERR_LINES_SHOWN: usize = 5;

impl Core {
    /// The agent of `key` is gone: what it owed is answered, its sessions wait for it.
    pub(super) fn handle_agent_ended(&mut self, key: &AgentKey, report: ExitReport) {
        let role = &key.role;
        let Some(slot) = self.agents.get_mut(role) else {
            return;
        };
        slot.link = None;
        slot.replaying = 0;
        let pending = std::mem::take(&mut slot.pending);
        let children = std::mem::take(&mut slot.sessions);
        let start_failure = slot.start_failure.take();
        if self.stopping {
            return;
        }
        let reason = match start_failure {
            Some(why) => format!("{why} ({})", report.status),
            None => report.status.clone(),
        };
        self.record_agent_change(
            role,
            AgentChange::Ended {
                status: &report.status,
            },
        );
        for session_id in children.values() {
            if let Some(rs) = self.role_session_mut(session_id, role) {
                if let ChildSession::Ready(child) | ChildSession::Restoring(child) = &rs.child {
                    rs.previous_child = Some(child.clone());
                }
                rs.child = ChildSession::Pending;
                rs.tool_calls.clear();
                rs.persona_sent = false;
            }
        }
        // A `session/new` the ended process never answered is asked again of the next
        // one: left `Opening`, the session's prompts for the role would wait for good.
        for session in self.sessions.values_mut() {
            if let Some(rs) = session.roles.get_mut(role)
                && matches!(rs.child, ChildSession::Opening)
            {
                rs.child = ChildSession::Pending;
            }
        }
        // The user learns what happened (and what comes next) before the errors.
        let owed = format!("{role} stopped: {reason}");
        self.agent_gone(role, reason, report.stderr_tail);
        self.settle_agent_requests(role, pending, &owed);
        // Its requests, and the questions it asked through its tools, have no asker now.
        self.withdraw_relays(|r| r.key == *key && r.asks_for_role());
    }

    /// Decides what comes after an agent's end: stop (by hand), start again now (by
    /// hand), restart after a backoff, or give up after too many failures in a row.
    pub(super) fn agent_gone(&mut self, role: &Role, reason: String, stderr_tail: Vec<String>) {
        let Some(slot) = self.agents.get_mut(role) else {
            return;
        };
        slot.link = None;
        match slot.on_exit.take() {
            Some(ExitPlan::Stay) => {
                slot.state = AgentState::Stopped;
                let why = format!("{role} was stopped; `/restart {role}` starts it again");
                self.record_agent_change(role, AgentChange::Stopped);
                self.fail_waiting_work(role, &why);
                self.notify_every_session(role, Severity::Info, &format!("{role} stopped"), None);
                return;
            }
            Some(ExitPlan::StartAgain) => {
                slot.restarts += 1;
                slot.failures_in_a_row = 0;
                return self.start_agent(role);
            }
            None => {}
        }
        let ran_long = slot.started_at.is_some_and(|t| t.elapsed() >= STABLE_AFTER);
        if ran_long {
            slot.failures_in_a_row = 0;
        }
        slot.failures_in_a_row += 1;
        let attempt = slot.failures_in_a_row;
        let policy = slot.spec.restart;
        let mut description = stderr_description(&stderr_tail);
        if attempt > policy.attempts {
            let why = format!(
                "{role} failed: {reason} ({} restarts did not help)",
                policy.attempts
            );
            slot.state = AgentState::Failed(why.clone());
            self.record_agent_change(role, AgentChange::Failed { reason: &why });
            self.fail_waiting_work(role, &why);
            description.insert_str(0, &format!("`/restart {role}` tries again.\n"));
            self.notify_every_session(role, Severity::Error, &why, Some(&description));
            return;
        }
        let delay = backoff(policy.backoff, attempt);
        slot.state = AgentState::Restarting { attempt };
        self.timers.insert(Timer::Restart(slot.key()), delay);
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.record_agent_change(role, AgentChange::Restarting { attempt, delay_ms });
        let title = format!(
            "{role} stopped ({reason}); restarting in {} (attempt {attempt} of {})",
            human(delay),
            policy.attempts
        );
        self.notify_every_session(role, Severity::Error, &title, Some(&description));
    }

    /// The agent's program could not even be started (not found, not executable):
    /// trying again would not help, so the role fails at once.
    pub(super) fn agent_cannot_start(&mut self, role: &Role, why: String) {
        let Some(slot) = self.agents.get_mut(role) else {
            return;
        };
        slot.state = AgentState::Failed(why.clone());
        slot.on_exit = None;
        self.record_agent_change(role, AgentChange::Failed { reason: &why });
        self.fail_waiting_work(role, &why);
        let title = format!("{role} is unavailable");
        let hint = format!("{why}\nFix the role's command, then `/restart {role}`.");
        self.notify_every_session(role, Severity::Error, &title, Some(&hint));
    }

    /// The backoff is over: start the role's agent again.
    pub(super) fn on_restart_due(&mut self, key: AgentKey) {
        let due = self.agents.get_mut(&key.role).filter(|slot| {
            slot.generation == key.generation && matches!(slot.state, AgentState::Restarting { .. })
        });
        if let Some(slot) = due {
            slot.restarts += 1;
            self.start_agent(&key.role);
        }
    }

    /// A stopped or failed role: prompts waiting for it fail, its sessions say why.
    fn fail_waiting_work(&mut self, role: &Role, why: &str) {
        let sessions: Vec<SessionId> = self.sessions.keys().cloned().collect();
        for session in sessions {
            if let Some(rs) = self.role_session_mut(&session, role) {
                rs.child = ChildSession::Failed(why.to_string());
            }
            let queued = self
                .role_session_mut(&session, role)
                .map(|rs| std::mem::take(&mut rs.queued))
                .unwrap_or_default();
            let error = RpcError::internal(why.to_string());
            for prompt in queued {
                self.settle_role(prompt.turn, role, RoleOutcome::Failed(error.clone()));
            }
        }
    }

    /// Answers what the proxy was waiting for from an agent that is gone.
    fn settle_agent_requests(&mut self, role: &Role, pending: HashMap<i64, ToAgent>, reason: &str) {
        let error = RpcError::internal(reason.to_string());
        for purpose in pending.into_values() {
            match purpose {
                ToAgent::Prompt { turn, .. } => {
                    self.settle_role(turn, role, RoleOutcome::Failed(error.clone()))
                }
                ToAgent::SetMode {
                    reply_to: Some(reply),
                    ..
                }
                | ToAgent::SetConfigOption {
                    reply_to: Some(reply),
                    ..
                } => self.reply(&reply.origin, Err(error.clone())),
                _ => {}
            }
        }
    }

    /// Schedules a silence check for a role that just got a prompt.
    pub(super) fn arm_watchdog(&mut self, role: &Role) {
        let Some(slot) = self.agents.get_mut(role).filter(|s| !s.watchdog_armed) else {
            return;
        };
        slot.watchdog_armed = true;
        self.timers
            .insert(Timer::Silence(slot.key()), slot.spec.timeouts.silence);
    }

    /// A role working on a prompt that has said nothing for its `silence` timeout
    /// gets a notice (again after each further silence period).
    pub(super) fn on_silence_check(&mut self, key: AgentKey) {
        let Some(slot) = self
            .agents
            .get_mut(&key.role)
            .filter(|s| s.generation == key.generation)
        else {
            return;
        };
        slot.watchdog_armed = false;
        let (silence, quiet_for) = (slot.spec.timeouts.silence, slot.last_activity.elapsed());
        let working = self.sessions_where_working(&key.role);
        if working.is_empty() {
            return;
        }
        let waiting_on_user = self.waiting_on_user(&key.role);
        if quiet_for >= silence && !waiting_on_user {
            let title = format!("{} has been silent for {}", key.role, human(quiet_for));
            let hint = format!("Cancel the prompt, or `/restart {}`.", key.role);
            for session in working {
                self.notify(
                    &session,
                    Some(&key.role),
                    Severity::Warning,
                    &title,
                    Some(&hint),
                );
            }
        }
        let next = if quiet_for >= silence || waiting_on_user {
            silence
        } else {
            silence - quiet_for
        };
        if let Some(slot) = self.agents.get_mut(&key.role) {
            slot.watchdog_armed = true;
            self.timers.insert(Timer::Silence(key), next);
        }
    }

    /// The editor sessions in which `role` is working on a prompt.
    pub(super) fn sessions_where_working(&self, role: &Role) -> Vec<SessionId> {
        self.sessions
            .values()
            .filter(|s| s.roles.get(role).is_some_and(|rs| !rs.turns.is_empty()))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Whether `role` is working on a prompt in any session (no allocation: this runs
    /// after every event, for every role).
    fn is_working(&self, role: &Role) -> bool {
        self.sessions
            .values()
            .any(|s| s.roles.get(role).is_some_and(|rs| !rs.turns.is_empty()))
    }

    /// A role's status as shown by `/agents` and announced to plugins.
    pub(super) fn agent_status(&self, role: &Role) -> AgentStatus {
        match self.agents.get(role).map(|s| &s.state) {
            None | Some(AgentState::Idle) => AgentStatus::NotStarted,
            Some(AgentState::Starting) => AgentStatus::Starting,
            Some(AgentState::Restarting { .. }) => AgentStatus::Restarting,
            Some(AgentState::Stopped) => AgentStatus::Stopped,
            Some(AgentState::Failed(_)) => AgentStatus::Failed,
            Some(AgentState::Ready) if self.waiting_on_user(role) => AgentStatus::WaitingOnYou,
            Some(AgentState::Ready) if self.is_working(role) => AgentStatus::Working,
            Some(AgentState::Ready) => AgentStatus::Idle,
        }
    }

    /// Announces the status of every role whose status changed. Runs after every
    /// event, so it allocates only when a status changed.
    pub(super) fn announce_status_changes(&mut self) {
        for index in 0..self.agents.len() {
            let Some((role, slot)) = self.agents.get_index(index) else {
                continue;
            };
            let status = self.agent_status(role);
            if slot.reported_status == Some(status) {
                continue;
            }
            let role = role.clone();
            if let Some(slot) = self.agents.get_index_mut(index).map(|(_, s)| s) {
                slot.reported_status = Some(status);
            }
            let summary = self.agent_summary(&role);
            self.broadcast_status(&summary);
        }
    }

    /// Notes that the agent of `key` wrote something (for the silence watchdog).
    pub(super) fn note_activity(&mut self, key: &AgentKey) {
        if let Some(slot) = self.agents.get_mut(&key.role) {
            slot.last_activity = Instant::now();
        }
    }
}

/// `base`, doubled for each attempt after the first.
fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(
        1u32.checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX),
    )
}

fn stderr_description(tail: &[String]) -> String {
    if tail.is_empty() {
        return String::new();
    }
    let mut text = String::from("Last stderr lines:");
    for line in tail.iter().rev().take(STDERR_LINES_SHOWN).rev() {
        text.push_str("\n    ");
        text.push_str(line);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_attempt() {
        let base = Duration::from_millis(500);
        assert_eq!(backoff(base, 1), base);
        assert_eq!(backoff(base, 2), base * 2);
        assert_eq!(backoff(base, 3), base * 4);
        assert!(backoff(base, 40) >= Duration::from_secs(60));
    }
}
