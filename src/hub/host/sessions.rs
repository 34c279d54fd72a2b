//! One hosted session as AHP shows it: its session state, its lead chat and one
//! read-only chat per role (states kept by `ahp`'s reducers), which team turn is
//! which AHP turn, and what was already opened in each chat's active turn. Knows
//! nothing of clients or the core.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ahp_types::state::{ChatState, SessionState, SessionSummary};
use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::hub::ahp::PROVIDER;
use crate::ids::{Role, SessionId};

/// One chat and what its active turn holds so far.
pub struct Chat {
    pub uri: String,
    pub state: ChatState,
    /// Response parts created in the active turn (by part id).
    pub parts: HashSet<String>,
    /// Tool calls started in the active turn (by tool call id).
    pub tools: HashSet<String>,
    /// When the active turn started here (its duration is measured on this clock).
    pub started: Option<std::time::Instant>,
}

impl Chat {
    fn new(uri: String, title: &str, read_only: bool, now: &str) -> Chat {
        let state = serde_json::from_value(json!({
            "resource": uri,
            "title": title,
            "status": 1,
            "modifiedAt": now,
            "interactivity": if read_only { "read-only" } else { "full" },
            "turns": [],
        }))
        .unwrap_or_else(|_| unreachable_chat(&uri));
        Chat {
            uri,
            state,
            parts: HashSet::new(),
            tools: HashSet::new(),
            started: None,
        }
    }

    /// The active turn's id, if a turn is active.
    pub fn active_turn(&self) -> Option<&str> {
        self.state.active_turn.as_ref().map(|t| t.id.as_str())
    }

    /// Forgets what the ended turn had opened.
    pub fn turn_ended(&mut self) {
        self.parts.clear();
        self.tools.clear();
    }

    pub fn summary(&self) -> Value {
        json!({
            "resource": self.uri,
            "title": self.state.title,
            "status": self.state.status,
            "modifiedAt": self.state.modified_at,
            "interactivity": self.state.interactivity,
        })
    }
}

/// A chat state built field by field cannot fail to parse; this is never reached.
fn unreachable_chat(uri: &str) -> ChatState {
    tracing::error!(uri, "a chat state did not build");
    ChatState {
        resource: uri.to_string(),
        title: String::new(),
        status: 1,
        activity: None,
        modified_at: String::new(),
        changes: None,
        origin: None,
        movable: None,
        interactivity: None,
        working_directories: None,
        changesets: None,
        background_work: None,
        canvases: None,
        turns: Vec::new(),
        turns_next_cursor: None,
        active_turn: None,
        steering_message: None,
        queued_messages: None,
        draft: None,
        meta: None,
    }
}

/// A session the hub hosts.
pub struct Hosted {
    pub id: SessionId,
    pub uri: String,
    pub cwd: std::path::PathBuf,
    pub state: SessionState,
    pub lead: Chat,
    pub roles: IndexMap<Role, Chat>,
    /// Team turn number → the AHP turn id used for it.
    pub turns: HashMap<u64, String>,
    /// The team turn the lead chat's active turn is, if any.
    pub lead_turn: Option<u64>,
    pub created_at: String,
    pub plan: Value,
}

impl Hosted {
    pub fn new(id: SessionId, uri: String, cwd: &Path, roles: &[Role], now: &str) -> Hosted {
        let lead_uri = format!("ahp-chat:/{id}/lead");
        let lead = Chat::new(lead_uri, "Team", false, now);
        let roles: IndexMap<Role, Chat> = roles
            .iter()
            .map(|role| {
                let uri = format!("ahp-chat:/{id}/role/{role}");
                let chat = Chat::new(uri, &format!("@{role}"), true, now);
                (role.clone(), chat)
            })
            .collect();
        let mut hosted = Hosted {
            id,
            uri,
            cwd: cwd.to_path_buf(),
            state: empty_session(),
            lead,
            roles,
            turns: HashMap::new(),
            lead_turn: None,
            created_at: now.to_string(),
            plan: Value::Array(Vec::new()),
        };
        hosted.state = hosted.initial_state();
        hosted
    }

