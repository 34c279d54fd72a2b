//! Which sessions the host hosts: taken on when opened (by an AHP client or any
//! other), let go when disposed, listed in a small file beside the store so a
//! restarted hub loads every one of them again (history replayed, agents back);
//! plus the team-wide news (roles, statuses, task plans). Knows nothing of sockets.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::observer::News;
use super::publish::{ChannelOf, Host};
use super::requests::Waiting;
use super::sessions::Hosted;
use super::translate::{action, now};
use crate::core::{AgentSummary, Command, Reply, SessionParams};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};

/// One line of the hosted-sessions file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    session_id: SessionId,
    uri: String,
    cwd: PathBuf,
}

impl Host {
    pub fn on_news(&mut self, news: News) {
        match news {
            News::Reply { request, outcome } => self.on_reply(request, outcome),
            News::Event { session, event, .. } => self.on_event(&session, event),
            News::Plan { session, plan } => self.on_plan(&session, plan),
            News::Ask {
                relay,
                session,
                role,
                turn,
                kind,
                params,
            } => self.on_ask(relay, &session, &role, turn, kind, &params),
            News::Withdraw(relay) => self.on_withdraw(relay),
            News::AgentStatus(summary) => self.on_agent_status(summary),
            News::Opened { session, cwd } => {
                if !self.sessions.contains_key(&session) {
                    self.host_session(session, None, &cwd);
                }
            }
        }
    }

    /// At start: the team's roles first, then the sessions hosted before.
    pub fn restore_hosted(&mut self) {
        let request = self.ask_core(|request| Command::Hello { request });
        self.pending.insert(request, Waiting::Welcome);
    }

    pub fn on_welcome(&mut self, outcome: Result<Reply, RpcError>) {
        if let Ok(Reply::Welcome { roles, .. }) = outcome {
            self.roles = roles;
        }
        let Some(path) = self.options.registry.clone() else {
            return;
        };
        for entry in read_entries(&path) {
            let Entry {
                session_id,
                uri,
                cwd,
            } = entry;
            if self.channels.contains_key(&uri) {
                continue;
            }
            // Hosted before the load answers: its replayed history builds the chats.
            self.host_session(session_id.clone(), Some(uri.clone()), &cwd);
            let params = SessionParams {
                cwd,
                ..SessionParams::default()
            };
            let request = self.ask_core(|request| Command::LoadSession {
                request,
                session: session_id,
                params,
                replay: true,
            });
            self.pending.insert(request, Waiting::Restore { uri });
        }
    }

    /// Takes a session on: its channels, the directory, the root's count, the file.
    pub fn host_session(&mut self, id: SessionId, uri: Option<String>, cwd: &Path) {
        let uri = uri.unwrap_or_else(|| format!("ahp-session:/{id}"));
        let hosted = Hosted::new(id.clone(), uri.clone(), cwd, &self.roles, &now());
        self.channels
            .insert(uri.clone(), ChannelOf::Session(id.clone()));
        self.channels
            .insert(hosted.lead.uri.clone(), ChannelOf::Chat(id.clone(), None));
        for (role, chat) in &hosted.roles {
            let target = ChannelOf::Chat(id.clone(), Some(role.clone()));
            self.channels.insert(chat.uri.clone(), target);
        }
        let summary = hosted.summary();
        self.sessions.insert(id, hosted);
        self.directory.set_session(summary.clone());
        let root = ahp_types::ROOT_RESOURCE_URI;
        self.notify(
            root,
            "root/sessionAdded",
            &json!({ "channel": root, "summary": summary }),
        );
        self.count_changed();
        self.save();
    }

    pub fn unhost(&mut self, id: &SessionId) {
        let Some(hosted) = self.sessions.shift_remove(id) else {
            return;
        };
        self.channels.remove(&hosted.uri);
        self.channels.remove(&hosted.lead.uri);
        for chat in hosted.roles.values() {
            self.channels.remove(&chat.uri);
        }
        self.asks.retain(|_, ask| ask.session != *id);
        self.directory.remove_session(&hosted.uri);
        let root = ahp_types::ROOT_RESOURCE_URI;
        let removed = json!({ "channel": root, "session": hosted.uri });
        self.notify(root, "root/sessionRemoved", &removed);
        self.count_changed();
        self.save();
    }

