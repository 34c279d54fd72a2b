//! The coordination tools a role calls in its session (through the MCP face): delegate,
//! list, update and complete tasks of the session's graph, message another role, ask
//! the user. The answer goes back on the request's own channel, never awaited by the
//! loop. Knows the graph and the team's roles; nothing of MCP.

use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::Core;
use super::api::Origin;
use super::quote::TITLE_CHARS;
use super::tasks::{Artifact, NewTask, Priority, Task, TaskError, TaskGraph, TaskId, TaskStatus};
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
        acceptance_criteria: Vec<String>,
        requires_approval: bool,
    },
    ListTasks {
        role: Option<String>,
        status: Option<String>,
    },
    UpdateTask {
        id: String,
        status: Option<String>,
        note: Option<String>,
        /// A re-plan by the task's creator: what it waits for now.
        depends_on: Option<Vec<String>>,
    },
    CompleteTask {
        id: String,
        summary: String,
        artifacts: Vec<Artifact>,
    },
    SendMessage {
        role: String,
        text: String,
    },
    AskUser {
        question: String,
    },
}

impl Core {
    pub(super) fn handle_tool(&mut self, request: ToolRequest) {
        if let Err(why) = check_sizes(&request.call) {
            let _ = request.reply.send(Err(why));
            return;
        }
        match request.call {
            ToolCall::AskUser { question } => {
                if let Err(why) = self.may_ask(&request.session, &request.role) {
                    let _ = request.reply.send(Err(why));
                    return;
                }
                self.ask_user(&request.session, &request.role, &question, request.reply)
            }
            ToolCall::SendMessage { role, text } => {
                let result = self.send_message(&request.session, &request.role, &role, text);
                let _ = request.reply.send(result);
            }
            call => {
                let reads_only = matches!(call, ToolCall::ListTasks { .. });
                let result = self.run_tool(&request.session, &request.role, call);
                if let Err(why) = &result {
                    tracing::info!(role = %request.role, why = %why, "tool call refused");
                }
                // The caller may have given up (its connection closed): nothing to do then.
                let _ = request.reply.send(result);
                if !reads_only {
                    self.after_tool_changes(&request.session, &request.role);
                }
            }
        }
    }

    /// A role's questions to the user count among its open requests.
    fn may_ask(&self, session: &SessionId, role: &Role) -> Result<(), String> {
        if !self.sessions.contains_key(session) {
            return Err("the session is gone".into());
        }
        let open = self
            .relays
            .values()
            .filter(|r| r.key.role == *role && r.asks_for_role())
            .count();
        if open >= super::relays::MAX_OPEN_REQUESTS_PER_ROLE {
            return Err(format!(
                "{role} already has {open} questions and requests waiting for the user"
            ));
        }
        Ok(())
    }

    /// What a tool call changed is told; a task its role gave up on (it was being
    /// worked on, now failed) is reported to its creator; free roles go on.
    fn after_tool_changes(&mut self, session: &SessionId, caller: &Role) {
        let moves = self.publish_task_changes(session);
        let given_up = moves.iter().filter(|t| {
            t.to == TaskStatus::Failed
                && matches!(t.from, Some(TaskStatus::InFlight | TaskStatus::Review))
        });
        let given_up: Vec<TaskId> = given_up.map(|t| t.id).collect();
        for id in given_up {
            if !self.created(session, id, caller) {
                self.report_failure(session, id);
            }
        }
        self.dispatch_tasks(session);
    }

    /// Whether `role` made the task.
    fn created(&self, session: &SessionId, id: TaskId, role: &Role) -> bool {
        self.sessions
            .get(session)
            .and_then(|s| s.tasks.get(id))
            .is_some_and(|t| t.created_by == role.as_str())
    }

