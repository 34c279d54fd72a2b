//! One process the benchmark talks to as the editor (the proxy, the baseline relay,
//! or a bare agent): its stdin, a reader thread that drains its stdout in big reads
//! and only reports what the scenario waits for, and a cleanup that leaves nothing
//! running.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::procfs;
use super::scan::{self, Line, Tally};
use crate::error::{Error, Result};

/// Bytes asked for in each read of the peer's stdout.
const READ_BYTES: usize = 256 * 1024;
/// How long a stalled reader sleeps between looks at the stall flag.
const STALL_NAP: Duration = Duration::from_millis(1);
/// After a forced kill, how long the reader thread may take to see the end.
const READER_GRACE: Duration = Duration::from_secs(2);

/// What the reader thread reports.
#[derive(Debug)]
pub enum Event {
    Response(Response),
    /// The first agent text chunk after `arm`, stamped when its read returned.
    FirstChunk {
        at: Instant,
    },
    /// The peer's stdout ended.
    End,
}

#[derive(Debug)]
pub struct Response {
    pub id: i64,
    /// When the read that brought it returned.
    pub at: Instant,
    pub line: Vec<u8>,
    /// Every update counted up to this response.
    pub tally: Tally,
}

/// Flags the scenario sets and the reader thread reads.
#[derive(Debug, Default)]
struct Probe {
    /// Report the next agent text chunk.
    armed: AtomicBool,
    /// Stop reading, as an editor that does not keep up.
    stalled: AtomicBool,
    /// The reader thread's id, so its CPU time can be read from outside.
    reader_tid: AtomicI32,
}

pub struct Peer {
    /// Says which process this is in errors.
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::Receiver<Event>,
    probe: Arc<Probe>,
    reader: Option<JoinHandle<()>>,
    /// Where the peer's stderr goes, quoted when it fails.
    stderr_log: PathBuf,
    next_id: i64,
}

