//! The coordination tools as an MCP server for one role in one session: each call
//! goes to the core as a `ToolRequest` and its answer comes back as structured content,
//! or as a tool error whose words the model reads.

use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

use crate::core::CoreHandle;
use crate::core::task_tools::{ToolCall, ToolRequest};
use crate::core::tasks::{Artifact, ArtifactKind};
use crate::ids::{Role, SessionId};

/// Serves one connection until the child hangs up (`hello` bounds its `initialize`).
pub async fn serve<R, W>(
    io: (R, W),
    session: SessionId,
    role: Role,
    core: CoreHandle,
    hello: Duration,
) where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let server = RoleTools {
        session,
        role,
        core,
        tool_router: RoleTools::tool_router(),
    };
    match tokio::time::timeout(hello, server.serve(io)).await {
        Ok(Ok(running)) => {
            let _ = running.waiting().await;
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "mcp initialize failed"),
        Err(_) => tracing::warn!("mcp client never said hello"),
    }
}

/// A tool's structured result: always a JSON object.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Answer {
    #[serde(flatten)]
    fields: Map<String, Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DelegateArgs {
    /// The role that does the task (one of the team's roles).
    role: String,
    /// A short title, shown in the editor's plan as `role: title`.
    title: String,
    /// What to do, with the context the role needs.
    #[serde(default)]
    description: String,
    /// Ids of tasks (`t1`, ...) that must be done before this one starts.
    #[serde(default)]
    depends_on: Vec<String>,
    /// low, medium (default), high or urgent.
    #[serde(default)]
    priority: Option<String>,
    /// How to tell the task is done.
    #[serde(default)]
    acceptance_criteria: Vec<String>,
    /// When true, the user approves the finished task before it counts as done (and
    /// before tasks that depend on it start); a rejection sends it back with feedback.
    #[serde(default)]
    requires_approval: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListArgs {
    /// Only the tasks of this role.
    #[serde(default)]
    role: Option<String>,
    /// Only tasks in this status: inbox, ready, in_flight, review, done, blocked, failed.
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateArgs {
    /// The task's id (`t1`, ...).
    id: String,
    /// blocked or failed (its role), or ready (its creator, to retry it).
    #[serde(default)]
    status: Option<String>,
    /// A note kept with the task.
    #[serde(default)]
    note: Option<String>,
    /// A re-plan, by the task's creator before it starts: the ids it waits for now.
    #[serde(default)]
    depends_on: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CompleteArgs {
    /// The task's id (`t1`, ...); only the role it was given to completes it.
    id: String,
    /// What was done, for the tasks that depend on it.
    summary: String,
    /// What it produced: each a path or URL, or `{"kind": "file"|"pr"|"document"|"link",
    /// "ref": path or URL}`.
    #[serde(default)]
    artifacts: Vec<ArtifactArg>,
}

/// An artifact as a model may write it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ArtifactArg {
    /// A path (a file) or a URL (a link, or a pull request).
    Plain(String),
    Typed {
        /// file, pr, document or link.
        kind: String,
        /// The path, URL or name.
        #[serde(rename = "ref")]
        target: String,
    },
}

impl ArtifactArg {
    fn artifact(self) -> Result<Artifact, String> {
        match self {
            ArtifactArg::Plain(target) => Ok(Artifact::guess(target)),
            ArtifactArg::Typed { kind, target } => ArtifactKind::parse(&kind)
                .map(|kind| Artifact { kind, target })
                .ok_or_else(|| {
                    format!("artifact kind {kind:?} is not one of file, pr, document, link")
                }),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MessageArgs {
    /// The role to tell (one of the team's roles).
    role: String,
    /// What to say; it reaches the role as a prompt, labelled with your role.
    text: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AskArgs {
    /// The question for the user, complete enough to answer without context.
    question: String,
}

struct RoleTools {
    session: SessionId,
    role: Role,
    core: CoreHandle,
    tool_router: ToolRouter<Self>,
}

impl RoleTools {
    async fn call(&self, call: ToolCall) -> Result<Json<Answer>, String> {
        let (reply, answer) = oneshot::channel();
        let request = ToolRequest {
            session: self.session.clone(),
            role: self.role.clone(),
            call,
            reply,
        };
        if !self.core.call_tool(request).await {
            return Err("the proxy is shutting down".into());
        }
        match answer.await {
            Ok(Ok(Value::Object(fields))) => Ok(Json(Answer { fields })),
            Ok(Ok(other)) => Err(format!("unexpected answer {other}")),
            Ok(Err(why)) => Err(why),
            Err(_) => Err("the proxy dropped the call".into()),
        }
    }
}

#[tool_router]
impl RoleTools {
    /// Hands a task to a role of the team; it starts once its dependencies are done.
    #[tool]
    async fn delegate(
        &self,
        Parameters(args): Parameters<DelegateArgs>,
    ) -> Result<Json<Answer>, String> {
        self.call(ToolCall::Delegate {
            role: args.role,
            title: args.title,
            description: args.description,
            depends_on: args.depends_on,
            priority: args.priority,
            acceptance_criteria: args.acceptance_criteria,
            requires_approval: args.requires_approval,
        })
        .await
    }

    /// Lists the session's tasks, with their status, dependencies and results.
    #[tool(annotations(read_only_hint = true))]
    async fn list_tasks(
        &self,
        Parameters(args): Parameters<ListArgs>,
    ) -> Result<Json<Answer>, String> {
        self.call(ToolCall::ListTasks {
            role: args.role,
            status: args.status,
        })
        .await
    }

    /// Changes a task's status (blocked, failed, or ready to retry it), adds a note, or
    /// (its creator) changes what a task that has not started waits for.
    #[tool]
    async fn update_task(
        &self,
        Parameters(args): Parameters<UpdateArgs>,
    ) -> Result<Json<Answer>, String> {
        self.call(ToolCall::UpdateTask {
            id: args.id,
            status: args.status,
            note: args.note,
            depends_on: args.depends_on,
        })
        .await
    }

    /// Says your task is finished, with what it produced; tasks waiting on it may start.
    #[tool]
    async fn complete_task(
        &self,
        Parameters(args): Parameters<CompleteArgs>,
    ) -> Result<Json<Answer>, String> {
        let artifacts = args
            .artifacts
            .into_iter()
            .map(ArtifactArg::artifact)
            .collect::<Result<_, _>>()?;
        self.call(ToolCall::CompleteTask {
            id: args.id,
            summary: args.summary,
            artifacts,
        })
        .await
    }

    /// Sends a message to another role of the team; it gets it as a prompt (after its
    /// current turn, if it is working).
    #[tool]
    async fn send_message(
        &self,
        Parameters(args): Parameters<MessageArgs>,
    ) -> Result<Json<Answer>, String> {
        self.call(ToolCall::SendMessage {
            role: args.role,
            text: args.text,
        })
        .await
    }

    /// Asks the user a question and waits for the answer (the result's `answer`).
    #[tool]
    async fn ask_user(
        &self,
        Parameters(args): Parameters<AskArgs>,
    ) -> Result<Json<Answer>, String> {
        self.call(ToolCall::AskUser {
            question: args.question,
        })
        .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for RoleTools {}