    /// `send_message`: a prompt to another role of the session, labelled with its sender.
    fn send_message(
        &mut self,
        session: &SessionId,
        from: &Role,
        to: &str,
        text: String,
    ) -> Result<Value, String> {
        let known = self
            .sessions
            .get(session)
            .is_some_and(|s| s.roles.contains_key(to));
        if !known {
            let known: Vec<&str> = self.agents.keys().map(Role::as_str).collect();
            return Err(format!(
                "no role {to:?} in this team (roles: {})",
                known.join(", ")
            ));
        }
        if to == from.as_str() {
            return Err("a role cannot send a message to itself".into());
        }
        let to = Role::new(to);
        let waiting = self
            .sessions
            .get(session)
            .and_then(|s| s.roles.get(&to))
            .map_or(0, |rs| rs.turns.len() + rs.queued.len());
        if waiting >= MAX_WAITING_MESSAGES {
            return Err(format!(
                "{to} has {waiting} prompts waiting already; try again once it has caught up"
            ));
        }
        let unavailable = self
            .sessions
            .get(session)
            .and_then(|s| s.roles.get(&to))
            .is_some_and(|rs| matches!(rs.child, super::state::ChildSession::Failed(_)));
        if unavailable || !self.may_take_tasks(&to) {
            return Err(format!("{to} is not running; the user can /restart it"));
        }
        let mine = self
            .turns
            .values()
            .filter(|t| t.session == *session && t.roles.contains_key(&to))
            .filter(|t| matches!(&t.origin, Origin::Team { from: Some(f) } if f == from))
            .count();
        if mine >= MAX_MESSAGES_FROM_ONE {
            return Err(format!(
                "{to} has not yet read your last {mine} messages; wait for its answer"
            ));
        }
        let busy = waiting > 0;
        // The sender's words go apart from the proxy's own, as a task's description does.
        let context = format!(
            "[ourocodus] A message from {from}, a role of your team (answer it with the \
             ourocodus tool send_message if it asks for something):"
        );
        let blocks = vec![
            json!({ "type": "text", "text": context }),
            json!({ "type": "text", "text": text }),
        ];
        self.prompt_role(session, &to, Some(from.clone()), blocks);
        let delivery = if busy { "queued" } else { "sent" };
        Ok(json!({ "to": to.as_str(), "delivery": delivery }))
    }