    fn initial_state(&self) -> SessionState {
        let mut chats = vec![self.lead.summary()];
        chats.extend(self.roles.values().map(Chat::summary));
        let state = json!({
            "provider": PROVIDER,
            "title": "",
            "status": 1,
            "lifecycle": "ready",
            "activeClients": [],
            "chats": chats,
            "defaultChat": self.lead.uri,
            "workingDirectories": [file_uri(&self.cwd)],
            "_meta": { "ourocodus": self.meta() },
        });
        serde_json::from_value(state).unwrap_or_else(|e| {
            tracing::error!(error = %e, "a session state did not build");
            empty_session()
        })
    }

    /// `_meta.ourocodus` of the session.
    pub fn meta(&self) -> Value {
        let role_chats: serde_json::Map<String, Value> = self
            .roles
            .iter()
            .map(|(role, chat)| (role.to_string(), Value::String(chat.uri.clone())))
            .collect();
        json!({
            "sessionId": self.id.as_str(),
            "cwd": self.cwd,
            "roles": self.roles.keys().map(|r| r.as_str()).collect::<Vec<_>>(),
            "leadChat": self.lead.uri,
            "roleChats": role_chats,
            "plan": self.plan,
        })
    }

    /// A chat for a role spawned after the session opened.
    pub fn add_role(&mut self, role: &Role, now: &str) -> &Chat {
        let uri = format!("ahp-chat:/{}/role/{role}", self.id);
        let chat = Chat::new(uri, &format!("@{role}"), true, now);
        self.roles.entry(role.clone()).or_insert(chat)
    }

    pub fn chat(&self, role: Option<&Role>) -> Option<&Chat> {
        match role {
            None => Some(&self.lead),
            Some(role) => self.roles.get(role),
        }
    }

    pub fn chat_mut(&mut self, role: Option<&Role>) -> Option<&mut Chat> {
        match role {
            None => Some(&mut self.lead),
            Some(role) => self.roles.get_mut(role),
        }
    }

    /// The AHP turn id of a team turn (`t<N>` unless a client chose one).
    pub fn turn_id(&self, turn: u64) -> String {
        self.turns
            .get(&turn)
            .cloned()
            .unwrap_or_else(|| format!("t{turn}"))
    }

    pub fn summary(&self) -> SessionSummary {
        let value = json!({
            "provider": PROVIDER,
            "title": self.state.title,
            "status": self.state.status,
            "resource": self.uri,
            "createdAt": self.created_at,
            "modifiedAt": self.lead.state.modified_at,
            "workingDirectories": [file_uri(&self.cwd)],
            "workingDirectory": file_uri(&self.cwd),
        });
        serde_json::from_value(value).unwrap_or_else(|_| SessionSummary {
            provider: PROVIDER.to_string(),
            title: String::new(),
            status: 1,
            activity: None,
            origin: None,
            project: None,
            working_directories: None,
            annotations: None,
            resource: self.uri.clone(),
            created_at: self.created_at.clone(),
            modified_at: self.created_at.clone(),
            changes: None,
            chats: None,
            default_chat: None,
            meta: None,
        })
    }
}

fn empty_session() -> SessionState {
    serde_json::from_value(json!({
        "provider": PROVIDER, "title": "", "status": 1, "lifecycle": "ready",
        "activeClients": [], "chats": [],
    }))
    .unwrap_or_else(|e| panic!("the empty session state is well formed: {e}"))
}

/// `file:///path` for a directory.
pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A directory from a `file://` URI (or a plain absolute path).
pub fn path_of_uri(uri: &str) -> Option<std::path::PathBuf> {
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    let path = std::path::PathBuf::from(path);
    path.is_absolute().then_some(path)
}
