//! A client's requests to the host: the connection commands (`ping`,
//! `initialize`, `reconnect`, `subscribe`, `unsubscribe`), sessions (`createSession`,
//! `disposeSession`, `listSessions`) and the `_ourocodus/*` extensions, answered at
//! once or once the core has; and the core's answers matched to who asked.
//! Knows nothing of sockets.

use ahp_types::commands::{ListSessionsResult, ReconnectResult, ReconnectSnapshotResult};
use ahp_types::errors::{ahp_error_codes, json_rpc_error_codes};
use ahp_types::state::{Snapshot, SnapshotState};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::directory::Directory;
use super::publish::{ChannelOf, Host};
use super::sessions::path_of_uri;
use super::versions::Version;
use crate::core::{Command, Reply, SessionParams, TeamCommand};
use crate::error::RpcError;
use crate::hub::ahp::{self, Incoming};
use crate::hub::rpc::{RpcFailure, failure_frame, success_frame, to_value};
use crate::ids::SessionId;

/// Who waits for the core's answer to one of the host's requests.
pub enum Waiting {
    /// The team's roles, when the host starts.
    Welcome,
    /// A client's prompt: its turn id in the lead chat.
    Prompt { session: SessionId, turn_id: String },
    Create {
        client: u64,
        id: Value,
        uri: String,
        cwd: std::path::PathBuf,
    },
    /// A hosted session loaded again after a restart.
    Restore { uri: String },
    Dispose {
        client: u64,
        id: Value,
        session: SessionId,
    },
    /// A request answered with the core's result as it is.
    Answer { client: u64, id: Value },
}

type Answer = Result<Value, RpcFailure>;

impl Host {
    pub fn on_frame(&mut self, client: u64, message: Result<Value, String>) {
        match ahp::classify(&message) {
            Incoming::Invalid(frame) => self.clients.send(client, frame.into()),
            Incoming::Response => {}
            Incoming::Notification { method, params } => {
                self.on_notification(client, method, params)
            }
            Incoming::Request { id, method, params } => {
                let answer = self.on_request(client, &id, method, params);
                self.answer(client, &id, answer);
            }
        }
    }

    fn on_notification(&mut self, client: u64, method: &str, params: &Value) {
        match method {
            "dispatchAction" => self.on_dispatch(client, params),
            "unsubscribe" => {
                let channel = params.get("channel").and_then(Value::as_str);
                if let (Some(c), Some(channel)) = (self.clients.get_mut(client), channel) {
                    c.subscriptions.remove(channel);
                }
            }
            _ => {}
        }
    }

    /// `None`: answered later (or already, as with a refused `initialize`).
    fn on_request(
        &mut self,
        client: u64,
        id: &Value,
        method: &str,
        params: &Value,
    ) -> Option<Answer> {
        let answer = match method {
            "ping" => Ok(Value::Null),
            "initialize" => return self.initialize(client, id, params),
            "reconnect" => return self.reconnect(client, id, params),
            "subscribe" => self.subscribe(client, params),
            "unsubscribe" => {
                self.on_notification(client, method, params);
                Ok(Value::Null)
            }
            "listSessions" => list_sessions(&self.directory, params),
            "createSession" => return self.create_session(client, id, params).err().map(Err),
            "disposeSession" => return self.dispose_session(client, id, params).err().map(Err),
            ext if ext.starts_with("_ourocodus/") => {
                return self.extension(client, id, ext, params).err().map(Err);
            }
            other => Err(ahp::not_served(other)),
        };
        Some(answer)
    }

    fn answer(&mut self, client: u64, id: &Value, answer: Option<Answer>) {
        let frame = match answer {
            None => return,
            Some(Ok(result)) => success_frame(id, &result),
            Some(Err(failure)) => failure_frame(id, &failure),
        };
        self.clients.send(client, frame.into());
    }

