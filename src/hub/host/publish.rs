//! The host's state and its one way to change what clients see: `publish` applies
//! an action to the state of its channel with `ahp`'s reducers and, if it applied
//! (or a client's was refused), numbers it, keeps it for replay and sends it to the
//! channel's subscribers whose protocol version knows its type. Knows nothing of
//! where actions come from.

use std::collections::HashMap;

use ahp::reducers::{self, ReduceOutcome};
use ahp_types::actions::{ActionEnvelope, ActionOrigin, StateAction};
use ahp_types::state::RootState;
use indexmap::IndexMap;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::clients::Clients;
use super::directory::Directory;
use super::ring::{Dispatches, Ring, Sent};
use super::sessions::Hosted;
use super::versions;
use super::{HostOptions, Pending};
use crate::core::{Command, RelayId};
use crate::ids::{Role, SessionId};

/// What a channel URI names.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelOf {
    Root,
    Session(SessionId),
    /// A session's lead chat (`None`) or a role's chat.
    Chat(SessionId, Option<Role>),
}

/// An open question (a permission request or a gate) as the host shows it.
pub struct Ask {
    pub session: SessionId,
    pub role: Role,
    /// The chats it shows in (the lead chat, and the role's when it has one).
    pub chats: Vec<Option<Role>>,
    pub turn_id: String,
    pub tool_call_id: String,
    /// The ACP options: (optionId, name, kind).
    pub options: Vec<(String, String, String)>,
    /// A synthetic lead turn opened for it (a gate outside any turn), ended with it.
    pub own_turn: bool,
}

pub struct Host {
    pub clients: Clients,
    pub sessions: IndexMap<SessionId, Hosted>,
    pub channels: HashMap<String, ChannelOf>,
    pub root: RootState,
    pub seq: u64,
    pub ring: Ring,
    pub dispatches: Dispatches,
    pub pending: Pending,
    next_request: i64,
    commands: mpsc::UnboundedSender<Command>,
    pub directory: Directory,
    pub options: HostOptions,
    pub asks: HashMap<RelayId, Ask>,
    /// The team's roles (from the core's welcome, then its statuses).
    pub roles: Vec<Role>,
    /// The hosted-sessions file's writer, if there is a file.
    pub saver: Option<mpsc::UnboundedSender<String>>,
}

/// The serverSeq before this hub's first action: the wall clock in microseconds, so
/// a hub started again numbers past every action of the one before (unless that one
/// averaged over a million actions a second), and a client's `lastSeenServerSeq`
/// from before a restart is never taken for one of the new hub's. Far below 2^53,
/// so a browser's numbers hold it exactly.
fn first_seq() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(0))
}

impl Host {
    pub fn new(
        commands: mpsc::UnboundedSender<Command>,
        directory: Directory,
        options: HostOptions,
    ) -> Host {
        let mut channels = HashMap::new();
        channels.insert(ahp_types::ROOT_RESOURCE_URI.to_string(), ChannelOf::Root);
        let root = match crate::hub::ahp::root_snapshot().state {
            ahp_types::state::SnapshotState::Root(root) => *root,
            _ => RootState {
                agents: Vec::new(),
                active_sessions: Some(0),
                terminals: None,
                config: None,
                meta: None,
            },
        };
        Host {
            clients: Clients::default(),
            sessions: IndexMap::new(),
            channels,
            root,
            seq: first_seq(),
            ring: Ring::default(),
            dispatches: Dispatches::default(),
            pending: Pending::default(),
            next_request: 0,
            commands,
            directory,
            asks: HashMap::new(),
            roles: Vec::new(),
            saver: options.registry.clone().map(super::registry::spawn_saver),
            options,
        }
    }

    /// Sends a command to the core, with a request number for its answer.
    pub fn ask_core(&mut self, make: impl FnOnce(crate::jsonrpc::RequestId) -> Command) -> i64 {
        self.next_request += 1;
        let request = self.next_request;
        let _ = self
            .commands
            .send(make(crate::jsonrpc::RequestId::number(request)));
        request
    }

