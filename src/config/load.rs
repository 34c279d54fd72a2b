//! Loading and validating a team from TOML (stub: being written).

use std::path::Path;

use super::lookup::find_config_file;
use super::{ConfigOrigin, Team};

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub message: String,
}

pub fn load_team(explicit: Option<&Path>) -> Result<Team, ConfigError> {
    match find_config_file(explicit) {
        Some(p) => load_file(&p),
        None => Ok(super::builtin_team()),
    }
}

pub fn load_file(path: &Path) -> Result<Team, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError { message: format!("{}: {e}", path.display()) })?;
    load_str(&text, ConfigOrigin::File(path.to_path_buf()))
}

pub fn load_str(_text: &str, _origin: ConfigOrigin) -> Result<Team, ConfigError> {
    Err(ConfigError { message: "not yet".into() })
}
