//! `ourocodus bench`: throughput, latency, team start and memory of the proxy, each
//! against a baseline measured in the same run, interleaved, reported as medians
//! and ratios with the targets of docs/performance.md.
//!
//! - `relay`      the baseline: one minimal parse-and-forward hop (`bench-relay`).
//! - `setup`      scratch dir, team configs, starting peers, the editor's ACP steps.
//! - `peer`       a started process: its stdin, a fast reader of its stdout, cleanup.
//! - `scan`       what the reader needs from a line, found cheaply; per-role tallies.
//! - `procfs`     peak memory, CPU time and children from /proc.
//! - `fan_in`, `latency`, `team_start`, `memory`, `store`, `hub`, `hub_attach`   the scenarios.
//! - `stats`, `report`   medians and percentiles; the printed table.

mod fan_in;
mod hub;
mod hub_attach;
mod latency;
mod memory;
mod peer;
mod procfs;
pub mod relay;
mod report;
mod scan;
mod setup;
mod stats;
mod store;
mod team_start;

use std::process::ExitCode;
use std::time::Duration;

use crate::error::Result;

/// The size of the team the proxy is measured with.
pub const TEAM: usize = 8;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// A short run for CI (under a minute): fewer rounds and messages.
    #[arg(long)]
    pub quick: bool,
    /// Run only this benchmark.
    #[arg(long, value_enum)]
    pub only: Option<Scenario>,
    /// Profiling aid: stream this many chunks per role through one proxy to a plain
    /// editor, once, and print what the hop cost. With `OUROCODUS_BENCH_WRAP` set
    /// (e.g. `valgrind --tool=callgrind`) the proxy runs under that command.
    #[arg(long, hide = true, value_name = "CHUNKS_PER_ROLE")]
    pub profile_proxy: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    FanIn,
    Latency,
    TeamStart,
    Memory,
    Store,
    Hub,
    HubAttach,
}

/// How much of everything to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub fan_in_rounds: usize,
    /// Chunks each of the team's roles streams (the relay's one agent streams `TEAM` times as many).
    pub chunks_per_role: u64,
    pub latency_warmup: usize,
    pub latency_pings: usize,
    pub start_rounds: usize,
    pub memory_rounds: usize,
    /// How long the editor stops reading in the stalled-editor measurement.
    pub stall: Duration,
    /// Events the store's writer appends on its own.
    pub append_events: u64,
    /// Updates of the session loaded against the same live.
    pub replay_updates: u64,
    pub replay_rounds: usize,
    /// Pings through `acp --attach` and the hub, and through `acp` directly, each.
    pub hub_pings: usize,
}

impl Plan {
    pub fn new(quick: bool) -> Plan {
        if quick {
            return Plan {
                fan_in_rounds: 3,
                chunks_per_role: 20_000,
                latency_warmup: 30,
                latency_pings: 300,
                start_rounds: 3,
                memory_rounds: 1,
                stall: Duration::from_millis(500),
                append_events: 50_000,
                replay_updates: 20_000,
                replay_rounds: 1,
                hub_pings: 300,
            };
        }
        Plan {
            fan_in_rounds: 7,
            chunks_per_role: 100_000,
            latency_warmup: 100,
            latency_pings: 3000,
            start_rounds: 9,
            memory_rounds: 3,
            stall: Duration::from_secs(2),
            append_events: 200_000,
            replay_updates: 100_000,
            replay_rounds: 3,
            hub_pings: 1000,
        }
    }
}

/// Runs the chosen scenarios and prints the table; fails only when messages were
/// lost or a scenario could not finish (missed targets are reported, not fatal).
pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let plan = Plan::new(args.quick);
    let workspace = setup::Workspace::create()?;
    if let Some(chunks_per_role) = args.profile_proxy {
        return fan_in::profile_proxy(&workspace, chunks_per_role);
    }
    let mut report = report::Report::default();
    let chosen = |scenario| args.only.is_none_or(|only| only == scenario);
    if chosen(Scenario::FanIn) {
        fan_in::run(&workspace, &plan, &mut report);
    }
    if chosen(Scenario::Latency) {
        latency::run(&workspace, &plan, &mut report);
    }
    if chosen(Scenario::TeamStart) {
        team_start::run(&workspace, &plan, &mut report);
    }
    if chosen(Scenario::Memory) {
        memory::run(&workspace, &plan, &mut report);
    }
    if chosen(Scenario::Store) {
        store::run(&workspace, &plan, &mut report);
    }
    if chosen(Scenario::Hub) {
        hub::run(&workspace, &plan, &mut report);
    }
    if chosen(Scenario::HubAttach) {
        hub_attach::run(&workspace, &plan, &mut report);
    }
    let command_line: Vec<String> = std::env::args().collect();
    // The report is this command's output.
    #[allow(clippy::print_stdout)]
    {
        print!("{}", report.render(&command_line.join(" ")));
    }
    Ok(if report.is_sound() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