    pub fn unhost_uri(&mut self, uri: &str) {
        if let Some(ChannelOf::Session(id)) = self.channels.get(uri).cloned() {
            self.unhost(&id);
        }
    }

    fn count_changed(&mut self) {
        let count = self.sessions.len();
        let changed = json!({ "type": "root/activeSessionsChanged", "activeSessions": count });
        if let Some(changed) = action(changed) {
            self.publish(ahp_types::ROOT_RESOURCE_URI, changed);
        }
    }

    /// A session's summary changed: the directory, and root subscribers told.
    pub fn summary_changed(&mut self, id: &SessionId, changes: Value) {
        let Some(hosted) = self.sessions.get(id) else {
            return;
        };
        let uri = hosted.uri.clone();
        self.directory.set_session(hosted.summary());
        let root = ahp_types::ROOT_RESOURCE_URI;
        let changed = json!({ "channel": root, "session": uri, "changes": changes });
        self.notify(root, "root/sessionSummaryChanged", &changed);
    }

    fn on_plan(&mut self, id: &SessionId, plan: Value) {
        let Some(hosted) = self.sessions.get_mut(id) else {
            return;
        };
        hosted.plan = plan;
        let uri = hosted.uri.clone();
        let meta =
            json!({ "type": "session/metaChanged", "_meta": { "ourocodus": hosted.meta() } });
        if let Some(meta) = action(meta) {
            self.publish(&uri, meta);
        }
    }

    /// A role's status: the directory, root subscribers told; a new role (spawned)
    /// gets a chat in every session.
    fn on_agent_status(&mut self, summary: AgentSummary) {
        let role = summary.role.clone();
        let root = ahp_types::ROOT_RESOURCE_URI;
        let params = json!({ "channel": root, "agent": summary });
        self.notify(root, "_ourocodus/agentStatus", &params);
        self.directory.set_agent(summary);
        if !self.roles.contains(&role) {
            self.roles.push(role.clone());
            let ids: Vec<SessionId> = self.sessions.keys().cloned().collect();
            for id in ids {
                self.add_role_chat(&id, &role);
            }
        }
    }

    fn add_role_chat(&mut self, id: &SessionId, role: &Role) {
        let Some(hosted) = self.sessions.get_mut(id) else {
            return;
        };
        if hosted.roles.contains_key(role) {
            return;
        }
        let uri = hosted.uri.clone();
        let chat = hosted.add_role(role, &now());
        let summary = chat.summary();
        let chat_uri = chat.uri.clone();
        let meta = json!({ "ourocodus": hosted.meta() });
        let target = ChannelOf::Chat(id.clone(), Some(role.clone()));
        self.channels.insert(chat_uri, target);
        if let Some(added) = action(json!({ "type": "session/chatAdded", "summary": summary })) {
            self.publish(&uri, added);
        }
        if let Some(meta) = action(json!({ "type": "session/metaChanged", "_meta": meta })) {
            self.publish(&uri, meta);
        }
    }

    /// Hands the hosted-sessions list to the file's writer.
    fn save(&self) {
        let Some(saver) = &self.saver else {
            return;
        };
        let entries: Vec<Entry> = self
            .sessions
            .values()
            .map(|h| Entry {
                session_id: h.id.clone(),
                uri: h.uri.clone(),
                cwd: h.cwd.clone(),
            })
            .collect();
        if let Ok(text) = serde_json::to_string_pretty(&entries) {
            let _ = saver.send(text);
        }
    }
}

/// One task writes the file, the latest list each time, in order, off the host's task.
pub fn spawn_saver(path: PathBuf) -> tokio::sync::mpsc::UnboundedSender<String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(mut text) = rx.recv().await {
            while let Ok(newer) = rx.try_recv() {
                text = newer;
            }
            let path = path.clone();
            let written =
                tokio::task::spawn_blocking(move || write_atomically(&path, text.as_bytes())).await;
            if let Ok(Err(e)) = written {
                tracing::warn!(error = %e, "the hub's session list was not saved");
            }
        }
    });
    tx
}

fn read_entries(path: &Path) -> Vec<Entry> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "the hub's session list is unreadable; starting empty");
            Vec::new()
        }),
        Err(_) => Vec::new(),
    }
}

/// Write to a temporary file beside it, then rename: never half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
