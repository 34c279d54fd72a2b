//! THE event loop: one task owns the sessions, roles, agents, turns (with their
//! origins), relays and policy decisions, and takes events from channels. It speaks
//! to connections through typed outputs and to the event store through `Recorder`;
//! it never does I/O itself, never waits on a peer, and names no face, no transport
//! implementation and no SQL.

mod agent_io;
mod agents;
mod api;
mod cancel;
mod command;
mod commands;
mod confine;
mod connections;
mod dispatch;
mod files;
mod from_agent;
mod gates;
mod history;
mod mcp_servers;
mod mention;
mod merge;
mod metering;
mod options;
mod outcome;
mod output;
mod prompt;
#[cfg(test)]
mod proptests;
mod quote;
mod recall;
mod record;
mod relay;
mod relays;
mod sessions;
mod slash;
mod state;
mod supervise;
mod task_flow;
mod task_retry;
pub mod task_tools;
pub mod tasks;
mod team;
mod terminals;
mod timers;
mod tool_calls;
mod tools;
mod usage;
mod worktrees;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::time::DelayQueue;

use crate::config::Team;
use crate::error::RpcError;
use crate::ids::Role;
use crate::transport::{AgentEnvelope, Transport};

pub use api::{ClientCaps, Connection, ConnectionId, Inbound, Origin, Recorder, RelayId, Waiter};
pub use command::{CancelScope, Command, SessionParams, SpawnRequest, TeamCommand};
pub use history::{History, HistoryPage, RecordedEvent, StoredSession};
pub use mention::{Mentions, extract as extract_mentions};
pub use output::{
    AgentChange, AgentStatus, AgentSummary, ChildHow, Delivery, Output, PermissionDecision,
    RelayKind, RelayRequest, Reply, RoleOutcome, RoleUpdate, SessionListing, SessionRecord,
    SessionState, Severity, StopReason, TeamEvent, UpdateKind,
};
pub use quote::{DESCRIPTION_CHARS, TITLE_CHARS, agent_lines, agent_text};
pub use record::write_payload;
pub use usage::{Tokens, UsageSummary};

use connections::Connections;
use state::{AgentSlot, FastIndexMap, FastMap, Relay, Session, Turn, TurnId};
use timers::Timer;

/// Batches of one agent's messages (one read each, at most 64 KiB) that may wait for
/// the core before that agent is slowed down.
const AGENT_INBOX_CAPACITY: usize = 8;
/// After shutdown starts, how long agents get to end before the loop stops anyway.
const SHUTDOWN_DEADLINE: Duration = Duration::from_millis(1800);
/// Tool calls that may wait for a congested sink before more are refused.
const MAX_DEFERRED_TOOLS: usize = 256;
/// Inputs from all connections that may wait for the core.
const INPUT_CAPACITY: usize = 1024;

/// What the outside hands the core: connections attaching and what they send.
pub enum CoreInput {
    /// A new client (attach is an event; it joins sessions by its commands).
    Attach {
        id: ConnectionId,
        connection: Box<dyn Connection>,
    },
    /// Something a connection sent; `Inbound::Closed` detaches it.
    Input { id: ConnectionId, input: Inbound },
    /// A role called one of the coordination tools (through the MCP face).
    Tool(task_tools::ToolRequest),
}

/// How the assembly reaches a running core: attach connections, feed them.
#[derive(Clone)]
pub struct CoreHandle {
    inputs: mpsc::Sender<CoreInput>,
    next_connection: Arc<AtomicU64>,
}

/// One connection's way in: what its face's reader uses.
#[derive(Clone)]
pub struct ConnectionInputs {
    pub id: ConnectionId,
    inputs: mpsc::Sender<CoreInput>,
}

impl CoreHandle {
    /// Hands a role's tool call to the core; the answer comes on the request's channel.
    pub async fn call_tool(&self, request: task_tools::ToolRequest) -> bool {
        self.inputs.send(CoreInput::Tool(request)).await.is_ok()
    }

