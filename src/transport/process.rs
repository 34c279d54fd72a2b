//! A child process as an agent transport: its own process group, a stdin writer, a
//! stdout reader that parses lines, a stderr drain, and a supervisor that reports the
//! end exactly once and leaves no process of the group behind.

use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::sandbox::{self, Prepared};
use super::{
    AGENT_OUTBOX_CAPACITY, AgentControl, AgentEnvelope, AgentEvent, AgentKey, AgentLink,
    ExitReport, LaunchSpec, Transport, stderr_tail,
};
use crate::error::Error;
use crate::jsonrpc::{
    Incoming, LineBudget, LineSplitter, Message, ParseErrorKind, ReadParser, error_response,
};
use crate::policy::glob_match;

/// How long a child may take to exit once its input is closed, before SIGTERM.
const EOF_GRACE: Duration = Duration::from_millis(300);
/// How long a child may take to exit after SIGTERM before it gets SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(1000);
/// How long to wait for the last output after the child exited (a grandchild may
/// still hold the pipe open).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);
const IO_CHUNK: usize = 64 * 1024;

/// Starts agents as local child processes.
#[derive(Debug, Clone)]
pub struct ProcessTransport {
    /// Every task of every child, so shutdown can wait for all of them.
    tracker: TaskTracker,
    /// Lines longer than this from a child are skipped (and logged).
    max_line_bytes: usize,
    /// What all children's unfinished lines may hold together (twice the cap), so
    /// many agents writing huge lines at once cannot multiply the memory cap.
    line_budget: Arc<LineBudget>,
}

impl ProcessTransport {
    pub fn new(tracker: TaskTracker, max_line_bytes: usize) -> Self {
        ProcessTransport {
            tracker,
            max_line_bytes,
            line_budget: LineBudget::new(max_line_bytes.saturating_mul(2)),
        }
    }
}

impl Transport for ProcessTransport {
    fn start(
        &self,
        spec: &LaunchSpec,
        key: AgentKey,
        events: mpsc::Sender<AgentEnvelope>,
    ) -> Result<AgentLink, Error> {
        let sandbox =
            Prepared::new(spec.sandbox.as_ref(), key.role.as_str()).map_err(|reason| {
                Error::Sandbox {
                    role: key.role.to_string(),
                    reason,
                }
            })?;
        let mut child = spawn(spec, &sandbox)?;
        let pid = child.id();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Error::Other("child stdio was not piped".into()));
        };
        tracing::info!(role = %key.role, pid, command = %spec.command, "agent started");
        let (outbox_tx, outbox_rx) = mpsc::channel(AGENT_OUTBOX_CAPACITY);
        let stop = CancellationToken::new();
        self.tracker
            .spawn(write_lines(stdin, outbox_rx, stop.clone()));
        let reader = self.tracker.spawn(read_messages(
            stdout,
            key.clone(),
            events.clone(),
            outbox_tx.clone(),
            LineSplitter::with_budget(self.max_line_bytes, self.line_budget.clone()),
        ));
        let stderr = self
            .tracker
            .spawn(stderr_tail::drain(stderr, key.role.clone()));
        let state = sandbox.state.clone();
        let ends = Ends {
            reader,
            stderr,
            tmp: sandbox.tmp,
        };
        self.tracker
            .spawn(supervise(child, pid, ends, stop.clone(), key, events));
        Ok(AgentLink::new(outbox_tx, Arc::new(ProcessControl { stop, pid })).with_sandbox(state))
    }
}

