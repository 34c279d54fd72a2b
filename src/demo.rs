//! `ourocodus demo`: a scripted editor session through the real proxy (stub).

use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {}

pub fn run(_args: DemoArgs) -> Result<ExitCode, crate::error::Error> {
    Ok(ExitCode::SUCCESS)
}