    /// Attaches a connection; its inputs then go through the returned sender.
    pub async fn attach(&self, connection: Box<dyn Connection>) -> Option<ConnectionInputs> {
        let id = ConnectionId(self.next_connection.fetch_add(1, Ordering::Relaxed) + 1);
        let attach = CoreInput::Attach { id, connection };
        self.inputs.send(attach).await.ok()?;
        Some(ConnectionInputs {
            id,
            inputs: self.inputs.clone(),
        })
    }
}

impl ConnectionInputs {
    /// Hands one input to the core, waiting while its queue is full; false once the
    /// core is gone.
    pub async fn send(&self, input: Inbound) -> bool {
        let input = CoreInput::Input { id: self.id, input };
        self.inputs.send(input).await.is_ok()
    }

    /// The same from a thread outside the runtime.
    pub fn blocking_send(&self, input: Inbound) -> bool {
        let input = CoreInput::Input { id: self.id, input };
        self.inputs.blocking_send(input).is_ok()
    }
}

/// The proxy's core: owns all routing state.
pub struct Core {
    team: Team,
    transport: Arc<dyn Transport>,
    agents: FastIndexMap<Role, AgentSlot>,
    sessions: FastMap<crate::ids::SessionId, Session>,
    turns: FastMap<TurnId, Turn>,
    next_turn: u64,
    connections: Connections,
    relays: FastMap<RelayId, Relay>,
    next_relay: u64,
    recorder: Option<Box<dyn Recorder>>,
    history: Option<Arc<dyn History>>,
    store_problem: Option<String>,
    /// Sessions being loaded from history, with their replay in progress.
    replays: history::Replays,
    timers: DelayQueue<Timer>,
    /// Where the round-robin over the agents' inboxes starts next time.
    next_inbox: usize,
    /// Results of work done off the loop (disk, the store).
    local_tx: mpsc::UnboundedSender<LocalEvent>,
    local_rx: mpsc::UnboundedReceiver<LocalEvent>,
    stopping: bool,
    /// A dispatch of tasks is running; sessions that need one more wait in
    /// `dispatch_due`.
    dispatching: bool,
    /// Tool calls that came while a sink was congested.
    deferred_tools: std::collections::VecDeque<task_tools::ToolRequest>,
    dispatch_due: Vec<crate::ids::SessionId>,
    /// Roles whose branch is being merged: they take no prompt in any session until it
    /// is done (the merge commits and reads their worktree).
    merging: std::collections::HashSet<Role>,
    /// The shutdown deadline passed: stop without waiting any longer.
    shutdown_overdue: bool,
    /// The store has settled every event numbered up to this.
    settled_through: u64,
    /// Events were recorded since the store's last urgent flush.
    uncommitted: bool,
    /// The store's commit timer, while it is set.
    commit_timer: Option<tokio_util::time::delay_queue::Key>,
    /// File requests served from disk, in progress per role.
    /// The MCP face's entry for each child, if the tools are served.
    tool_servers: Option<Box<dyn task_tools::ToolServers>>,
    files: files::FileWork,
    /// The worktrees of roles that work in one, per session.
    workdirs: worktrees::Workdirs,
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
    /// The store settled every event numbered up to `through`.
    StoreSettled { through: u64, persisted: bool },
    /// The store could not write (told to the user once per failure).
    StoreFailed(String),
    /// An answer from the history (a list, a session's facts).
    History(history::HistoryAnswer),
    /// A role's worktree made, or merged back (git runs off the loop).
    Worktree(worktrees::WorktreeDone),
}

/// One thing for the loop to handle.
enum Event {
    Input(CoreInput),
    Agent(AgentEnvelope),
    Local(LocalEvent),
    Replay(history::ReplayChunk),
    Timer(Timer),
    Shutdown,
    Drained,
}

