//! THE event loop: one task owns the sessions, the id maps, the prompt turns and the
//! policy decisions, and takes events from channels. It sees parsed messages and
//! hands finished lines to the editor's outbox and the agents' links; it never does
//! I/O itself and never waits on a peer.

mod agent_io;
mod agents;
mod cancel;
mod commands;
mod emit;
mod floor;
mod from_agent;
mod from_editor;
mod mention;
mod options;
mod prompt;
#[cfg(test)]
mod proptests;
mod relay;
mod rewrite;
mod state;
mod supervise;
mod team;
mod timers;
mod tools;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::time::DelayQueue;

use crate::acp::EditorCapabilities;
use crate::config::Team;
use crate::editor::{EditorInput, EditorOutbox};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::transport::{AgentEnvelope, Transport};

use state::{AgentSlot, FastIndexMap, FastMap, Session, ToEditor, Turn, TurnId};
use timers::Timer;

/// Batches of one agent's messages (one read each, at most 64 KiB) that may wait for
/// the router before that agent is slowed down.
const AGENT_INBOX_CAPACITY: usize = 8;
/// After shutdown starts, how long agents get to end before the loop stops anyway.
const SHUTDOWN_DEADLINE: Duration = Duration::from_millis(1800);

/// The proxy's core: owns all routing state.
pub struct Router {
    team: Team,
    transport: Arc<dyn Transport>,
    editor: EditorSide,
    agents: FastIndexMap<Role, AgentSlot>,
    sessions: FastMap<SessionId, Session>,
    /// Subagent session ids shown to the editor → the turn and role they stand for.
    subagent_sessions: HashMap<SessionId, (TurnId, Role)>,
    turns: FastMap<TurnId, Turn>,
    next_turn: u64,
    timers: DelayQueue<Timer>,
    /// Where the round-robin over the agents' inboxes starts next time.
    next_inbox: usize,
    /// Results of work done off the loop (disk reads and writes).
    local_tx: mpsc::UnboundedSender<LocalEvent>,
    local_rx: mpsc::UnboundedReceiver<LocalEvent>,
    stopping: bool,
}

/// The editor connection as the router sees it.
struct EditorSide {
    outbox: EditorOutbox,
    caps: EditorCapabilities,
    next_request_id: i64,
    /// Requests the proxy sent the editor, by the id it used.
    pending: HashMap<i64, ToEditor>,
    closed: bool,
}

/// Work finished off the loop, reported back to it.
#[derive(Debug)]
pub enum LocalEvent {
    /// An agent's file request served from disk.
    FileDone {
        key: crate::transport::AgentKey,
        request: crate::jsonrpc::RequestId,
        result: Result<String, RpcError>,
    },
}

/// One thing for the loop to handle.
enum Event {
    Editor(EditorInput),
    EditorGone,
    Agent(AgentEnvelope),
    Local(LocalEvent),
    Timer(Timer),
    Shutdown,
    Drained,
}

impl Router {
    pub fn new(team: Team, transport: Arc<dyn Transport>, outbox: EditorOutbox) -> Self {
        let (local_tx, local_rx) = mpsc::unbounded_channel();
        let agents = team
            .roles
            .values()
            .map(|spec| (spec.role.clone(), AgentSlot::new(spec.clone())))
            .collect();
        Router {
            team,
            transport,
            editor: EditorSide {
                outbox,
                caps: EditorCapabilities::default(),
                next_request_id: 0,
                pending: HashMap::new(),
                closed: false,
            },
            agents,
            sessions: FastMap::default(),
            subagent_sessions: HashMap::new(),
            turns: FastMap::default(),
            next_turn: 0,
            timers: DelayQueue::new(),
            next_inbox: 0,
            local_tx,
            local_rx,
            stopping: false,
        }
    }

    /// Runs until the editor is gone (or `shutdown` fires) and every agent has ended.
    pub async fn run(
        mut self,
        mut editor_rx: mpsc::Receiver<EditorInput>,
        shutdown: CancellationToken,
    ) {
        loop {
            let event = self.next_event(&mut editor_rx, &shutdown).await;
            self.dispatch(event);
            self.announce_status_changes();
            // One hand-off to the editor's writer per event (an event may be a batch).
            self.editor.outbox.flush();
            if self.stopping && self.agents.values().all(|a| a.link.is_none()) {
                break;
            }
        }
        tracing::info!("router stopped");
    }

