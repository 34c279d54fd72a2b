//! What a task is: its id, what its creator asked for, its state and history, the
//! moves it made since last asked, and why the graph refused a change. Knows no graph.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Artifact, Priority, TaskStatus};

/// A task's id within its session (`t1`, `t2`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct TaskId(pub(super) u64);

impl From<TaskId> for String {
    fn from(id: TaskId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for TaskId {
    type Error = TaskError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

impl std::str::FromStr for TaskId {
    type Err = TaskError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.strip_prefix('t')
            .and_then(|n| n.parse().ok())
            .filter(|n| *n > 0)
            .map(TaskId)
            .ok_or_else(|| TaskError::UnknownTask(text.to_string()))
    }
}

/// What a role asks for when it delegates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    pub role: String,
    pub title: String,
    pub description: String,
    pub acceptance_criteria: Vec<String>,
    pub depends_on: Vec<TaskId>,
    pub priority: Priority,
    pub requires_approval: bool,
}

/// One task and everything that happened to it: the shape the tools answer with and
/// the store keeps (one snapshot per change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    #[serde(flatten)]
    pub spec: NewTask,
    pub status: TaskStatus,
    pub created_by: String,
    /// Times it was handed to its role since its creator last made it ready.
    pub attempts: u32,
    /// Times a turn was started for it, ever (attempts and rejections): names one
    /// run, so a deadline of an earlier run never ends a later one.
    #[serde(default)]
    pub runs: u32,
    pub summary: Option<String>,
    pub artifacts: Vec<Artifact>,
    pub notes: Vec<String>,
    /// Its role said it is blocked: it stays so until its creator makes it ready,
    /// whatever its dependencies do.
    #[serde(default)]
    pub held: bool,
    /// Not handed out again before this (ms since the epoch): a retry's backoff.
    #[serde(default)]
    pub retry_at_ms: u64,
    /// Milliseconds since the Unix epoch, stamped by whoever owns the clock.
    #[serde(default)]
    pub created_at_ms: u64,
    #[serde(default)]
    pub updated_at_ms: u64,
}

/// One status change, for the notices and the plan (`from` is `None` for a new task).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub id: TaskId,
    pub from: Option<TaskStatus>,
    pub to: TaskStatus,
}

/// What changed since the last `take_changes`: the moves in order, and every task
/// touched in any way (status, note, summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub transitions: Vec<Transition>,
    pub touched: BTreeSet<TaskId>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.touched.is_empty()
    }
}

/// Notes kept per task: the oldest go first.
pub(super) const MAX_NOTES: usize = 20;
/// Characters kept of one note: a task's snapshot stays small however it is noted.
pub(super) const NOTE_CHARS: usize = 2000;

impl Task {
    pub(super) fn note(&mut self, note: String) {
        if self.notes.len() >= MAX_NOTES {
            self.notes.remove(0);
        }
        let note = if note.chars().count() > NOTE_CHARS {
            let mut cut: String = note.chars().take(NOTE_CHARS).collect();
            cut.push('…');
            cut
        } else {
            note
        };
        self.notes.push(note);
    }
}

/// Why a change to the graph was refused, in words a model can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    #[error("no task {0}")]
    UnknownTask(String),
    #[error("task {task} depends on {missing}, which does not exist")]
    UnknownDependency { task: String, missing: TaskId },
    #[error("that would make a cycle: {0}")]
    Cycle(String),
    #[error("task {task} belongs to {owner}, not {caller}")]
    NotYours {
        task: TaskId,
        owner: String,
        caller: String,
    },
    #[error(
        "task {task} cannot be set to {to} with update_task: done and review come from \
         complete_task, in_flight from the dispatcher, ready only from the task's creator"
    )]
    NotSettable { task: TaskId, to: TaskStatus },
    #[error("task {task} is {status}: only a task that has not started can wait for others")]
    Started { task: TaskId, status: TaskStatus },
    #[error("task {task} cannot go from {from} to {to}")]
    Transition {
        task: TaskId,
        from: TaskStatus,
        to: TaskStatus,
    },
}