    /// Sends a command with no answer due.
    pub fn tell_core(&mut self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Applies a server action and sends it; false if it did not apply.
    pub fn publish(&mut self, channel: &str, action: StateAction) -> bool {
        match self.reduce(channel, &action) {
            ReduceOutcome::Applied => {
                self.send_action(channel, action, None, None);
                true
            }
            outcome => {
                tracing::debug!(channel, ?outcome, "hub action not applied");
                false
            }
        }
    }

    /// Applies a client's action and echoes it with its origin; refused ones are
    /// echoed with the reason (the client drops its optimistic copy).
    pub fn publish_for(&mut self, channel: &str, action: StateAction, origin: ActionOrigin) {
        let refusal = match self.reduce(channel, &action) {
            ReduceOutcome::Applied => None,
            ReduceOutcome::NoOp => Some("it changes nothing in the current state".to_string()),
            ReduceOutcome::OutOfScope => Some(format!("it does not belong on {channel}")),
            ReduceOutcome::Invalid(e) => Some(e.to_string()),
        };
        self.send_action(channel, action, Some(origin), refusal);
    }

    /// Echoes a client's action as refused, without touching the state.
    pub fn refuse(&mut self, channel: &str, action: StateAction, origin: ActionOrigin, why: &str) {
        self.send_action(channel, action, Some(origin), Some(why.to_string()));
    }

    fn reduce(&mut self, channel: &str, action: &StateAction) -> ReduceOutcome {
        match self.channels.get(channel) {
            Some(ChannelOf::Root) => reducers::apply_action_to_root(&mut self.root, action),
            Some(ChannelOf::Session(id)) => match self.sessions.get_mut(id) {
                Some(hosted) => reducers::apply_action_to_session(&mut hosted.state, action),
                None => ReduceOutcome::OutOfScope,
            },
            Some(ChannelOf::Chat(id, role)) => {
                let chat = self
                    .sessions
                    .get_mut(id)
                    .and_then(|h| h.chat_mut(role.as_ref()));
                match chat {
                    Some(chat) => reducers::apply_action_to_chat(&mut chat.state, action),
                    None => ReduceOutcome::OutOfScope,
                }
            }
            None => ReduceOutcome::OutOfScope,
        }
    }

    fn send_action(
        &mut self,
        channel: &str,
        action: StateAction,
        origin: Option<ActionOrigin>,
        rejection_reason: Option<String>,
    ) {
        self.seq += 1;
        let envelope = ActionEnvelope {
            channel: channel.to_string(),
            action,
            server_seq: self.seq,
            origin,
            rejection_reason,
        };
        let Ok(json) = serde_json::to_string(&envelope) else {
            return tracing::error!("an action did not serialise");
        };
        // Read once per action off the JSON just written; each client then
        // compares two versions.
        let introduced = versions::action_type_of_envelope(&json)
            .map_or(versions::Version::HUB, versions::introduced_in);
        let frame = format!(r#"{{"jsonrpc":"2.0","method":"action","params":{json}}}"#);
        self.clients
            .broadcast(channel, &Utf8Bytes::from(frame), introduced);
        self.ring.push(Sent {
            seq: self.seq,
            channel: channel.into(),
            envelope: json.into(),
            introduced,
        });
    }

    /// A notification (not sequenced, never replayed) to a channel's subscribers
    /// whose protocol version knows its method.
    pub fn notify(&mut self, channel: &str, method: &str, params: &serde_json::Value) {
        let frame = serde_json::json!({"jsonrpc": "2.0", "method": method, "params": params});
        let introduced = versions::notification_introduced_in(method);
        self.clients
            .broadcast(channel, &Utf8Bytes::from(frame.to_string()), introduced);
    }
}