    async fn next_event(
        &mut self,
        editor_rx: &mut mpsc::Receiver<EditorInput>,
        shutdown: &CancellationToken,
    ) -> Event {
        // Once shutting down, agents' ends must get through even to a stalled editor.
        let congested = !self.stopping && self.editor.outbox.congested();
        let editor_open = !self.editor.closed;
        let has_timers = !self.timers.is_empty();
        // Every branch is cancel-safe: channel receives and DelayQueue polling lose
        // nothing when another branch wins.
        tokio::select! {
            biased;
            _ = shutdown.cancelled(), if !self.stopping => Event::Shutdown,
            Some(local) = self.local_rx.recv() => Event::Local(local),
            Some(expired) = std::future::poll_fn(|cx| self.timers.poll_expired(cx)), if has_timers => {
                Event::Timer(expired.into_inner())
            }
            input = editor_rx.recv(), if editor_open => match input {
                Some(input) => Event::Editor(input),
                None => Event::EditorGone,
            },
            envelope = std::future::poll_fn(|cx| poll_inboxes(&mut self.agents, &mut self.next_inbox, cx)), if !congested => {
                Event::Agent(envelope)
            }
            _ = self.editor.outbox.drained(), if congested => Event::Drained,
        }
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Editor(input) => self.handle_editor_input(input),
            Event::EditorGone => self.handle_editor_input(EditorInput::Closed),
            Event::Agent(envelope) => self.handle_agent_envelope(envelope),
            Event::Local(local) => self.handle_local(local),
            Event::Timer(timer) => self.handle_timer(timer),
            Event::Shutdown => self.begin_shutdown("signal"),
            Event::Drained => {}
        }
    }

    /// Asks every agent to end; the loop stops once all have (or the deadline passes).
    fn begin_shutdown(&mut self, why: &str) {
        if self.stopping {
            return;
        }
        tracing::info!(why, "shutting down");
        self.stopping = true;
        self.answer_open_turns_as_cancelled();
        for slot in self.agents.values() {
            if let Some(link) = &slot.link {
                link.shutdown();
            }
        }
        self.timers
            .insert(Timer::ShutdownDeadline, SHUTDOWN_DEADLINE);
    }

    fn handle_local(&mut self, event: LocalEvent) {
        match event {
            LocalEvent::FileDone {
                key,
                request,
                result,
            } => self.answer_agent(&key, &request, result),
        }
    }

    /// The roles of the team as it stands now (configured plus spawned).
    fn role_names(&self) -> Vec<Role> {
        self.agents.keys().cloned().collect()
    }
}

/// Takes the next batch from the agents' inboxes in turn, so a slow editor is shared
/// fairly: each agent with output waiting gets one batch before any gets a second.
fn poll_inboxes(
    agents: &mut FastIndexMap<Role, AgentSlot>,
    next: &mut usize,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<AgentEnvelope> {
    let count = agents.len();
    for offset in 0..count {
        let index = (*next + offset) % count;
        let Some((_, slot)) = agents.get_index_mut(index) else {
            continue;
        };
        let Some(inbox) = slot.inbox.as_mut() else {
            continue;
        };
        match inbox.poll_recv(cx) {
            std::task::Poll::Ready(Some(envelope)) => {
                *next = index + 1;
                return std::task::Poll::Ready(envelope);
            }
            std::task::Poll::Ready(None) => slot.inbox = None,
            std::task::Poll::Pending => {}
        }
    }
    std::task::Poll::Pending
}

/// A new agent's inbox: its transport sends into the sender, the router polls the
/// receiver.
pub(super) fn agent_inbox() -> (mpsc::Sender<AgentEnvelope>, mpsc::Receiver<AgentEnvelope>) {
    mpsc::channel(AGENT_INBOX_CAPACITY)
}
