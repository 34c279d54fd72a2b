//! The task graph of one session: tasks a role delegated to another, their lifecycle,
//! which are ready, and which a free role takes next. Pure state and rules: it knows
//! roles by name only, and nothing of agents, prompts, MCP or the store (the core
//! turns its changes into turns, plans and records).

mod artifact;
mod status;
mod task;

use std::collections::BTreeMap;

pub use artifact::{Artifact, ArtifactKind};
pub use status::{Priority, TaskStatus};
pub use task::{Changes, NewTask, Task, TaskError, TaskId, Transition};

/// The tasks of one session, in the order they were made.
#[derive(Debug, Clone, Default)]
pub struct TaskGraph {
    tasks: BTreeMap<TaskId, Task>,
    next: u64,
    changes: Changes,
}

impl TaskGraph {
    /// What changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// Sets the clock's reading on the tasks touched since the last `take_changes`.
    pub fn stamp_touched(&mut self, now_ms: u64) {
        for id in &self.changes.touched {
            if let Some(task) = self.tasks.get_mut(id) {
                if task.created_at_ms == 0 {
                    task.created_at_ms = now_ms;
                }
                task.updated_at_ms = now_ms;
            }
        }
    }

    /// A task as a loaded session's history last recorded it (a later snapshot of the
    /// same id replaces an earlier one). Not a change.
    pub fn restore(&mut self, task: Task) {
        self.next = self.next.max(task.id.0);
        self.tasks.insert(task.id, task);
    }

    /// After a restore: what was in flight when the proxy stopped is ready again (its
    /// turn is gone), and the waiting tasks follow their dependencies.
    pub fn recover(&mut self) {
        let in_flight: Vec<TaskId> = self
            .tasks
            .values()
            .filter(|t| t.status == TaskStatus::InFlight)
            .map(|t| t.id)
            .collect();
        for id in in_flight {
            self.set(id, TaskStatus::Ready);
        }
        self.settle();
    }

    pub fn get(&self, id: TaskId) -> Option<&Task> {
        self.tasks.get(&id)
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values()
    }

    /// Adds a task `created_by` a role; it starts `ready` when every dependency is
    /// done, `blocked` when one failed, `inbox` otherwise.
    pub fn delegate(&mut self, created_by: &str, spec: NewTask) -> Result<TaskId, TaskError> {
        let mut spec = spec;
        spec.depends_on.sort();
        spec.depends_on.dedup();
        let id = TaskId(self.next + 1);
        if let Some(missing) = spec.depends_on.iter().find(|d| !self.tasks.contains_key(d)) {
            return Err(TaskError::UnknownDependency {
                task: id.to_string(),
                missing: *missing,
            });
        }
        self.next += 1;
        let status = self.waiting_status(&spec.depends_on);
        let task = Task {
            id,
            spec,
            status,
            created_by: created_by.to_string(),
            attempts: 0,
            runs: 0,
            summary: None,
            artifacts: Vec::new(),
            notes: Vec::new(),
            held: false,
            retry_at_ms: 0,
            created_at_ms: 0,
            updated_at_ms: 0,
        };
        self.tasks.insert(id, task);
        self.changes.transitions.push(Transition {
            id,
            from: None,
            to: status,
        });
        self.changes.touched.insert(id);
        Ok(id)
    }

    /// Its creator changes what a task that has not started waits for.
    pub fn replan(
        &mut self,
        id: TaskId,
        caller: &str,
        depends_on: Vec<TaskId>,
    ) -> Result<(), TaskError> {
        let task = self.task(id)?;
        if task.created_by != caller {
            return Err(self.not_yours(id, caller));
        }
        if !task.status.is_waiting() {
            return Err(TaskError::Started {
                task: id,
                status: task.status,
            });
        }
        self.set_dependencies(id, depends_on)
    }

    /// Replaces what `id` waits for (a re-plan); refused if it would make a cycle.
    pub fn set_dependencies(
        &mut self,
        id: TaskId,
        depends_on: Vec<TaskId>,
    ) -> Result<(), TaskError> {
        self.task(id)?;
        if let Some(missing) = depends_on.iter().find(|d| !self.tasks.contains_key(d)) {
            return Err(TaskError::UnknownDependency {
                task: id.to_string(),
                missing: *missing,
            });
        }
        if let Some(path) = self.path_to(&depends_on, id) {
            let names: Vec<String> = path.iter().map(TaskId::to_string).collect();
            return Err(TaskError::Cycle(format!("{id} -> {}", names.join(" -> "))));
        }
        let mut depends_on = depends_on;
        depends_on.sort();
        depends_on.dedup();
        self.task_mut(id)?.spec.depends_on = depends_on;
        self.settle();
        Ok(())
    }

    /// The ready task `role` should take next (at `now_ms`, past any backoff): the
    /// highest priority, then the oldest.
    pub fn next_for(&self, role: &str, now_ms: u64) -> Option<TaskId> {
        self.tasks
            .values()
            .filter(|t| t.status == TaskStatus::Ready && t.spec.role == role)
            .filter(|t| t.retry_at_ms <= now_ms)
            .max_by(|a, b| a.spec.priority.cmp(&b.spec.priority).then(b.id.cmp(&a.id)))
            .map(|t| t.id)
    }

