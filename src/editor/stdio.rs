//! The stdio face. The router is one task on a two-worker tokio runtime, beside the
//! tasks doing the agents' pipes and — when stdin and stdout are pipes, as when an
//! editor starts the proxy — the editor's. A lightly loaded proxy runs a message's
//! whole way on one thread (tokio hands a woken task to the thread that woke it);
//! under load the second worker takes the parsing, and batches (one per read) cross
//! between them, never single messages. Other kinds of stdin/stdout (a terminal, a
//! file) are served by a reader and a writer thread.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::outbox::OutboxReceiver;
use super::{EditorInput, EditorOutbox};
use crate::config::Team;
use crate::error::Error;
use crate::jsonrpc::{Frame, LineSplitter, Message};
use crate::router::Router;
use crate::transport::ProcessTransport;

const EDITOR_INBOX_CAPACITY: usize = 1024;
const IO_CHUNK: usize = 64 * 1024;
/// After the router stops, how long the agents' tasks may take to finish.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long the last output may wait for an editor that stopped reading.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// Serves one editor on stdin/stdout until it closes its end or a signal arrives.
/// `max_message` caps one line from the editor or an agent (longer ones are refused
/// and skipped without being held).
pub fn serve_stdio(team: Team, max_message: usize) -> Result<ExitCode, Error> {
    // Two workers: one when idle (low latency), both under load (parsing overlaps
    // routing); measured against one worker and against a dedicated router thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(serve(team, max_message))?;
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok(ExitCode::SUCCESS)
}

async fn serve(team: Team, max_message: usize) -> Result<(), Error> {
    let (input_tx, input_rx) = mpsc::channel(EDITOR_INBOX_CAPACITY);
    let (outbox, receiver) = EditorOutbox::new();
    start_reader(input_tx, max_message)?;
    let writer = start_writer(receiver)?;
    // A task, not the main thread, so the router and the I/O tasks can share a worker.
    let router = tokio::spawn(run_router(team, outbox, input_rx, max_message));
    let _ = router.await;
    if tokio::time::timeout(OUTPUT_GRACE, writer.finished())
        .await
        .is_err()
    {
        tracing::warn!("the editor did not take the last output in time");
    }
    Ok(())
}

async fn run_router(
    team: Team,
    outbox: EditorOutbox,
    input_rx: mpsc::Receiver<EditorInput>,
    max_message: usize,
) {
    let tracker = TaskTracker::new();
    let transport = Arc::new(ProcessTransport::new(tracker.clone(), max_message));
    let shutdown = CancellationToken::new();
    tokio::spawn(shutdown_on_signal(shutdown.clone()));
    Router::new(team, transport, outbox)
        .run(input_rx, shutdown)
        .await;
    tracker.close();
    if tokio::time::timeout(EXIT_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some agent tasks did not finish in time");
    }
}

async fn shutdown_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    shutdown.cancel();
}

/// Our own copy of fd 0 or 1, and whether it is a pipe.
fn dup_stdio(fd: impl AsFd) -> Result<(std::fs::File, bool), Error> {
    let file = std::fs::File::from(fd.as_fd().try_clone_to_owned()?);
    let is_pipe = file.metadata()?.file_type().is_fifo();
    Ok((file, is_pipe))
}

fn start_reader(input_tx: mpsc::Sender<EditorInput>, max_message: usize) -> Result<(), Error> {
    let (file, is_pipe) = dup_stdio(std::io::stdin())?;
    if is_pipe {
        let pipe = pipe::Receiver::from_file(file)?;
        tokio::spawn(read_editor_pipe(pipe, input_tx, max_message));
    } else {
        std::thread::Builder::new()
            .name("editor-stdin".into())
            .spawn(move || read_editor_blocking(file, input_tx, max_message))?;
    }
    Ok(())
}

/// The writer, whichever kind it is, so its end can be awaited.
enum Writer {
    Task(tokio::task::JoinHandle<()>),
    Thread(std::thread::JoinHandle<()>),
}

