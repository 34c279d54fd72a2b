//! Team start: the time from `session/new` until the first `@all say hi` prompt is
//! answered, with a team of eight against a team of one, a fresh proxy for every
//! run and the two sizes alternating.

use std::time::Instant;

use super::peer::Peer;
use super::report::{Report, Row, Target, Unit};
use super::setup::{self, EditorKind, STEP_LIMIT, Workspace};
use super::stats::median;
use super::{Plan, TEAM};
use crate::error::Result;

pub fn run(workspace: &Workspace, plan: &Plan, report: &mut Report) {
    let (mut one, mut team) = (Vec::new(), Vec::new());
    for round in 1..=plan.start_rounds {
        eprintln!("bench: team start round {round}/{}", plan.start_rounds);
        for (roles, samples) in [(1, &mut one), (TEAM, &mut team)] {
            match start_once(workspace, roles) {
                Ok(ms) => samples.push(ms),
                Err(e) => report.failure(format!("team start, {roles} roles: {e}")),
            }
        }
    }
    report.row(Row {
        metric: format!("team start {TEAM} roles (vs 1 role)"),
        unit: Unit::Milliseconds,
        baseline: Some(median(&one)),
        proxy: median(&team),
        target: Target::RatioAtMost(1.5),
    });
}

/// Milliseconds from sending `session/new` to the answer of `@all say hi`.
fn start_once(workspace: &Workspace, roles: usize) -> Result<f64> {
    let mut proxy = workspace.proxy(roles)?;
    setup::initialize(&mut proxy, EditorKind::Plain)?;
    let started = Instant::now();
    let answered = first_answer(&mut proxy, workspace)?;
    proxy.close(setup::EXIT_LIMIT)?;
    Ok(answered.duration_since(started).as_secs_f64() * 1e3)
}

fn first_answer(proxy: &mut Peer, workspace: &Workspace) -> Result<Instant> {
    let session = setup::new_session(proxy, workspace.dir())?;
    let id = setup::send_prompt(proxy, &session, "@all say hi")?;
    Ok(setup::finish_prompt(proxy, id, STEP_LIMIT)?.at)
}
