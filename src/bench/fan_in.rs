//! Fan-in throughput: a team of fake agents streaming numbered 250-byte chunks
//! through the proxy to an editor that drains, against one agent streaming as many
//! behind the baseline relay, interleaved round by round (relay, plain editor,
//! subagent editor, bare agent). Every chunk is counted per role and checked in
//! order; a lost one fails the run.

use std::time::{Duration, Instant};

use super::peer::Peer;
use super::procfs;
use super::report::{Report, Row, Target, Unit};
use super::setup::{self, EditorKind, StoreUse, Workspace};
use super::stats::median;
use super::{Plan, TEAM};
use crate::error::{Error, Result};

/// The size of every streamed line, as in performance.md.
const CHUNK_BYTES: u64 = 250;
/// The bound on one whole stream (a stalled one included).
pub const STREAM_LIMIT: Duration = Duration::from_secs(120);

/// Who streams, through what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// One agent behind the baseline relay.
    Relay,
    /// The team behind `ourocodus acp`, to this kind of editor, recording or not.
    Proxy(EditorKind, StoreUse),
    /// One agent read straight by the benchmark: the editor side's own ceiling.
    Bare,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Relay => "relay",
            Route::Proxy(EditorKind::Plain, StoreUse::Off) => "proxy (plain editor)",
            Route::Proxy(EditorKind::Plain, StoreUse::On) => "proxy (plain editor, store on)",
            Route::Proxy(EditorKind::Subagents, _) => "proxy (subagent editor)",
            Route::Bare => "bare agent",
        }
    }
}

/// One measured stream.
#[derive(Debug, Clone)]
pub struct Stream {
    pub messages_per_second: f64,
    /// CPU the process in the middle (relay or proxy; the agent for `Bare`) spent per message.
    pub hop_cpu_ns_per_message: f64,
    /// The share of the stream's wall time the benchmark's reader thread was on a CPU.
    pub reader_busy: f64,
    /// VmHWM of the process in the middle, at the end of the stream.
    pub peak_rss: u64,
    /// With a stall: VmHWM when the editor started reading again.
    pub peak_rss_stalled: Option<u64>,
    /// Updates that were not numbered chunks (speaker labels, mostly).
    pub other_updates: u64,
    /// Context switches of the process in the middle, per message.
    pub switches_per_message: f64,
    /// The part of `hop_cpu_ns_per_message` spent in the kernel (coarse).
    pub hop_system_ns_per_message: f64,
}

const ROUTES: [Route; 5] = [
    Route::Relay,
    Route::Proxy(EditorKind::Plain, StoreUse::Off),
    Route::Proxy(EditorKind::Subagents, StoreUse::Off),
    Route::Bare,
    Route::Proxy(EditorKind::Plain, StoreUse::On),
];

pub fn run(workspace: &Workspace, plan: &Plan, report: &mut Report) {
    let mut streams: Vec<Vec<Stream>> = vec![Vec::new(); ROUTES.len()];
    for round in 1..=plan.fan_in_rounds {
        eprintln!("bench: fan-in round {round}/{}", plan.fan_in_rounds);
        for (route, samples) in ROUTES.iter().zip(&mut streams) {
            match stream(workspace, *route, plan.chunks_per_role, None) {
                Ok(measured) => samples.push(measured),
                Err(e) => report.failure(format!("fan-in, {}: {e}", route.name())),
            }
        }
    }
    add_rows(report, &streams);
}

fn add_rows(report: &mut Report, streams: &[Vec<Stream>]) {
    let rate = |i: usize| median_of(&streams[i], |s| s.messages_per_second);
    let (relay, plain, subagents, bare) = (rate(0), rate(1), rate(2), rate(3));
    let recorded = rate(4);
    for (metric, proxy) in [
        (format!("fan-in {TEAM} agents -> plain editor"), plain),
        (
            format!("fan-in {TEAM} agents -> subagent editor"),
            subagents,
        ),
    ] {
        report.row(Row {
            metric,
            unit: Unit::MessagesPerSecond,
            baseline: Some(relay),
            proxy,
            target: Target::RatioAtLeast(0.5),
        });
    }
    report.row(Row {
        metric: format!("fan-in {TEAM} agents, store on (vs off)"),
        unit: Unit::MessagesPerSecond,
        baseline: Some(plain),
        proxy: recorded,
        target: Target::RatioAtLeast(0.9),
    });
    let busy = |i: usize| 100.0 * median_of(&streams[i], |s| s.reader_busy);
    report.note(format!(
        "editor side: one agent read straight by the benchmark streams {:.3} M msg/s ({:.1}x the relay); \
         the benchmark's reader was on a CPU {:.0}% of the relay runs and {:.0}% of the plain-editor proxy runs",
        bare / 1e6,
        bare / relay,
        busy(0),
        busy(1),
    ));
    let cpu = |i: usize| median_of(&streams[i], |s| s.hop_cpu_ns_per_message);
    let switches = |i: usize| median_of(&streams[i], |s| s.switches_per_message);
    let labels = median_of(&streams[1], |s| s.other_updates as f64);
    report.note(format!(
        "CPU per message in the hop: relay {:.0} ns, proxy {:.0} ns (plain editor, {:.2}x the relay), \
         {:.0} ns (subagent editor), {:.0} ns (plain editor, store on); \
         context switches per message: relay {:.3}, proxy {:.2} (plain), {:.2} (subagent); \
         the plain editor also got {labels:.0} extra updates per run (speaker labels)",
        cpu(0),
        cpu(1),
        cpu(1) / cpu(0),
        cpu(2),
        cpu(4),
        switches(0),
        switches(1),
        switches(2),
    ));
    let kernel = |i: usize| median_of(&streams[i], |s| s.hop_system_ns_per_message);
    report.note(format!(
        "of the CPU per message, in the kernel (10 ms ticks): relay {:.0} ns, proxy {:.0} ns (plain editor)",
        kernel(0),
        kernel(1),
    ));
}

