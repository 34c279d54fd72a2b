//! What the LSP face's two halves share: the server (the client's requests) and the
//! runner (the core's effects) both reach the core through one connection's inputs,
//! and both need the workspace's session, the team's roles, the open documents and
//! the questions in flight. Off the core's task: plain locks, never held across an
//! await. Knows nothing of the core's state.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use super::ask::{AskArgs, AskKind};
use super::documents::Documents;
use crate::core::{Command, ConnectionInputs, Inbound};
use crate::ids::{Role, SessionId};
use crate::jsonrpc::RequestId;

/// A question the face sent, until its turn starts (then the runner keeps it).
#[derive(Debug, Clone)]
pub struct Ask {
    pub kind: AskKind,
    pub args: AskArgs,
    /// For a change of an open document: the text its range held when asked.
    pub before: Option<String>,
}

/// Where the workspace's session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    Opening,
    Open(SessionId),
    /// The core could not open it (why): commands are answered with this at once.
    Failed(String),
}

/// The face's shared state.
pub struct FaceState {
    inputs: ConnectionInputs,
    /// The workspace's session, as the core answered.
    session: watch::Sender<SessionState>,
    /// The request that opens it, to know its answer.
    pub opening: Mutex<Option<RequestId>>,
    pub documents: Mutex<Documents>,
    pub roles: Mutex<Vec<Role>>,
    /// The face's prompts by request id, until their turn starts.
    pub asks: Mutex<HashMap<RequestId, Ask>>,
    /// The workspace root from `initialize` (the session's cwd).
    pub root: Mutex<Option<PathBuf>>,
    /// The client takes server-initiated `$/progress`.
    pub progress: AtomicBool,
    /// The client takes `workspace/applyEdit`.
    pub apply_edit: AtomicBool,
    next_request: AtomicI64,
}

/// A lock whose holder panicked is still usable: its data is plain values.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FaceState {
    pub fn new(inputs: ConnectionInputs) -> Self {
        FaceState {
            inputs,
            session: watch::channel(SessionState::Opening).0,
            opening: Mutex::default(),
            documents: Mutex::default(),
            roles: Mutex::default(),
            asks: Mutex::default(),
            root: Mutex::default(),
            progress: AtomicBool::new(false),
            apply_edit: AtomicBool::new(false),
            next_request: AtomicI64::new(0),
        }
    }

    /// A request id for a command to the core (the face's own numbering).
    pub fn next_request(&self) -> RequestId {
        RequestId::number(self.next_request.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Hands a command to the core; false once it is gone.
    pub async fn send(&self, command: Command) -> bool {
        self.inputs.send(Inbound::Decoded(command)).await
    }

    /// The client is gone: its connection detaches.
    pub async fn close(&self) {
        self.inputs.send(Inbound::Closed).await;
    }

    pub fn set_session(&self, session: SessionState) {
        self.session.send_replace(session);
    }

    /// The workspace's session, waiting at most `wait` while it is being opened; the
    /// reason when it could not be.
    pub async fn session(&self, wait: Duration) -> Result<SessionId, String> {
        let mut session = self.session.subscribe();
        let settled = session.wait_for(|s| *s != SessionState::Opening);
        match tokio::time::timeout(wait, settled).await {
            Ok(Ok(state)) => match &*state {
                SessionState::Open(id) => Ok(id.clone()),
                SessionState::Failed(why) => {
                    Err(format!("the team's session could not be opened: {why}"))
                }
                SessionState::Opening => Err("the team's session is not open".into()),
            },
            Ok(Err(_)) => Err("the team is gone".into()),
            Err(_) => Err(format!(
                "the team's session did not open within {} s",
                wait.as_secs()
            )),
        }
    }

    /// The client takes server-initiated `$/progress`.
    pub fn takes_progress(&self) -> bool {
        self.progress.load(Ordering::Relaxed)
    }

    /// The client takes `workspace/applyEdit`.
    pub fn takes_edits(&self) -> bool {
        self.apply_edit.load(Ordering::Relaxed)
    }
}
