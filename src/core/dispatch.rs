//! The dispatcher: hands a role its next ready task, as a turn whose origin is the
//! task, when the role is free in the session (no turn, nothing queued, no task of its
//! in flight). The prompt carries the task's context in a first `[ourocodus]` block and
//! its description as the second. Knows the graph and turns; nothing of MCP.

use serde_json::{Value, json};

use super::Core;
use super::api::Origin;
use super::output::{RoleOutcome, Severity, StopReason};
use super::prompt::Addressed;
use super::quote::{DESCRIPTION_CHARS, TITLE_CHARS, agent_lines, agent_text};
use super::state::{AgentState, ChildSession};
use super::tasks::{TaskGraph, TaskId, TaskStatus};
use crate::ids::{Role, SessionId};

impl Core {
    /// Starts the next task of every free role of the session. Never re-entered: a
    /// dispatch that a hand-out causes (a turn failing at once) runs after this one,
    /// so a chain of such failures is a loop, not a deeper and deeper stack.
    pub(super) fn dispatch_tasks(&mut self, session_id: &SessionId) {
        if !self.dispatch_due.contains(session_id) {
            self.dispatch_due.push(session_id.clone());
        }
        if self.dispatching {
            return;
        }
        self.dispatching = true;
        while let Some(session) = self.dispatch_due.pop() {
            for role in self.session_roles(&session) {
                if let Some(task) = self.next_task_for(&session, &role) {
                    self.start_task(&session, &role, task);
                }
            }
        }
        self.dispatching = false;
    }

    fn next_task_for(&self, session_id: &SessionId, role: &Role) -> Option<TaskId> {
        if self.stopping || !self.may_take_tasks(role) || self.merging.contains(role) {
            return None;
        }
        let session = self.sessions.get(session_id)?;
        let part = session.roles.get(role)?;
        let unavailable = matches!(part.child, ChildSession::Failed(_));
        let busy = unavailable
            || !part.turns.is_empty()
            || !part.queued.is_empty()
            || session
                .tasks
                .tasks()
                .any(|t| t.spec.role == role.as_str() && t.status == TaskStatus::InFlight);
        if busy {
            return None;
        }
        session
            .tasks
            .next_for(role.as_str(), super::task_flow::now_ms())
    }

    fn start_task(&mut self, session_id: &SessionId, role: &Role, task: TaskId) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        if session.tasks.dispatch(task).is_err() {
            return;
        }
        tracing::info!(session = %session_id, role = %role, task = %task, "task handed to its role");
        let blocks = task_blocks(&session.tasks, task);
        self.publish_task_changes(session_id);
        self.start_task_turn(session_id, role, task, blocks);
    }

    /// A turn for a task in flight (its first prompt, or a rejection's feedback); its
    /// deadline starts when the prompt reaches the role.
    pub(super) fn start_task_turn(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        task: TaskId,
        blocks: Vec<Value>,
    ) {
        let addressed = Addressed {
            roles: vec![role.clone()],
            blocks,
            unknown: Vec::new(),
        };
        self.start_turn(
            Origin::Task(task),
            session_id,
            &addressed,
            &addressed.blocks,
            None,
        );
    }

    /// A task whose turn was cancelled (by a user; a timeout gives it back first)
    /// waits, blocked, for its creator to make it ready again.
    fn hold_cancelled_task(&mut self, session_id: &SessionId, task: TaskId) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        let in_flight = session
            .tasks
            .get(task)
            .is_some_and(|t| t.status == TaskStatus::InFlight);
        if in_flight && session.tasks.hold(task, "cancelled by the user").is_ok() {
            tracing::info!(session = %session_id, task = %task, "task cancelled; held");
            let title = format!("Task {task} is on hold: its turn was cancelled");
            let how = format!("/retry {task} hands it out again (its creator may too).");
            self.notify(session_id, None, Severity::Info, &title, Some(&how));
        }
        self.after_task_changes(session_id);
    }

    /// A role whose agent was stopped by hand, or gave up, takes no task until it
    /// is restarted (its tasks wait, ready).
    pub(super) fn may_take_tasks(&self, role: &Role) -> bool {
        self.agents
            .get(role)
            .is_some_and(|slot| !matches!(slot.state, AgentState::Stopped | AgentState::Failed(_)))
    }

    /// `/tasks` as text for the chat.
    pub(super) fn describe_tasks(&self, session_id: &SessionId) -> String {
        let Some(session) = self.sessions.get(session_id) else {
            return String::new();
        };
        let tasks: Vec<String> = session
            .tasks
            .tasks()
            .map(|t| {
                let waits: Vec<String> = t.spec.depends_on.iter().map(TaskId::to_string).collect();
                let mut line = format!(
                    "- **{}** {} · {} · {} · {}",
                    t.id,
                    t.spec.role,
                    t.status,
                    t.spec.priority.as_str(),
                    agent_text(&t.spec.title, 80)
                );
                if !waits.is_empty() {
                    line.push_str(&format!(" · after {}", waits.join(", ")));
                }
                line
            })
            .collect();
        if tasks.is_empty() {
            return "No tasks yet: a role with `can_delegate` makes them with the `delegate` tool.\n".into();
        }
        format!("Tasks ({}):\n{}\n", tasks.len(), tasks.join("\n"))
    }

    /// A task's turn ended: if its agent failed it (crashed, errored) it goes back for
    /// another attempt; a task its role just did not complete stays in flight, said.
    pub(super) fn task_turn_ended(
        &mut self,
        session_id: &SessionId,
        task: TaskId,
        outcome: Option<RoleOutcome>,
    ) {
        // Another turn for it (a rejection's) waits behind this one: that one counts.
        let again = self
            .turns
            .values()
            .any(|t| t.session == *session_id && matches!(t.origin, Origin::Task(t) if t == task));
        if again {
            return self.dispatch_tasks(session_id);
        }
        match outcome {
            Some(RoleOutcome::Failed(error)) => {
                return self.retry_task(session_id, task, &error.message);
            }
            Some(RoleOutcome::Cancelled | RoleOutcome::Done(StopReason::Cancelled)) => {
                return self.hold_cancelled_task(session_id, task);
            }
            _ => {}
        }
        let still = self
            .sessions
            .get(session_id)
            .and_then(|s| s.tasks.get(task))
            .filter(|t| t.status == TaskStatus::InFlight)
            .map(|t| (t.spec.role.clone(), t.spec.title.clone()));
        if let Some((role, task_title)) = still {
            let role = Role::new(&role);
            let title = format!("{role} ended its turn without completing task {task}");
            let why = format!(
                "“{}” stays in flight until {role} calls complete_task or update_task.",
                agent_text(&task_title, 80)
            );
            self.notify(
                session_id,
                Some(&role),
                super::output::Severity::Warning,
                &title,
                Some(&why),
            );
        }
        self.dispatch_tasks(session_id);
    }
}

