//! What /proc tells about a process the benchmark started: its peak and current
//! memory, the CPU time of all its threads, and its child processes.

use std::path::Path;

/// Peak resident memory (VmHWM) of `pid`, in bytes.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:").map(|kib| kib * 1024)
}

/// Resident memory now (VmRSS) of `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:").map(|kib| kib * 1024)
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Nanoseconds all threads of `pid` have spent on a CPU (from schedstat, which is
/// exact, unlike the clock ticks of `stat`). Threads that already ended are not
/// counted, so read it while the threads that matter are alive.
pub fn process_cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let total = tasks
        .filter_map(|task| task.ok())
        .filter_map(|task| schedstat_ns(&task.path().join("schedstat")))
        .sum();
    Some(total)
}

/// Context switches (voluntary and not) of all threads of `pid` so far: each
/// voluntary one is a thread that went to sleep waiting for another.
pub fn context_switches(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let total = tasks
        .filter_map(|task| task.ok())
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum();
    Some(total)
}

/// Nanoseconds `pid` has spent in user space and in the kernel so far, from the
/// clock ticks of `stat` (coarse: 10 ms, `USER_HZ` is 100 on Linux).
pub fn user_and_system_ns(pid: u32) -> Option<(u64, u64)> {
    const NS_PER_TICK: u64 = 10_000_000;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let user: u64 = fields.nth(11)?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user * NS_PER_TICK, system * NS_PER_TICK))
}

/// Nanoseconds thread `tid` of process `pid` has spent on a CPU.
pub fn thread_cpu_ns(pid: u32, tid: u32) -> Option<u64> {
    schedstat_ns(Path::new(&format!("/proc/{pid}/task/{tid}/schedstat")))
}

fn schedstat_ns(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The direct children of `pid`, for cleaning up after a process that was killed.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| task.ok())
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_peak_at_least_as_high_as_its_current_memory() {
        let pid = std::process::id();
        let now = status_kib(pid, "VmRSS:").expect("VmRSS") * 1024;
        let peak = peak_rss_bytes(pid).expect("VmHWM");
        assert!(peak >= now && now > 0);
    }

    #[test]
    fn cpu_time_is_read_for_a_process_and_a_thread() {
        let tid = nix::unistd::gettid().as_raw() as u32;
        // The kernel accounts a thread's time when it is switched; spin and yield
        // (bounded) until this thread's time has been accounted.
        let mut thread_ns = 0;
        for _ in 0..200 {
            let busy: u64 = (0..1_000_000u64).map(std::hint::black_box).sum();
            assert!(busy > 0);
            std::thread::yield_now();
            thread_ns = thread_cpu_ns(std::process::id(), tid).expect("thread");
            if thread_ns > 0 {
                break;
            }
        }
        assert!(thread_ns > 0);
        assert!(process_cpu_ns(std::process::id()).expect("process") > 0);
        assert!(user_and_system_ns(std::process::id()).is_some());
    }

    #[test]
    fn a_process_that_slept_has_switched_context() {
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(context_switches(std::process::id()).expect("switches") > 0);
    }

    #[test]
    fn a_spawned_child_is_listed_among_the_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep");
        let listed = children(std::process::id()).contains(&child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(listed);
    }
}
