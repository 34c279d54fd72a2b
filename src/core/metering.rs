//! What each session's usage tallies are fed, live and when a session is loaded: a
//! role's `usage_update`s (read from the fields its line was indexed with) and the
//! token counts of its prompt answers (recorded as `tokens` events, since the answer
//! itself is not); which turns worked on which task; and the totals as `/usage` says
//! them and `_ourocodus/usage` answers them. The tallies themselves are `usage`'s;
//! this knows no face and no SQL.

use super::Core;
use super::api::Origin;
use super::commands::unknown_session;
use super::output::{TeamEvent, UpdateKind};
use super::recall::Decoded;
use super::state::TurnId;
use super::usage::{self, SessionUsage, Tokens, UsageSummary};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::{IndexedTexts, ObjectFields};

impl Core {
    /// One of a role's `usage_update`s (its `update` object's fields), during `turn`
    /// (the session's numbering) if it had one.
    pub(super) fn note_usage_update(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        turn: Option<u64>,
        update: ObjectFields<'_>,
    ) {
        let report = usage::read_update(update);
        if let Some(session) = self.sessions.get_mut(session_id) {
            session.usage.note_report(role, turn, &report);
        }
    }

    /// The token counts `role`'s answer to `turn` gave, tallied and recorded.
    pub(super) fn note_turn_tokens(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        turn: TurnId,
        tokens: Option<Tokens>,
    ) {
        let Some(tokens) = tokens else {
            return;
        };
        let seq = self.turns.get(&turn).map(|t| t.seq);
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        session.usage.note_tokens(role, seq, &tokens);
        let event = TeamEvent::TurnTokens {
            role,
            turn: seq,
            tokens: &tokens,
        };
        self.emit(session_id, &event);
    }

    /// A turn opened: one the dispatcher started for a task counts for that task.
    pub(super) fn note_turn_origin(&mut self, session_id: &SessionId, seq: u64, origin: &Origin) {
        if let (Origin::Task(task), Some(session)) = (origin, self.sessions.get_mut(session_id)) {
            session.usage.note_task_turn(seq, *task);
        }
    }

    /// `/usage` as text for the chat.
    pub(super) fn describe_usage(&self, session_id: &SessionId) -> String {
        self.sessions
            .get(session_id)
            .map(|s| usage::describe(&s.usage.summary()))
            .unwrap_or_default()
    }

    /// `_ourocodus/usage`: the totals of a session live in this proxy.
    pub(super) fn usage_summary(&self, session_id: &SessionId) -> Result<UsageSummary, RpcError> {
        self.sessions
            .get(session_id)
            .map(|s| s.usage.summary())
            .ok_or_else(|| unknown_session(session_id))
    }
}

/// A loaded session's usage, rebuilt from one event of its history with the same
/// reading as live.
pub(super) fn recall_usage(usage: &mut SessionUsage, event: &Decoded, texts: &IndexedTexts) {
    match event {
        Decoded::Prompt {
            turn,
            task: Some(task),
            ..
        } => usage.note_task_turn(*turn, *task),
        Decoded::Update {
            role,
            turn,
            kind: UpdateKind::Usage,
            params,
            ..
        } => {
            let update = texts.fields(params).get("update").and_then(|f| f.object());
            if let Some(update) = update {
                usage.note_report(role, *turn, &usage::read_update(update));
            }
        }
        Decoded::TurnTokens { role, turn, tokens } => usage.note_tokens(role, *turn, tokens),
        _ => {}
    }
}
