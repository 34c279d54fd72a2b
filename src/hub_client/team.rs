//! Which session a hub command means (`--session`: its URI, its team session id or a
//! unique prefix of either; else the most recently modified one), making one when
//! there is none, and what the hub says of it in `_meta.ourocodus`: the team session
//! id, the lead chat, the role chats. Knows `listSessions`, `subscribe` and
//! `createSession`; nothing of turns.

use std::collections::BTreeMap;
use std::time::Duration;

use ahp::ahp_types::commands::{
    CreateSessionParams, ListSessionsParams, ListSessionsResult, SubscribeResult,
};
use ahp::ahp_types::common::{JsonObject, ROOT_RESOURCE_URI};
use ahp::ahp_types::state::{SessionState, SessionSummary, SnapshotState};
use ahp::{ClientEventStream, SubscriptionEvent};
use serde::Deserialize;

use super::connect::{Hub, HubCliError, client_error};

/// How long a new session may take to name its chats.
const READY_WAIT: Duration = Duration::from_secs(30);
/// Sessions asked for per `listSessions` page.
const PAGE: i64 = 200;

/// A session as the hub describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamSession {
    /// The AHP session URI (the channel).
    pub uri: String,
    /// The team's own session id (the store's).
    pub session_id: String,
    pub lead_chat: String,
    /// Role → its read-only chat.
    pub role_chats: BTreeMap<String, String>,
}

impl TeamSession {
    /// The session and every chat of it: what `tail` follows.
    pub fn channels(&self) -> Vec<String> {
        let mut channels = vec![self.uri.clone(), self.lead_chat.clone()];
        channels.extend(self.role_chats.values().cloned());
        channels
    }

    /// The role whose chat `channel` is, if it is a role chat.
    pub fn role_of_chat(&self, channel: &str) -> Option<&str> {
        self.role_chats
            .iter()
            .find(|(_, chat)| chat.as_str() == channel)
            .map(|(role, _)| role.as_str())
    }
}

/// `_meta.ourocodus` of a session's state or summary (docs/hub.md).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OurocodusMeta {
    session_id: Option<String>,
    lead_chat: Option<String>,
    role_chats: BTreeMap<String, String>,
}

fn ourocodus_meta(meta: Option<&JsonObject>) -> OurocodusMeta {
    meta.and_then(|m| m.get("ourocodus"))
        .and_then(|v| OurocodusMeta::deserialize(v).ok())
        .unwrap_or_default()
}

/// The team session id of a listed session: `_meta.ourocodus.sessionId`, else what
/// follows the URI's scheme (`ahp-session:/ID`).
pub fn session_id_of(summary: &SessionSummary) -> String {
    ourocodus_meta(summary.meta.as_ref())
        .session_id
        .unwrap_or_else(|| id_from_uri(&summary.resource).to_string())
}

fn id_from_uri(uri: &str) -> &str {
    uri.split_once(':')
        .map_or(uri, |(_, rest)| rest.trim_start_matches('/'))
}

/// Every session the hub hosts, page after page.
pub async fn list_sessions(hub: &Hub) -> Result<Vec<SessionSummary>, HubCliError> {
    let mut sessions = Vec::new();
    let mut cursor = None;
    loop {
        let params = ListSessionsParams {
            channel: ROOT_RESOURCE_URI.to_string(),
            meta: None,
            limit: Some(PAGE),
            cursor: cursor.take(),
        };
        let page: ListSessionsResult = hub.request("listSessions", params).await?;
        let done = page.items.is_empty() || page.next_cursor.is_none();
        sessions.extend(page.items);
        if done {
            return Ok(sessions);
        }
        cursor = page.next_cursor;
    }
}

