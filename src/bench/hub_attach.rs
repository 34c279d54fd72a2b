//! What attaching through the hub costs: prompt → first update round trips of
//! `say hi` through `ourocodus acp --attach` → `ourocodus serve` (one fake agent,
//! one session) against a direct `ourocodus acp` with the same team, both up for
//! the whole run and pinged in turn. The hub is this run's own: its own config
//! directory (and token), no store, a free loopback port.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Plan;
use super::latency::{Pings, ping_pair};
use super::peer::Peer;
use super::report::{Report, Row, Target, Unit};
use super::setup::{StoreUse, Workspace};
use super::stats::percentile;
use crate::error::{Error, Result};

/// How long the hub may take to exit once told to.
const HUB_EXIT_LIMIT: Duration = Duration::from_secs(5);

pub fn run(workspace: &Workspace, plan: &Plan, report: &mut Report) {
    eprintln!("bench: hub-attach, {} pings each", plan.hub_pings);
    if let Err(e) = measure(workspace, plan, report) {
        report.failure(format!("hub-attach: {e}"));
    }
}

fn measure(workspace: &Workspace, plan: &Plan, report: &mut Report) -> Result<()> {
    let hub = HubProcess::start(workspace)?;
    let direct = workspace.proxy(1, StoreUse::Off)?;
    let attached = hub.attach(workspace)?;
    let rounds = (plan.latency_warmup, plan.hub_pings);
    let [direct, attached] = ping_pair(workspace, rounds, [direct, attached])?;
    add_rows(report, &direct, &attached);
    hub.stop()
}

fn add_rows(report: &mut Report, direct: &Pings, attached: &Pings) {
    let (direct_first, attached_first) = (direct.first_updates(), attached.first_updates());
    for p in [50.0, 99.0] {
        report.row(Row {
            metric: format!("hub attach: prompt -> first update p{p} (vs direct acp)"),
            unit: Unit::Microseconds,
            baseline: Some(percentile(&direct_first, p)),
            proxy: percentile(&attached_first, p),
            target: Target::None,
        });
    }
    report.note(format!(
        "hub attach over {} alternating pings: first update p50 {:.0} us through \
         `acp --attach` -> hub, {:.0} us through `acp` directly (p99 {:.0} us vs {:.0} us); \
         the attach process's context switches per ping: {:.1}, the direct proxy's {:.1}",
        attached.first_updates().len(),
        percentile(&attached_first, 50.0),
        percentile(&direct_first, 50.0),
        percentile(&attached_first, 99.0),
        percentile(&direct_first, 99.0),
        attached.switches_per_ping(),
        direct.switches_per_ping(),
    ));
}

/// A running `ourocodus serve` for the run: stopped with SIGTERM (as a user would).
struct HubProcess {
    child: Child,
    /// `127.0.0.1:PORT`, as it announced.
    addr: String,
    token: String,
}

impl HubProcess {
    fn start(workspace: &Workspace) -> Result<HubProcess> {
        let config = workspace.team_config(1, true)?;
        let mut child = Command::new(workspace.exe())
            .args(["serve", "--listen", "127.0.0.1:0", "--no-store", "--config"])
            .arg(config)
            .current_dir(workspace.dir())
            .env("XDG_CONFIG_HOME", workspace.dir().join("hub-config"))
            .env("OUROCODUS_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(workspace.dir().join("hub.stderr"))?)
            .spawn()
            .map_err(|source| Error::Spawn {
                command: "ourocodus serve".to_string(),
                source,
            })?;
        let Some(stdout) = child.stdout.take() else {
            return Err(Error::Other("the hub's stdout was not piped".into()));
        };
        let announced = read_announcement(stdout);
        // Held first, so a hub that announced nothing usable is still stopped on drop.
        let mut hub = HubProcess {
            child,
            addr: String::new(),
            token: String::new(),
        };
        hub.addr = announced?;
        hub.token = super::hub::token_in(&workspace.dir().join("hub-config"))?;
        Ok(hub)
    }

    /// `ourocodus acp --attach ws://ADDR` with the hub's token.
    fn attach(&self, workspace: &Workspace) -> Result<Peer> {
        let mut command = Command::new(workspace.exe());
        command
            .args(["acp", "--attach", &format!("ws://{}", self.addr)])
            .current_dir(workspace.dir())
            .env("OUROCODUS_TOKEN", &self.token)
            .env("OUROCODUS_LOG", "warn");
        Peer::start("attach", command, workspace.dir().join("attach.stderr"))
    }

    fn stop(mut self) -> Result<()> {
        self.terminate();
        match self.child.try_wait()? {
            Some(_) => Ok(()),
            None => Err(Error::Other("the hub did not exit after SIGTERM".into())),
        }
    }

    /// SIGTERM, then a bounded wait; SIGKILL if it is still there.
    fn terminate(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + HUB_EXIT_LIMIT;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
        }
    }
}

/// The address from the hub's first line; the rest is read on a thread of its own
/// so the hub never writes into a full pipe.
fn read_announcement(stdout: ChildStdout) -> Result<String> {
    let mut lines = BufReader::new(stdout).lines();
    let first = match lines.next() {
        Some(Ok(line)) => line,
        _ => {
            return Err(Error::Other(
                "the hub ended before saying where it listens".into(),
            ));
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    match first
        .strip_prefix("ourocodus hub on ws://")
        .and_then(|rest| rest.split(' ').next())
    {
        Some(addr) => Ok(addr.to_string()),
        None => Err(Error::Other(format!(
            "the hub announced itself unexpectedly: {first:?}"
        ))),
    }
}
