//! ACP over the hub's WebSocket (`/acp`): one client of the ACP face, one JSON-RPC
//! message per text frame, attached to the hub's core like any other connection.
//! Knows nothing of tokens or the listener.

use tokio_util::sync::CancellationToken;

use super::connection::Socket;
use crate::core::CoreHandle;

/// Serves one ACP client until it leaves or the hub stops. `limits`: the longest
/// message, and the bytes it may leave unread before it is dropped.
pub async fn serve_acp(
    socket: Socket,
    core: &CoreHandle,
    limits: (usize, usize),
    shutdown: CancellationToken,
) {
    let _ = (socket, core, limits, shutdown);
    tracing::warn!("ACP over the hub is not served yet");
}
