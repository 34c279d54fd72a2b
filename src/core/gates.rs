//! The proxy's own questions to the user, relayed like an agent's: approval gates
//! (approve or reject, with feedback, a task its role completed) and a role's
//! `ask_user`. The first answer from any client wins; `/approve`, `/reject` and
//! `/answer` in the chat answer them too, for editors that cannot. Knows the graph
//! and relays; nothing of faces.

use serde_json::{Value, json};
use smallvec::SmallVec;
use tokio::sync::oneshot;

use super::Core;
use super::api::RelayId;
use super::output::{RelayKind, RelayRequest, Severity};
use super::quote::{DESCRIPTION_CHARS, TITLE_CHARS, agent_lines, agent_text};
use super::state::{Asker, ProxyQuestion, Relay};
use super::tasks::TaskId;
use crate::acp::method;
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::transport::AgentKey;

/// The permission options of a gate.
const APPROVE: &str = "approve";
const REJECT: &str = "reject";
/// Characters of a user's feedback passed on.
const MAX_FEEDBACK_CHARS: usize = 16 * 1024;
/// What a rejected task's role hears when the user gave no reason.
const NO_FEEDBACK: &str = "The user rejected it without saying why; check it against its \
                           acceptance criteria and try again.";

impl Core {
    /// A task went to review: its gate is a permission request to the session's users.
    pub(super) fn ask_approval(&mut self, session_id: &SessionId, id: TaskId) {
        let Some(task) = self.sessions.get(session_id).and_then(|s| s.tasks.get(id)) else {
            return;
        };
        let role = Role::new(&task.spec.role);
        let mut shown = format!(
            "{} says it is done:\n{}",
            role,
            agent_lines(task.summary.as_deref().unwrap_or(""), DESCRIPTION_CHARS)
        );
        if !task.artifacts.is_empty() {
            let artifacts: Vec<String> = task
                .artifacts
                .iter()
                .map(|a| agent_text(&a.to_string(), TITLE_CHARS))
                .collect();
            shown.push_str(&format!("\nArtifacts: {}", artifacts.join(", ")));
        }
        shown.push_str(&format!(
            "\nReject to send it back (type /reject {id} WHY to say why)."
        ));
        let params = json!({
            "sessionId": session_id.as_str(),
            "toolCall": {
                "toolCallId": format!("ourocodus-gate-{id}"),
                "title": format!("Approve task {id}: {}", agent_text(&task.spec.title, TITLE_CHARS)),
                "kind": "other",
                "status": "pending",
                "content": [{ "type": "content", "content": { "type": "text", "text": shown } }],
            },
            "options": [
                { "optionId": APPROVE, "name": "Approve", "kind": "allow_once" },
                { "optionId": REJECT, "name": "Reject", "kind": "reject_once" },
            ],
        });
        let request = RelayRequest {
            kind: RelayKind::Permission,
            method: method::REQUEST_PERMISSION.to_string(),
            params,
        };
        self.ask_users(session_id, &role, ProxyQuestion::Approval(id), request);
    }

    /// A role's `ask_user`: an elicitation where a client can answer one, and the
    /// question in the chat (answered with `/answer`) for every client.
    pub(super) fn ask_user(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        question: &str,
        reply: oneshot::Sender<Result<Value, String>>,
    ) {
        let params = json!({
            "mode": "form",
            "sessionId": session_id.as_str(),
            "message": question,
            "requestedSchema": {
                "type": "object",
                "properties": { "answer": { "type": "string", "title": "Answer" } },
                "required": ["answer"],
            },
        });
        let request = RelayRequest {
            kind: RelayKind::Elicitation,
            method: method::ELICITATION_CREATE.to_string(),
            params,
        };
        let relay = self.ask_users(session_id, role, ProxyQuestion::AskUser(reply), request);
        let title = format!("{role} asks (q{}):", relay.0);
        let how = format!(
            "{}\n\nAnswer with /answer q{} YOUR ANSWER",
            agent_lines(question, DESCRIPTION_CHARS),
            relay.0
        );
        self.notify(session_id, Some(role), Severity::Info, &title, Some(&how));
    }

