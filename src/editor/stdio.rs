//! The stdio face: a reader thread turns stdin into `EditorInput`, a writer thread
//! drains the outbox to stdout in batches, and the router runs on tokio in between.
//! Dedicated threads (not tokio's stdio, which hands every read and write to the
//! blocking pool) keep the per-message cost low for any kind of fd.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::outbox::OutboxReceiver;
use super::{EditorInput, EditorOutbox, MAX_LINE_BYTES};
use crate::config::Team;
use crate::error::Error;
use crate::jsonrpc::{Frame, LineSplitter, Message};
use crate::router::Router;
use crate::transport::ProcessTransport;

const EDITOR_INBOX_CAPACITY: usize = 1024;
const WRITE_BATCH: usize = 64 * 1024;
/// After the router stops, how long children and output may take to finish.
const EXIT_GRACE: Duration = Duration::from_secs(3);

/// Serves one editor on stdin/stdout until it closes its end or a signal arrives.
pub fn serve_stdio(team: Team) -> Result<ExitCode, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (input_tx, input_rx) = mpsc::channel(EDITOR_INBOX_CAPACITY);
    let (outbox, receiver) = EditorOutbox::new();
    std::thread::Builder::new()
        .name("editor-stdin".into())
        .spawn(move || read_editor(input_tx))?;
    let stdout = std::io::stdout().as_fd().try_clone_to_owned()?;
    let writer = std::thread::Builder::new()
        .name("editor-stdout".into())
        .spawn(move || write_editor(std::fs::File::from(stdout), receiver))?;
    runtime.block_on(run_router(team, outbox, input_rx));
    runtime.shutdown_timeout(Duration::from_millis(200));
    let _ = writer.join();
    Ok(ExitCode::SUCCESS)
}

async fn run_router(team: Team, outbox: EditorOutbox, input_rx: mpsc::Receiver<EditorInput>) {
    let tracker = TaskTracker::new();
    let transport = Arc::new(ProcessTransport::new(tracker.clone(), MAX_LINE_BYTES));
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

/// The stdin thread: frame, parse, hand to the router (waiting when it is busy).
fn read_editor(input_tx: mpsc::Sender<EditorInput>) {
    let mut stdin = std::io::stdin().lock();
    let mut splitter = LineSplitter::new(MAX_LINE_BYTES);
    let mut buf = vec![0u8; WRITE_BATCH];
    let mut frames = Vec::new();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        splitter.push(&buf[..n], |frame| frames.push(frame));
        if !deliver(&mut frames, &input_tx) {
            return;
        }
    }
    splitter.finish(|frame| frames.push(frame));
    deliver(&mut frames, &input_tx);
    let _ = input_tx.blocking_send(EditorInput::Closed);
}

fn deliver(frames: &mut Vec<Frame>, input_tx: &mpsc::Sender<EditorInput>) -> bool {
    frames.drain(..).all(|frame| {
        let input = match frame {
            Frame::Line(line) => match Message::parse_bytes(line) {
                Ok(message) => EditorInput::Message(message),
                Err(e) => EditorInput::Malformed(e),
            },
            Frame::TooLong { bytes } => EditorInput::TooLong { bytes },
        };
        input_tx.blocking_send(input).is_ok()
    })
}

/// The stdout thread: write queued lines in batches; blocking here is the
/// backpressure a stalled editor exerts.
fn write_editor(mut stdout: std::fs::File, mut receiver: OutboxReceiver) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while let Some(first) = receiver.lines.blocking_recv() {
        batch.clear();
        batch.extend_from_slice(&first);
        while batch.len() < WRITE_BATCH {
            match receiver.lines.try_recv() {
                Ok(line) => batch.extend_from_slice(&line),
                Err(_) => break,
            }
        }
        if stdout.write_all(&batch).is_err() {
            tracing::info!("editor closed its input; output dropped");
            return;
        }
        receiver.release(batch.len());
    }
}
