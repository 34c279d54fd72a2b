//! ACP over the hub's WebSocket (`/acp`): one client of the ACP face, one JSON-RPC
//! message per text frame, attached to the hub's core like any other connection.
//! A reader turns frames into the connection's inputs; a pump takes the outbox's
//! chunks as the core flushes them and drops the client (1008) the moment it has
//! left more than its cap unread; a sender writes one frame per line. Knows nothing
//! of tokens, the listener or what the messages mean.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;

use super::connection::Socket;
use crate::backlog::Backlog;
use crate::core::{ConnectionInputs, CoreHandle, Inbound};
use crate::faces::acp::AcpConnection;
use crate::faces::outbox::{Outbox, OutboxReceiver};
use crate::jsonrpc::Message;

/// How long a closing connection may take to say why before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What goes to the sender task.
enum Outgoing {
    /// Newline-framed lines from the outbox; their bytes stay counted until sent.
    Lines(Vec<u8>),
    /// The last frame: the sender ends after it.
    Close(CloseFrame),
}

/// Serves one ACP client until it leaves or the hub stops. `limits`: the longest
/// message, and the bytes it may leave unread before it is dropped.
pub async fn serve_acp(
    socket: Socket,
    core: &CoreHandle,
    limits: (usize, usize),
    shutdown: CancellationToken,
) {
    let (max_message, max_backlog) = limits;
    // A message is often a few small frames in a row: Nagle's algorithm would hold
    // the second back until the client's delayed ACK (40 ms a reply, measured).
    if let Err(e) = socket.get_ref().set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set on a hub ACP connection");
    }
    // Congested only at the cap, where the pump drops the client: a client that
    // stops reading holds nobody else's output up.
    let (outbox, receiver) = Outbox::with_marks(max_backlog, max_backlog / 4);
    let (mut sink, stream) = socket.split();
    let Some(inputs) = core.attach(Box::new(AcpConnection::new(outbox))).await else {
        let frame = close_frame(CloseCode::Error, "the hub's team is not running");
        return close(&mut sink, frame).await;
    };
    // Cancelled when the pump gives up on the client: the reader stops too.
    let stop = CancellationToken::new();
    let (reason_tx, reason_rx) = tokio::sync::oneshot::channel();
    let reader = tokio::spawn(read_frames(
        stream,
        inputs,
        max_message,
        stop.clone(),
        reason_tx,
    ));
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let abandon = CancellationToken::new();
    let sender = tokio::spawn(run_sender(
        sink,
        out_rx,
        receiver.counter(),
        abandon.clone(),
    ));
    let ending = pump(receiver, &out_tx, reason_rx, &shutdown).await;
    stop.cancel();
    // Queued before `abandon`, so an abandoning sender still finds it.
    if let Some(frame) = ending.frame {
        let _ = out_tx.send(Outgoing::Close(frame));
    }
    if ending.urgent {
        abandon.cancel();
    }
    drop(out_tx);
    let both = async {
        let _ = reader.await;
        let _ = sender.await;
    };
    if tokio::time::timeout(CLOSE_GRACE * 3, both).await.is_err() {
        tracing::debug!("hub ACP connection's tasks did not finish: dropped");
    }
}

/// Why the pump stopped, and what to tell the client.
struct Ending {
    frame: Option<CloseFrame>,
    /// The sender drops what is still queued (the client is not reading it anyway).
    urgent: bool,
}

fn close_frame(code: CloseCode, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into(),
    }
}

/// Hands the outbox's chunks to the sender as the core flushes them, until the
/// core lets go of the connection, the client falls too far behind, or the hub stops.
async fn pump(
    mut receiver: OutboxReceiver,
    out_tx: &mpsc::UnboundedSender<Outgoing>,
    mut reader_reason: tokio::sync::oneshot::Receiver<CloseFrame>,
    shutdown: &CancellationToken,
) -> Ending {
    let mut reason = None;
    loop {
        // Every branch is cancel-safe: `recv` and a token lose nothing when another wins.
        let chunk = tokio::select! {
            biased;
            _ = shutdown.cancelled() => {
                let frame = close_frame(CloseCode::Away, "the hub is shutting down");
                return Ending { frame: Some(frame), urgent: false };
            }
            said = &mut reader_reason, if reason.is_none() => {
                // The reader ended: the core detaches the connection, which ends `recv`.
                reason = Some(said.ok());
                continue;
            }
            chunk = receiver.lines.recv() => chunk,
        };
        let Some(chunk) = chunk else {
            return Ending {
                frame: reason.flatten(),
                urgent: false,
            };
        };
        if receiver.congested() {
            let reason = "the client stopped reading: too much unread";
            tracing::info!(
                queued = receiver.counter().queued(),
                "hub ACP client dropped: {reason}"
            );
            receiver.release(chunk.len());
            return Ending {
                frame: Some(close_frame(CloseCode::Policy, reason)),
                urgent: true,
            };
        }
        let _ = out_tx.send(Outgoing::Lines(chunk));
    }
}