    /// The task is handed to its role.
    pub fn dispatch(&mut self, id: TaskId) -> Result<(), TaskError> {
        self.move_to(id, TaskStatus::InFlight)?;
        let task = self.task_mut(id)?;
        task.attempts += 1;
        task.runs += 1;
        Ok(())
    }

    /// Its role says it is finished: `review` when it needs approval, else `done`.
    pub fn complete(
        &mut self,
        id: TaskId,
        caller: &str,
        summary: String,
        artifacts: Vec<Artifact>,
    ) -> Result<TaskStatus, TaskError> {
        self.check_owner(id, caller)?;
        let to = if self.task(id)?.spec.requires_approval {
            TaskStatus::Review
        } else {
            TaskStatus::Done
        };
        self.move_to(id, to)?;
        let task = self.task_mut(id)?;
        task.summary = Some(summary);
        task.artifacts = artifacts;
        self.settle();
        Ok(to)
    }

    /// The user approved a task in review.
    pub fn approve(&mut self, id: TaskId) -> Result<(), TaskError> {
        self.move_to(id, TaskStatus::Done)?;
        self.settle();
        Ok(())
    }

    /// The user rejected a task in review: back to its role, with the feedback noted.
    pub fn reject(&mut self, id: TaskId, feedback: &str) -> Result<(), TaskError> {
        self.move_to(id, TaskStatus::InFlight)?;
        let task = self.task_mut(id)?;
        task.runs += 1;
        task.note(format!("rejected: {feedback}"));
        Ok(())
    }

    /// A role's own update: a status it may set on its task, and a note.
    pub fn update(
        &mut self,
        id: TaskId,
        caller: &str,
        status: Option<TaskStatus>,
        note: Option<String>,
    ) -> Result<(), TaskError> {
        let task = self.task(id)?;
        if task.spec.role != caller && task.created_by != caller {
            return Err(self.not_yours(id, caller));
        }
        if let Some(to) = status {
            self.set_status(id, caller, to)?;
        }
        if let Some(note) = note {
            self.task_mut(id)?.note(note);
        }
        self.settle();
        Ok(())
    }

    /// What `update` may set: its role may say it is blocked or failed; whoever made
    /// it may also make it ready again (a retry: it then waits for its dependencies
    /// afresh, with its attempts counted anew). Done and review come from completing
    /// it, in flight from the dispatcher.
    fn set_status(&mut self, id: TaskId, caller: &str, to: TaskStatus) -> Result<(), TaskError> {
        let task = self.task(id)?;
        match to {
            // A failed task stays failed until its creator retries it.
            TaskStatus::Blocked if task.status == TaskStatus::Failed => {
                Err(TaskError::Transition {
                    task: id,
                    from: task.status,
                    to,
                })
            }
            TaskStatus::Blocked => {
                self.move_to(id, to)?;
                self.task_mut(id)?.held = true;
                Ok(())
            }
            TaskStatus::Failed => self.move_to(id, to),
            TaskStatus::Ready if task.created_by == caller => self.hand_out_again(id),
            _ => Err(TaskError::NotSettable { task: id, to }),
        }
    }

    /// A task goes back to waiting for its dependencies (ready once they are done),
    /// its attempts counted anew and no longer held.
    fn hand_out_again(&mut self, id: TaskId) -> Result<(), TaskError> {
        let task = self.task(id)?;
        let waiting = self.waiting_status(&task.spec.depends_on);
        if waiting != task.status {
            self.move_to(id, waiting)?;
        }
        let task = self.task_mut(id)?;
        task.attempts = 0;
        task.held = false;
        Ok(())
    }

    /// The user hands a blocked or failed task out again (as its creator could):
    /// it waits for its dependencies afresh, its attempts counted anew.
    pub fn reopen(&mut self, id: TaskId) -> Result<(), TaskError> {
        let task = self.task(id)?;
        if !matches!(task.status, TaskStatus::Blocked | TaskStatus::Failed) {
            return Err(TaskError::Transition {
                task: id,
                from: task.status,
                to: TaskStatus::Ready,
            });
        }
        self.hand_out_again(id)?;
        self.task_mut(id)?.retry_at_ms = 0;
        self.settle();
        Ok(())
    }

    /// Stopped by the user (its turn cancelled): blocked, with `why` noted, until its
    /// creator makes it ready again.
    pub fn hold(&mut self, id: TaskId, why: &str) -> Result<(), TaskError> {
        self.move_to(id, TaskStatus::Blocked)?;
        let task = self.task_mut(id)?;
        task.held = true;
        task.note(why.to_string());
        self.settle();
        Ok(())
    }

