//! `ourocodus bench` (stub).

pub mod relay;

use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {}

pub fn run(_args: BenchArgs) -> Result<ExitCode, crate::error::Error> {
    Ok(ExitCode::SUCCESS)
}