fn spawn(spec: &LaunchSpec, sandbox: &Prepared) -> Result<Child, Error> {
    let mut command = Command::new(&spec.command);
    command.args(&spec.args);
    if let Some(names) = &spec.env_inherit {
        command.env_clear();
        command.envs(std::env::vars_os().filter(|(name, _)| {
            let name = name.to_string_lossy();
            names.iter().any(|pattern| glob_match(pattern, &name))
        }));
    }
    if let Some(tmp) = sandbox.tmp_path() {
        for name in ["TMPDIR", "TMP", "TEMP"] {
            command.env(name, tmp);
        }
    }
    command.envs(&spec.env);
    match &sandbox.restriction {
        // A session of its own, made in the child (so its group is its pid too).
        Some(restriction) => restrict_in_child(&mut command, restriction.raw_fd()),
        // Its own process group, so wrappers' grandchildren can be ended with it.
        None => {
            command.process_group(0);
        }
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Error::Spawn {
            command: spec.command.clone(),
            source,
        })
}

/// Has the child apply the sandbox between fork and exec: a failure there fails the
/// spawn (the role's visible error), never a start without it.
#[allow(unsafe_code)]
fn restrict_in_child(command: &mut Command, fd: std::os::fd::RawFd) {
    // SAFETY: the closure only makes async-signal-safe system calls (see
    // `sandbox::apply_in_child`), and `fd` stays open until the spawn returns.
    unsafe {
        command.pre_exec(move || sandbox::apply_in_child(fd));
    }
}

#[derive(Debug)]
struct ProcessControl {
    stop: CancellationToken,
    pid: Option<u32>,
}

impl AgentControl for ProcessControl {
    fn shutdown(&self) {
        self.stop.cancel();
    }

    fn pid(&self) -> Option<u32> {
        self.pid
    }
}

/// Writes queued lines to the child's stdin in batches; dropping stdin (on stop,
/// a closed queue or a write error) is what closes the child's input.
async fn write_lines(
    mut stdin: ChildStdin,
    mut lines: mpsc::Receiver<Vec<u8>>,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(IO_CHUNK);
    loop {
        // Cancel-safe: recv() loses nothing when the other branch wins.
        let first = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            line = lines.recv() => match line {
                Some(line) => line,
                None => return,
            },
        };
        batch.clear();
        batch.extend_from_slice(&first);
        while batch.len() < IO_CHUNK {
            match lines.try_recv() {
                Ok(line) => batch.extend_from_slice(&line),
                Err(_) => break,
            }
        }
        // Not cancel-safe (a partial write may be lost), which is fine: on stop the
        // child's input is being closed anyway.
        tokio::select! {
            _ = stop.cancelled() => return,
            written = stdin.write_all(&batch) => if written.is_err() { return },
        }
    }
}

