//! The event store in the assembly: which file (or none), opened once, its writing
//! side handed to the core as its recorder and its reading side as its history;
//! a store that cannot be used is told on stderr and in every session, and the team
//! goes on without it.

use std::path::PathBuf;
use std::time::Duration;

use crate::core::Core;

/// Where the event store is, as the command line and the config chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// No store: nothing recorded, nothing to load.
    Off,
    /// The default file (`$XDG_DATA_HOME/ourocodus/store.db`).
    Default,
    Path(PathBuf),
}

/// The store's writer, to close at exit.
pub struct OpenStore {}

impl OpenStore {
    /// Commits what is left and ends the writer (waiting at most `grace`).
    pub async fn close(self, grace: Duration) {
        let _ = grace;
    }
}

/// Opens the chosen store and attaches it to the core; `None` without one.
pub fn attach(core: &mut Core, choice: &StoreChoice) -> Option<OpenStore> {
    let _ = (core, choice);
    None
}
