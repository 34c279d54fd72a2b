//! The scriptable fake ACP agent (stub: being written).

use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct FakeAgentArgs {}

pub fn run(_args: FakeAgentArgs) -> ExitCode {
    ExitCode::SUCCESS
}
