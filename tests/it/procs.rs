//! What /proc says about the processes a test started: finding them by a marker
//! argument, by parent or by process group, reading their memory, and waiting
//! (always bounded) for them to be gone. Nothing here finds or signals a process by
//! its name.
//!
//! `adopt_orphans` makes this test process the subreaper of everything it starts,
//! so a grandchild whose parent died is re-parented here instead of to PID 1 (which
//! in some sandboxes never reaps). `reap` then collects such a zombie by its pid.

use std::time::{Duration, Instant};

use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// One line of /proc/PID/stat, the fields these tests look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    /// `R`, `S`, `D`, `Z` (zombie: exited, not yet reaped), ...
    pub state: char,
    pub ppid: u32,
    pub pgid: u32,
    /// Clock ticks after boot; tells a reused pid from the process that had it.
    pub start_ticks: u64,
}

impl Proc {
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z' || self.state == 'X'
    }
}

/// The process `pid`, if it exists (a zombie still does).
pub fn stat(pid: u32) -> Option<Proc> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold anything; fields follow the
    // last `)`.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Proc {
        pid,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// Every process visible now.
pub fn all() -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .collect()
}

/// The arguments `pid` was started with (empty for a zombie or a gone process).
pub fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| {
            bytes
                .split(|&b| b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Live processes one of whose arguments is exactly `marker` (a unique temp path,
/// a role name after `--name`, ...).
pub fn with_argument(marker: &str) -> Vec<Proc> {
    all()
        .into_iter()
        .filter(|p| !p.is_zombie() && cmdline(p.pid).iter().any(|arg| arg == marker))
        .collect()
}

/// The child of this test process started with argument `marker`, if it runs.
pub fn child_with_argument(marker: &str) -> Option<u32> {
    with_argument(marker)
        .into_iter()
        .find(|p| p.ppid == std::process::id())
        .map(|p| p.pid)
}

/// The direct children of `pid`, zombies included.
pub fn children(pid: u32) -> Vec<Proc> {
    all().into_iter().filter(|p| p.ppid == pid).collect()
}

/// Every process of process group `pgid`, zombies included.
pub fn group(pgid: u32) -> Vec<Proc> {
    all().into_iter().filter(|p| p.pgid == pgid).collect()
}

/// The processes of group `pgid` that still run (not zombies).
pub fn live_in_group(pgid: u32) -> Vec<Proc> {
    group(pgid).into_iter().filter(|p| !p.is_zombie()).collect()
}

/// A `kB` field of /proc/PID/status (`VmRSS`, `VmHWM`, ...), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.split(':').next() == Some(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` has exited: gone, or a zombie waiting for its parent.
pub fn has_exited(pid: u32) -> bool {
    stat(pid).is_none_or(|p| p.is_zombie())
}

/// Makes this process the subreaper of its descendants (once; idempotent).
pub fn adopt_orphans() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            eprintln!("cannot become a subreaper ({e}); orphans go to PID 1");
        }
    });
}

/// Reaps `pid` if it is a zombie re-parented to this process; never waits.
pub fn reap(pid: u32) {
    let ours = stat(pid).is_some_and(|p| p.is_zombie() && p.ppid == std::process::id());
    if ours {
        let _ = waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG));
    }
}

/// Polls `done` every millisecond until it holds; the time it took, or None after
/// `limit`.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if done() {
            return Some(started.elapsed());
        }
        if started.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The median of some durations (the upper one of an even count).
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[test]
fn this_process_is_found_by_pid_group_and_argument_and_has_memory() {
    let me = stat(std::process::id()).expect("own stat");
    assert_eq!(me.pid, std::process::id());
    assert!(group(me.pgid).iter().any(|p| p.pid == me.pid));
    let rss = status_kib(me.pid, "VmRSS").expect("VmRSS");
    assert!(status_kib(me.pid, "VmHWM").expect("VmHWM") >= rss && rss > 0);
    let first_arg = cmdline(me.pid).into_iter().next().expect("argv[0]");
    assert!(with_argument(&first_arg).iter().any(|p| p.pid == me.pid));
}
