//! The LSP face: `ourocodus lsp`, for editors without an ACP client (Helix, Sublime,
//! Kakoune) and for in-buffer actions. A language server on stdio, built on
//! `tower-lsp-server`, attached to the same core as one more connection: it opens
//! one team session for the workspace, offers code actions on a selection ("Ask
//! @role about this", "Ask the team", "Ask @role to change this"), sends
//! `ourocodus.ask` / `ourocodus.change` as prompts, and shows the team's work with
//! `$/progress`, `window/showMessage`, `window/showMessageRequest` (permissions, and
//! approving an edit before `workspace/applyEdit`) and `ourocodus/update`. Knows
//! nothing of agents' processes or of the core's state.
//!
//! Two halves share `FaceState`: the server (`server`, the client's requests, on the
//! library's tasks) and the runner (`runner`, the core's outputs turned into
//! `Effect`s by `connection` on the core's task, shown in order on a task of its own).

mod ask;
mod connection;
mod documents;
mod effects;
mod framing;
mod relays;
mod runner;
mod server;
mod state;
mod stdio;

use std::sync::Arc;
use std::time::Duration;

use tower_lsp_server::{LspService, Server};

pub use ask::{ASK, AskArgs, CHANGE};
pub use connection::LspConnection;
pub use runner::UPDATE;

use crate::core::CoreHandle;
use crate::error::Error;

/// How long the client's last output may take to be written once the server is done.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// Serves one LSP client on stdin/stdout until it exits or closes its end; then its
/// connection is detached from the core. `max_message` caps one message's body.
pub async fn serve_lsp_stdio(core: &CoreHandle, max_message: usize) -> Result<(), Error> {
    let (effects, receiver) = effects::queue();
    let inputs = core
        .attach(Box::new(LspConnection::new(effects)))
        .await
        .ok_or_else(|| Error::Other("the core is not running".into()))?;
    let state = Arc::new(state::FaceState::new(inputs));
    let shared = state.clone();
    let (service, socket) = LspService::new(move |client| {
        tokio::spawn(runner::run_effects(client, receiver, shared.clone()));
        server::Backend { state: shared }
    });
    let pipes = stdio::start(tokio::io::stdin(), tokio::io::stdout(), max_message);
    Server::new(pipes.library_input, pipes.library_output, socket)
        .serve(service)
        .await;
    state.close().await;
    if tokio::time::timeout(OUTPUT_GRACE, pipes.writer)
        .await
        .is_err()
    {
        tracing::warn!("the lsp client did not take the last output in time");
    }
    Ok(())
}