impl Peer {
    /// Starts `command` in its own process group with piped stdin and stdout.
    pub fn start(name: &str, mut command: Command, stderr_log: PathBuf) -> Result<Peer> {
        let stderr = std::fs::File::create(&stderr_log)?;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn {
                command: format!("{command:?}"),
                source,
            })?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
            panic!("stdio was piped");
        };
        let (events_tx, events) = mpsc::channel();
        let probe = Arc::new(Probe::default());
        let reader_probe = probe.clone();
        let reader = std::thread::Builder::new()
            .name(format!("bench-read-{name}"))
            .spawn(move || run_reader(stdout, events_tx, reader_probe))?;
        Ok(Peer {
            name: name.to_string(),
            child,
            stdin: Some(stdin),
            events,
            probe,
            reader: Some(reader),
            stderr_log,
            next_id: 0,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a request; returns its id.
    pub fn request(&mut self, method: &str, params: serde_json::Value) -> Result<i64> {
        self.next_id += 1;
        let id = self.next_id;
        let message =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        let written = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(&line),
            None => Err(std::io::Error::other("stdin already closed")),
        };
        written.map_err(|e| self.failure(&format!("write failed: {e}")))?;
        Ok(id)
    }

    /// Waits for the response to `id`, skipping other events.
    pub fn wait_response(&mut self, id: i64, limit: Duration) -> Result<Response> {
        let deadline = Instant::now() + limit;
        loop {
            match self.next_event(deadline, &format!("the response to request {id}"))? {
                Event::Response(response) if response.id == id => return Ok(response),
                _ => continue,
            }
        }
    }

    /// Waits for the chunk `arm` asked for.
    pub fn wait_first_chunk(&mut self, limit: Duration) -> Result<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            if let Event::FirstChunk { at } = self.next_event(deadline, "a first update")? {
                return Ok(at);
            }
        }
    }

    fn next_event(&mut self, deadline: Instant, what: &str) -> Result<Event> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.events.recv_timeout(left) {
            Ok(Event::End) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(self.failure(&format!("output ended while waiting for {what}")))
            }
            Ok(event) => Ok(event),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(self.failure(&format!("timed out waiting for {what}")))
            }
        }
    }

    /// The reader reports the next agent text chunk it sees.
    pub fn arm(&self) {
        self.probe.armed.store(true, Ordering::SeqCst);
    }

    /// Stops (or resumes) reading the peer's output.
    pub fn stall(&self, stalled: bool) {
        self.probe.stalled.store(stalled, Ordering::SeqCst);
    }

    /// CPU time the thread reading this peer's output has used so far.
    pub fn reader_cpu_ns(&self) -> u64 {
        let tid = self.probe.reader_tid.load(Ordering::SeqCst);
        let tid = u32::try_from(tid).unwrap_or(0);
        procfs::thread_cpu_ns(std::process::id(), tid).unwrap_or(0)
    }

    /// An error naming this peer, with the end of its stderr.
    pub fn failure(&mut self, what: &str) -> Error {
        let exited = match self.child.try_wait() {
            Ok(Some(status)) => format!(" ({status})"),
            _ => String::new(),
        };
        let log = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Error::Other(format!(
            "{}{exited}: {what}; stderr: {}",
            self.name,
            tail.join(" | ")
        ))
    }

    /// Closes stdin and waits for a clean exit; kills the whole tree after `limit`.
    pub fn close(mut self, limit: Duration) -> Result<()> {
        drop(self.stdin.take());
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                self.join_reader();
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.kill_tree();
        Err(self.failure("did not exit after its input closed; killed"))
    }

    /// SIGKILL to the peer's group and to the group of each of its children (the
    /// proxy starts every agent in a group of its own), then reap.
    fn kill_tree(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let children = procfs::children(self.pid());
        for pid in std::iter::once(self.pid()).chain(children) {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let _ = self.child.wait();
        self.join_reader();
    }

    fn join_reader(&mut self) {
        let Some(reader) = self.reader.take() else {
            return;
        };
        let deadline = Instant::now() + READER_GRACE;
        while !reader.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if reader.is_finished() {
            let _ = reader.join();
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill_tree();
    }
}

/// Reads big chunks, counts every update, and reports responses and armed chunks.
fn run_reader(mut stdout: ChildStdout, events: mpsc::Sender<Event>, probe: Arc<Probe>) {
    let tid = nix::unistd::gettid().as_raw();
    probe.reader_tid.store(tid, Ordering::SeqCst);
    let mut buffer = LineBuffer::default();
    let mut tally = Tally::default();
    loop {
        if probe.stalled.load(Ordering::Relaxed) {
            std::thread::sleep(STALL_NAP);
            continue;
        }
        match buffer.fill(&mut stdout) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let read_at = Instant::now();
        buffer.drain_lines(|line| take_line(line, read_at, &mut tally, &events, &probe));
    }
    let _ = events.send(Event::End);
}

fn take_line(
    line: &[u8],
    read_at: Instant,
    tally: &mut Tally,
    events: &mpsc::Sender<Event>,
    probe: &Probe,
) {
    let event = match scan::classify(line) {
        Line::Update(update) => {
            tally.count(&update);
            let wanted = !update.label
                && probe.armed.load(Ordering::Relaxed)
                && scan::is_message_chunk(line)
                && probe.armed.swap(false, Ordering::SeqCst);
            if !wanted {
                return;
            }
            Event::FirstChunk { at: read_at }
        }
        Line::Response { id } => Event::Response(Response {
            id,
            at: read_at,
            line: line.to_vec(),
            tally: tally.clone(),
        }),
        Line::Other => return,
    };
    let _ = events.send(event);
}

/// A read buffer that hands out complete lines and keeps the unfinished one.
#[derive(Default)]
struct LineBuffer {
    /// Allocated (and zeroed) once, grown only for a line longer than a read.
    bytes: Vec<u8>,
    /// Where the unfinished line starts.
    start: usize,
    /// Where the bytes read so far end.
    end: usize,
}

impl LineBuffer {
    fn fill(&mut self, source: &mut impl Read) -> std::io::Result<usize> {
        self.bytes.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.bytes.len() < self.end + READ_BYTES {
            self.bytes.resize(self.end + READ_BYTES, 0);
        }
        loop {
            match source.read(&mut self.bytes[self.end..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn drain_lines(&mut self, mut take: impl FnMut(&[u8])) {
        let unread = &self.bytes[self.start..self.end];
        let mut consumed = 0;
        for end in memchr::memchr_iter(b'\n', unread) {
            take(&unread[consumed..end]);
            consumed = end + 1;
        }
        self.start += consumed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_reads_come_out_whole() {
        let mut source: &[u8] = b"one\ntw";
        let mut buffer = LineBuffer::default();
        let mut lines = Vec::new();
        buffer.fill(&mut source).unwrap();
        buffer.drain_lines(|l| lines.push(l.to_vec()));
        let mut rest: &[u8] = b"o\nthree\n";
        buffer.fill(&mut rest).unwrap();
        buffer.drain_lines(|l| lines.push(l.to_vec()));
        assert_eq!(
            lines,
            vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
    }
}
