//! The scriptable fake ACP agent (`ourocodus fake-agent`): its command line and
//! start-up. Tests, the demo and the benchmarks run it; users can try Ourocodus
//! with it and no credentials. It knows nothing of the proxy.
//!
//! - `script`   the script language: prompt text → steps (pure)
//! - `agent`    the main loop: ACP methods, sessions, routing answers to turns
//! - `turn`     one prompt: runs the steps, stops on cancel, answers
//! - `session`  one session's facts, mode, model and running prompt
//! - `client`   requests to the client and their answers
//! - `stream`   pre-serialized bulk output (`stream`, `big`)
//! - `wire`     the ACP shapes emitted
//! - `io`       stdout writer thread (bounded queue) and stdin reader thread
//! - `help`     the user guide shown by `--help`

mod agent;
mod client;
mod help;
mod io;
mod script;
mod session;
mod stream;
mod turn;
mod wire;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::time::Duration;

use script::parse_duration;

/// Options of `ourocodus fake-agent`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = help::SCRIPT_HELP)]
pub struct FakeAgentArgs {
    /// Name announced in `agentInfo` and said by `whoami`.
    #[arg(long, default_value = "ourocodus-fake-agent")]
    pub name: String,
    /// Session modes offered, the first one current.
    #[arg(long, value_delimiter = ',', default_value = "default,plan")]
    pub modes: Vec<String>,
    /// Offer no session modes.
    #[arg(long, conflicts_with = "modes")]
    pub no_modes: bool,
    /// Models offered by the "model" config option, the first one current
    /// (an empty list offers no config option).
    #[arg(long, value_delimiter = ',', default_value = "fast,smart")]
    pub models: Vec<String>,
    /// Advertise and accept `session/load` of any session id; it replays a short
    /// history (one user and one agent message) before answering, as agents do.
    #[arg(long)]
    pub load_session: bool,
    /// Advertise and accept `session/resume` of any session id (no replay).
    #[arg(long)]
    pub resume_session: bool,
    /// Answer every prompt with error -32000 "Authentication required".
    #[arg(long)]
    pub auth_required: bool,
    /// Wait this long before reading stdin (e.g. 2s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub startup_delay: Option<Duration>,
    /// Wait this long before answering each `session/new`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub session_delay: Option<Duration>,
    /// Keep running after stdin closes (like adapters that ignore EOF); only a
    /// signal ends the process then.
    #[arg(long)]
    pub ignore_eof: bool,
    /// Send available_commands_update after each `session/new`.
    #[arg(long)]
    pub commands: bool,
}

impl FakeAgentArgs {
    fn settings(&self) -> agent::Settings {
        let modes = if self.no_modes {
            Vec::new()
        } else {
            non_empty(&self.modes)
        };
        agent::Settings {
            name: self.name.clone(),
            offer: session::Offer {
                modes,
                models: non_empty(&self.models),
            },
            load_session: self.load_session,
            resume_session: self.resume_session,
            auth_required: self.auth_required,
            session_delay: self.session_delay,
            ignore_eof: self.ignore_eof,
            commands: self.commands,
        }
    }
}

/// `--models ""` gives one empty name; drop those.
fn non_empty(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Runs the agent on the process's stdin and stdout.
pub fn run(args: FakeAgentArgs) -> ExitCode {
    // Our own handle on fd 1, so writes go through our buffer and not Rust's
    // line-buffered `Stdout`.
    let stdout = match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => std::fs::File::from(fd),
        Err(e) => {
            eprintln!("fake-agent: cannot use stdout: {e}");
            return ExitCode::FAILURE;
        }
    };
    serve(args, Box::new(std::io::stdin()), Box::new(stdout))
}

/// How long the end of input waits for queued output to drain.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Runs the agent over any byte streams (the process's stdio, or pipes in tests)
/// until `input` ends and running prompts have answered. The `crash` and `exit`
/// steps end the whole process, whatever the streams are.
pub fn serve(
    args: FakeAgentArgs,
    input: Box<dyn Read + Send>,
    output: Box<dyn Write + Send>,
) -> ExitCode {
    if let Some(delay) = args.startup_delay {
        std::thread::sleep(delay);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fake-agent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (outbox, writer) = match io::spawn_writer(output) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("fake-agent: cannot start the writer thread: {e}");
            return ExitCode::FAILURE;
        }
    };
    let inbox = match io::spawn_reader(input) {
        Ok(inbox) => inbox,
        Err(e) => {
            eprintln!("fake-agent: cannot start the reader thread: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(agent::serve(args.settings(), outbox, inbox));
    // Shutting down drops what is left (delayed answers, a stderr flood) and with
    // them the last senders, so the writer drains and ends.
    runtime.shutdown_timeout(Duration::from_millis(100));
    io::wait_for_writer(writer, DRAIN_LIMIT);
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests;