impl Writer {
    async fn finished(self) {
        match self {
            Writer::Task(task) => {
                let _ = task.await;
            }
            Writer::Thread(thread) => {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
        }
    }
}

fn start_writer(receiver: OutboxReceiver) -> Result<Writer, Error> {
    let (file, is_pipe) = dup_stdio(std::io::stdout())?;
    if is_pipe {
        let pipe = pipe::Sender::from_file(file)?;
        return Ok(Writer::Task(tokio::spawn(write_editor_pipe(
            pipe, receiver,
        ))));
    }
    let thread = std::thread::Builder::new()
        .name("editor-stdout".into())
        .spawn(move || write_editor_blocking(file, receiver))?;
    Ok(Writer::Thread(thread))
}

async fn read_editor_pipe(
    mut pipe: pipe::Receiver,
    input_tx: mpsc::Sender<EditorInput>,
    max_message: usize,
) {
    let mut framing = EditorFraming::new(max_message);
    let mut buf = vec![0u8; IO_CHUNK];
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for input in framing.feed(&buf[..n]) {
            if input_tx.send(input).await.is_err() {
                return;
            }
        }
    }
    for input in framing.finish() {
        let _ = input_tx.send(input).await;
    }
}

fn read_editor_blocking(
    mut stdin: std::fs::File,
    input_tx: mpsc::Sender<EditorInput>,
    max_message: usize,
) {
    let mut framing = EditorFraming::new(max_message);
    let mut buf = vec![0u8; IO_CHUNK];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        for input in framing.feed(&buf[..n]) {
            if input_tx.blocking_send(input).is_err() {
                return;
            }
        }
    }
    for input in framing.finish() {
        let _ = input_tx.blocking_send(input);
    }
}

/// The editor's bytes as inputs, whichever kind of reader reads them.
struct EditorFraming {
    splitter: LineSplitter,
    frames: Vec<Frame>,
}

impl EditorFraming {
    fn new(max_message: usize) -> Self {
        EditorFraming {
            splitter: LineSplitter::new(max_message),
            frames: Vec::new(),
        }
    }

    /// The inputs completed by one read.
    fn feed(&mut self, bytes: &[u8]) -> impl Iterator<Item = EditorInput> + '_ {
        let frames = &mut self.frames;
        self.splitter.push(bytes, |frame| frames.push(frame));
        self.frames.drain(..).map(editor_input)
    }

    /// At the end of input: a last unterminated line, then `Closed`.
    fn finish(&mut self) -> impl Iterator<Item = EditorInput> + '_ {
        let frames = &mut self.frames;
        self.splitter.finish(|frame| frames.push(frame));
        self.frames
            .drain(..)
            .map(editor_input)
            .chain(std::iter::once(EditorInput::Closed))
    }
}

fn editor_input(frame: Frame) -> EditorInput {
    match frame {
        Frame::Line(line) => match Message::parse_bytes(line) {
            Ok(message) => EditorInput::Message(message),
            Err(e) => EditorInput::Malformed(e),
        },
        Frame::TooLong { bytes } => EditorInput::TooLong { bytes },
    }
}

/// Takes whatever is queued (up to a chunk) after `first`.
fn gather(first: Vec<u8>, receiver: &mut OutboxReceiver) -> Vec<u8> {
    let mut batch = first;
    while batch.len() < IO_CHUNK {
        match receiver.lines.try_recv() {
            Ok(more) => batch.extend_from_slice(&more),
            Err(_) => break,
        }
    }
    batch
}

async fn write_editor_pipe(mut pipe: pipe::Sender, mut receiver: OutboxReceiver) {
    while let Some(first) = receiver.lines.recv().await {
        let batch = gather(first, &mut receiver);
        if pipe.write_all(&batch).await.is_err() {
            tracing::info!("editor closed its input; output dropped");
            return;
        }
        receiver.release(batch.len());
        receiver.recycle(batch);
    }
}

/// Blocking here is the backpressure a stalled editor exerts.
fn write_editor_blocking(mut stdout: std::fs::File, mut receiver: OutboxReceiver) {
    while let Some(first) = receiver.lines.blocking_recv() {
        let batch = gather(first, &mut receiver);
        if stdout.write_all(&batch).is_err() {
            tracing::info!("editor closed its input; output dropped");
            return;
        }
        receiver.release(batch.len());
        receiver.recycle(batch);
    }
}
