//! The scriptable fake ACP agent (being written): so far only its script language.

// The agent that runs scripts comes next; until then the parser is only tested.
#[allow(dead_code)]
mod script;

use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct FakeAgentArgs {}

pub fn run(_args: FakeAgentArgs) -> ExitCode {
    ExitCode::SUCCESS
}
