//! Cancellation: `session/cancel` for a whole session or one role's subagent
//! session, `$/cancel_request` for a prompt, and shutdown. A cancelled role's open
//! permission requests are answered `cancelled` by the proxy at once; a role that
//! never answers its cancelled prompt is settled after a grace period.

use serde_json::json;

use super::Router;
use super::state::{ChildSession, RoleOutcome, ToEditor, TurnId};
use super::timers::{CANCEL_GRACE, Timer};
use crate::acp::{self, method};
use crate::ids::{Role, SessionId};

impl Router {
    /// `session/cancel`: a whole session, or one role's subagent session.
    pub(super) fn handle_cancel(&mut self, params: Option<&str>) {
        let Ok(params) = acp::parse_params::<acp::SessionRef>(params) else {
            return tracing::warn!("session/cancel without a sessionId");
        };
        let id = SessionId::new(params.session_id.as_ref());
        if let Some((turn, role)) = self.subagent_sessions.get(&id).cloned() {
            return self.cancel_role(turn, &role);
        }
        self.cancel_session_turns(&id);
    }

    pub(super) fn cancel_session_turns(&mut self, session_id: &SessionId) {
        let turns: Vec<TurnId> = self
            .turns
            .iter()
            .filter(|(_, t)| t.session == *session_id)
            .map(|(id, _)| *id)
            .collect();
        for turn in turns {
            self.cancel_turn(turn);
        }
    }

    pub(super) fn cancel_turn(&mut self, turn_id: TurnId) {
        let Some(turn) = self.turns.get_mut(&turn_id) else {
            return;
        };
        turn.cancelled = true;
        let working: Vec<Role> = turn
            .roles
            .iter()
            .filter(|(_, o)| **o == RoleOutcome::Working)
            .map(|(r, _)| r.clone())
            .collect();
        for role in working {
            self.cancel_role(turn_id, &role);
        }
    }

    /// Cancels one role's part of a turn: a queued prompt is dropped, a running one is
    /// cancelled at the agent, and its open permission requests are answered `cancelled`.
    fn cancel_role(&mut self, turn_id: TurnId, role: &Role) {
        let Some(turn) = self.turns.get_mut(&turn_id) else {
            return;
        };
        let session_id = turn.session.clone();
        let first_cancel = turn.cancel_sent.insert(role.clone());
        let Some(rs) = self
            .sessions
            .get_mut(&session_id)
            .and_then(|s| s.roles.get_mut(role))
        else {
            return;
        };
        if rs.queued.iter().any(|q| q.turn == turn_id) {
            return self.settle_role(turn_id, role, RoleOutcome::Cancelled);
        }
        let ChildSession::Ready(child) = rs.child.clone() else {
            return self.settle_role(turn_id, role, RoleOutcome::Cancelled);
        };
        if first_cancel {
            let params = json!({ "sessionId": child.as_str() }).to_string();
            self.notify_agent(role, method::SESSION_CANCEL, &params);
            self.timers
                .insert(Timer::CancelGrace(turn_id, role.clone()), CANCEL_GRACE);
        }
        self.cancel_relayed_permissions(&session_id, role);
    }

    /// Answers `cancelled` to the role's permission requests still open at the editor.
    fn cancel_relayed_permissions(&mut self, session_id: &SessionId, role: &Role) {
        let mut answers = Vec::new();
        for ToEditor::Relayed(relayed) in self.editor.pending.values_mut() {
            let matches = relayed.session == *session_id
                && relayed.key.role == *role
                && relayed.method == method::REQUEST_PERMISSION
                && !relayed.answered;
            if matches {
                relayed.answered = true;
                answers.push((relayed.key.clone(), relayed.agent_request.clone()));
            }
        }
        let cancelled = json!({ "outcome": { "outcome": "cancelled" } }).to_string();
        for (key, request) in answers {
            self.answer_agent(&key, &request, Ok(cancelled.clone()));
        }
    }

    /// On shutdown: every open prompt is answered `cancelled`.
    pub(super) fn answer_open_turns_as_cancelled(&mut self) {
        let turns: Vec<TurnId> = self.turns.keys().copied().collect();
        for turn_id in turns {
            if let Some(turn) = self.turns.remove(&turn_id)
                && !self.editor.closed
            {
                self.respond(&turn.editor_request, &json!({ "stopReason": "cancelled" }));
            }
        }
    }
}