/// The context (what, why, what came before, how to finish) and the description.
/// What roles wrote (titles, criteria, summaries, artifacts) is quoted like any agent
/// text inside the proxy's own block, so one role cannot write instructions in the
/// proxy's voice into another's prompt.
fn task_blocks(graph: &TaskGraph, id: TaskId) -> Vec<Value> {
    let Some(task) = graph.get(id) else {
        return Vec::new();
    };
    let quoted = |text: &str| agent_text(text, TITLE_CHARS);
    let mut context = format!(
        "[ourocodus] Task {id} from {} (priority {}): {}\n",
        task.created_by,
        task.spec.priority.as_str(),
        quoted(&task.spec.title)
    );
    if !task.spec.acceptance_criteria.is_empty() {
        context.push_str("\nAcceptance criteria:\n");
        for criterion in &task.spec.acceptance_criteria {
            context.push_str(&format!(
                "- {}\n",
                agent_lines(criterion, DESCRIPTION_CHARS)
            ));
        }
    }
    let before: Vec<String> = task
        .spec
        .depends_on
        .iter()
        .filter_map(|d| graph.get(*d))
        .map(|d| {
            format!(
                "- {} ({}): {} {}",
                d.id,
                d.spec.role,
                agent_lines(
                    d.summary.as_deref().unwrap_or("(no summary)"),
                    DESCRIPTION_CHARS
                ),
                if d.artifacts.is_empty() {
                    String::new()
                } else {
                    let artifacts: Vec<String> =
                        d.artifacts.iter().map(|a| quoted(&a.to_string())).collect();
                    format!("[{}]", artifacts.join(", "))
                }
            )
        })
        .collect();
    if !before.is_empty() {
        context.push_str("\nDone before it:\n");
        context.push_str(&before.join("\n"));
        context.push('\n');
    }
    context.push_str(&format!(
        "\nWhen it is done, call the ourocodus tool complete_task with id \"{id}\", a \
         summary and its artifacts; if you cannot do it, call update_task with status \
         \"blocked\" or \"failed\" and a note."
    ));
    let description = if task.spec.description.is_empty() {
        task.spec.title.clone()
    } else {
        task.spec.description.clone()
    };
    vec![
        json!({ "type": "text", "text": context }),
        json!({ "type": "text", "text": description }),
    ]
}
