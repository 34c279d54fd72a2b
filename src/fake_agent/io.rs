//! The fake agent's stdio: a writer thread that owns stdout behind a bounded queue,
//! and a reader thread that frames and parses stdin. Knows nothing of ACP.

use std::io::{BufWriter, Read, Write};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use crate::jsonrpc::{Frame, LineSplitter, Message};

/// Items queued for stdout. The queue is bounded: a stalled reader of our stdout
/// makes senders wait instead of growing memory.
pub enum Out {
    /// One or more complete lines, each ending in `\n`.
    Bytes(Vec<u8>),
    /// Flush everything queued before, then end the process with this code.
    Exit(i32),
}

/// What the reader thread hands to the agent.
pub enum Inbound {
    Message(Message),
    /// Stdin reached its end (or failed); nothing more will come.
    Eof,
}

/// How many items may wait for the writer. Items are single lines or batches of
/// up to `BATCH_BYTES`, so this bounds queued memory to a few MiB.
const OUTBOX_ITEMS: usize = 64;
/// The writer's buffer over stdout.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;
/// Longest accepted input line; longer ones are logged and skipped.
const MAX_INPUT_LINE: usize = 64 * 1024 * 1024;
const INBOX_ITEMS: usize = 1024;

/// The sending side of stdout; cheap to clone, one per task that writes.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Out>,
}

/// The writer thread went away (its output failed); nothing more can be written.
#[derive(Debug)]
pub struct Closed;

impl Outbox {
    /// Queues lines, waiting while the queue is full.
    pub async fn send(&self, bytes: Vec<u8>) -> Result<(), Closed> {
        self.tx.send(Out::Bytes(bytes)).await.map_err(|_| Closed)
    }

    /// Queues an exit behind everything already queued.
    pub async fn exit(&self, code: i32) -> Result<(), Closed> {
        self.tx.send(Out::Exit(code)).await.map_err(|_| Closed)
    }
}

/// Starts the writer thread over `sink`; returns the outbox and the thread.
pub fn spawn_writer(sink: Box<dyn Write + Send>) -> std::io::Result<(Outbox, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(OUTBOX_ITEMS);
    let thread = std::thread::Builder::new()
        .name("fake-agent-writer".into())
        .spawn(move || run_writer(sink, rx))?;
    Ok((Outbox { tx }, thread))
}

/// Writes queued items through a 64 KiB buffer, flushing only when the queue is
/// empty. After a write error it keeps draining (so senders never block forever)
/// and discards the output.
fn run_writer(sink: Box<dyn Write + Send>, mut rx: mpsc::Receiver<Out>) {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER_BYTES, sink);
    let mut failed = false;
    let mut next = rx.blocking_recv();
    while let Some(item) = next {
        match item {
            Out::Bytes(bytes) if !failed => failed = report_failure(out.write_all(&bytes)),
            Out::Bytes(_) => {}
            Out::Exit(code) => {
                let _ = out.flush();
                std::process::exit(code);
            }
        }
        next = match rx.try_recv() {
            Ok(item) => Some(item),
            Err(TryRecvError::Empty) => {
                failed = failed || report_failure(out.flush());
                rx.blocking_recv()
            }
            Err(TryRecvError::Disconnected) => None,
        };
    }
    if !failed {
        let _ = out.flush();
    }
}

fn report_failure(result: std::io::Result<()>) -> bool {
    match result {
        Ok(()) => false,
        Err(e) => {
            eprintln!("fake-agent: cannot write to stdout ({e}); discarding further output");
            true
        }
    }
}

/// Waits for the writer to finish flushing, but never longer than `limit`: a
/// peer that stopped reading must not keep us alive.
pub fn wait_for_writer(writer: JoinHandle<()>, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !writer.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    if writer.is_finished() {
        let _ = writer.join();
    }
}

/// Starts the reader thread over `source`; parsed messages arrive on the receiver,
/// then one `Inbound::Eof`.
pub fn spawn_reader(source: Box<dyn Read + Send>) -> std::io::Result<mpsc::Receiver<Inbound>> {
    let (tx, rx) = mpsc::channel(INBOX_ITEMS);
    std::thread::Builder::new()
        .name("fake-agent-reader".into())
        .spawn(move || run_reader(source, tx))?;
    Ok(rx)
}

fn run_reader(mut source: Box<dyn Read + Send>, tx: mpsc::Sender<Inbound>) {
    let mut splitter = LineSplitter::new(MAX_INPUT_LINE);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut open = true;
    while open {
        let n = match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("fake-agent: cannot read stdin: {e}");
                break;
            }
        };
        splitter.push(&buffer[..n], |frame| open = open && deliver(&tx, frame));
    }
    splitter.finish(|frame| {
        deliver(&tx, frame);
    });
    let _ = tx.blocking_send(Inbound::Eof);
}

/// Parses a frame and hands it on; bad input is logged and skipped. Returns
/// false once the agent stopped listening.
fn deliver(tx: &mpsc::Sender<Inbound>, frame: Frame) -> bool {
    match frame {
        Frame::Line(line) => match Message::parse_bytes(line) {
            Ok(message) => tx.blocking_send(Inbound::Message(message)).is_ok(),
            Err(e) => {
                eprintln!("fake-agent: skipping a bad input line: {}", e.detail);
                true
            }
        },
        Frame::TooLong { bytes } => {
            eprintln!(
                "fake-agent: skipping an input line of {bytes} bytes (limit {MAX_INPUT_LINE})"
            );
            true
        }
    }
}
