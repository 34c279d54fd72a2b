//! The ACP face on stdio: one editor, its lines read from stdin into the core as
//! one connection's inputs, that connection's output written to stdout. When stdin
//! and stdout are pipes (as when an editor starts the proxy) they are driven by tasks
//! on the runtime; a terminal or a file gets a reader and a writer thread. The end
//! of stdin detaches the connection and is reported, so the assembly can decide
//! what it means.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio_util::sync::CancellationToken;

use super::AcpConnection;
use crate::core::{ConnectionInputs, CoreHandle, Inbound};
use crate::error::Error;
use crate::faces::outbox::{Outbox, OutboxReceiver};
use crate::jsonrpc::{Frame, LineSplitter, Message};

const IO_CHUNK: usize = 64 * 1024;

/// The running stdio face.
pub struct StdioFace {
    writer: Writer,
    /// Cancelled once the core has let go of the editor's connection (which it does
    /// after everything the editor sent before closing its end).
    detached: CancellationToken,
}

impl StdioFace {
    /// Fires when the editor's connection is detached from the core.
    pub fn detached(&self) -> CancellationToken {
        self.detached.clone()
    }

    /// Resolves once everything queued for the editor has been written (or it failed).
    pub async fn finished(self) {
        self.writer.finished().await
    }
}

/// Attaches the editor on stdin/stdout to the core. `max_message` caps one line
/// (longer ones are refused and skipped without being held).
pub async fn serve_stdio_editor(core: &CoreHandle, max_message: usize) -> Result<StdioFace, Error> {
    let (outbox, receiver) = Outbox::new();
    let inputs = core
        .attach(Box::new(AcpConnection::new(outbox)))
        .await
        .ok_or_else(|| Error::Other("the core is not running".into()))?;
    let detached = receiver.detached();
    start_reader(inputs, max_message)?;
    let writer = start_writer(receiver)?;
    Ok(StdioFace { writer, detached })
}

/// Our own copy of fd 0 or 1, and whether it is a pipe.
fn dup_stdio(fd: impl AsFd) -> Result<(std::fs::File, bool), Error> {
    let file = std::fs::File::from(fd.as_fd().try_clone_to_owned()?);
    let is_pipe = file.metadata()?.file_type().is_fifo();
    Ok((file, is_pipe))
}

fn start_reader(inputs: ConnectionInputs, max_message: usize) -> Result<(), Error> {
    let (file, is_pipe) = dup_stdio(std::io::stdin())?;
    if is_pipe {
        let pipe = pipe::Receiver::from_file(file)?;
        tokio::spawn(async move { read_editor_pipe(pipe, &inputs, max_message).await });
    } else {
        std::thread::Builder::new()
            .name("editor-stdin".into())
            .spawn(move || read_editor_blocking(file, &inputs, max_message))?;
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

async fn read_editor_pipe(mut pipe: pipe::Receiver, inputs: &ConnectionInputs, max_message: usize) {
    let mut framing = EditorFraming::new(max_message);
    let mut buf = vec![0u8; IO_CHUNK];
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for input in framing.feed(&buf[..n]) {
            if !inputs.send(input).await {
                return;
            }
        }
    }
    for input in framing.finish() {
        inputs.send(input).await;
    }
}

fn read_editor_blocking(mut stdin: std::fs::File, inputs: &ConnectionInputs, max_message: usize) {
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
            if !inputs.blocking_send(input) {
                return;
            }
        }
    }
    for input in framing.finish() {
        inputs.blocking_send(input);
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
    fn feed(&mut self, bytes: &[u8]) -> impl Iterator<Item = Inbound> + '_ {
        let frames = &mut self.frames;
        self.splitter.push(bytes, |frame| frames.push(frame));
        self.frames.drain(..).map(editor_input)
    }

    /// At the end of input: a last unterminated line, then `Closed`.
    fn finish(&mut self) -> impl Iterator<Item = Inbound> + '_ {
        let frames = &mut self.frames;
        self.splitter.finish(|frame| frames.push(frame));
        self.frames
            .drain(..)
            .map(editor_input)
            .chain(std::iter::once(Inbound::Closed))
    }
}

fn editor_input(frame: Frame) -> Inbound {
    match frame {
        Frame::Line(line) => match Message::parse_bytes(line) {
            Ok(message) => Inbound::Message(message),
            Err(e) => Inbound::Malformed(e),
        },
        Frame::TooLong { bytes } => Inbound::TooLong { bytes },
    }
}

/// Takes whatever is queued (up to a chunk) after `first`; the buffers it empties
/// go back for reuse (a freed buffer is an mmap given back, a new one an mmap and
/// its page faults).
fn gather(first: Vec<u8>, receiver: &mut OutboxReceiver) -> Vec<u8> {
    let mut batch = first;
    while batch.len() < IO_CHUNK {
        match receiver.lines.try_recv() {
            Ok(more) => {
                batch.extend_from_slice(&more);
                receiver.recycle(more);
            }
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
