//! Peak memory (VmHWM) of the proxy process itself: an idle team of eight after its
//! first answer, eight agents streaming to an editor that drains, and the same
//! stream to an editor that stops reading for a while. The relay's peak in the same
//! streams is the baseline.

use std::time::Duration;

use super::fan_in::{self, Route};
use super::procfs;
use super::report::{Report, Row, Target, Unit};
use super::setup::{self, EditorKind, STEP_LIMIT, StoreUse, Workspace};
use super::stats::median;
use super::{Plan, TEAM};
use crate::error::Result;

/// The goal for an idle team of eight.
const IDLE_TEAM_GOAL_BYTES: f64 = 16.0 * 1024.0 * 1024.0;
/// The goal for eight agents streaming with the store on.
const RECORDING_GOAL_BYTES: f64 = 32.0 * 1024.0 * 1024.0;
/// How long the idle team sits before its peak is read.
const IDLE_SETTLE: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Peaks {
    idle: Vec<f64>,
    relay_streaming: Vec<f64>,
    proxy_streaming: Vec<f64>,
    relay_stalled: Vec<f64>,
    proxy_stalled: Vec<f64>,
    recorded_streaming: Vec<f64>,
}

pub fn run(workspace: &Workspace, plan: &Plan, report: &mut Report) {
    let mut peaks = Peaks::default();
    for round in 1..=plan.memory_rounds {
        eprintln!("bench: memory round {round}/{}", plan.memory_rounds);
        if let Err(e) = measure_round(workspace, plan, &mut peaks) {
            report.failure(format!("memory: {e}"));
        }
    }
    add_rows(report, &peaks, plan.stall);
}

fn measure_round(workspace: &Workspace, plan: &Plan, peaks: &mut Peaks) -> Result<()> {
    peaks.idle.push(idle_team_peak(workspace)? as f64);
    let chunks = plan.chunks_per_role;
    let plain = Route::Proxy(EditorKind::Plain, StoreUse::Off);
    let relay = fan_in::stream(workspace, Route::Relay, chunks, None)?;
    peaks.relay_streaming.push(relay.peak_rss as f64);
    let proxy = fan_in::stream(workspace, plain, chunks, None)?;
    peaks.proxy_streaming.push(proxy.peak_rss as f64);
    let recorded = Route::Proxy(EditorKind::Plain, StoreUse::On);
    let proxy = fan_in::stream(workspace, recorded, chunks, None)?;
    peaks.recorded_streaming.push(proxy.peak_rss as f64);
    let relay = fan_in::stream(workspace, Route::Relay, chunks, Some(plan.stall))?;
    peaks
        .relay_stalled
        .push(relay.peak_rss_stalled.unwrap_or(0) as f64);
    let proxy = fan_in::stream(workspace, plain, chunks, Some(plan.stall))?;
    peaks
        .proxy_stalled
        .push(proxy.peak_rss_stalled.unwrap_or(0) as f64);
    Ok(())
}

/// VmHWM of a proxy whose team of eight answered one `@all say hi` and then idles.
fn idle_team_peak(workspace: &Workspace) -> Result<u64> {
    let mut proxy = workspace.proxy(TEAM, StoreUse::Off)?;
    let session = setup::open_session(&mut proxy, EditorKind::Plain, workspace.dir())?;
    let id = setup::send_prompt(&mut proxy, &session, "@all say hi")?;
    setup::finish_prompt(&mut proxy, id, STEP_LIMIT)?;
    std::thread::sleep(IDLE_SETTLE);
    let peak = procfs::peak_rss_bytes(proxy.pid()).unwrap_or(0);
    proxy.close(setup::EXIT_LIMIT)?;
    Ok(peak)
}

fn add_rows(report: &mut Report, peaks: &Peaks, stall: Duration) {
    if peaks.idle.is_empty() {
        return;
    }
    report.row(Row {
        metric: format!("peak RSS, idle team of {TEAM}"),
        unit: Unit::Bytes,
        baseline: None,
        proxy: median(&peaks.idle),
        target: Target::ProxyAtMost(IDLE_TEAM_GOAL_BYTES),
    });
    report.row(Row {
        metric: format!("peak RSS, {TEAM} agents streaming"),
        unit: Unit::Bytes,
        baseline: Some(median(&peaks.relay_streaming)),
        proxy: median(&peaks.proxy_streaming),
        target: Target::None,
    });
    report.row(Row {
        metric: format!("peak RSS, {TEAM} agents streaming, store on"),
        unit: Unit::Bytes,
        baseline: Some(median(&peaks.proxy_streaming)),
        proxy: median(&peaks.recorded_streaming),
        target: Target::ProxyAtMost(RECORDING_GOAL_BYTES),
    });
    report.row(Row {
        metric: format!("peak RSS, editor stalled {:.1}s", stall.as_secs_f64()),
        unit: Unit::Bytes,
        baseline: Some(median(&peaks.relay_stalled)),
        proxy: median(&peaks.proxy_stalled),
        target: Target::None,
    });
}
