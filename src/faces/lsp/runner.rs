//! The runner: takes the core's effects for one LSP client in order and shows them
//! with LSP's own means — `$/progress` per role while it works (begin, a report with
//! the latest line of its text, end), the answer as `window/showMessage` or, for a
//! change, an edit offered for approval, notices as `window/logMessage` (warnings and
//! errors also shown), and every role update as an `ourocodus/update` notification.
//! Knows no core state; waits on the client, never on the core.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::task::AbortHandle;
use tower_lsp_server::ls_types::{MessageType, ProgressToken};
use tower_lsp_server::{Client, OngoingProgress};

use super::ask::{self, AskKind};
use super::effects::{Effect, EffectReceiver, Ending};
use super::relays::{self, ProposedChange};
use super::state::{Ask, FaceState, SessionState, lock};
use crate::core::{RelayId, Severity};
use crate::ids::{Role, SessionId};
use crate::jsonrpc::RequestId;

/// The custom notification carrying each role-tagged update.
pub const UPDATE: &str = "ourocodus/update";
/// An answer is kept up to this many bytes (the rest is cut, and says so).
const ANSWER_BYTES: usize = 64 * 1024;
/// How long the client may take to accept a progress token.
const PROGRESS_CREATE_WAIT: Duration = Duration::from_secs(5);
/// A progress report's line is cut to this many characters.
const REPORT_CHARS: usize = 120;

/// `ourocodus/update`'s params.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateParams<'a> {
    pub session_id: Option<&'a SessionId>,
    pub role: &'a Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn: Option<u64>,
    pub update: &'a serde_json::value::RawValue,
}

enum UpdateNotification {}

impl tower_lsp_server::ls_types::notification::Notification for UpdateNotification {
    type Params = serde_json::Value;
    const METHOD: &'static str = UPDATE;
}

type Progress = OngoingProgress<tower_lsp_server::Unbounded, tower_lsp_server::NotCancellable>;

/// One role's part of one turn, as shown.
#[derive(Default)]
struct RoleWork {
    progress: Option<Progress>,
    answer: String,
    cut: bool,
}

#[derive(Default)]
struct Turn {
    ask: Option<Ask>,
    roles: HashMap<Role, RoleWork>,
}

struct Runner {
    client: Client,
    state: Arc<FaceState>,
    session: Option<SessionId>,
    turns: HashMap<u64, Turn>,
    /// The face's prompts whose turn started, until they are answered.
    started: HashSet<RequestId>,
    /// The relays waiting on the user, to stop asking when the core withdraws one.
    relays: HashMap<RelayId, AbortHandle>,
}

/// Runs until the core lets go of the connection.
pub async fn run_effects(client: Client, mut effects: EffectReceiver, state: Arc<FaceState>) {
    let mut runner = Runner {
        client,
        state,
        session: None,
        turns: HashMap::new(),
        started: HashSet::new(),
        relays: HashMap::new(),
    };
    while let Some((weight, effect)) = effects.recv().await {
        runner.handle(effect).await;
        effects.release(weight);
    }
}

