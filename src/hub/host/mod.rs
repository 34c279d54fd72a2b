//! The hub's host: one task owning the AHP view of the team — each session's and
//! chat's state (kept with `ahp`'s reducers), the action sequence, the replay ring,
//! every client's subscriptions — fed by the core (through the `Observer`
//! connection) and by the clients' frames, in one order. Clients are written to
//! through byte-counted queues and never waited on; the core is written to through
//! a forwarding task, so the host never waits on it either. Knows no sockets.

mod asks;
mod clients;
mod directory;
mod dispatch;
mod observer;
mod publish;
mod registry;
mod requests;
mod ring;
mod sessions;
mod translate;
mod versions;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use clients::ClientOut;
pub use directory::Directory;
pub use observer::{Happening, News, Observer};

use crate::backlog::Backlog;
use crate::core::{Command, ConnectionInputs, CoreHandle, Inbound};

/// What reaches the host task.
enum HostInput {
    Join {
        client: u64,
        out: ClientOut,
    },
    Frame {
        client: u64,
        message: Result<serde_json::Value, String>,
    },
    Leave {
        client: u64,
    },
}

/// How connections reach the host.
#[derive(Clone)]
pub struct HostHandle {
    inputs: mpsc::UnboundedSender<HostInput>,
    next_client: Arc<AtomicU64>,
    pub directory: Directory,
}

impl HostHandle {
    /// A new client; its frames then go through `frame`.
    pub fn join(&self, out: ClientOut) -> u64 {
        let client = self.next_client.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = self.inputs.send(HostInput::Join { client, out });
        client
    }

    pub fn frame(&self, client: u64, message: Result<serde_json::Value, String>) {
        let _ = self.inputs.send(HostInput::Frame { client, message });
    }

    /// The answer to a read-only question the directory answers (`listSessions`),
    /// if this is one.
    pub fn answer_locally(&self, message: &Result<serde_json::Value, String>) -> Option<String> {
        requests::answer_from_directory(&self.directory, message.as_ref().ok()?)
    }

    pub fn leave(&self, client: u64) {
        let _ = self.inputs.send(HostInput::Leave { client });
    }
}

/// Where the host keeps the list of sessions it hosts (to host them again after a
/// restart), if there is a store.
#[derive(Debug, Clone)]
pub struct HostOptions {
    pub registry: Option<std::path::PathBuf>,
    /// A session's directory when a client names none.
    pub default_cwd: std::path::PathBuf,
}

/// Starts the host: attaches its observer to the core and runs its task until the
/// core lets go of it or `shutdown`.
pub async fn start_host(
    core: &CoreHandle,
    options: HostOptions,
    shutdown: CancellationToken,
) -> Option<HostHandle> {
    let (news_tx, news_rx) = mpsc::unbounded_channel();
    let (observer, backlog) = Observer::new(news_tx);
    let core_inputs = core.attach(Box::new(observer)).await?;
    let commands = spawn_forwarder(core_inputs);
    let (inputs, input_rx) = mpsc::unbounded_channel();
    let directory = Directory::default();
    let host = publish::Host::new(commands, directory.clone(), options);
    tokio::spawn(run(host, input_rx, news_rx, backlog, shutdown));
    Some(HostHandle {
        inputs,
        next_client: Arc::new(AtomicU64::new(0)),
        directory,
    })
}

/// Commands to the core go through their own task in order, so the host never
/// waits on the core's queue.
fn spawn_forwarder(core: ConnectionInputs) -> mpsc::UnboundedSender<Command> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Command>();
    tokio::spawn(async move {
        while let Some(command) = rx.recv().await {
            if !core.send(Inbound::Decoded(command)).await {
                return;
            }
        }
    });
    tx
}

async fn run(
    mut host: publish::Host,
    mut inputs: mpsc::UnboundedReceiver<HostInput>,
    mut news: mpsc::UnboundedReceiver<(Vec<News>, usize)>,
    backlog: Arc<Backlog>,
    shutdown: CancellationToken,
) {
    host.restore_hosted();
    loop {
        // Every branch is cancel-safe: `recv` loses nothing when another wins.
        tokio::select! {
            _ = shutdown.cancelled() => return,
            input = inputs.recv() => match input {
                Some(input) => handle_input(&mut host, input),
                None => return,
            },
            batch = news.recv() => match batch {
                Some((batch, bytes)) => {
                    for news in batch {
                        host.on_news(news);
                    }
                    backlog.release(bytes);
                }
                None => return,
            },
        }
    }
}

fn handle_input(host: &mut publish::Host, input: HostInput) {
    match input {
        HostInput::Join { client, out } => host.clients.join(client, out),
        HostInput::Frame { client, message } => host.on_frame(client, message),
        HostInput::Leave { client } => host.clients.leave(client),
    }
}

/// One frame as the hub reads it: strict JSON (a key given twice is refused, as
/// everywhere else the proxy reads a whole message).
pub fn parse_frame(text: &str) -> Result<serde_json::Value, String> {
    crate::jsonrpc::from_str_strict(text).map_err(|e| e.to_string())
}

/// Per-client bookkeeping kept small: a map from the host's request numbers to who
/// asked, shared by the request handlers.
pub(crate) type Pending = HashMap<i64, requests::Waiting>;

#[cfg(test)]
mod tests;
