//! The hub's command-line clients (`send`, `tail`, `agents`, and the hub side of
//! `sessions` and `tasks`): AHP spoken through the `ahp` client over `ahp-ws`, the
//! answers printed for a person or, with `--json`, for a program. Knows the wire
//! shapes `docs/hub.md` promises; nothing of the hub's insides or the core.
//!
//! - `connect`  finding the hub, its token, the WebSocket, `initialize`
//! - `team`     which session a command means, and its chats (from `_meta.ourocodus`)
//! - `action`   what a person is shown of one action envelope
//! - `render`   colours, labels, one line per action
//! - `send`, `send_out`  a prompt as a turn on the lead chat, its output streamed
//! - `tail`, `agents`, `listing` (sessions and tasks, the store when no hub answers)
//! - `login_link`  a new one-time link to the web monitor

pub mod action;
pub mod agents;
pub mod connect;
pub mod listing;
pub mod login_link;
pub mod printer;
pub mod render;
pub mod send;
mod send_out;
pub mod tail;
pub mod team;

use std::process::ExitCode;

pub use connect::HubCliError;

/// Exit codes of the hub commands (also in `README.md`).
pub mod exit {
    /// The turn ended normally (`end_turn`), or the command did what it was asked.
    pub const OK: u8 = 0;
    /// The turn failed (`chat/error`, a refused dispatch), or the command did.
    pub const ERROR: u8 = 1;
    /// The turn stopped short: `max_tokens`, `max_turn_requests`, `refusal`.
    pub const STOPPED: u8 = 2;
    /// No hub answers at the address: start one with `ourocodus serve`.
    pub const NO_HUB: u8 = 3;
    /// The turn was cancelled.
    pub const CANCELLED: u8 = 130;
}

/// Where the hub is: `--hub`, else `$OUROCODUS_HUB`, else `127.0.0.1:7420`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct HubArg {
    /// The hub's address (host:port or ws://host:port); default $OUROCODUS_HUB, else 127.0.0.1:7420.
    #[arg(long, value_name = "ADDR")]
    pub hub: Option<String>,
}

/// A runtime for one command: the client's task and ours, on this thread.
fn runtime() -> Result<tokio::runtime::Runtime, HubCliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(HubCliError::Output)
}

/// Runs one hub command to its exit code.
fn block_on<F>(command: F) -> Result<ExitCode, HubCliError>
where
    F: std::future::Future<Output = Result<u8, HubCliError>>,
{
    runtime()?.block_on(command).map(ExitCode::from)
}

/// Whether stdout gets colour: a terminal, and `NO_COLOR` unset.
fn stdout_colour() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
