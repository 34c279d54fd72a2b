//! A task's priority and status, the moves its lifecycle allows, and how a status
//! shows in an ACP plan. Knows no task.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How urgent a task is; higher goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub fn parse(text: &str) -> Option<Priority> {
        match text {
            "low" => Some(Priority::Low),
            "medium" => Some(Priority::Medium),
            "high" => Some(Priority::High),
            "urgent" => Some(Priority::Urgent),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// An ACP plan entry's priority (which has no `urgent`).
    pub fn plan_priority(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High | Priority::Urgent => "high",
        }
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for a dependency to be done.
    Inbox,
    /// Every dependency is done: its role takes it when free.
    Ready,
    /// Handed to its role.
    InFlight,
    /// Completed, waiting for the user's approval.
    Review,
    Done,
    /// A dependency failed (or is blocked), or its role said so.
    Blocked,
    Failed,
}

impl TaskStatus {
    pub fn parse(text: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub const ALL: [TaskStatus; 7] = [
        TaskStatus::Inbox,
        TaskStatus::Ready,
        TaskStatus::InFlight,
        TaskStatus::Review,
        TaskStatus::Done,
        TaskStatus::Blocked,
        TaskStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Inbox => "inbox",
            TaskStatus::Ready => "ready",
            TaskStatus::InFlight => "in_flight",
            TaskStatus::Review => "review",
            TaskStatus::Done => "done",
            TaskStatus::Blocked => "blocked",
            TaskStatus::Failed => "failed",
        }
    }

    /// Statuses that follow the task's dependencies rather than its role.
    pub fn is_waiting(self) -> bool {
        matches!(
            self,
            TaskStatus::Inbox | TaskStatus::Ready | TaskStatus::Blocked
        )
    }

    /// The moves the lifecycle allows; `done` is final. A ready task may be completed
    /// by its role before it was handed over (it took it up itself).
    pub fn may_become(self, to: TaskStatus) -> bool {
        use TaskStatus::*;
        matches!(
            (self, to),
            (Inbox, Ready | Blocked | Failed)
                | (Ready, InFlight | Inbox | Blocked | Failed | Review | Done)
                | (InFlight, Review | Done | Ready | Failed | Blocked)
                | (Review, Done | InFlight | Failed)
                | (Blocked, Inbox | Ready | Failed)
                | (Failed, Ready | Inbox | Blocked)
        )
    }

    /// An ACP plan entry's status.
    pub fn plan_status(self) -> &'static str {
        match self {
            TaskStatus::InFlight | TaskStatus::Review => "in_progress",
            TaskStatus::Done => "completed",
            _ => "pending",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
