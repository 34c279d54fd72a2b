//! How a turn ends, from where each of its roles stands: the stop reason the
//! client is answered with, or one error naming every role when all failed. Pure;
//! knows turns and outcomes, nothing of how they are sent.

use serde_json::{Value, json};

use super::output::{RoleOutcome, StopReason};
use super::state::Turn;
use crate::error::RpcError;
use crate::ids::Role;
use crate::jsonrpc::codes;

/// The turn's answer: `cancelled` if cancelled; the reason all successful roles
/// agree on, else `end_turn`; an error naming every role when all of them failed.
pub(super) fn aggregate(turn: &Turn) -> Result<StopReason, RpcError> {
    if turn.cancelled {
        return Ok(StopReason::Cancelled);
    }
    let reasons: Vec<StopReason> = turn
        .roles
        .values()
        .filter_map(|o| match o {
            RoleOutcome::Done(reason) => Some(*reason),
            RoleOutcome::Cancelled => Some(StopReason::Cancelled),
            _ => None,
        })
        .collect();
    let Some(first) = reasons.first().copied() else {
        return Err(all_failed(turn));
    };
    let agreed = reasons.iter().all(|r| *r == first);
    Ok(if agreed { first } else { StopReason::EndTurn })
}

fn all_failed(turn: &Turn) -> RpcError {
    let failures: Vec<(&Role, &RpcError)> = turn
        .roles
        .iter()
        .filter_map(|(role, o)| match o {
            RoleOutcome::Failed(e) => Some((role, e)),
            _ => None,
        })
        .collect();
    let code = match failures.first() {
        Some((_, first)) if failures.iter().all(|(_, e)| e.code == first.code) => first.code,
        _ => codes::INTERNAL_ERROR,
    };
    let summary: Vec<String> = failures
        .iter()
        .map(|(r, e)| format!("{r}: {}", e.message))
        .collect();
    let data: serde_json::Map<String, Value> = failures
        .iter()
        .map(|(r, e)| {
            (
                r.to_string(),
                json!({ "code": e.code, "message": e.message }),
            )
        })
        .collect();
    RpcError::new(
        code,
        format!("every routed role failed — {}", summary.join("; ")),
    )
    .with_data(json!({ "ourocodus": { "roles": data } }))
}