    fn run_tool(
        &mut self,
        session: &SessionId,
        caller: &Role,
        call: ToolCall,
    ) -> Result<Value, String> {
        if let ToolCall::Delegate { role, .. } = &call {
            self.check_delegation(caller, role)?;
        }
        let graph = &mut self
            .sessions
            .get_mut(session)
            .ok_or_else(|| format!("no session {session}"))?
            .tasks;
        let caller = caller.as_str();
        match call {
            ToolCall::Delegate { .. } if graph.len() >= MAX_TASKS => Err(format!(
                "this session has {MAX_TASKS} tasks, as many as it may hold"
            )),
            ToolCall::Delegate {
                role,
                title,
                description,
                depends_on,
                priority,
                acceptance_criteria,
                requires_approval,
            } => {
                let spec = NewTask {
                    role,
                    title,
                    description,
                    acceptance_criteria,
                    depends_on: depends_on
                        .iter()
                        .map(|d| task_id(d))
                        .collect::<Result<_, _>>()?,
                    priority: parse_priority(priority.as_deref())?,
                    requires_approval,
                };
                let id = graph.delegate(caller, spec).map_err(words)?;
                let status = graph.get(id).map(|t| t.status.as_str()).unwrap_or_default();
                Ok(json!({ "id": id.to_string(), "status": status }))
            }
            ToolCall::ListTasks { role, status } => list(graph, role.as_deref(), status.as_deref()),
            ToolCall::UpdateTask {
                id,
                status,
                note,
                depends_on,
            } => {
                // Everything read before anything changes: a refused call changes nothing.
                let id = task_id(&id)?;
                let status = status.map(|s| parse_status(&s)).transpose()?;
                let depends_on = depends_on
                    .map(|d| d.iter().map(|d| task_id(d)).collect::<Result<Vec<_>, _>>())
                    .transpose()?;
                if let Some(depends_on) = depends_on {
                    graph.replan(id, caller, depends_on).map_err(words)?;
                }
                graph.update(id, caller, status, note).map_err(words)?;
                let task = graph.get(id).map(task_json).unwrap_or_default();
                Ok(json!({ "task": task }))
            }
            ToolCall::SendMessage { .. } | ToolCall::AskUser { .. } => {
                Err("not a task tool".to_string())
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

impl Core {
    /// The caller may delegate, and to a role of the team.
    fn check_delegation(&self, caller: &Role, role: &str) -> Result<(), String> {
        let may = self
            .agents
            .get(caller)
            .is_some_and(|slot| slot.spec.tasks.can_delegate);
        if !may {
            return Err(format!(
                "{caller} may not delegate (its role needs `can_delegate = true`)"
            ));
        }
        if !self.agents.contains_key(role) {
            let known: Vec<&str> = self.agents.keys().map(Role::as_str).collect();
            return Err(format!(
                "no role {role:?} in this team (roles: {})",
                known.join(", ")
            ));
        }
        Ok(())
    }
}

/// Prompts a role may have waiting before `send_message` to it is refused: a role
/// cannot bury another under messages.
pub(super) const MAX_WAITING_MESSAGES: usize = 16;
/// Messages from one role another may have waiting: one role cannot keep another
/// busy with its messages (its tasks wait behind them).
const MAX_MESSAGES_FROM_ONE: usize = 4;
/// Tasks one session may hold: an agent cannot grow the graph without bound.
const MAX_TASKS: usize = 1000;
/// Bytes of a description, summary, note, message or question (a title is held to
/// `TITLE_CHARS`): a task's snapshot, recorded on every change, stays small.
const MAX_TEXT_BYTES: usize = 16 * 1024;
/// Entries of a list argument (dependencies, criteria, artifacts), each a short text.
const MAX_LIST_ITEMS: usize = 32;
const MAX_ITEM_BYTES: usize = 1024;
/// Bytes of a name: a task id, a role, a status, a priority.
const MAX_NAME_BYTES: usize = 64;

/// Every size an agent chose, checked before anything is kept or echoed.
fn check_sizes(call: &ToolCall) -> Result<(), String> {
    let text = |name: &str, value: &str| {
        (value.len() > MAX_TEXT_BYTES).then(|| format!("{name} is over {MAX_TEXT_BYTES} bytes"))
    };
    let list = |name: &str, items: &[String]| {
        (items.len() > MAX_LIST_ITEMS || items.iter().any(|i| i.len() > MAX_ITEM_BYTES)).then(|| {
            format!("{name} holds more than {MAX_LIST_ITEMS} entries or one over {MAX_ITEM_BYTES} bytes")
        })
    };
    let names = names_of(call);
    if names.iter().any(|n| n.len() > MAX_NAME_BYTES) {
        return Err(format!(
            "an id, role, status or priority is over {MAX_NAME_BYTES} bytes"
        ));
    }
    let problem = match call {
        ToolCall::Delegate {
            title,
            description,
            depends_on,
            acceptance_criteria,
            ..
        } => (title.chars().count() > TITLE_CHARS)
            .then(|| format!("the title is over {TITLE_CHARS} characters"))
            .or_else(|| text("the description", description))
            .or_else(|| list("depends_on", depends_on))
            .or_else(|| list("acceptance_criteria", acceptance_criteria)),
        ToolCall::UpdateTask {
            note, depends_on, ..
        } => note
            .as_deref()
            .and_then(|n| text("the note", n))
            .or_else(|| list("depends_on", depends_on.as_deref().unwrap_or(&[]))),
        ToolCall::CompleteTask {
            summary, artifacts, ..
        } => {
            let targets: Vec<String> = artifacts.iter().map(|a| a.target.clone()).collect();
            text("the summary", summary).or_else(|| list("artifacts", &targets))
        }
        ToolCall::SendMessage { text: body, .. } => text("the message", body),
        ToolCall::AskUser { question } => text("the question", question),
        ToolCall::ListTasks { .. } => None,
    };
    problem.map_or(Ok(()), Err)
}

/// The short names a call carries (ids, roles, statuses, priorities).
fn names_of(call: &ToolCall) -> Vec<&str> {
    match call {
        ToolCall::Delegate { role, priority, .. } => {
            vec![role.as_str(), priority.as_deref().unwrap_or("")]
        }
        ToolCall::ListTasks { role, status } => {
            vec![
                role.as_deref().unwrap_or(""),
                status.as_deref().unwrap_or(""),
            ]
        }
        ToolCall::UpdateTask { id, status, .. } => vec![id, status.as_deref().unwrap_or("")],
        ToolCall::CompleteTask { id, .. } => vec![id],
        ToolCall::SendMessage { role, .. } => vec![role],
        ToolCall::AskUser { .. } => Vec::new(),
    }
}

fn parse_priority(text: Option<&str>) -> Result<Priority, String> {
    match text {
        None => Ok(Priority::default()),
        Some(text) => Priority::parse(text)
            .ok_or_else(|| format!("priority {text:?} is not one of low, medium, high, urgent")),
    }
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

/// A task as the tools (and `_ourocodus/tasks`) show it: the graph's own shape.
pub fn task_json(task: &Task) -> Value {
    serde_json::to_value(task).unwrap_or_default()
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
