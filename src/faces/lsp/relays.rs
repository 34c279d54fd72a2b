//! Agents' requests relayed to an LSP client, each on its own task so the user's
//! time to decide holds nothing else up: a permission request becomes a
//! `window/showMessageRequest` whose actions are its options, and the chosen one
//! goes back to the core as the answer; what a message cannot answer is refused.
//! Also the user's approval of a proposed change before `workspace/applyEdit`.
//! Knows nothing of the core's state.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use tokio::task::AbortHandle;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{
    MessageActionItem, MessageType, Range, TextEdit, Uri, WorkspaceEdit,
};

use super::state::{FaceState, lock};
use crate::core::{Command, RelayId, RelayKind};
use crate::error::RpcError;
use crate::ids::Role;

/// A permission request's params, as far as the face shows them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PermissionView {
    #[serde(default)]
    tool_call: Option<ToolCallView>,
    #[serde(default)]
    options: Vec<OptionView>,
}

#[derive(Debug, Deserialize)]
struct ToolCallView {
    #[serde(default)]
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OptionView {
    option_id: String,
    name: String,
}

/// Asks the user, then answers the core (on a task of its own, which the caller
/// aborts if the core withdraws the request first).
pub fn relay(
    client: &Client,
    state: &Arc<FaceState>,
    relay: RelayId,
    role: Role,
    kind: RelayKind,
    params: serde_json::Value,
) -> AbortHandle {
    let (client, state) = (client.clone(), state.clone());
    let task = tokio::spawn(async move {
        let outcome = match kind {
            RelayKind::Permission => ask_permission(&client, &role, params).await,
            _ => Err(RpcError::new(
                -32601,
                "an LSP client cannot answer this request",
            )),
        };
        state.send(Command::Answer { relay, outcome }).await;
    });
    task.abort_handle()
}

async fn ask_permission(
    client: &Client,
    role: &Role,
    params: serde_json::Value,
) -> Result<String, RpcError> {
    let view: PermissionView = serde_json::from_value(params)
        .map_err(|e| RpcError::invalid_params(format!("permission request: {e}")))?;
    let title = view
        .tool_call
        .and_then(|t| t.title)
        .unwrap_or_else(|| "a tool call".to_string());
    // Option names are what the user sees and picks: the first of a name wins.
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut actions = Vec::with_capacity(view.options.len());
    for option in view.options {
        if let std::collections::hash_map::Entry::Vacant(entry) = ids.entry(option.name) {
            actions.push(MessageActionItem {
                title: entry.key().clone(),
                properties: HashMap::new(),
            });
            entry.insert(option.option_id);
        }
    }
    let message = format!("@{role} asks permission: {title}");
    let chosen = client
        .show_message_request(MessageType::WARNING, message, Some(actions))
        .await
        .ok()
        .flatten()
        .and_then(|item| ids.remove(&item.title));
    let outcome = match chosen {
        Some(option) => json!({ "outcome": { "outcome": "selected", "optionId": option } }),
        None => json!({ "outcome": { "outcome": "cancelled" } }),
    };
    Ok(outcome.to_string())
}

/// What the user is asked to approve: a role's code for a range of a document.
#[derive(Debug)]
pub struct ProposedChange {
    pub role: Role,
    pub uri: Uri,
    pub range: Range,
    /// What the range held when the change was asked (the document was open): the
    /// edit goes in only over the same text.
    pub before: Option<String>,
    pub code: String,
    pub place: String,
}

const APPLY: &str = "Apply";
const SHOW: &str = "Show";
const DISCARD: &str = "Discard";

/// Asks whether to apply a change, and applies it only if the user says so (on a
/// task of its own). "Show" shows the code, then asks again.
pub fn propose_change(client: &Client, state: Arc<FaceState>, change: ProposedChange) {
    let client = client.clone();
    tokio::spawn(async move {
        let message = format!("@{} proposes a change to {}", change.role, change.place);
        let actions = [APPLY, SHOW, DISCARD].map(|title| MessageActionItem {
            title: title.to_string(),
            properties: HashMap::new(),
        });
        loop {
            let answer = client
                .show_message_request(MessageType::INFO, &message, Some(actions.to_vec()))
                .await
                .ok()
                .flatten();
            match answer.as_ref().map(|a| a.title.as_str()) {
                Some(APPLY) => return apply(&client, &state, change).await,
                Some(SHOW) => client.show_message(MessageType::INFO, &change.code).await,
                _ => return,
            }
        }
    });
}

async fn apply(client: &Client, state: &FaceState, change: ProposedChange) {
    // Checked when it is applied: the user may have edited since asking (and a
    // change is only ever asked for code in an open document).
    let now = lock(&state.documents).text_in(&change.uri, &change.range);
    if change.before.is_none() || now != change.before {
        let why = format!(
            "not applied: {} changed since @{} was asked",
            change.place, change.role
        );
        return client.show_message(MessageType::WARNING, why).await;
    }
    let edit = TextEdit {
        range: change.range,
        new_text: change.code,
    };
    let edit = WorkspaceEdit {
        changes: Some(HashMap::from([(change.uri, vec![edit])])),
        ..WorkspaceEdit::default()
    };
    match client.apply_edit(edit).await {
        Ok(response) if response.applied => {}
        Ok(response) => {
            let why = response
                .failure_reason
                .unwrap_or_else(|| "no reason given".into());
            client
                .show_message(
                    MessageType::WARNING,
                    format!("the change was not applied: {why}"),
                )
                .await;
        }
        Err(e) => {
            client
                .show_message(
                    MessageType::ERROR,
                    format!("the change could not be applied: {e}"),
                )
                .await;
        }
    }
}