/// Reads the child's stdout, frames and parses each line, and forwards messages in
/// order, one batch per read. The lines of a read share its buffer (`ReadParser`), so
/// parsing allocates nothing per line. Lines that are not JSON-RPC are logged and
/// skipped; the child keeps serving.
async fn read_messages(
    mut stdout: ChildStdout,
    key: AgentKey,
    events: mpsc::Sender<AgentEnvelope>,
    answers: mpsc::Sender<Vec<u8>>,
    splitter: LineSplitter,
) {
    let mut reads = ReadParser::new(splitter, IO_CHUNK);
    let mut batch = Vec::new();
    loop {
        let mut buffer = reads.buffer();
        match stdout.read_buf(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        reads.parse(buffer, |incoming| {
            keep(incoming, &key, &mut batch, &answers)
        });
        if !forward(&mut batch, &key, &events).await {
            return;
        }
    }
    reads.finish(|incoming| keep(incoming, &key, &mut batch, &answers));
    forward(&mut batch, &key, &events).await;
}

/// Adds a message to the batch; logs what is not one, and answers an invalid request
/// whose id could be read (a key given twice, say), so the agent does not wait forever.
fn keep(
    incoming: Incoming,
    key: &AgentKey,
    batch: &mut Vec<Message>,
    answers: &mpsc::Sender<Vec<u8>>,
) {
    match incoming {
        Incoming::Message(message) => batch.push(message),
        Incoming::Malformed(e) => {
            tracing::warn!(role = %key.role, error = %e.detail, "agent wrote a line that is not JSON-RPC; skipped");
            if let (ParseErrorKind::InvalidRequest, Some(id)) = (e.kind, &e.id) {
                let error = crate::error::RpcError::invalid_request(e.detail.clone());
                // A full queue to a stalled agent drops the answer, never blocks.
                let _ = answers.try_send(error_response(id, &error));
            }
        }
        Incoming::TooLong { bytes } => {
            tracing::warn!(role = %key.role, bytes, "agent wrote an over-long line; skipped")
        }
    }
}

/// Sends the messages of one read on as one batch (the next starts with room for as
/// many); false once the router is gone.
async fn forward(
    batch: &mut Vec<Message>,
    key: &AgentKey,
    events: &mpsc::Sender<AgentEnvelope>,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    let next = Vec::with_capacity(batch.len());
    let envelope = AgentEnvelope {
        key: key.clone(),
        event: AgentEvent::Messages(std::mem::replace(batch, next)),
    };
    // Awaiting here is the backpressure: a slow router slows this agent.
    events.send(envelope).await.is_ok()
}

/// The tasks whose end the supervisor waits for before reporting the agent's end.
struct Ends {
    reader: JoinHandle<()>,
    stderr: JoinHandle<Vec<String>>,
    /// The child's private temporary directory, removed once its group is gone.
    tmp: Option<tempfile::TempDir>,
}

/// Waits for the child to exit (or ends it on stop), clears its process group, lets
/// the reader deliver what the child wrote, then reports the end once.
async fn supervise(
    mut child: Child,
    pid: Option<u32>,
    mut ends: Ends,
    stop: CancellationToken,
    key: AgentKey,
    events: mpsc::Sender<AgentEnvelope>,
) {
    // Cancel-safe: Child::wait can be dropped and called again.
    let status = tokio::select! {
        status = child.wait() => status.ok(),
        _ = stop.cancelled() => terminate(&mut child, pid).await,
    };
    stop.cancel();
    signal_group(pid, Signal::SIGKILL);
    if tokio::time::timeout(DRAIN_AFTER_EXIT, &mut ends.reader)
        .await
        .is_err()
    {
        ends.reader.abort();
    }
    let stderr_tail = match tokio::time::timeout(DRAIN_AFTER_EXIT, &mut ends.stderr).await {
        Ok(Ok(tail)) => tail,
        _ => {
            ends.stderr.abort();
            Vec::new()
        }
    };
    drop(ends.tmp.take());
    let report = exit_report(status, stderr_tail);
    tracing::info!(role = %key.role, pid, status = %report.status, "agent ended");
    let _ = events
        .send(AgentEnvelope {
            key,
            event: AgentEvent::Ended(report),
        })
        .await;
}

/// With its input closed (the writer stops on the same token), the child gets a
/// moment to exit by itself; then SIGTERM to the group, SIGKILL after the grace
/// period, and reap. Agents that ignore the end of their input still end.
async fn terminate(child: &mut Child, pid: Option<u32>) -> Option<ExitStatus> {
    if let Ok(status) = tokio::time::timeout(EOF_GRACE, child.wait()).await {
        return status.ok();
    }
    signal_group(pid, Signal::SIGTERM);
    match tokio::time::timeout(TERM_GRACE, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            signal_group(pid, Signal::SIGKILL);
            child.wait().await.ok()
        }
    }
}

fn signal_group(pid: Option<u32>, signal: Signal) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // ESRCH (the group is already empty) is the normal case after an exit.
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

fn exit_report(status: Option<ExitStatus>, stderr_tail: Vec<String>) -> ExitReport {
    use std::os::unix::process::ExitStatusExt;
    let code = status.and_then(|s| s.code());
    let signal = status.and_then(|s| s.signal());
    let status = match (code, signal) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by {}", signal_name(signal)),
        (None, None) => "ended".to_string(),
    };
    ExitReport {
        status,
        code,
        signal,
        stderr_tail,
    }
}

fn signal_name(signal: i32) -> String {
    Signal::try_from(signal)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {signal}"))
}