/// `--profile-proxy`: one plain-editor proxy stream, its figures printed, for a
/// profiler to look at (see `OUROCODUS_BENCH_WRAP`).
#[allow(clippy::print_stdout)] // printing the figures is what it is for
pub fn profile_proxy(
    workspace: &Workspace,
    chunks_per_role: u64,
) -> Result<std::process::ExitCode> {
    let measured = stream(
        workspace,
        Route::Proxy(EditorKind::Plain, StoreUse::Off),
        chunks_per_role,
        None,
    )?;
    println!(
        "proxy (plain editor), {TEAM} x {chunks_per_role} chunks: {:.3} M msg/s, CPU {:.0} ns per message \
         ({:.0} ns of it in the kernel), {:.3} context switches per message",
        measured.messages_per_second / 1e6,
        measured.hop_cpu_ns_per_message,
        measured.hop_system_ns_per_message,
        measured.switches_per_message,
    );
    Ok(std::process::ExitCode::SUCCESS)
}

fn median_of(streams: &[Stream], figure: impl Fn(&Stream) -> f64) -> f64 {
    median(&streams.iter().map(figure).collect::<Vec<_>>())
}

/// Streams `chunks_per_role` chunks from each of `TEAM` roles through the proxy, or
/// as many from one agent otherwise; with `stall`, the editor reads nothing for
/// that long after sending the prompt.
pub fn stream(
    workspace: &Workspace,
    route: Route,
    chunks_per_role: u64,
    stall: Option<Duration>,
) -> Result<Stream> {
    let (mut peer, editor, roles) = match route {
        Route::Relay => (workspace.relay()?, EditorKind::Plain, vec![String::new()]),
        Route::Bare => (
            workspace.bare_agent(0)?,
            EditorKind::Plain,
            vec![String::new()],
        ),
        Route::Proxy(editor, store) => (
            workspace.proxy(TEAM, store)?,
            editor,
            setup::role_names(TEAM),
        ),
    };
    let session = setup::open_session(&mut peer, editor, workspace.dir())?;
    let (prompt, per_role) = match route {
        Route::Proxy(..) => (
            format!("@all stream {chunks_per_role} chunks of {CHUNK_BYTES} bytes"),
            chunks_per_role,
        ),
        _ => {
            let total = chunks_per_role * TEAM as u64;
            (
                format!("stream {total} chunks of {CHUNK_BYTES} bytes"),
                total,
            )
        }
    };
    let measured = measure(&mut peer, &session, &prompt, stall)?;
    peer.close(setup::EXIT_LIMIT)?;
    workspace.clear_store();
    if let Some(problem) = measured.tally.shortfall(&roles, per_role) {
        return Err(Error::Other(format!("lost or reordered chunks: {problem}")));
    }
    let messages = measured.tally.total_chunks() as f64;
    Ok(Stream {
        messages_per_second: messages / measured.wall.as_secs_f64(),
        hop_cpu_ns_per_message: measured.hop_cpu_ns as f64 / messages,
        reader_busy: measured.reader_cpu_ns as f64 / measured.wall.as_nanos() as f64,
        peak_rss: measured.peak_rss,
        peak_rss_stalled: measured.peak_rss_stalled,
        other_updates: measured.tally.other_updates,
        switches_per_message: measured.switches as f64 / messages,
        hop_system_ns_per_message: measured.hop_system_ns as f64 / messages,
    })
}

/// What one prompt's stream cost.
struct Measured {
    wall: Duration,
    hop_cpu_ns: u64,
    hop_system_ns: u64,
    reader_cpu_ns: u64,
    peak_rss: u64,
    peak_rss_stalled: Option<u64>,
    switches: u64,
    tally: super::scan::Tally,
}

fn measure(
    peer: &mut Peer,
    session: &str,
    prompt: &str,
    stall: Option<Duration>,
) -> Result<Measured> {
    let pid = peer.pid();
    let hop_before = procfs::process_cpu_ns(pid).unwrap_or(0);
    let system_before = procfs::user_and_system_ns(pid).map_or(0, |(_, system)| system);
    let reader_before = peer.reader_cpu_ns();
    let switches_before = procfs::context_switches(pid).unwrap_or(0);
    peer.stall(stall.is_some());
    let started = Instant::now();
    let id = setup::send_prompt(peer, session, prompt)?;
    let peak_rss_stalled = stall.map(|stall| {
        std::thread::sleep(stall);
        let peak = procfs::peak_rss_bytes(pid).unwrap_or(0);
        peer.stall(false);
        peak
    });
    let response = setup::finish_prompt(peer, id, STREAM_LIMIT)?;
    Ok(Measured {
        wall: response.at.duration_since(started),
        hop_cpu_ns: procfs::process_cpu_ns(pid)
            .unwrap_or(0)
            .saturating_sub(hop_before),
        hop_system_ns: procfs::user_and_system_ns(pid)
            .map_or(0, |(_, system)| system)
            .saturating_sub(system_before),
        reader_cpu_ns: peer.reader_cpu_ns().saturating_sub(reader_before),
        peak_rss: procfs::peak_rss_bytes(pid).unwrap_or(0),
        peak_rss_stalled,
        switches: procfs::context_switches(pid)
            .unwrap_or(0)
            .saturating_sub(switches_before),
        tally: response.tally,
    })
}
