//! Team start: the time from `session/new` until the first `@all say hi` prompt is
//! answered, with a team of eight against a team of one, a fresh proxy for every
//! run and the sizes alternating. Beside it, the same start done by the benchmark
//! itself with bare agents: the part no proxy can avoid on this machine.

use std::time::Instant;

use super::peer::Peer;
use super::report::{Report, Row, Target, Unit};
use super::setup::{self, EditorKind, STEP_LIMIT, StoreUse, Workspace};
use super::stats::median;
use super::{Plan, TEAM};
use crate::error::Result;

/// Start times in milliseconds, by how the team was started.
#[derive(Default)]
struct Starts {
    proxy_one: Vec<f64>,
    proxy_team: Vec<f64>,
    /// The team of eight with every role's sandbox off.
    unsandboxed_team: Vec<f64>,
    bare_one: Vec<f64>,
    bare_team: Vec<f64>,
}

/// Who starts the team.
#[derive(Debug, Clone, Copy)]
enum Starter {
    Proxy,
    /// The proxy, with the roles' sandbox off.
    Unsandboxed,
    /// The benchmark itself, one thread per bare agent.
    Bare,
}

pub fn run(workspace: &Workspace, plan: &Plan, report: &mut Report) {
    let mut starts = Starts::default();
    for round in 1..=plan.start_rounds {
        eprintln!("bench: team start round {round}/{}", plan.start_rounds);
        let runs: [(Starter, usize, &mut Vec<f64>); 5] = [
            (Starter::Proxy, 1, &mut starts.proxy_one),
            (Starter::Proxy, TEAM, &mut starts.proxy_team),
            (Starter::Unsandboxed, TEAM, &mut starts.unsandboxed_team),
            (Starter::Bare, 1, &mut starts.bare_one),
            (Starter::Bare, TEAM, &mut starts.bare_team),
        ];
        for (starter, roles, samples) in runs {
            let measured = match starter {
                Starter::Proxy => proxy_start(workspace, roles, true),
                Starter::Unsandboxed => proxy_start(workspace, roles, false),
                Starter::Bare => bare_start(workspace, roles),
            };
            match measured {
                Ok(ms) => samples.push(ms),
                Err(e) => report.failure(format!("team start, {starter:?}, {roles} roles: {e}")),
            }
        }
    }
    add_rows(report, &starts);
}

fn add_rows(report: &mut Report, starts: &Starts) {
    report.row(Row {
        metric: format!("team start {TEAM} roles (vs 1 role)"),
        unit: Unit::Milliseconds,
        baseline: Some(median(&starts.proxy_one)),
        proxy: median(&starts.proxy_team),
        target: Target::RatioAtMost(1.5),
    });
    report.row(Row {
        metric: format!("team start {TEAM} roles, sandbox on (vs off)"),
        unit: Unit::Milliseconds,
        baseline: Some(median(&starts.unsandboxed_team)),
        proxy: median(&starts.proxy_team),
        target: Target::RatioAtMost(1.05),
    });
    let (one, team) = (median(&starts.bare_one), median(&starts.bare_team));
    report.note(format!(
        "team start without the proxy: the benchmark itself starting {TEAM} bare agents at once \
         (spawn -> `say hi` answered) takes {team:.1} ms, one takes {one:.1} ms ({:.2}x)",
        team / one
    ));
}

/// Milliseconds from sending `session/new` to the answer of `@all say hi`.
fn proxy_start(workspace: &Workspace, roles: usize, sandbox: bool) -> Result<f64> {
    let mut proxy = workspace.proxy_sandboxed(roles, StoreUse::Off, sandbox)?;
    setup::initialize(&mut proxy, EditorKind::Plain)?;
    let started = Instant::now();
    let answered = first_answer(&mut proxy, workspace, "@all say hi")?;
    proxy.close(setup::EXIT_LIMIT)?;
    Ok(answered.duration_since(started).as_secs_f64() * 1e3)
}

/// Milliseconds from spawning `count` bare agents, each driven by its own thread,
/// until the last one answered `say hi`.
fn bare_start(workspace: &Workspace, count: usize) -> Result<f64> {
    let started = Instant::now();
    let agents: Vec<Result<(Peer, Instant)>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..count)
            .map(|index| scope.spawn(move || bare_answer(workspace, index)))
            .collect();
        threads
            .into_iter()
            .map(|thread| {
                thread.join().unwrap_or_else(|_| {
                    Err(crate::error::Error::Other(
                        "a bare agent's thread panicked".into(),
                    ))
                })
            })
            .collect()
    });
    let mut last = started;
    for agent in agents {
        let (peer, answered) = agent?;
        last = last.max(answered);
        peer.close(setup::EXIT_LIMIT)?;
    }
    Ok(last.duration_since(started).as_secs_f64() * 1e3)
}

fn bare_answer(workspace: &Workspace, index: usize) -> Result<(Peer, Instant)> {
    let mut agent = workspace.bare_agent(index)?;
    setup::initialize(&mut agent, EditorKind::Plain)?;
    let answered = first_answer(&mut agent, workspace, "say hi")?;
    Ok((agent, answered))
}

fn first_answer(peer: &mut Peer, workspace: &Workspace, prompt: &str) -> Result<Instant> {
    let session = setup::new_session(peer, workspace.dir())?;
    let id = setup::send_prompt(peer, &session, prompt)?;
    Ok(setup::finish_prompt(peer, id, STEP_LIMIT)?.at)
}