/// Reads the client's frames into the core, one message each, until it closes, breaks
/// the frame limit or `stop`; then tells the core the client is gone. A reason to
/// close (a frame too big for the socket) goes back on `reason_tx`.
async fn read_frames(
    mut stream: SplitStream<Socket>,
    inputs: ConnectionInputs,
    max_message: usize,
    stop: CancellationToken,
    reason_tx: tokio::sync::oneshot::Sender<CloseFrame>,
) {
    loop {
        // Both branches are cancel-safe: a token and `next()` lose nothing when the other wins.
        let frame = tokio::select! {
            _ = stop.cancelled() => break,
            frame = stream.next() => frame,
        };
        let input = match frame {
            None | Some(Ok(Frame::Close(_))) => break,
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                inputs.send(Inbound::TooLong { bytes: size }).await;
                let reason = format!("message of {size} bytes is over the cap of {max_size}");
                let _ = reason_tx.send(close_frame(CloseCode::Size, &reason));
                break;
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "hub ACP connection broke");
                break;
            }
            Some(Ok(Frame::Text(text))) => frame_input(text.as_bytes(), max_message),
            Some(Ok(Frame::Binary(bytes))) => frame_input(&bytes, max_message),
            Some(Ok(_)) => continue,
        };
        if !inputs.send(input).await {
            return;
        }
    }
    inputs.send(Inbound::Closed).await;
}

/// One frame as one message: over the cap it is refused unread; binary frames are
/// read as UTF-8 like text.
fn frame_input(bytes: &[u8], max_message: usize) -> Inbound {
    if bytes.len() > max_message {
        return Inbound::TooLong { bytes: bytes.len() };
    }
    match Message::parse_bytes(bytes.to_vec()) {
        Ok(message) => Inbound::Message(message),
        Err(e) => Inbound::Malformed(e),
    }
}

/// Sends each queued line as a text frame, in order, releasing a chunk's bytes once
/// it is out; on `abandon`, gives up what is queued and only tries (for a moment) to
/// send the closing frame.
async fn run_sender(
    mut sink: SplitSink<Socket, Frame>,
    mut out_rx: mpsc::UnboundedReceiver<Outgoing>,
    counter: Arc<Backlog>,
    abandon: CancellationToken,
) {
    loop {
        // Cancel-safe: `recv` loses nothing; an abandoned send is given up on purpose.
        let next = tokio::select! {
            biased;
            _ = abandon.cancelled() => break,
            next = out_rx.recv() => next,
        };
        match next {
            None => return finish(&mut sink).await,
            Some(Outgoing::Close(frame)) => return close(&mut sink, frame).await,
            Some(Outgoing::Lines(chunk)) => {
                let sent = tokio::select! {
                    biased;
                    _ = abandon.cancelled() => break,
                    sent = send_lines(&mut sink, &chunk) => sent,
                };
                counter.release(chunk.len());
                if sent.is_err() {
                    return;
                }
            }
        }
    }
    while let Ok(queued) = out_rx.try_recv() {
        match queued {
            Outgoing::Lines(chunk) => counter.release(chunk.len()),
            Outgoing::Close(frame) => return close(&mut sink, frame).await,
        }
    }
}

/// One text frame per line of the chunk, flushed once at its end.
async fn send_lines(sink: &mut SplitSink<Socket, Frame>, chunk: &[u8]) -> Result<(), WsError> {
    for line in chunk.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        // The core writes only whole UTF-8 lines; anything else is sent as bytes.
        let frame = match std::str::from_utf8(line) {
            Ok(text) => Frame::text(text),
            Err(_) => Frame::binary(line.to_vec()),
        };
        sink.feed(frame).await?;
    }
    sink.flush().await
}

async fn close(sink: &mut SplitSink<Socket, Frame>, frame: CloseFrame) {
    let closing = sink.send(Frame::Close(Some(frame)));
    let _ = tokio::time::timeout(CLOSE_GRACE, closing).await;
}

/// The client left first: its close is answered (tungstenite queued the reply), flushed here.
async fn finish(sink: &mut SplitSink<Socket, Frame>) {
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
}