/// The session `selector` names among `sessions`, else the most recently modified
/// one; `None` when there are none (and no selector).
pub fn choose<'a>(
    sessions: &'a [SessionSummary],
    selector: Option<&str>,
) -> Result<Option<&'a SessionSummary>, HubCliError> {
    let Some(wanted) = selector.map(str::trim) else {
        return Ok(sessions
            .iter()
            .max_by(|a, b| a.modified_at.cmp(&b.modified_at)));
    };
    let ids: Vec<(String, &SessionSummary)> =
        sessions.iter().map(|s| (session_id_of(s), s)).collect();
    if let Some((_, exact)) = ids
        .iter()
        .find(|(id, s)| s.resource == wanted || id == wanted)
    {
        return Ok(Some(exact));
    }
    let matching: Vec<&(String, &SessionSummary)> = ids
        .iter()
        .filter(|(id, s)| id.starts_with(wanted) || s.resource.starts_with(wanted))
        .collect();
    match matching.as_slice() {
        [(_, one)] => Ok(Some(one)),
        [] => Err(HubCliError::Usage(format!(
            "no session on the hub matches {wanted:?} (`ourocodus sessions` lists them)"
        ))),
        many => Err(HubCliError::Usage(format!(
            "{wanted:?} matches {} sessions: {}",
            many.len(),
            many.iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A new session on the hub for `cwd`, its URI `ahp-session:/<uuid>`.
pub async fn create(hub: &Hub, cwd: &std::path::Path) -> Result<String, HubCliError> {
    let uri = format!("ahp-session:/{}", uuid::Uuid::new_v4());
    let params = CreateSessionParams {
        channel: uri.clone(),
        meta: None,
        provider: Some("ourocodus".to_string()),
        working_directories: Some(vec![file_uri(cwd)]),
        config: None,
        active_client: None,
        progress_token: None,
    };
    hub.request::<serde_json::Value>("createSession", params)
        .await?;
    Ok(uri)
}

/// `file:///a/b%20c` for an absolute path.
fn file_uri(path: &std::path::Path) -> String {
    let mut uri = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// Subscribes to the session `uri` and reads its chats from the snapshot; a session
/// still being made is waited for (its actions applied) until it names its lead chat.
/// `events` must have been taken before, so nothing in between is missed.
pub async fn open(
    hub: &Hub,
    uri: &str,
    events: &mut ClientEventStream,
) -> Result<TeamSession, HubCliError> {
    let (subscribed, _) = hub
        .client
        .subscribe(uri.to_string())
        .await
        .map_err(|e| client_error("subscribe", e))?;
    let mut state = session_state(subscribed, uri)?;
    let waiting = async {
        loop {
            if let Some(session) = team_session(uri, &state) {
                return Ok(session);
            }
            let Some(event) = events.recv().await else {
                return Err(HubCliError::Closed);
            };
            if let SubscriptionEvent::Action(envelope) = event.event
                && envelope.channel == uri
            {
                ahp::reducers::apply_action_to_session(&mut state, &envelope.action);
            }
        }
    };
    tokio::time::timeout(READY_WAIT, waiting)
        .await
        .unwrap_or_else(|_| {
            Err(HubCliError::Usage(format!(
                "the hub did not name the chats of {uri} in {}s",
                READY_WAIT.as_secs()
            )))
        })
}

fn session_state(subscribed: SubscribeResult, uri: &str) -> Result<SessionState, HubCliError> {
    match subscribed.snapshot.map(|s| s.state) {
        Some(SnapshotState::Session(state)) => Ok(*state),
        _ => Err(HubCliError::Usage(format!(
            "the hub sent no session state for {uri}"
        ))),
    }
}

/// The session's chats from `_meta.ourocodus`, else from its chat list (the default
/// chat leads; `…/role/<role>` chats are the roles').
fn team_session(uri: &str, state: &SessionState) -> Option<TeamSession> {
    let meta = ourocodus_meta(state.meta.as_ref());
    let lead_chat = meta
        .lead_chat
        .or_else(|| state.default_chat.clone())
        .or_else(|| state.chats.first().map(|c| c.resource.clone()))?;
    let mut role_chats = meta.role_chats;
    if role_chats.is_empty() {
        for chat in &state.chats {
            if let Some((_, role)) = chat.resource.rsplit_once("/role/") {
                role_chats.insert(role.to_string(), chat.resource.clone());
            }
        }
    }
    Some(TeamSession {
        uri: uri.to_string(),
        session_id: meta
            .session_id
            .unwrap_or_else(|| id_from_uri(uri).to_string()),
        lead_chat,
        role_chats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(uri: &str, id: Option<&str>, modified: &str) -> SessionSummary {
        let mut value = json!({ "resource": uri, "provider": "ourocodus", "title": "",
            "status": 1, "createdAt": modified, "modifiedAt": modified });
        if let Some(id) = id {
            value["_meta"] = json!({ "ourocodus": { "sessionId": id } });
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_session_is_named_by_uri_team_id_or_unique_prefix_else_the_latest_is_taken() {
        let sessions = [
            summary(
                "ahp-session:/aaa1",
                Some("team-1"),
                "2026-11-30T10:00:00.000Z",
            ),
            summary("ourocodus:/bbb2", None, "2026-11-30T12:00:00.000Z"),
            summary(
                "ahp-session:/aab3",
                Some("team-3"),
                "2026-11-30T11:00:00.000Z",
            ),
        ];
        let pick = |s: Option<&str>| choose(&sessions, s).map(|x| x.map(|x| x.resource.clone()));
        assert_eq!(pick(None).unwrap().unwrap(), "ourocodus:/bbb2");
        assert_eq!(pick(Some("team-3")).unwrap().unwrap(), "ahp-session:/aab3");
        assert_eq!(pick(Some("bbb2")).unwrap().unwrap(), "ourocodus:/bbb2");
        assert_eq!(
            pick(Some("ahp-session:/aaa1")).unwrap().unwrap(),
            "ahp-session:/aaa1"
        );
        assert_eq!(pick(Some("team-1")).unwrap().unwrap(), "ahp-session:/aaa1");
        let ambiguous = pick(Some("team")).unwrap_err().to_string();
        assert!(ambiguous.contains("matches 2 sessions"), "{ambiguous}");
        assert!(pick(Some("zzz")).is_err());
        assert_eq!(choose(&[], None).unwrap(), None);
    }

    #[test]
    fn the_chats_come_from_meta_else_from_the_chat_list() {
        let mut state: SessionState = serde_json::from_value(json!({
            "provider": "ourocodus", "title": "", "status": 1, "lifecycle": "ready",
            "activeClients": [], "chats": [
                { "resource": "ahp-chat:/s/lead", "title": "lead", "status": 1, "modifiedAt": "x" },
                { "resource": "ahp-chat:/s/role/backend", "title": "b", "status": 1, "modifiedAt": "x" }
            ] }))
        .unwrap();
        let listed = team_session("ahp-session:/s", &state).unwrap();
        assert_eq!(listed.lead_chat, "ahp-chat:/s/lead");
        assert_eq!(
            listed.role_of_chat("ahp-chat:/s/role/backend"),
            Some("backend")
        );
        assert_eq!(listed.session_id, "s");
        let meta = json!({ "ourocodus": { "sessionId": "team-9", "leadChat": "ahp-chat:/team-9/lead",
            "roleChats": { "test": "ahp-chat:/team-9/role/test" }, "roles": ["test"] } });
        state.meta = meta.as_object().cloned();
        let described = team_session("ahp-session:/s", &state).unwrap();
        assert_eq!(described.session_id, "team-9");
        assert_eq!(described.lead_chat, "ahp-chat:/team-9/lead");
        assert_eq!(
            described.channels(),
            [
                "ahp-session:/s",
                "ahp-chat:/team-9/lead",
                "ahp-chat:/team-9/role/test"
            ]
        );
    }

    #[test]
    fn a_directory_becomes_a_file_uri() {
        assert_eq!(file_uri(std::path::Path::new("/w/a b")), "file:///w/a%20b");
    }
}
