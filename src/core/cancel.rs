//! Cancellation: a whole session's turns, one role's part of one turn, a prompt
//! its client gave up on, and shutdown. A cancelled role's open permission requests
//! are answered `cancelled` by the core at once; a role that never answers its
//! cancelled prompt is settled after a grace period.

use serde_json::json;

use super::Core;
use super::api::Origin;
use super::command::CancelScope;
use super::output::{Reply, RoleOutcome, StopReason, TeamEvent};
use super::state::{ChildSession, TurnId};
use super::timers::{CANCEL_GRACE, Timer};
use crate::acp::method;
use crate::ids::{Role, SessionId};

impl Core {
    /// Stops a session's work: all of it, or one role's part of one turn.
    pub(super) fn handle_cancel(&mut self, session: &SessionId, scope: CancelScope) {
        match scope {
            CancelScope::Session => self.cancel_session_turns(session),
            CancelScope::Role { role, turn } => {
                let found = self
                    .turns
                    .iter()
                    .find(|(_, t)| t.session == *session && t.seq == turn)
                    .map(|(id, _)| *id);
                match found {
                    Some(turn) => self.cancel_role(turn, &role),
                    None => {
                        tracing::debug!(session = %session, turn, "cancel for a turn that is over")
                    }
                }
            }
        }
    }

    /// A client gave up on one of its requests: a prompt's turn is cancelled.
    pub(super) fn handle_cancel_request(&mut self, origin: &Origin) {
        let turn = self
            .turns
            .iter()
            .find(|(_, t)| t.origin == *origin)
            .map(|(id, _)| *id);
        if let Some(turn) = turn {
            self.cancel_turn(turn);
        }
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

    /// On shutdown: every open prompt is answered `cancelled`.
    pub(super) fn answer_open_turns_as_cancelled(&mut self) {
        let turns: Vec<TurnId> = self.turns.keys().copied().collect();
        for turn_id in turns {
            let Some(turn) = self.turns.remove(&turn_id) else {
                continue;
            };
            let outcome = Ok(StopReason::Cancelled);
            let event = TeamEvent::TurnEnded {
                turn: turn.seq,
                outcome: &outcome,
            };
            self.emit(&turn.session, &event);
            self.reply(&turn.origin, Ok(Reply::TurnEnded(StopReason::Cancelled)));
        }
    }
}
