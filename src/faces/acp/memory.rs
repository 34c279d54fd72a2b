//! An ACP client in memory: a connection of the core whose lines a test sends and
//! reads as JSON values, without pipes or processes (as lsp-server's
//! `Connection::memory()`).

use std::collections::VecDeque;

use serde_json::Value;

use super::AcpConnection;
use crate::core::{ConnectionInputs, CoreHandle, Inbound};
use crate::faces::outbox::{Outbox, OutboxReceiver};
use crate::jsonrpc::Message;

/// The client's end of an in-memory ACP connection.
pub struct MemoryClient {
    inputs: ConnectionInputs,
    receiver: OutboxReceiver,
    /// Lines received but not yet read.
    pending: VecDeque<Value>,
}

impl MemoryClient {
    /// Attaches a new in-memory client to the core.
    pub async fn attach(core: &CoreHandle) -> Option<MemoryClient> {
        let (outbox, receiver) = Outbox::new();
        let inputs = core.attach(Box::new(AcpConnection::new(outbox))).await?;
        Some(MemoryClient {
            inputs,
            receiver,
            pending: VecDeque::new(),
        })
    }

    /// Sends one message (a JSON-RPC request, notification or response).
    pub async fn send(&self, message: &Value) -> bool {
        let input = match Message::parse(message.to_string()) {
            Ok(message) => Inbound::Message(message),
            Err(e) => Inbound::Malformed(e),
        };
        self.inputs.send(input).await
    }

    /// The next message the proxy wrote to this client; `None` once it is gone.
    pub async fn recv(&mut self) -> Option<Value> {
        while self.pending.is_empty() {
            let chunk = self.receiver.lines.recv().await?;
            self.receiver.release(chunk.len());
            for line in chunk.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let value = serde_json::from_slice(line).unwrap_or_else(|e| {
                    Value::String(format!("not JSON ({e}): {}", String::from_utf8_lossy(line)))
                });
                self.pending.push_back(value);
            }
        }
        self.pending.pop_front()
    }

    /// Closes the client's end: the connection detaches.
    pub async fn close(&self) {
        self.inputs.send(Inbound::Closed).await;
    }
}
