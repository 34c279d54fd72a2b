//! The coordination tools a role calls in its session (through the MCP face): delegate,
//! list, update and complete tasks of the session's graph. The answer goes back on the
//! request's own channel, never awaited by the loop. Knows the graph and the team's
//! roles; nothing of MCP.

use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::Core;
use super::tasks::{NewTask, Priority, Task, TaskError, TaskGraph, TaskId, TaskStatus};
use crate::ids::{Role, SessionId};

/// Where a child finds the coordination tools: the MCP server entry (ACP's
/// `McpServer` shape) for one role in one session, given first in its `mcpServers`.
pub trait ToolServers: Send {
    fn entry(&self, session: &SessionId, role: &Role) -> Value;
}

/// One tool call of `role` in `session`.
#[derive(Debug)]
pub struct ToolRequest {
    pub session: SessionId,
    pub role: Role,
    pub call: ToolCall,
    /// A JSON object for the caller, or why the call was refused (for the model).
    pub reply: oneshot::Sender<Result<Value, String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ToolCall {
    Delegate {
        role: String,
        title: String,
        description: String,
        depends_on: Vec<String>,
        priority: Option<String>,
        requires_approval: bool,
        acceptance_criteria: Vec<String>,
    },
    ListTasks {
        role: Option<String>,
        status: Option<String>,
    },
    UpdateTask {
        id: String,
        status: Option<String>,
        note: Option<String>,
    },
    CompleteTask {
        id: String,
        summary: String,
        artifacts: Vec<String>,
    },
}

impl Core {
    pub(super) fn handle_tool(&mut self, request: ToolRequest) {
        let result = self.run_tool(&request.session, &request.role, request.call);
        if let Err(why) = &result {
            tracing::info!(role = %request.role, why = %why, "tool call refused");
        }
        let changed = result.is_ok();
        // The caller may have given up (its connection closed): nothing to do then.
        let _ = request.reply.send(result);
        if changed {
            self.dispatch_tasks(&request.session);
        }
    }

    fn run_tool(
        &mut self,
        session: &SessionId,
        caller: &Role,
        call: ToolCall,
    ) -> Result<Value, String> {
        let known: Vec<String> = self.agents.keys().map(|r| r.as_str().to_string()).collect();
        let may_delegate = self
            .agents
            .get(caller)
            .is_some_and(|slot| slot.spec.tasks.can_delegate);
        let graph = &mut self
            .sessions
            .get_mut(session)
            .ok_or_else(|| format!("no session {session}"))?
            .tasks;
        let caller = caller.as_str();
        match call {
            ToolCall::Delegate { .. } if !may_delegate => Err(format!(
                "{caller} may not delegate (its role needs `can_delegate = true`)"
            )),
            ToolCall::Delegate { role, .. } if !known.contains(&role) => Err(format!(
                "no role {role:?} in this team (roles: {})",
                known.join(", ")
            )),
            ToolCall::Delegate { .. } => delegate(graph, caller, call),
            ToolCall::ListTasks { role, status } => list(graph, role.as_deref(), status.as_deref()),
            ToolCall::UpdateTask { id, status, note } => {
                let status = status.map(|s| parse_status(&s)).transpose()?;
                graph
                    .update(task_id(&id)?, caller, status, note)
                    .map_err(words)?;
                Ok(json!({ "task": task_json(graph.get(task_id(&id)?).ok_or("gone")?) }))
            }
            ToolCall::CompleteTask {
                id,
                summary,
                artifacts,
            } => {
                let id = task_id(&id)?;
                let status = graph
                    .complete(id, caller, summary, artifacts)
                    .map_err(words)?;
                Ok(json!({ "id": id.to_string(), "status": status.as_str() }))
            }
        }
    }
}

fn delegate(graph: &mut TaskGraph, caller: &str, call: ToolCall) -> Result<Value, String> {
    let ToolCall::Delegate {
        role,
        title,
        description,
        depends_on,
        priority,
        requires_approval,
        acceptance_criteria,
    } = call
    else {
        return Err("not a delegation".into());
    };
    let priority = match priority.as_deref() {
        None => Priority::default(),
        Some(text) => Priority::parse(text)
            .ok_or_else(|| format!("priority {text:?} is not one of low, medium, high, urgent"))?,
    };
    let depends_on = depends_on
        .iter()
        .map(|d| task_id(d))
        .collect::<Result<Vec<_>, _>>()?;
    let spec = NewTask {
        role,
        title,
        description,
        acceptance_criteria,
        depends_on,
        priority,
        requires_approval,
    };
    let id = graph.delegate(caller, spec).map_err(words)?;
    let status = graph.get(id).map(|t| t.status.as_str()).unwrap_or_default();
    Ok(json!({ "id": id.to_string(), "status": status }))
}

fn list(graph: &TaskGraph, role: Option<&str>, status: Option<&str>) -> Result<Value, String> {
    let status = status.map(parse_status).transpose()?;
    let tasks: Vec<Value> = graph
        .tasks()
        .filter(|t| role.is_none_or(|r| t.spec.role == r))
        .filter(|t| status.is_none_or(|s| t.status == s))
        .map(task_json)
        .collect();
    Ok(json!({ "tasks": tasks }))
}

fn task_json(task: &Task) -> Value {
    let depends_on: Vec<String> = task.spec.depends_on.iter().map(TaskId::to_string).collect();
    json!({
        "id": task.id.to_string(),
        "role": task.spec.role,
        "title": task.spec.title,
        "description": task.spec.description,
        "acceptance_criteria": task.spec.acceptance_criteria,
        "status": task.status.as_str(),
        "priority": task.spec.priority.as_str(),
        "depends_on": depends_on,
        "requires_approval": task.spec.requires_approval,
        "created_by": task.created_by,
        "attempts": task.attempts,
        "summary": task.summary,
        "artifacts": task.artifacts,
        "notes": task.notes,
    })
}

fn task_id(text: &str) -> Result<TaskId, String> {
    text.parse().map_err(words)
}

fn parse_status(text: &str) -> Result<TaskStatus, String> {
    TaskStatus::parse(text).ok_or_else(|| {
        let all: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("status {text:?} is not one of {}", all.join(", "))
    })
}

fn words(error: TaskError) -> String {
    error.to_string()
}
