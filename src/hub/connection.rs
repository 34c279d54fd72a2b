//! One AHP connection after its upgrade: a reader that hands each frame to the
//! host, and a writer task draining the byte-counted queue the host fills, so the
//! host never waits on the client; a client that stops reading past the cap is
//! dropped with a reason, alone. Knows nothing of tokens, the listener or what the
//! frames mean (but for the few it answers itself).

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use super::host::{ClientOut, HostHandle};
use super::login_link::{self, LinkIssuer};
use super::page_key::{self, PageKeyRenewer};
use super::stream::HubStream;
use crate::backlog::Backlog;

pub type Socket = WebSocketStream<HubStream>;

/// Frames written in one go at most.
const WRITE_BATCH: usize = 256;

/// How long a closing connection may take to say why before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

pub enum Outgoing {
    Text(Utf8Bytes),
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
/// `asks`: how it makes login links, if it may (it came in with the token), or
/// renews its browser session's page key (it came in with one).
pub async fn run_connection(
    socket: Socket,
    host: &HostHandle,
    max_backlog: usize,
    asks: (Option<LinkIssuer>, Option<PageKeyRenewer>),
    shutdown: CancellationToken,
) {
    let (links, page_keys) = asks;
    let (sink, stream) = socket.split();
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let backlog = Backlog::new(max_backlog, max_backlog / 2);
    let abandon = CancellationToken::new();
    let writer = tokio::spawn(run_writer(sink, out_rx, backlog.clone(), abandon.clone()));
    let out = ClientOut::new(out_tx.clone(), backlog.clone(), abandon.clone());
    let client = host.join(out);
    let local = Local {
        out: out_tx.clone(),
        backlog,
        links,
        page_keys,
    };
    let ending = read_frames(stream, host, client, &local, &abandon, &shutdown).await;
    host.leave(client);
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

/// Answers the connection task gives itself (read-only questions the host's
/// directory answers, login links, page keys), on the same queue as the host's.
struct Local {
    out: mpsc::UnboundedSender<Outgoing>,
    backlog: Arc<Backlog>,
    links: Option<LinkIssuer>,
    page_keys: Option<PageKeyRenewer>,
}

impl Local {
    /// Answers `message` here if this task is the one to: whether it did.
    fn answer(&self, host: &HostHandle, message: &Result<serde_json::Value, String>) -> bool {
        let answer = host.answer_locally(message).or_else(|| {
            let message = message.as_ref().ok()?;
            login_link::answer(message, self.links.as_ref())
                .or_else(|| page_key::answer(message, self.page_keys.as_ref()))
        });
        let Some(answer) = answer else {
            return false;
        };
        self.backlog.add(answer.len());
        let _ = self.out.send(Outgoing::Text(answer.into()));
        true
    }
}

async fn read_frames(
    mut stream: SplitStream<Socket>,
    host: &HostHandle,
    client: u64,
    local: &Local,
    abandon: &CancellationToken,
    shutdown: &CancellationToken,
) -> Ending {
    loop {
        // Every branch is cancel-safe: tokens and `next()` lose nothing when another wins.
        let frame = tokio::select! {
            _ = shutdown.cancelled() => {
                return Ending::close(CloseCode::Away, "the hub is shutting down", false);
            }
            // The host dropped the client (it stopped reading); the host queued the reason.
            _ = abandon.cancelled() => return Ending::quiet(),
            frame = stream.next() => frame,
        };
        let text = match frame {
            None | Some(Ok(Message::Close(_))) => return Ending::quiet(),
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                let reason = format!("message of {size} bytes is over the cap of {max_size}");
                return Ending::close(CloseCode::Size, &reason, true);
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "hub connection broke");
                return Ending::quiet();
            }
            // Handed over where it lies: no copy of a text frame.
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(bytes))) => match Utf8Bytes::try_from(bytes) {
                Ok(text) => text,
                Err(_) => Utf8Bytes::from("\u{fffd}"),
            },
            Some(Ok(_)) => continue,
        };
        // Parsed here, off the host's task.
        let message = super::host::parse_frame(&text);
        if !local.answer(host, &message) {
            host.frame(client, message);
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
                // What is queued already goes out in one write (one flush, not one
                // syscall and segment per frame); a close ends the batch.
                let mut batch = vec![text];
                let mut closing = None;
                while batch.len() < WRITE_BATCH {
                    match out_rx.try_recv() {
                        Ok(Outgoing::Text(text)) => batch.push(text),
                        Ok(Outgoing::Close(frame)) => {
                            closing = Some(frame);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let len: usize = batch.iter().map(|t| t.len()).sum();
                let write = async {
                    for text in batch {
                        sink.feed(Message::text(text)).await?;
                    }
                    sink.flush().await
                };
                let sent = tokio::select! {
                    biased;
                    _ = abandon.cancelled() => break,
                    sent = write => sent,
                };
                backlog.release(len);
                if sent.is_err() {
                    return;
                }
                if let Some(frame) = closing {
                    return close(&mut sink, frame).await;
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
