//! Added latency: prompt → first update round trips of `say hi` through the proxy
//! (one fake agent, one session) against the same agent behind the baseline relay,
//! and through a proxy recording into the store against one that does not. All
//! stay up for the whole run and are pinged in turn, so slow spells of the machine
//! hit every side alike.

use std::time::{Duration, Instant};

use super::Plan;
use super::peer::Peer;
use super::procfs;
use super::report::{Report, Row, Target, Unit};
use super::setup::{self, EditorKind, STEP_LIMIT, StoreUse, Workspace};
use super::stats::{median, percentile};
use crate::error::Result;

/// One prompt's timings, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Ping {
    first_update_us: f64,
    answered_us: f64,
}

/// A peer with an open session, ready to be pinged, and its pings.
struct Pinged {
    peer: Peer,
    session: String,
    pings: Vec<Ping>,
}

impl Pinged {
    fn open(mut peer: Peer, workspace: &Workspace) -> Result<Pinged> {
        let session = setup::open_session(&mut peer, EditorKind::Plain, workspace.dir())?;
        Ok(Pinged {
            peer,
            session,
            pings: Vec::new(),
        })
    }

    /// One `say hi` turn: the time to its first text chunk and to its answer.
    fn ping(&mut self) -> Result<Ping> {
        self.peer.arm();
        let sent = Instant::now();
        let id = setup::send_prompt(&mut self.peer, &self.session, "say hi")?;
        let first = self.peer.wait_first_chunk(STEP_LIMIT)?;
        let answered = setup::finish_prompt(&mut self.peer, id, STEP_LIMIT)?.at;
        Ok(Ping {
            first_update_us: micros(first.duration_since(sent)),
            answered_us: micros(answered.duration_since(sent)),
        })
    }

    fn context_switches(&self) -> u64 {
        procfs::context_switches(self.peer.pid()).unwrap_or(0)
    }

    /// Closes the peer; what its pings measured.
    fn finish(self, switches_before: u64) -> Result<Pings> {
        let switches = self.context_switches() - switches_before;
        self.peer.close(setup::EXIT_LIMIT)?;
        Ok(Pings {
            pings: self.pings,
            switches,
        })
    }
}

/// One side's pings, measured.
pub(super) struct Pings {
    pings: Vec<Ping>,
    /// Context switches of the peer process during the measured pings.
    switches: u64,
}

impl Pings {
    pub(super) fn switches_per_ping(&self) -> f64 {
        self.switches as f64 / self.pings.len() as f64
    }

    pub(super) fn first_updates(&self) -> Vec<f64> {
        self.pings.iter().map(|p| p.first_update_us).collect()
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

pub fn run(workspace: &Workspace, plan: &Plan, report: &mut Report) {
    eprintln!("bench: latency, {} pings each", plan.latency_pings);
    if let Err(e) = measure(workspace, plan, report) {
        report.failure(format!("latency: {e}"));
    }
}

fn measure(workspace: &Workspace, plan: &Plan, report: &mut Report) -> Result<()> {
    // Two phases, each a pair pinged in turn: the proxy against the relay, then the
    // proxy recording into the store against one that does not (a third side pinged
    // in between would spread its own background work over the other two).
    let [relay, proxy] = pinged(workspace, plan, [Side::Relay, Side::Proxy(StoreUse::Off)])?;
    add_rows(report, &relay, &proxy);
    let [proxy, recorded] = pinged(
        workspace,
        plan,
        [Side::Proxy(StoreUse::Off), Side::Proxy(StoreUse::On)],
    )?;
    add_store_rows(report, &proxy, &recorded);
    Ok(())
}

/// What is pinged.
#[derive(Debug, Clone, Copy)]
enum Side {
    Relay,
    Proxy(StoreUse),
}

/// Warms up both sides, then pings them alternately, `plan.latency_pings` each.
fn pinged(workspace: &Workspace, plan: &Plan, sides: [Side; 2]) -> Result<[Pings; 2]> {
    let open = |side: Side| match side {
        Side::Relay => workspace.relay(),
        Side::Proxy(store) => workspace.proxy(1, store),
    };
    let peers = [open(sides[0])?, open(sides[1])?];
    ping_pair(workspace, (plan.latency_warmup, plan.latency_pings), peers)
}

/// Opens a session on each peer, warms both up with `rounds.0` pings, then pings
/// them alternately, `rounds.1` each; closes them.
pub(super) fn ping_pair(
    workspace: &Workspace,
    rounds: (usize, usize),
    peers: [Peer; 2],
) -> Result<[Pings; 2]> {
    let [a, b] = peers;
    let mut pair = [Pinged::open(a, workspace)?, Pinged::open(b, workspace)?];
    for _ in 0..rounds.0 {
        for side in &mut pair {
            side.ping()?;
        }
    }
    let switches_before = pair.each_ref().map(|side| side.context_switches());
    for i in 0..rounds.1 {
        // Alternate who goes first, so neither always follows the other.
        for k in 0..2 {
            let side = &mut pair[(i + k) % 2];
            let ping = side.ping()?;
            side.pings.push(ping);
        }
    }
    let [first, second] = pair;
    Ok([
        first.finish(switches_before[0])?,
        second.finish(switches_before[1])?,
    ])
}

/// The store's cost on the same pings: a proxy that records against one that does not.
fn add_store_rows(report: &mut Report, proxy: &Pings, recorded: &Pings) {
    let (off, on) = (proxy.first_updates(), recorded.first_updates());
    for p in [50.0, 99.0] {
        report.row(Row {
            metric: format!("latency first update p{p}, store on (vs off)"),
            unit: Unit::Microseconds,
            baseline: Some(percentile(&off, p)),
            proxy: percentile(&on, p),
            target: Target::RatioAtMost(1.2),
        });
    }
    let answered =
        |side: &Pings| median(&side.pings.iter().map(|p| p.answered_us).collect::<Vec<_>>());
    report.note(format!(
        "with the store on, a whole `say hi` turn (prompt -> answer, which waits for the commit) \
         takes {:.0} us p50, against {:.0} us with it off",
        answered(recorded),
        answered(proxy),
    ));
}

fn add_rows(report: &mut Report, relay: &Pings, proxy: &Pings) {
    let (relay_first, proxy_first) = (relay.first_updates(), proxy.first_updates());
    for (p, goal) in [(50.0, 1.5), (99.0, 2.0)] {
        report.row(Row {
            metric: format!("latency prompt -> first update p{p}"),
            unit: Unit::Microseconds,
            baseline: Some(percentile(&relay_first, p)),
            proxy: percentile(&proxy_first, p),
            target: Target::RatioAtMost(goal),
        });
    }
    let answered =
        |side: &Pings| median(&side.pings.iter().map(|p| p.answered_us).collect::<Vec<_>>());
    report.note(format!(
        "latency over {} alternating pings: a whole `say hi` turn (prompt -> answer) takes {:.0} us p50 \
         through the relay, {:.0} us through the proxy; p99.9 first update {:.0} us vs {:.0} us; \
         context switches per ping: relay {:.1}, proxy {:.1}",
        relay.pings.len(),
        answered(relay),
        answered(proxy),
        percentile(&relay_first, 99.9),
        percentile(&proxy_first, 99.9),
        relay.switches_per_ping(),
        proxy.switches_per_ping(),
    ));
}
