//! The assembly of `ourocodus lsp`: the same core and team as `ourocodus acp`, with
//! the LSP face on stdio instead of the ACP one; the process ends when the LSP
//! client exits or closes its end, or on a signal.

use std::process::ExitCode;

use super::{AcpOptions, Running, run_on_runtime};
use crate::config::Team;
use crate::error::Error;
use crate::faces::lsp::serve_lsp_stdio;

/// Serves one LSP client on stdin/stdout until it exits or a signal arrives.
pub fn run_lsp_stdio(team: Team, options: AcpOptions) -> Result<ExitCode, Error> {
    run_on_runtime(serve(team, options))
}

async fn serve(team: Team, options: AcpOptions) -> Result<(), Error> {
    let running = Running::start(team, &options).await;
    let stop = running.shutdown.clone();
    let handle = running.handle.clone();
    tokio::select! {
        // Not cancel-safe, and need not be: either branch ends the process.
        served = serve_lsp_stdio(&handle, options.max_message) => served?,
        _ = stop.cancelled() => {}
    }
    drop(handle);
    running.shutdown.cancel();
    // The face waited for the client's last output before it returned.
    running.wind_down(std::future::ready(())).await;
    Ok(())
}
