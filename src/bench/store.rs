//! The event store's own figures: how fast its writer appends with nothing else
//! running, and how long `session/load` of a long session takes to answer (the
//! whole replay included) against receiving the same updates live, in the same run.

use std::time::Instant;

use serde_json::json;

use super::Plan;
use super::fan_in::STREAM_LIMIT;
use super::report::{Report, Row, Target, Unit};
use super::setup::{self, EditorKind, StoreUse, Workspace};
use super::stats::median;
use crate::error::{Error, Result};

/// The size of every streamed line, as in the fan-in benchmark.
const CHUNK_BYTES: u64 = 250;

pub fn run(workspace: &Workspace, plan: &Plan, report: &mut Report) {
    eprintln!("bench: store writer, {} events", plan.append_events);
    writer_alone(workspace, plan, report);
    let (mut live, mut load) = (Vec::new(), Vec::new());
    for round in 1..=plan.replay_rounds {
        eprintln!(
            "bench: load vs live round {round}/{}, {} updates",
            plan.replay_rounds, plan.replay_updates
        );
        match live_then_load(workspace, plan.replay_updates) {
            Ok((live_ms, load_ms)) => {
                live.push(live_ms);
                load.push(load_ms);
            }
            Err(e) => report.failure(format!("load vs live: {e}")),
        }
        workspace.clear_store();
    }
    if !live.is_empty() {
        report.row(Row {
            metric: format!(
                "session/load of {} updates (vs them live)",
                plan.replay_updates
            ),
            unit: Unit::Milliseconds,
            baseline: Some(median(&live)),
            proxy: median(&load),
            target: Target::RatioAtMost(0.5),
        });
    }
}

fn writer_alone(workspace: &Workspace, plan: &Plan, report: &mut Report) {
    let path = workspace.dir().join("append.db");
    match crate::store::bench_append(&path, plan.append_events) {
        Ok(rate) => report.row(Row {
            metric: "store writer alone, events appended".to_string(),
            unit: Unit::MessagesPerSecond,
            baseline: None,
            proxy: rate,
            target: Target::None,
        }),
        Err(e) => report.failure(format!("store writer: {e}")),
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Milliseconds for `updates` chunks from one agent, prompt to answer, through a
/// recording proxy; then for a new proxy's `session/load` of that session, request
/// to answer, with every chunk replayed.
fn live_then_load(workspace: &Workspace, updates: u64) -> Result<(f64, f64)> {
    let mut proxy = workspace.proxy(1, StoreUse::On)?;
    let session = setup::open_session(&mut proxy, EditorKind::Plain, workspace.dir())?;
    let prompt = format!("stream {updates} chunks of {CHUNK_BYTES} bytes");
    let started = Instant::now();
    let id = setup::send_prompt(&mut proxy, &session, &prompt)?;
    let answered = setup::finish_prompt(&mut proxy, id, STREAM_LIMIT)?;
    let live_ms = answered.at.duration_since(started).as_secs_f64() * 1e3;
    check_all(&answered.tally, updates, "live")?;
    proxy.close(setup::EXIT_LIMIT)?;

    let mut proxy = workspace.proxy(1, StoreUse::On)?;
    setup::initialize(&mut proxy, EditorKind::Plain)?;
    let params = json!({ "sessionId": session, "cwd": workspace.dir(), "mcpServers": [] });
    let started = Instant::now();
    let id = proxy.request("session/load", params)?;
    let loaded = proxy.wait_response(id, STREAM_LIMIT)?;
    let load_ms = loaded.at.duration_since(started).as_secs_f64() * 1e3;
    check_all(&loaded.tally, updates, "replayed")?;
    proxy.close(setup::EXIT_LIMIT)?;
    Ok((live_ms, load_ms))
}

fn check_all(tally: &super::scan::Tally, updates: u64, what: &str) -> Result<()> {
    let roles = setup::role_names(1);
    match tally.shortfall(&roles, updates) {
        None => Ok(()),
        Some(problem) => Err(Error::Other(format!("{what}: {problem}"))),
    }
}
