//! What follows a change to a session's task graph: each touched task recorded, a
//! notice per status change, the graph shown as the session's plan, a user asked to
//! approve what went to review, a failed task's creator told, and free roles handed
//! their next task. Knows the graph and the core's outputs; nothing of MCP or faces.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::Core;
use super::api::Origin;
use super::output::{SessionState, Severity, TeamEvent};
use super::prompt::Addressed;
use super::quote::{DESCRIPTION_CHARS, TITLE_CHARS, agent_lines, agent_text};
use super::tasks::{Task, TaskGraph, TaskId, TaskStatus, Transition};
use crate::ids::{Role, SessionId};

/// The longest a loaded task waits for the rest of its backoff (its clock may have
/// moved since it was recorded).
const RETRY_WAIT_CAP_MS: u64 = 60_000;
/// Notices one change of the graph makes before the rest are summed up in one.
const MOVE_NOTICES: usize = 8;

impl Core {
    /// Everything that follows the graph's latest changes, then dispatch.
    pub(super) fn after_task_changes(&mut self, session_id: &SessionId) {
        self.publish_task_changes(session_id);
        self.dispatch_tasks(session_id);
    }

    /// Records, tells and shows the graph's latest changes (and asks for approval);
    /// returns the moves.
    pub(super) fn publish_task_changes(&mut self, session_id: &SessionId) -> Vec<Transition> {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return Vec::new();
        };
        session.tasks.stamp_touched(now_ms());
        let changes = session.tasks.take_changes();
        if changes.is_empty() {
            return Vec::new();
        }
        let touched: Vec<Task> = changes
            .touched
            .iter()
            .filter_map(|id| session.tasks.get(*id).cloned())
            .collect();
        for task in &touched {
            self.emit(session_id, &TeamEvent::Task(task));
        }
        for transition in changes.transitions.iter().take(MOVE_NOTICES) {
            self.tell_transition(session_id, transition);
        }
        if let Some(more) = changes.transitions.len().checked_sub(MOVE_NOTICES + 1) {
            let title = format!("…and {} more task moves", more + 1);
            let what = "The plan shows where every task stands; /tasks lists them.";
            self.notify(session_id, None, Severity::Info, &title, Some(what));
        }
        self.show_task_plan(session_id);
        for transition in &changes.transitions {
            if transition.from == Some(TaskStatus::Review) {
                self.withdraw_gate(session_id, transition.id);
            }
            if transition.to == TaskStatus::Review {
                self.ask_approval(session_id, transition.id);
            }
        }
        changes.transitions
    }

    /// A loaded session's graph goes on: what was in flight is ready again, what
    /// waits for approval is asked again, and free roles take their next task.
    pub(super) fn resume_task_graph(&mut self, session_id: &SessionId) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        session.tasks.recover();
        let now = now_ms();
        // Tasks given back before the proxy stopped wait out what is left of their backoff.
        let waits: Vec<u64> = session
            .tasks
            .tasks()
            .filter(|t| t.status == TaskStatus::Ready && t.retry_at_ms > now)
            .map(|t| (t.retry_at_ms - now).min(RETRY_WAIT_CAP_MS))
            .collect();
        for wait in waits {
            let timer = super::timers::Timer::TaskRetry(session_id.clone());
            self.timers
                .insert(timer, std::time::Duration::from_millis(wait));
        }
        let Some(session) = self.sessions.get(session_id) else {
            return;
        };
        let in_review: Vec<TaskId> = session
            .tasks
            .tasks()
            .filter(|t| t.status == TaskStatus::Review)
            .map(|t| t.id)
            .collect();
        for id in in_review {
            self.ask_approval(session_id, id);
        }
        self.after_task_changes(session_id);
    }

    /// One notice per move: `t2 backend: ready → in_flight`.
    fn tell_transition(&mut self, session_id: &SessionId, transition: &Transition) {
        let Some(task) = self
            .sessions
            .get(session_id)
            .and_then(|s| s.tasks.get(transition.id))
        else {
            return;
        };
        let role = Role::new(&task.spec.role);
        tracing::info!(session = %session_id, task = %task.id, to = %transition.to, "task moved");
        let moved = match transition.from {
            None => format!("new, {}", transition.to),
            Some(from) => format!("{from} → {}", transition.to),
        };
        let title = format!("Task {} ({role}): {moved}", task.id);
        let what = agent_text(&task.spec.title, TITLE_CHARS);
        let severity = match transition.to {
            TaskStatus::Failed | TaskStatus::Blocked => Severity::Warning,
            _ => Severity::Info,
        };
        self.notify(session_id, Some(&role), severity, &title, Some(&what));
    }

    /// The graph as the session's plan, to every attached client.
    pub(super) fn show_task_plan(&mut self, session_id: &SessionId) {
        let Some(session) = self.sessions.get(session_id) else {
            return;
        };
        if session.tasks.is_empty() {
            return;
        }
        let plan = plan_entries(&session.tasks);
        self.show_state(session_id, SessionState::Tasks(&plan));
    }

    /// `_ourocodus/tasks`: the graph's tasks and the plan it shows as.
    pub(super) fn tasks_reply(
        &self,
        session_id: &SessionId,
    ) -> Result<super::output::Reply, crate::error::RpcError> {
        self.known_session(session_id)?;
        let graph = self.sessions.get(session_id).map(|s| &s.tasks);
        let tasks: Vec<Value> = graph
            .into_iter()
            .flat_map(TaskGraph::tasks)
            .map(super::task_tools::task_json)
            .collect();
        let plan = graph.map(plan_entries).unwrap_or_default();
        Ok(super::output::Reply::Json(
            json!({ "tasks": tasks, "plan": plan }),
        ))
    }

    /// A failed task's creator hears it (a prompt), so it can re-plan; not when it
    /// failed the task itself.
    pub(super) fn report_failure(&mut self, session_id: &SessionId, id: TaskId) {
        let Some(session) = self.sessions.get(session_id) else {
            return;
        };
        let Some(task) = session.tasks.get(id) else {
            return;
        };
        let creator = Role::new(&task.created_by);
        let Some(waiting) = session
            .roles
            .get(&creator)
            .map(|rs| rs.turns.len() + rs.queued.len())
        else {
            return;
        };
        if task.status != TaskStatus::Failed {
            return;
        }
        if waiting >= super::task_tools::MAX_WAITING_MESSAGES {
            return tracing::warn!(session = %session_id, task = %id, "failure not reported: its creator has too many prompts waiting");
        }
        let blocked: Vec<String> = session
            .tasks
            .tasks()
            .filter(|t| t.status == TaskStatus::Blocked && t.spec.depends_on.contains(&id))
            .map(|t| t.id.to_string())
            .collect();
        let mut text = format!(
            "[ourocodus] Task {id} ({}: {}) failed after {} attempt(s).",
            task.spec.role,
            agent_text(&task.spec.title, TITLE_CHARS),
            task.attempts
        );
        if let Some(note) = task.notes.last() {
            text.push_str(&format!(
                "\nLast note: {}",
                agent_lines(note, DESCRIPTION_CHARS)
            ));
        }
        if !blocked.is_empty() {
            text.push_str(&format!("\nBlocked by it: {}.", blocked.join(", ")));
        }
        text.push_str(
            "\nRe-plan with the ourocodus tools: update_task with status \"ready\" to try \
             it again, or delegate the work differently.",
        );
        let blocks = vec![json!({ "type": "text", "text": text })];
        self.prompt_role(session_id, &creator, None, blocks);
    }

    /// A prompt of the team's own to one role (queued behind its turns).
    pub(super) fn prompt_role(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        from: Option<Role>,
        blocks: Vec<Value>,
    ) {
        let addressed = Addressed {
            roles: vec![role.clone()],
            blocks,
            unknown: Vec::new(),
        };
        self.start_turn(
            Origin::Team { from },
            session_id,
            &addressed,
            &addressed.blocks,
            None,
        );
    }
}

/// The plan's entries: `role: title`, the priority ACP knows, the status mapped, and
/// the task's own id and status in `_meta` for clients that show more.
pub fn plan_entries(graph: &TaskGraph) -> Value {
    let entries: Vec<Value> = graph
        .tasks()
        .map(|t| {
            json!({
                "content": format!("{}: {}", t.spec.role, agent_text(&t.spec.title, TITLE_CHARS)),
                "priority": t.spec.priority.plan_priority(),
                "status": t.status.plan_status(),
                "_meta": { "ourocodus": {
                    "task": t.id.to_string(),
                    "role": t.spec.role,
                    "status": t.status.as_str(),
                } },
            })
        })
        .collect();
    Value::Array(entries)
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
