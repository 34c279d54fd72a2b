//! One hub connection after its upgrade: a reader that answers each frame through
//! `ahp`, and a writer task draining a byte-counted queue, so answering never waits
//! on the client; a client that stops reading past the cap is dropped with a reason,
//! alone. Knows nothing of tokens, the listener or what the frames mean.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;

use super::ahp::{ConnectionState, Reply, handle_frame};
use crate::backlog::Backlog;

pub type Socket = WebSocketStream<TcpStream>;

/// How long a closing connection may take to say why before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

enum Outgoing {
    Text(String),
    /// The last frame: the writer ends after it.
    Close(CloseFrame),
}

/// Why the reader stopped, and what to tell the client.
struct Ending {
    frame: Option<CloseFrame>,
    /// The writer drops what is still queued (the client is not reading it anyway).
    urgent: bool,
}

impl Ending {
    fn quiet() -> Ending {
        Ending {
            frame: None,
            urgent: false,
        }
    }

    fn close(code: CloseCode, reason: &str, urgent: bool) -> Ending {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        Ending {
            frame: Some(frame),
            urgent,
        }
    }
}

/// Serves one connection until the client leaves, breaks a limit or the hub stops.
/// `max_backlog`: bytes answered and not yet taken by the client before it is dropped.
pub async fn run_connection(socket: Socket, max_backlog: usize, shutdown: CancellationToken) {
    let (sink, stream) = socket.split();
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let backlog = Backlog::new(max_backlog, max_backlog / 2);
    let abandon = CancellationToken::new();
    let writer = tokio::spawn(run_writer(sink, out_rx, backlog.clone(), abandon.clone()));
    let ending = read_frames(stream, &out_tx, &backlog, &shutdown).await;
    if let Some(frame) = ending.frame {
        let _ = out_tx.send(Outgoing::Close(frame));
    }
    if ending.urgent {
        abandon.cancel();
    }
    drop(out_tx);
    if tokio::time::timeout(CLOSE_GRACE * 3, writer).await.is_err() {
        tracing::debug!("hub connection's writer did not finish: dropped");
    }
}

async fn read_frames(
    mut stream: SplitStream<Socket>,
    out_tx: &mpsc::UnboundedSender<Outgoing>,
    backlog: &Arc<Backlog>,
    shutdown: &CancellationToken,
) -> Ending {
    let mut state = ConnectionState::default();
    loop {
        // Both branches are cancel-safe: a token and `next()` lose nothing when the other wins.
        let frame = tokio::select! {
            _ = shutdown.cancelled() => {
                return Ending::close(CloseCode::Away, "the hub is shutting down", false);
            }
            frame = stream.next() => frame,
        };
        let message = match frame {
            None | Some(Ok(Message::Close(_))) => return Ending::quiet(),
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                let reason = format!("message of {size} bytes is over the cap of {max_size}");
                return Ending::close(CloseCode::Size, &reason, true);
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "hub connection broke");
                return Ending::quiet();
            }
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => message,
            Some(Ok(_)) => continue,
        };
        // Read where the frame lies: no copy of a text frame.
        let text = match &message {
            Message::Text(text) => std::borrow::Cow::Borrowed(text.as_str()),
            Message::Binary(bytes) => String::from_utf8_lossy(bytes),
            _ => continue,
        };
        let (frame, close) = match handle_frame(&mut state, &text) {
            Reply::Nothing => continue,
            Reply::Send(frame) => (frame, None),
            Reply::SendThenClose(frame, reason) => (frame, Some(reason)),
        };
        backlog.add(frame.len());
        let _ = out_tx.send(Outgoing::Text(frame));
        if backlog.congested() {
            let reason = "the client stopped reading: too much unread";
            tracing::info!(
                queued = backlog.queued(),
                "hub connection dropped: {reason}"
            );
            return Ending::close(CloseCode::Policy, reason, true);
        }
        if let Some(reason) = close {
            return Ending::close(CloseCode::Normal, reason, false);
        }
    }
}

/// Sends queued frames in order; on `abandon`, gives up what is queued and only
/// tries (for a moment) to send the closing frame.
async fn run_writer(
    mut sink: SplitSink<Socket, Message>,
    mut out_rx: mpsc::UnboundedReceiver<Outgoing>,
    backlog: Arc<Backlog>,
    abandon: CancellationToken,
) {
    loop {
        // Cancel-safe: `recv` loses nothing; an abandoned `send` is given up on purpose.
        let next = tokio::select! {
            biased;
            _ = abandon.cancelled() => break,
            next = out_rx.recv() => next,
        };
        match next {
            None => return,
            Some(Outgoing::Close(frame)) => return close(&mut sink, frame).await,
            Some(Outgoing::Text(text)) => {
                let len = text.len();
                let sent = tokio::select! {
                    biased;
                    _ = abandon.cancelled() => break,
                    sent = sink.send(Message::text(text)) => sent,
                };
                backlog.release(len);
                if sent.is_err() {
                    return;
                }
            }
        }
    }
    while let Ok(queued) = out_rx.try_recv() {
        if let Outgoing::Close(frame) = queued {
            return close(&mut sink, frame).await;
        }
    }
}

async fn close(sink: &mut SplitSink<Socket, Message>, frame: CloseFrame) {
    let closing = sink.send(Message::Close(Some(frame)));
    let _ = tokio::time::timeout(CLOSE_GRACE, closing).await;
}
