//! The starter configuration (`ourocodus init`) and the built-in default team (stub).

use std::path::Path;

use super::Team;

pub fn starter_toml() -> &'static str {
    ""
}

pub fn builtin_team() -> Team {
    unimplemented!()
}

pub fn write_starter(_path: &Path, _force: bool) -> Result<(), crate::error::Error> {
    Ok(())
}
