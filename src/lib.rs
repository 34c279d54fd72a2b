//! Ourocodus: one ACP agent toward the editor, a team of role-tagged ACP agents behind it.
//!
//! The map, one line per module:
//! - `jsonrpc`    JSON-RPC envelope, ids, NDJSON framing; knows nothing of agents.
//! - `ids`        newtypes for roles and session ids.
//! - `error`      `RpcError` (goes on the wire) vs `Error` (ends a task).
//! - `config`     the team from TOML, validated once at load.
//! - `acp`        the few ACP shapes the proxy looks inside; everything else stays raw.
//! - `transport`  the seam to one agent: lines in, lines out, an end (a child process today).
//! - `agent`      per-agent knowledge: adapter quirks.
//! - `policy`     per-role decisions: where writes may land, which tools need asking.
//! - `beneath`    opening files beneath a directory, no symlink followed: the proxy's own file work.
//! - `core`       THE event loop: sessions, roles, agents, turns, relays, policy; typed in and out.
//! - `faces`      how clients reach the core: ACP on stdio (and in memory, for tests).
//! - `hub`        `ourocodus serve`: the team as a long-lived host clients reach over WebSocket.
//! - `hub_client` `send`, `tail`, `agents` and the hub side of `sessions`/`tasks`: AHP clients.
//! - `store`      the event store (SQLite): a writer thread fed without waiting, replay, `log`.
//! - `worktree`   a role's git worktree and branch, and merging it back, by running `git`.
//! - `app`        the assembly: core + transport + store + faces, and when to exit.
//! - `fake_agent` the scriptable ACP agent used by tests, the demo and the benchmarks.
//! - `demo`       a scripted editor session through the real proxy, printed in colour.
//! - `bench`      throughput, latency, team start and memory against a same-run baseline.

pub mod acp;
pub mod agent;
pub mod app;
pub mod backlog;
pub mod bench;
pub mod beneath;
pub mod config;
pub mod core;
pub mod demo;
pub mod error;
pub mod faces;
pub mod fake_agent;
pub mod hub;
pub mod hub_client;
pub mod ids;
pub mod jsonrpc;
pub mod policy;
pub mod store;
pub mod transport;
pub mod worktree;

/// The proxy's name and version as announced in `agentInfo` and `clientInfo`.
pub const NAME: &str = "ourocodus";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