impl Runner {
    async fn handle(&mut self, effect: Effect) {
        match effect {
            Effect::Welcome { roles } => *lock(&self.state.roles) = roles,
            Effect::RoleSeen { role } => {
                let mut roles = lock(&self.state.roles);
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
            Effect::Opened { session } => {
                self.session = Some(session.clone());
                self.state.set_session(SessionState::Open(session));
            }
            Effect::Replied { request, error } => self.replied(request, error).await,
            Effect::TurnStarted {
                turn,
                roles,
                request,
            } => self.turn_started(turn, roles, request).await,
            Effect::Update {
                role,
                turn,
                update,
                text,
            } => {
                self.update(&role, turn, &update).await;
                if let (Some(turn), Some(text)) = (turn, text) {
                    self.text(turn, &role, &text).await;
                }
            }
            Effect::RoleEnded { turn, role, ending } => self.role_ended(turn, role, ending).await,
            Effect::Notice { severity, text } => self.notice(severity, text).await,
            Effect::Relay {
                relay,
                role,
                kind,
                params,
            } => {
                self.relays.retain(|_, task| !task.is_finished());
                let task = relays::relay(&self.client, &self.state, relay, role, kind, params);
                self.relays.insert(relay, task);
            }
            Effect::Withdraw { relay } => self.withdraw(relay).await,
        }
    }

    /// The core no longer needs an answer (the turn was cancelled, the agent went):
    /// the question stops waiting, and the user is told that answering it does
    /// nothing. (LSP would let the server send `$/cancelRequest`, but the LSP library
    /// does not expose the id of a request it sent, so the client's prompt stays.)
    async fn withdraw(&mut self, relay: RelayId) {
        let Some(task) = self.relays.remove(&relay) else {
            return;
        };
        if task.is_finished() {
            return;
        }
        task.abort();
        tracing::debug!(relay = relay.0, "a relayed request was withdrawn");
        let message =
            "a permission request was withdrawn (its turn ended): answering it does nothing";
        self.client.show_message(MessageType::INFO, message).await;
    }

    /// A command's answer: a failure is shown, unless its turn ran (then each role's
    /// failure was told by the core's notices).
    async fn replied(&mut self, request: RequestId, error: Option<String>) {
        lock(&self.state.asks).remove(&request);
        let opening = lock(&self.state.opening).as_ref() == Some(&request);
        if let (true, Some(why)) = (opening, &error) {
            self.state.set_session(SessionState::Failed(why.clone()));
        }
        let turn_ran = self.started.remove(&request);
        if let Some(error) = error
            && !turn_ran
        {
            self.client.show_message(MessageType::ERROR, error).await;
        }
    }

    async fn turn_started(&mut self, turn: u64, roles: Vec<Role>, request: Option<RequestId>) {
        if let Some(request) = &request {
            self.started.insert(request.clone());
        }
        let ask = request.and_then(|r| lock(&self.state.asks).remove(&r));
        // A turn no role works on (a slash command) ends with its answer: nothing to keep.
        if roles.is_empty() {
            return;
        }
        let mut shown = Turn {
            ask,
            roles: HashMap::new(),
        };
        let takes_progress = self.state.takes_progress();
        for role in roles {
            let progress = if takes_progress {
                self.begin(turn, &role).await
            } else {
                None
            };
            let work = RoleWork {
                progress,
                ..RoleWork::default()
            };
            shown.roles.insert(role, work);
        }
        self.turns.insert(turn, shown);
    }

    /// Creates the role's progress token and begins it (none if the client refuses,
    /// or takes too long to say: the effects after it wait meanwhile).
    async fn begin(&self, turn: u64, role: &Role) -> Option<Progress> {
        let token = ProgressToken::String(format!("ourocodus/{turn}/{role}"));
        let created = self.client.create_work_done_progress(token.clone());
        match tokio::time::timeout(PROGRESS_CREATE_WAIT, created).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "the client refused a progress token");
                return None;
            }
            Err(_) => {
                tracing::debug!("the client did not answer for a progress token in time");
                return None;
            }
        }
        let title = format!("@{role}");
        let progress = self.client.progress(token, title).with_message("working");
        Some(progress.begin().await)
    }

    async fn update(&self, role: &Role, turn: Option<u64>, update: &serde_json::value::RawValue) {
        let params = UpdateParams {
            session_id: self.session.as_ref(),
            role,
            turn,
            update,
        };
        match serde_json::to_value(params) {
            Ok(params) => {
                self.client
                    .send_notification::<UpdateNotification>(params)
                    .await
            }
            Err(e) => tracing::debug!(error = %e, "an update could not be written"),
        }
    }

    async fn text(&mut self, turn: u64, role: &Role, text: &str) {
        let Some(work) = self
            .turns
            .get_mut(&turn)
            .and_then(|t| t.roles.get_mut(role))
        else {
            return;
        };
        append_capped(&mut work.answer, &mut work.cut, text);
        if let (Some(progress), Some(line)) = (&work.progress, latest_line(&work.answer)) {
            progress.report(line).await;
        }
    }

    async fn role_ended(&mut self, turn: u64, role: Role, ending: Ending) {
        let Some(shown) = self.turns.get_mut(&turn) else {
            return;
        };
        let work = shown.roles.remove(&role).unwrap_or_default();
        let ask = shown.ask.clone();
        if shown.roles.is_empty() {
            self.turns.remove(&turn);
        }
        if let Some(progress) = work.progress {
            progress.finish_with_message(ending.describe()).await;
        }
        match ending {
            Ending::Answered => {}
            // The core's notice (shown as an error) says why.
            Ending::Failed(_) => return,
            Ending::Cancelled => {
                let message = format!("@{role} cancelled");
                return self
                    .client
                    .show_message(MessageType::WARNING, message)
                    .await;
            }
        }
        match ask {
            Some(Ask {
                kind: AskKind::Change,
                args,
                before,
            }) if self.state.takes_edits() => {
                if let (Some(uri), Some(range)) = (args.uri, args.range) {
                    let place = ask::place(&uri, Some(&range));
                    let code = ask::replacement_code(&work.answer);
                    relays::propose_change(
                        &self.client,
                        self.state.clone(),
                        ProposedChange {
                            role,
                            uri,
                            range,
                            before,
                            code,
                            place,
                        },
                    );
                }
            }
            _ => {
                let text = match work.answer.trim() {
                    "" => "(no text)",
                    text => text,
                };
                let mut answer = format!("@{role}: {text}");
                if work.cut {
                    answer.push_str(" […]");
                }
                self.client.show_message(MessageType::INFO, answer).await;
            }
        }
    }

    async fn notice(&self, severity: Severity, text: String) {
        let typ = match severity {
            Severity::Info => MessageType::INFO,
            Severity::Warning => MessageType::WARNING,
            Severity::Error => MessageType::ERROR,
        };
        if severity != Severity::Info {
            self.client.show_message(typ, &text).await;
        }
        self.client.log_message(typ, text).await;
    }
}

/// Appends up to the cap (on a character boundary); `cut` says something was left out.
fn append_capped(answer: &mut String, cut: &mut bool, text: &str) {
    let room = ANSWER_BYTES.saturating_sub(answer.len());
    if text.len() <= room {
        return answer.push_str(text);
    }
    let mut end = room;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    answer.push_str(&text[..end]);
    *cut = true;
}

/// The last line with something on it, cut for a progress report.
fn latest_line(text: &str) -> Option<String> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    Some(line.chars().take(REPORT_CHARS).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_line_is_the_last_with_text() {
        assert_eq!(latest_line("one\ntwo\n\n").as_deref(), Some("two"));
        assert_eq!(latest_line("  \n"), None);
        assert_eq!(
            latest_line(&"x".repeat(500)).map(|l| l.len()),
            Some(REPORT_CHARS)
        );
    }

    #[test]
    fn an_answer_stops_at_its_cap_on_a_character() {
        let (mut answer, mut cut) = ("a".repeat(ANSWER_BYTES - 1), false);
        append_capped(&mut answer, &mut cut, "éé");
        assert!(cut);
        assert_eq!(answer.len(), ANSWER_BYTES - 1);
    }
}