    fn ask_users(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        question: ProxyQuestion,
        request: RelayRequest,
    ) -> RelayId {
        let generation = self.agents.get(role).map_or(0, |s| s.generation);
        self.next_relay += 1;
        let id = RelayId(self.next_relay);
        let relay = Relay {
            key: AgentKey {
                role: role.clone(),
                generation,
            },
            asker: Asker::Proxy(question),
            session: session_id.clone(),
            turn: None,
            request,
            sent_to: SmallVec::new(),
        };
        self.relays.insert(id, relay);
        self.send_relay(id, None);
        id
    }

    /// A client answered one of the proxy's questions.
    pub(super) fn on_proxy_answer(
        &mut self,
        session_id: &SessionId,
        question: ProxyQuestion,
        outcome: Result<String, RpcError>,
    ) {
        let answer: Option<Value> = outcome.ok().and_then(|t| serde_json::from_str(&t).ok());
        match question {
            ProxyQuestion::Approval(id) => match gate_choice(answer.as_ref()) {
                Some(Ok(())) => self.settle_gate(session_id, id, None),
                Some(Err(feedback)) => self.settle_gate(session_id, id, Some(feedback)),
                None => {
                    let title = format!("Task {id} still waits for approval");
                    let how = format!("/approve {id} or /reject {id} WHY decides it.");
                    self.notify(session_id, None, Severity::Info, &title, Some(&how));
                }
            },
            ProxyQuestion::AskUser(reply) => {
                let text = answer
                    .as_ref()
                    .filter(|a| a["action"] == "accept")
                    .and_then(|a| a["content"]["answer"].as_str());
                let result = match text {
                    Some(text) => Ok(json!({ "answer": text })),
                    None => Err("the user did not answer".to_string()),
                };
                let _ = reply.send(result);
            }
        }
    }