    /// Its agent crashed or timed out on it (`why`): ready again from `retry_at_ms`
    /// while attempts remain (`true`), else failed, and so are blocked the tasks
    /// waiting on it.
    pub fn give_back(
        &mut self,
        id: TaskId,
        retries: u32,
        why: &str,
        retry_at_ms: u64,
    ) -> Result<bool, TaskError> {
        let again = self.task(id)?.attempts <= retries;
        let to = if again {
            TaskStatus::Ready
        } else {
            TaskStatus::Failed
        };
        self.move_to(id, to)?;
        let task = self.task_mut(id)?;
        task.note(format!("attempt {} failed: {why}", task.attempts));
        if again {
            task.retry_at_ms = retry_at_ms;
        }
        self.settle();
        Ok(again)
    }

    fn move_to(&mut self, id: TaskId, to: TaskStatus) -> Result<(), TaskError> {
        let from = self.task(id)?.status;
        if !from.may_become(to) {
            return Err(TaskError::Transition { task: id, from, to });
        }
        self.set(id, to);
        Ok(())
    }

    /// Every status change goes through here, so none goes unrecorded.
    fn set(&mut self, id: TaskId, to: TaskStatus) {
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        let from = task.status;
        task.status = to;
        self.changes.touched.insert(id);
        if from != to {
            self.changes.transitions.push(Transition {
                id,
                from: Some(from),
                to,
            });
        }
    }

    /// Waiting tasks follow their dependencies: ready once all are done, blocked
    /// while one failed or is blocked, in the inbox otherwise. A worklist over the
    /// dependents: a task is looked at again only when one of its dependencies
    /// moved, so blocking travels down the graph in time linear in its edges.
    fn settle(&mut self) {
        let mut dependents: BTreeMap<TaskId, Vec<TaskId>> = BTreeMap::new();
        for task in self.tasks.values() {
            for dep in &task.spec.depends_on {
                dependents.entry(*dep).or_default().push(task.id);
            }
        }
        let mut work: Vec<TaskId> = self.tasks.keys().copied().collect();
        while let Some(id) = work.pop() {
            let Some(task) = self.tasks.get(&id) else {
                continue;
            };
            if !task.status.is_waiting() || task.held {
                continue;
            }
            let now = self.waiting_status(&task.spec.depends_on);
            if now != task.status {
                self.set(id, now);
                work.extend(dependents.get(&id).into_iter().flatten().copied());
            }
        }
    }

    fn waiting_status(&self, depends_on: &[TaskId]) -> TaskStatus {
        let statuses: Vec<TaskStatus> = depends_on
            .iter()
            .filter_map(|d| self.tasks.get(d).map(|t| t.status))
            .collect();
        if statuses
            .iter()
            .any(|s| matches!(s, TaskStatus::Failed | TaskStatus::Blocked))
        {
            TaskStatus::Blocked
        } else if statuses.iter().all(|s| *s == TaskStatus::Done) {
            TaskStatus::Ready
        } else {
            TaskStatus::Inbox
        }
    }

    /// A chain of dependencies from one of `from` to `target`, if there is one: a
    /// depth-first walk that visits each task once and keeps where it came from.
    fn path_to(&self, from: &[TaskId], target: TaskId) -> Option<Vec<TaskId>> {
        let mut came_from: BTreeMap<TaskId, Option<TaskId>> = BTreeMap::new();
        let mut stack: Vec<TaskId> = Vec::new();
        for id in from {
            if came_from.insert(*id, None).is_none() {
                stack.push(*id);
            }
        }
        while let Some(id) = stack.pop() {
            if id == target {
                let mut path = vec![id];
                let mut at = id;
                while let Some(Some(previous)) = came_from.get(&at) {
                    path.push(*previous);
                    at = *previous;
                }
                path.reverse();
                return Some(path);
            }
            let deps = self.tasks.get(&id).map(|t| t.spec.depends_on.as_slice());
            for dep in deps.unwrap_or(&[]) {
                if !came_from.contains_key(dep) {
                    came_from.insert(*dep, Some(id));
                    stack.push(*dep);
                }
            }
        }
        None
    }

    fn check_owner(&self, id: TaskId, caller: &str) -> Result<(), TaskError> {
        if self.task(id)?.spec.role == caller {
            Ok(())
        } else {
            Err(self.not_yours(id, caller))
        }
    }

    fn not_yours(&self, id: TaskId, caller: &str) -> TaskError {
        TaskError::NotYours {
            task: id,
            owner: self
                .tasks
                .get(&id)
                .map(|t| t.spec.role.clone())
                .unwrap_or_default(),
            caller: caller.to_string(),
        }
    }

    fn task(&self, id: TaskId) -> Result<&Task, TaskError> {
        self.tasks
            .get(&id)
            .ok_or_else(|| TaskError::UnknownTask(id.to_string()))
    }

    /// A task about to be changed: counted as touched.
    fn task_mut(&mut self, id: TaskId) -> Result<&mut Task, TaskError> {
        let task = self
            .tasks
            .get_mut(&id)
            .ok_or_else(|| TaskError::UnknownTask(id.to_string()))?;
        self.changes.touched.insert(id);
        Ok(task)
    }
}

#[cfg(test)]
mod tests;