    fn initialize(&mut self, client: u64, id: &Value, params: &Value) -> Option<Answer> {
        let version = match ahp::negotiate(params) {
            Ok(version) => version,
            Err(failure) if failure.code == ahp_error_codes::UNSUPPORTED_PROTOCOL_VERSION => {
                let frame = Utf8Bytes::from(failure_frame(id, &failure));
                self.clients
                    .send_then_close(client, frame, "no common protocol version");
                return None;
            }
            Err(failure) => return Some(Err(failure)),
        };
        // Negotiation accepted only versions this reads.
        let Some(agreed) = Version::parse(&version) else {
            return Some(Err(invalid(
                "the agreed protocol version could not be read",
            )));
        };
        let wanted = ahp::string_list(params, "initialSubscriptions").unwrap_or_default();
        let snapshots = self.subscribe_all(client, &wanted);
        if let Some(c) = self.clients.get_mut(client) {
            c.version = Some(agreed);
            c.id = params
                .get("clientId")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        let seq = i64::try_from(self.seq).unwrap_or(i64::MAX);
        Some(to_value(ahp::initialize_result(version, seq, snapshots)))
    }

    /// Lenient: a missing `channel` (VS Code's 0.9 dialect) is the root; as a first
    /// message it stands for `initialize` at 0.9.0 without a `channel`, at the hub's
    /// own version with one.
    fn reconnect(&mut self, client: u64, id: &Value, params: &Value) -> Option<Answer> {
        let channel = params.get("channel").and_then(Value::as_str);
        if channel.is_some_and(|c| c != ahp_types::ROOT_RESOURCE_URI) {
            return Some(Err(invalid("`reconnect` belongs on ahp-root://")));
        }
        let seen = params.get("lastSeenServerSeq").and_then(Value::as_u64);
        let wanted = ahp::string_list(params, "subscriptions").unwrap_or_default();
        let assumed = match channel {
            Some(_) => Version::HUB,
            None => Version::VS_CODE_DIALECT,
        };
        // A client already gone has nobody to answer.
        let c = self.clients.get_mut(client)?;
        let version = *c.version.get_or_insert(assumed);
        c.id = params
            .get("clientId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let known: Vec<String> = wanted
            .iter()
            .filter(|c| self.channels.contains_key(*c))
            .cloned()
            .collect();
        let replayed: Option<Vec<String>> = seen.and_then(|seen| {
            let after = self.ring.after(seen, self.seq, &known, version)?;
            Some(after.map(|sent| sent.envelope.to_string()).collect())
        });
        let Some(actions) = replayed else {
            let snapshots = self.subscribe_all(client, &wanted);
            let result = ReconnectResult::Snapshot(ReconnectSnapshotResult { snapshots });
            return Some(to_value(result));
        };
        // Written as sent: the envelopes are kept as their JSON.
        let missing: Vec<&String> = wanted.iter().filter(|c| !known.contains(c)).collect();
        let frame = format!(
            r#"{{"jsonrpc":"2.0","id":{},"result":{{"type":"replay","actions":[{}],"missing":{}}}}}"#,
            id,
            actions.join(","),
            json!(missing)
        );
        for channel in &known {
            if let Some(c) = self.clients.get_mut(client) {
                c.subscriptions.insert(channel.clone());
            }
        }
        self.clients.send(client, frame.into());
        None
    }

    fn subscribe(&mut self, client: u64, params: &Value) -> Answer {
        let Some(channel) = params.get("channel").and_then(Value::as_str) else {
            return Err(invalid("`subscribe` needs a `channel`"));
        };
        let Some(snapshot) = self.snapshot(channel) else {
            return Err(RpcFailure::new(
                ahp_error_codes::NOT_FOUND,
                format!(
                    "no channel {channel} on this hub (it serves the root, its sessions and their chats)"
                ),
            ));
        };
        if let Some(c) = self.clients.get_mut(client) {
            c.subscriptions.insert(channel.to_string());
        }
        Ok(json!({ "snapshot": snapshot }))
    }

    /// Subscribes to every known channel of `channels`; their snapshots.
    fn subscribe_all(&mut self, client: u64, channels: &[String]) -> Vec<Snapshot> {
        let snapshots: Vec<Snapshot> = channels.iter().filter_map(|c| self.snapshot(c)).collect();
        if let Some(c) = self.clients.get_mut(client) {
            for snapshot in &snapshots {
                c.subscriptions.insert(snapshot.resource.clone());
            }
        }
        snapshots
    }

    pub fn snapshot(&self, channel: &str) -> Option<Snapshot> {
        let state = match self.channels.get(channel)? {
            ChannelOf::Root => SnapshotState::Root(Box::new(self.root.clone())),
            ChannelOf::Session(id) => {
                SnapshotState::Session(Box::new(self.sessions.get(id)?.state.clone()))
            }
            ChannelOf::Chat(id, role) => {
                let chat = self.sessions.get(id)?.chat(role.as_ref())?;
                SnapshotState::Chat(Box::new(chat.state.clone()))
            }
        };
        Some(Snapshot {
            resource: channel.to_string(),
            state,
            from_seq: i64::try_from(self.seq).unwrap_or(i64::MAX),
        })
    }

    fn create_session(
        &mut self,
        client: u64,
        id: &Value,
        params: &Value,
    ) -> Result<(), RpcFailure> {
        let Some(uri) = params.get("channel").and_then(Value::as_str) else {
            return Err(invalid(
                "`createSession` needs the new session's URI as `channel`",
            ));
        };
        if self.channels.contains_key(uri) {
            let why = format!("session {uri} already exists");
            return Err(RpcFailure::new(
                ahp_error_codes::SESSION_ALREADY_EXISTS,
                why,
            ));
        }
        let provider = params.get("provider").and_then(Value::as_str);
        if provider.is_some_and(|p| p != ahp::PROVIDER) {
            let why = format!("this hub's only provider is `{}`", ahp::PROVIDER);
            return Err(RpcFailure::new(ahp_error_codes::PROVIDER_NOT_FOUND, why));
        }
        let cwd = working_directory(params).unwrap_or_else(|| self.options.default_cwd.clone());
        let waiting = super::requests::Waiting::Create {
            client,
            id: id.clone(),
            uri: uri.to_string(),
            cwd: cwd.clone(),
        };
        let params = SessionParams {
            cwd,
            ..SessionParams::default()
        };
        let request = self.ask_core(|request| Command::NewSession { request, params });
        self.pending.insert(request, waiting);
        Ok(())
    }

    fn dispose_session(
        &mut self,
        client: u64,
        id: &Value,
        params: &Value,
    ) -> Result<(), RpcFailure> {
        let session = self.session_of(params)?;
        let waiting = Waiting::Dispose {
            client,
            id: id.clone(),
            session: session.clone(),
        };
        let request = self.ask_core(|request| Command::CloseSession { request, session });
        self.pending.insert(request, waiting);
        Ok(())
    }

    /// The team session a session channel names.
    pub fn session_of(&self, params: &Value) -> Result<SessionId, RpcFailure> {
        let channel = params.get("channel").and_then(Value::as_str).unwrap_or("");
        match self.channels.get(channel) {
            Some(ChannelOf::Session(id) | ChannelOf::Chat(id, _)) => Ok(id.clone()),
            _ => Err(RpcFailure::new(
                ahp_error_codes::SESSION_NOT_FOUND,
                format!("no session {channel} on this hub"),
            )),
        }
    }

    fn extension(
        &mut self,
        client: u64,
        id: &Value,
        method: &str,
        params: &Value,
    ) -> Result<(), RpcFailure> {
        let text = |key: &str| params.get(key).and_then(Value::as_str).map(str::to_string);
        let command = match method {
            "_ourocodus/agents" => TeamCommand::Agents,
            "_ourocodus/restart" => {
                TeamCommand::Restart(text("role").ok_or_else(|| invalid("`role` is required"))?)
            }
            "_ourocodus/tasks" => TeamCommand::Tasks(self.session_of(params)?),
            "_ourocodus/usage" => TeamCommand::Usage(self.session_of(params)?),
            "_ourocodus/approve" | "_ourocodus/reject" => TeamCommand::Gate {
                session: self.session_of(params)?,
                task: text("task").ok_or_else(|| invalid("`task` is required"))?,
                feedback: (method == "_ourocodus/reject")
                    .then(|| text("feedback").unwrap_or_default()),
            },
            other => return Err(ahp::not_served(other)),
        };
        let waiting = Waiting::Answer {
            client,
            id: id.clone(),
        };
        let request = self.ask_core(|request| Command::Team { request, command });
        self.pending.insert(request, waiting);
        Ok(())
    }

    /// The core answered one of the host's requests.
    pub fn on_reply(&mut self, request: i64, outcome: Result<Reply, RpcError>) {
        let Some(waiting) = self.pending.remove(&request) else {
            return;
        };
        match waiting {
            Waiting::Welcome => self.on_welcome(outcome),
            Waiting::Prompt { session, turn_id } => {
                let outcome = match outcome {
                    Ok(Reply::TurnEnded(stop)) => Ok(stop),
                    Ok(_) => Ok(crate::core::StopReason::EndTurn),
                    Err(e) => Err(e),
                };
                let how = super::translate::ending_of(&outcome);
                self.end_turn(&session, None, &turn_id, how);
            }
            Waiting::Create {
                client,
                id,
                uri,
                cwd,
            } => {
                let answer = match outcome {
                    Ok(Reply::Opened { session, .. }) => {
                        self.host_session(session, Some(uri), &cwd);
                        Ok(json!({}))
                    }
                    Ok(_) => Ok(json!({})),
                    Err(e) => Err(failure_of(e)),
                };
                self.answer(client, &id, Some(answer));
            }
            Waiting::Restore { uri } => match outcome {
                Ok(_) => {
                    if let Some(ready) =
                        super::translate::action(json!({ "type": "session/ready" }))
                    {
                        self.publish(&uri, ready);
                    }
                }
                Err(e) => {
                    tracing::warn!(session = %uri, error = %e.message, "a hosted session could not be loaded again");
                    self.unhost_uri(&uri);
                }
            },
            Waiting::Dispose {
                client,
                id,
                session,
            } => {
                let answer = outcome.map(|_| json!({})).map_err(failure_of);
                if answer.is_ok() {
                    self.unhost(&session);
                }
                self.answer(client, &id, Some(answer));
            }
            Waiting::Answer { client, id } => {
                let answer = outcome.map_err(failure_of).and_then(reply_value);
                self.answer(client, &id, Some(answer));
            }
        }
    }

    /// Whether a client's prompt started the lead turn `turn_id` and waits for its answer.
    pub fn prompt_waits(&self, session: &SessionId, turn_id: &str) -> bool {
        self.pending.values().any(|w| {
            matches!(w, Waiting::Prompt { session: s, turn_id: t } if s == session && t == turn_id)
        })
    }

    /// The turn id a client chose for the prompt `request`, while it runs.
    pub fn prompt_turn_of(&self, request: i64) -> Option<String> {
        match self.pending.get(&request)? {
            Waiting::Prompt { turn_id, .. } => Some(turn_id.clone()),
            _ => None,
        }
    }
}

/// `listSessions`, from the directory (on a connection's task or the host's).
fn list_sessions(directory: &Directory, params: &Value) -> Answer {
    let limit = params
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(100)
        .clamp(1, 1000) as usize;
    let from: usize = params
        .get("cursor")
        .and_then(Value::as_str)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let all = directory.sessions();
    let items: Vec<_> = all.iter().skip(from).take(limit).cloned().collect();
    let next_cursor = (from + limit < all.len()).then(|| (from + limit).to_string());
    to_value(ListSessionsResult { items, next_cursor })
}

/// A `listSessions` request's answer frame, if this message is one.
pub fn answer_from_directory(directory: &Directory, message: &Value) -> Option<String> {
    if message.get("method").and_then(Value::as_str) != Some("listSessions") {
        return None;
    }
    let id = message
        .get("id")
        .filter(|id| id.is_number() || id.is_string())?;
    let params = message.get("params").unwrap_or(&Value::Null);
    Some(match list_sessions(directory, params) {
        Ok(result) => success_frame(id, &result),
        Err(failure) => failure_frame(id, &failure),
    })
}

/// The directory a `createSession` names (1.0's list, or 0.9's single one).
fn working_directory(params: &Value) -> Option<std::path::PathBuf> {
    let first = params
        .get("workingDirectories")
        .and_then(|d| d.get(0))
        .or_else(|| params.get("workingDirectory"))?;
    path_of_uri(first.as_str()?)
}

fn reply_value(reply: Reply) -> Answer {
    match reply {
        Reply::Agents(agents) => Ok(json!({ "agents": agents })),
        Reply::Agent(agent) => to_value(agent),
        Reply::Json(value) => Ok(value),
        Reply::Usage(usage) => to_value(usage),
        Reply::Empty => Ok(json!({})),
        _ => Ok(json!({})),
    }
}

fn failure_of(e: RpcError) -> RpcFailure {
    RpcFailure {
        code: e.code as i32,
        message: e.message,
        data: e.data,
    }
}

fn invalid(message: &str) -> RpcFailure {
    RpcFailure::new(json_rpc_error_codes::INVALID_PARAMS, message)
}