    /// Approve (`feedback` none) or reject a task in review, and withdraw its gate.
    fn settle_gate(&mut self, session_id: &SessionId, id: TaskId, feedback: Option<String>) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        let result = match &feedback {
            None => session.tasks.approve(id),
            Some(feedback) => session.tasks.reject(id, feedback),
        };
        if let Err(e) = result {
            return tracing::info!(task = %id, error = %e, "gate answer for a task not in review");
        }
        if let Some(feedback) = feedback {
            self.send_back(session_id, id, &feedback);
        }
        self.after_task_changes(session_id);
    }

    /// A rejected task goes back to its role with the user's words as its prompt.
    fn send_back(&mut self, session_id: &SessionId, id: TaskId, feedback: &str) {
        let Some(task) = self.sessions.get(session_id).and_then(|s| s.tasks.get(id)) else {
            return;
        };
        let role = Role::new(&task.spec.role);
        let context = format!(
            "[ourocodus] The user rejected your work on task {id} ({}). Their feedback \
             follows. Rework it, then call complete_task with id \"{id}\" again.",
            agent_text(&task.spec.title, TITLE_CHARS)
        );
        let blocks = vec![
            json!({ "type": "text", "text": context }),
            json!({ "type": "text", "text": feedback }),
        ];
        self.start_task_turn(session_id, &role, id, blocks);
    }

    /// A task left review (approved, or moved on another way): its card goes.
    pub(super) fn withdraw_gate(&mut self, session_id: &SessionId, id: TaskId) {
        self.withdraw_proxy_questions(
            |q| matches!(q, ProxyQuestion::Approval(t) if *t == id),
            session_id,
        );
    }

    /// Withdraws the proxy's open questions of a session that `matches`.
    fn withdraw_proxy_questions(
        &mut self,
        matches: impl Fn(&ProxyQuestion) -> bool,
        session_id: &SessionId,
    ) -> Vec<Relay> {
        self.withdraw_relays(|r| {
            r.session == *session_id && matches!(&r.asker, Asker::Proxy(q) if matches(q))
        })
    }

    /// `/approve tN`, `/reject tN WHY`, `/answer qN TEXT`, `/retry tN`.
    pub(super) fn gate_command(
        &mut self,
        session_id: &SessionId,
        command: &str,
        args: &[&str],
    ) -> Result<String, RpcError> {
        let (first, rest) = args
            .split_first()
            .ok_or_else(|| RpcError::invalid_params(format!("usage: {command} ID ...")))?;
        let rest = rest.join(" ");
        if command == "/answer" {
            return self.answer_command(session_id, first, rest);
        }
        if command == "/retry" {
            return self.retry_command(session_id, first);
        }
        let feedback = (command == "/reject").then_some(rest);
        self.decide_gate(session_id, first, feedback)
    }

    /// Approves (`feedback` none) or rejects the task named `task` if it is in review.
    fn decide_gate(
        &mut self,
        session_id: &SessionId,
        task: &str,
        feedback: Option<String>,
    ) -> Result<String, RpcError> {
        let id = task_arg(task)?;
        let in_review = self
            .sessions
            .get(session_id)
            .and_then(|s| s.tasks.get(id))
            .is_some_and(|t| t.status == super::tasks::TaskStatus::Review);
        if !in_review {
            return Err(RpcError::invalid_params(format!(
                "task {id} is not waiting for approval"
            )));
        }
        let Some(feedback) = feedback else {
            self.settle_gate(session_id, id, None);
            return Ok(format!("approved {id}\n"));
        };
        let feedback = if feedback.trim().is_empty() {
            NO_FEEDBACK.to_string()
        } else {
            user_words(&feedback)
        };
        self.settle_gate(session_id, id, Some(feedback));
        Ok(format!("rejected {id}: sent back to its role\n"))
    }

    /// `/retry tN`: a blocked or failed task handed out again.
    fn retry_command(&mut self, session_id: &SessionId, task: &str) -> Result<String, RpcError> {
        let id = task_arg(task)?;
        let session = self
            .sessions
            .get_mut(session_id)
            .ok_or_else(|| RpcError::invalid_params("no session"))?;
        session
            .tasks
            .reopen(id)
            .map_err(|e| RpcError::invalid_params(e.to_string()))?;
        self.after_task_changes(session_id);
        Ok(format!("{id} is handed out again once its role is free\n"))
    }

    /// `_ourocodus/approve` and `_ourocodus/reject`: the same as the chat commands.
    pub(super) fn gate_reply(
        &mut self,
        session_id: &SessionId,
        task: &str,
        feedback: Option<String>,
    ) -> Result<super::output::Reply, RpcError> {
        self.known_session(session_id)?;
        self.decide_gate(session_id, task, feedback)?;
        let task = self
            .sessions
            .get(session_id)
            .and_then(|s| s.tasks.get(task.parse().ok()?))
            .map(super::task_tools::task_json);
        Ok(super::output::Reply::Json(json!({ "task": task })))
    }

    fn answer_command(
        &mut self,
        session_id: &SessionId,
        question: &str,
        text: String,
    ) -> Result<String, RpcError> {
        let number = question
            .strip_prefix('q')
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| RpcError::invalid_params("usage: /answer qN YOUR ANSWER"))?;
        let id = RelayId(number);
        let open = self.relays.get(&id).is_some_and(|r| {
            r.session == *session_id && matches!(r.asker, Asker::Proxy(ProxyQuestion::AskUser(_)))
        });
        let Some(relay) = open.then(|| self.relays.remove(&id)).flatten() else {
            return Err(RpcError::invalid_params(format!(
                "no open question {question} in this session"
            )));
        };
        for target in &relay.sent_to {
            self.connections
                .deliver(*target, super::output::Output::Withdraw { relay: id });
        }
        if let Asker::Proxy(ProxyQuestion::AskUser(reply)) = relay.asker {
            let _ = reply.send(Ok(json!({ "answer": text })));
        }
        Ok(format!("answered {question} for {}\n", relay.key.role))
    }
}

/// The choice in a gate's permission answer: approve, reject with feedback (the
/// client's `_meta.ourocodus.feedback`, else a default), or neither (cancelled).
fn gate_choice(answer: Option<&Value>) -> Option<Result<(), String>> {
    let answer = answer?;
    let outcome = &answer["outcome"];
    if outcome["outcome"] != "selected" {
        return None;
    }
    match outcome["optionId"].as_str()? {
        APPROVE => Some(Ok(())),
        REJECT => {
            let feedback = answer["_meta"]["ourocodus"]["feedback"]
                .as_str()
                .filter(|f| !f.trim().is_empty())
                .map(user_words)
                .unwrap_or_else(|| NO_FEEDBACK.to_string());
            Some(Err(feedback))
        }
        _ => None,
    }
}

/// The user's own words for a role, as they wrote them but held to a size.
fn user_words(text: &str) -> String {
    text.chars().take(MAX_FEEDBACK_CHARS).collect()
}

/// A task id typed by a user or a plugin.
fn task_arg(text: &str) -> Result<TaskId, RpcError> {
    text.parse()
        .map_err(|e: super::tasks::TaskError| RpcError::invalid_params(e.to_string()))
}