impl Core {
    pub fn new(team: Team, transport: Arc<dyn Transport>) -> Self {
        let (local_tx, local_rx) = mpsc::unbounded_channel();
        let agents = team
            .roles
            .values()
            .map(|spec| (spec.role.clone(), AgentSlot::new(spec.clone())))
            .collect();
        Core {
            team,
            transport,
            agents,
            sessions: FastMap::default(),
            turns: FastMap::default(),
            next_turn: 0,
            connections: Connections::default(),
            relays: FastMap::default(),
            next_relay: 0,
            recorder: None,
            history: None,
            store_problem: None,
            replays: Default::default(),
            timers: DelayQueue::new(),
            next_inbox: 0,
            local_tx,
            local_rx,
            stopping: false,
            dispatching: false,
            deferred_tools: Default::default(),
            dispatch_due: Vec::new(),
            merging: Default::default(),
            shutdown_overdue: false,
            settled_through: 0,
            uncommitted: false,
            commit_timer: None,
            files: files::FileWork::default(),
            workdirs: worktrees::Workdirs::default(),
            tool_servers: None,
        }
    }

    /// The most one file read served from disk may return (the message cap).
    pub fn set_max_read_bytes(&mut self, bytes: usize) {
        self.files.max_read_bytes = bytes;
    }

    /// Where events are recorded (the event store): the core's first subscriber.
    pub fn set_recorder(&mut self, recorder: Box<dyn Recorder>) {
        self.recorder = Some(recorder);
    }

    /// Where children find the coordination tools (the MCP face).
    pub fn set_tool_servers(&mut self, servers: Box<dyn task_tools::ToolServers>) {
        self.tool_servers = Some(servers);
    }

    /// Where past sessions are read from.
    pub fn set_history(&mut self, history: Arc<dyn History>) {
        self.history = Some(history);
    }

    /// Why there is no store although one was wanted: told in every session.
    pub fn set_store_problem(&mut self, problem: String) {
        self.store_problem = Some(problem);
    }

    /// The sender for reports of work done off the loop (the store's, for one).
    pub fn local_events(&self) -> mpsc::UnboundedSender<LocalEvent> {
        self.local_tx.clone()
    }

    /// A channel for connections' inputs and the handle that feeds it.
    pub fn channel() -> (CoreHandle, mpsc::Receiver<CoreInput>) {
        let (inputs, receiver) = mpsc::channel(INPUT_CAPACITY);
        let handle = CoreHandle {
            inputs,
            next_connection: Arc::new(AtomicU64::new(0)),
        };
        (handle, receiver)
    }

    /// Runs until `shutdown` fires and every agent has ended.
    pub async fn run(mut self, mut inputs: mpsc::Receiver<CoreInput>, shutdown: CancellationToken) {
        loop {
            let event = self.next_event(&mut inputs, &shutdown).await;
            self.dispatch(event);
            self.run_deferred_tools();
            self.announce_status_changes();
            // One hand-off to each writer per event (an event may be a batch).
            self.flush_outputs();
            if self.stopping && self.agents.values().all(|a| a.link.is_none()) && self.settled() {
                break;
            }
        }
        self.finish();
        tracing::info!("core stopped");
    }

