//! `ourocodus serve`: the hub's listener. Checks where it may listen, loads the
//! token, accepts connections (a task each, upgraded through the `upgrade` gate),
//! and on SIGTERM or SIGINT stops accepting, closes every connection and returns.
//! Knows nothing of the protocol spoken on a connection, nor yet of the team.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::access::{self, AccessError, Token};
use super::connection::run_connection;
use super::upgrade::{Gate, websocket_config};

/// How long a client may take over its HTTP upgrade.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connections get to close once the hub stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub allow_remote: bool,
    /// `--tls-cert` and `--tls-key`, if given.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub allowed_origins: Vec<String>,
    /// Largest WebSocket message or frame a client may send.
    pub max_frame: usize,
    /// Bytes a client may leave unread before it is dropped.
    pub max_backlog: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Access(#[from] AccessError),
    /// TLS material was given, but the hub cannot serve TLS yet.
    #[error(
        "TLS serving is not implemented yet: the hub listens only on loopback, without --tls-cert/--tls-key \
         (reach it from elsewhere through an SSH tunnel)"
    )]
    TlsNotImplemented,
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the hub: {0}")]
    Runtime(std::io::Error),
}

/// Runs the hub until a signal. `on_listening` is told the bound address (the real
/// port when 0 was asked for) and the token, once connections are accepted.
pub fn run_serve(
    options: ServeOptions,
    on_listening: impl FnOnce(SocketAddr, &Token),
) -> Result<(), ServeError> {
    access::check_listen(options.listen, options.allow_remote, options.tls.is_some())?;
    if options.tls.is_some() {
        // Refused rather than served in the clear: the flags promise encryption.
        return Err(ServeError::TlsNotImplemented);
    }
    let token = access::load_or_create_token(&access::token_path()?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(serve(options, token, on_listening))
}

async fn serve(
    options: ServeOptions,
    token: Token,
    on_listening: impl FnOnce(SocketAddr, &Token),
) -> Result<(), ServeError> {
    let bind = |source| ServeError::Bind {
        addr: options.listen,
        source,
    };
    let listener = TcpListener::bind(options.listen).await.map_err(bind)?;
    let local = listener.local_addr().map_err(bind)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(ServeError::Runtime)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServeError::Runtime)?;
    on_listening(local, &token);
    let gate = Gate {
        token,
        listen: local,
        allowed_origins: options.allowed_origins.clone(),
    };
    let config = websocket_config(options.max_frame);
    let connections = TaskTracker::new();
    let shutdown = CancellationToken::new();
    loop {
        // Every branch is cancel-safe: a signal or a connection not taken now is taken next time.
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let gate = gate.clone();
                    let shutdown = shutdown.clone();
                    let max_backlog = options.max_backlog;
                    connections.spawn(async move {
                        serve_one(stream, peer, gate, config, max_backlog, shutdown).await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "hub could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    tracing::info!("hub stopping: closing connections");
    drop(listener);
    shutdown.cancel();
    connections.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("hub connections did not close in time");
    }
    Ok(())
}

async fn serve_one(
    stream: TcpStream,
    peer: SocketAddr,
    gate: Gate,
    config: WebSocketConfig,
    max_backlog: usize,
    shutdown: CancellationToken,
) {
    // The callback's shape is tungstenite's (an unboxed error response).
    #[allow(clippy::result_large_err)]
    let check = |request: &_, response| gate.check(request, response);
    let upgrade = tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(config));
    // Cancel-safe: an upgrade cut short by shutdown or its timeout is just dropped.
    let socket = tokio::select! {
        _ = shutdown.cancelled() => return,
        upgraded = tokio::time::timeout(HANDSHAKE_TIMEOUT, upgrade) => upgraded,
    };
    match socket {
        Ok(Ok(socket)) => {
            tracing::debug!(%peer, "hub connection open");
            run_connection(socket, max_backlog, shutdown).await;
            tracing::debug!(%peer, "hub connection closed");
        }
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "hub upgrade refused or failed"),
        Err(_) => tracing::debug!(%peer, "hub upgrade timed out"),
    }
}
