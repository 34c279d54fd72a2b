//! Integration tests: the real binary, fake and third-party agents, one file per capability.

// A failed unwrap is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod procs;
mod raw_editor;
mod support;

mod backpressure;
mod bad_input;
mod cancel;
mod editors;
mod hostile;
mod hub;
mod hub_attach;
mod hub_cli;
mod hub_door;
mod hub_login;
mod hub_monitor;
mod hub_team;
mod hub_tls;
mod hygiene;
mod limits;
mod lsp;
mod modes;
mod multiplex;
mod paths;
mod peers;
mod policy;
mod relay;
mod resume;
mod routing;
mod sandbox;
mod speakers;
mod startup;
mod store_cli;
mod supervision;
mod task_flow;
mod task_messages;
mod task_resume;
mod tasks;
mod turns;
mod usage;
mod worktrees;
