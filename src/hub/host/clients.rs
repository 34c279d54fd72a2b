//! The host's clients: each one's queue to its writer (byte-counted: past the cap
//! the client is dropped, alone), the protocol version it agreed (a frame newer
//! than it is not sent), its id and its subscriptions. Knows nothing of what the
//! frames say.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;

use super::versions::Version;
use crate::backlog::Backlog;
use crate::hub::connection::Outgoing;

/// The host's end of one client's writer.
pub struct ClientOut {
    tx: mpsc::UnboundedSender<Outgoing>,
    backlog: Arc<Backlog>,
    /// Cancelled when the host drops the client.
    abandon: CancellationToken,
}

impl ClientOut {
    pub fn new(
        tx: mpsc::UnboundedSender<Outgoing>,
        backlog: Arc<Backlog>,
        abandon: CancellationToken,
    ) -> ClientOut {
        ClientOut {
            tx,
            backlog,
            abandon,
        }
    }
}

/// One client as the host knows it.
pub struct Client {
    out: ClientOut,
    /// `clientId` from `initialize` or `reconnect`.
    pub id: Option<String>,
    /// The protocol version agreed (or assumed by `reconnect`). `None` before
    /// either: such a client (the hub lets it subscribe) is sent what a client of
    /// the hub's own version would be.
    pub version: Option<Version>,
    pub subscriptions: HashSet<String>,
}

impl Client {
    /// Whether this client's version knows what `introduced` brought.
    pub fn knows(&self, introduced: Version) -> bool {
        self.version.unwrap_or(Version::HUB).knows(introduced)
    }
}

#[derive(Default)]
pub struct Clients {
    map: HashMap<u64, Client>,
}

impl Clients {
    pub fn join(&mut self, client: u64, out: ClientOut) {
        let client_state = Client {
            out,
            id: None,
            version: None,
            subscriptions: HashSet::new(),
        };
        self.map.insert(client, client_state);
    }

    pub fn leave(&mut self, client: u64) {
        self.map.remove(&client);
    }

    pub fn get(&self, client: u64) -> Option<&Client> {
        self.map.get(&client)
    }

    pub fn get_mut(&mut self, client: u64) -> Option<&mut Client> {
        self.map.get_mut(&client)
    }

    /// Sends one frame to one client; a client past its cap is dropped.
    pub fn send(&mut self, client: u64, frame: Utf8Bytes) {
        let Some(c) = self.map.get(&client) else {
            return;
        };
        if !queue(c, frame) {
            self.drop_slow(client);
        }
    }

    /// Sends one frame, then closes the client's connection.
    pub fn send_then_close(&mut self, client: u64, frame: Utf8Bytes, reason: &str) {
        if let Some(c) = self.map.remove(&client) {
            let _ = c.out.tx.send(Outgoing::Text(frame));
            let close = CloseFrame {
                code: CloseCode::Normal,
                reason: reason.into(),
            };
            let _ = c.out.tx.send(Outgoing::Close(close));
        }
    }

    /// Sends a frame to every client subscribed to `channel` whose version knows
    /// what `introduced` brought (the frame is held back from older ones).
    pub fn broadcast(&mut self, channel: &str, frame: &Utf8Bytes, introduced: Version) {
        let mut slow = Vec::new();
        for (id, c) in &self.map {
            let wanted = c.subscriptions.contains(channel) && c.knows(introduced);
            if wanted && !queue(c, frame.clone()) {
                slow.push(*id);
            }
        }
        for id in slow {
            self.drop_slow(id);
        }
    }

    /// The client stopped reading: what is queued is given up, it is told why and
    /// forgotten; nobody else notices.
    fn drop_slow(&mut self, client: u64) {
        let Some(c) = self.map.remove(&client) else {
            return;
        };
        let reason = "the client stopped reading: too much unread";
        tracing::info!(
            client,
            queued = c.out.backlog.queued(),
            "hub connection dropped: {reason}"
        );
        let close = CloseFrame {
            code: CloseCode::Policy,
            reason: reason.into(),
        };
        let _ = c.out.tx.send(Outgoing::Close(close));
        c.out.abandon.cancel();
    }
}

/// Queues one frame; false once the client holds more than its cap unread.
fn queue(client: &Client, frame: Utf8Bytes) -> bool {
    client.out.backlog.add(frame.len());
    let _ = client.out.tx.send(Outgoing::Text(frame));
    !client.out.backlog.congested()
}
