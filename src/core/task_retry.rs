//! Tasks whose agent failed them: a deadline per handed-out task (the role's
//! `task_timeout`), and a failed attempt given back for another after an
//! exponential backoff, up to the role's `task_retries`, then failed for good. Knows
//! the graph, turns and timers; nothing of why an agent crashed.

use std::time::Duration;

use super::Core;
use super::api::Origin;
use super::output::Severity;
use super::quote::{TITLE_CHARS, agent_text};
use super::task_flow::now_ms;
use super::tasks::{TaskId, TaskStatus};
use super::timers::Timer;
use crate::config::DEFAULT_TASK_RETRIES;
use crate::ids::{Role, SessionId};

/// The wait before a task's second attempt; doubled for each after it.
const RETRY_BASE: Duration = Duration::from_millis(500);
/// The longest wait between attempts.
const RETRY_CAP: Duration = Duration::from_secs(60);
/// The longest deadline a timer takes (a year); a longer `task_timeout` is this.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

impl Core {
    /// Starts the deadline of a task just handed out (or handed back by a rejection).
    pub(super) fn arm_task_timeout(&mut self, session: &SessionId, role: &Role, task: TaskId) {
        let Some(timeout) = self.agents.get(role).map(|s| s.spec.tasks.timeout) else {
            return;
        };
        let run = self
            .sessions
            .get(session)
            .and_then(|s| s.tasks.get(task))
            .map_or(0, |t| t.runs);
        let timer = Timer::TaskTimeout {
            session: session.clone(),
            task,
            run,
        };
        self.timers.insert(timer, timeout.min(LONGEST_TIMEOUT));
    }

    /// A task's deadline passed: if that same run is still in flight, its turn is
    /// cancelled and the task goes back (or fails).
    pub(super) fn on_task_timeout(&mut self, session: SessionId, task: TaskId, run: u32) {
        let in_flight = self
            .sessions
            .get(&session)
            .and_then(|s| s.tasks.get(task))
            .is_some_and(|t| t.status == TaskStatus::InFlight && t.runs == run);
        if !in_flight {
            return;
        }
        let timeout = self
            .task_role(&session, task)
            .and_then(|r| self.agents.get(&r))
            .map(|s| s.spec.tasks.timeout)
            .unwrap_or_default();
        let why = format!("timed out after {}", super::timers::human(timeout));
        self.retry_task(&session, task, &why);
        let turns: Vec<_> = self
            .turns
            .iter()
            .filter(|(_, t)| {
                t.session == session && matches!(t.origin, Origin::Task(t) if t == task)
            })
            .map(|(id, _)| *id)
            .collect();
        for turn in turns {
            self.cancel_turn(turn);
        }
    }

    /// An attempt failed (`why`): the task goes back after a backoff while attempts
    /// remain, else it fails (its dependents are blocked, its creator is told).
    pub(super) fn retry_task(&mut self, session_id: &SessionId, task: TaskId, why: &str) {
        let retries = self
            .task_role(session_id, task)
            .and_then(|r| self.agents.get(&r))
            .map_or(DEFAULT_TASK_RETRIES, |s| s.spec.tasks.retries);
        let attempts = self.task_attempts(session_id, task);
        let delay = backoff(attempts);
        let retry_at = now_ms().saturating_add(u64::try_from(delay.as_millis()).unwrap_or(0));
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        let in_flight = session
            .tasks
            .get(task)
            .is_some_and(|t| t.status == TaskStatus::InFlight);
        if !in_flight {
            return self.dispatch_tasks(session_id);
        }
        match session.tasks.give_back(task, retries, why, retry_at) {
            Ok(true) => {
                tracing::info!(session = %session_id, task = %task, why, delay_ms = delay.as_millis() as u64, "task given back for another attempt");
                let why = agent_text(why, TITLE_CHARS);
                let title = format!("Task {task}: attempt {attempts} failed ({why})");
                let next = format!(
                    "It is tried again in {} (at most {} more).",
                    super::timers::human(delay),
                    (retries + 1).saturating_sub(attempts)
                );
                self.notify(session_id, None, Severity::Warning, &title, Some(&next));
                self.timers
                    .insert(Timer::TaskRetry(session_id.clone()), delay);
            }
            Ok(false) => {
                tracing::warn!(session = %session_id, task = %task, why, "task failed after its retries");
                self.publish_task_changes(session_id);
                self.report_failure(session_id, task);
            }
            Err(e) => tracing::warn!(task = %task, error = %e, "task could not be given back"),
        }
        self.after_task_changes(session_id);
    }

    fn task_attempts(&self, session: &SessionId, task: TaskId) -> u32 {
        self.sessions
            .get(session)
            .and_then(|s| s.tasks.get(task))
            .map_or(0, |t| t.attempts)
    }

    fn task_role(&self, session: &SessionId, task: TaskId) -> Option<Role> {
        let task = self.sessions.get(session)?.tasks.get(task)?;
        Some(Role::new(&task.spec.role))
    }
}

/// The wait after `attempts` failed attempts: 0.5 s, 1 s, 2 s, ... up to a minute.
fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    RETRY_BASE.saturating_mul(1 << doublings).min(RETRY_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_between_attempts_doubles_up_to_a_minute() {
        let waits: Vec<u128> = [1, 2, 3, 4, 40].map(|a| backoff(a).as_millis()).to_vec();
        assert_eq!(waits, vec![500, 1000, 2000, 4000, 60_000]);
    }
}
