//! The editor face (stub).

use std::process::ExitCode;

pub fn serve_stdio(_team: crate::config::Team) -> Result<ExitCode, crate::error::Error> {
    Ok(ExitCode::SUCCESS)
}