    async fn next_event(
        &mut self,
        inputs: &mut mpsc::Receiver<CoreInput>,
        shutdown: &CancellationToken,
    ) -> Event {
        // Once shutting down, agents' ends must get through even to a stalled client.
        let waiter = (!self.stopping).then(|| self.congested_sink()).flatten();
        let congested = waiter.is_some();
        let has_timers = !self.timers.is_empty();
        let replaying = self.replays.any_ready(&self.connections);
        // Replays wait for a congested client like agents do; decided before the
        // select so no borrow of the connections is held across it.
        let blocked = if replaying {
            self.connections.congested_ids()
        } else {
            Default::default()
        };
        // Every branch is cancel-safe: channel receives, DelayQueue polling and the
        // drained waiter lose nothing when another branch wins.
        tokio::select! {
            biased;
            _ = shutdown.cancelled(), if !self.stopping => Event::Shutdown,
            Some(local) = self.local_rx.recv() => Event::Local(local),
            Some(expired) = std::future::poll_fn(|cx| self.timers.poll_expired(cx)), if has_timers => {
                Event::Timer(expired.into_inner())
            }
            Some(input) = inputs.recv() => Event::Input(input),
            Some(chunk) = std::future::poll_fn(|cx| self.replays.poll(&blocked, cx)), if replaying => {
                Event::Replay(chunk)
            }
            envelope = std::future::poll_fn(|cx| poll_inboxes(&mut self.agents, &mut self.next_inbox, cx)), if !congested => {
                Event::Agent(envelope)
            }
            _ = async { if let Some(waiter) = waiter { waiter.await } }, if congested => Event::Drained,
        }
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Input(CoreInput::Attach { id, connection }) => self.attach(id, connection),
            Event::Input(CoreInput::Input { id, input }) => self.handle_input(id, input),
            Event::Input(CoreInput::Tool(request)) => self.take_tool(request),
            Event::Agent(envelope) => self.handle_agent_envelope(envelope),
            Event::Local(local) => self.handle_local(local),
            Event::Replay(chunk) => self.handle_replay_chunk(chunk),
            Event::Timer(timer) => self.handle_timer(timer),
            Event::Shutdown => self.begin_shutdown("shutdown requested"),
            Event::Drained => {}
        }
    }

    /// A role's tool call: run now, or, while a sink is congested, after it drains
    /// (like the agents' own output); past `MAX_DEFERRED_TOOLS` waiting, refused.
    fn take_tool(&mut self, request: task_tools::ToolRequest) {
        if self.congested_sink().is_none() && self.deferred_tools.is_empty() {
            return self.handle_tool(request);
        }
        if self.deferred_tools.len() >= MAX_DEFERRED_TOOLS {
            let _ = request
                .reply
                .send(Err("the proxy is busy; call again in a moment".into()));
            return;
        }
        self.deferred_tools.push_back(request);
    }

    fn run_deferred_tools(&mut self) {
        while !self.deferred_tools.is_empty() && self.congested_sink().is_none() {
            if let Some(request) = self.deferred_tools.pop_front() {
                self.handle_tool(request);
            }
        }
    }

    /// The first sink (a connection or the store) that is not taking output, as a
    /// future that resolves when it is again.
    fn congested_sink(&self) -> Option<Waiter> {
        if let Some(recorder) = self.recorder.as_ref().filter(|r| r.congested()) {
            return Some(recorder.drained());
        }
        self.connections.congested()
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
            } => {
                self.files.done(&key.role);
                self.answer_agent(&key, &request, result)
            }
            LocalEvent::StoreSettled { through, persisted } => {
                self.settled_through = self.settled_through.max(through);
                self.release_held_replies(through, persisted);
                self.start_settled_replays(through);
            }
            LocalEvent::StoreFailed(why) => self.report_store_failure(&why),
            LocalEvent::History(answer) => self.handle_history_answer(answer),
            LocalEvent::Worktree(done) => self.handle_worktree_done(done),
        }
    }

    /// Every answer waiting for the store went out (or the time to wait is over).
    fn settled(&self) -> bool {
        self.shutdown_overdue || self.connections.nothing_held()
    }

    /// The roles of the team as it stands now (configured plus spawned).
    fn role_names(&self) -> Vec<Role> {
        self.agents.keys().cloned().collect()
    }
}

/// Takes the next batch from the agents' inboxes in turn, so a slow client is shared
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

/// A new agent's inbox: its transport sends into the sender, the core polls the
/// receiver.
pub(crate) fn agent_inbox() -> (mpsc::Sender<AgentEnvelope>, mpsc::Receiver<AgentEnvelope>) {
    mpsc::channel(AGENT_INBOX_CAPACITY)
}
