//! The assembly of `ourocodus acp` (and `ourocodus lsp`): the core, the agents'
//! transport, the event store and the stdio face, on one runtime; and when the
//! process ends (the stdio editor's end of input, or a signal — the core itself
//! never decides that).

mod lsp;
pub mod store;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Team;
use crate::core::Core;
use crate::error::Error;
use crate::faces::acp::serve_stdio_editor;
use crate::transport::ProcessTransport;
pub use lsp::run_lsp_stdio;
pub use store::StoreChoice;

/// After the core stops, how long the agents' tasks may take to finish.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long the last output may wait for an editor that stopped reading.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);
/// How long the store may take to commit what is left at exit.
const STORE_GRACE: Duration = Duration::from_secs(5);

/// How `ourocodus acp` and `ourocodus lsp` run.
#[derive(Debug, Clone)]
pub struct AcpOptions {
    /// Longest line accepted from the editor or an agent.
    pub max_message: usize,
    pub store: StoreChoice,
}

/// Serves one editor on stdin/stdout until it closes its end or a signal arrives.
pub fn run_acp_stdio(team: Team, options: AcpOptions) -> Result<ExitCode, Error> {
    run_on_runtime(serve(team, options))
}

/// Runs the process's one future, then lets the runtime's last tasks go.
fn run_on_runtime(
    serve: impl std::future::Future<Output = Result<(), Error>>,
) -> Result<ExitCode, Error> {
    // Two workers: one when idle (low latency), both under load (parsing overlaps
    // routing); measured against one worker and against a dedicated core thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(serve)?;
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok(ExitCode::SUCCESS)
}

async fn serve(team: Team, options: AcpOptions) -> Result<(), Error> {
    let running = Running::start(team, &options).await;
    let face = serve_stdio_editor(&running.handle, options.max_message).await?;
    // This process serves one editor: once its connection is detached (it closed its
    // end, and the core has handled all it sent before), the process ends.
    let editor_gone = face.detached();
    let stop = running.shutdown.clone();
    tokio::spawn(async move {
        editor_gone.cancelled().await;
        stop.cancel();
    });
    running.wind_down(face.finished()).await;
    Ok(())
}

/// The core and what serves it (agents' transport, store, coordination tools,
/// signals), whichever face the process serves.
pub(crate) struct Running {
    pub(crate) handle: crate::core::CoreHandle,
    /// Cancelled to end the process: a signal, or the assembly deciding so.
    pub(crate) shutdown: CancellationToken,
    core_task: tokio::task::JoinHandle<()>,
    tracker: TaskTracker,
    store: Option<store::OpenStore>,
}

impl Running {
    pub(crate) async fn start(team: Team, options: &AcpOptions) -> Running {
        let tracker = TaskTracker::new();
        let transport = Arc::new(ProcessTransport::new(tracker.clone(), options.max_message));
        let (handle, inputs) = Core::channel();
        let mut core = Core::new(team, transport);
        core.set_max_read_bytes(options.max_message);
        let store = store::attach(&mut core, &options.store).await;
        let shutdown = CancellationToken::new();
        // The coordination tools, served to every child; without them the team still works.
        match crate::faces::mcp::McpFace::open() {
            Ok((tools, listener)) => {
                core.set_tool_servers(tools.entries());
                tokio::spawn(tools.serve(listener, handle.clone(), shutdown.clone()));
            }
            Err(e) => tracing::warn!(error = %e, "coordination tools not served"),
        }
        tokio::spawn(shutdown_on_signal(shutdown.clone()));
        // A task, not the main thread, so the core and the I/O tasks can share a worker.
        let core_task = tokio::spawn(core.run(inputs, shutdown.clone()));
        Running {
            handle,
            shutdown,
            core_task,
            tracker,
            store,
        }
    }

    /// Once the core has stopped: the agents' last tasks, the store's last commit and
    /// the client's last output (`output`) are waited for together, each with its
    /// own bound.
    pub(crate) async fn wind_down(self, output: impl std::future::Future<Output = ()>) {
        let _ = self.core_task.await;
        drop(self.handle);
        self.tracker.close();
        let tracker = self.tracker;
        let agents = async {
            if tokio::time::timeout(EXIT_GRACE, tracker.wait())
                .await
                .is_err()
            {
                tracing::warn!("some agent tasks did not finish in time");
            }
        };
        let store = async {
            if let Some(store) = self.store {
                store.close(STORE_GRACE).await;
            }
        };
        let output = async {
            if tokio::time::timeout(OUTPUT_GRACE, output).await.is_err() {
                tracing::warn!("the editor did not take the last output in time");
            }
        };
        tokio::join!(agents, store, output);
    }
}

async fn shutdown_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    shutdown.cancel();
}
