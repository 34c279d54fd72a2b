//! `ourocodus serve`: the hub's assembly. Checks where it may listen, loads the
//! token (watched from then on, with the browser logins: `keys`) and any TLS
//! material, starts the team's core (with its agents' transport, store and
//! coordination tools, as `acp` does), announces itself with a first login link,
//! accepts connections (a task each, TLS first when it serves TLS, then upgraded
//! through the `upgrade` gate), and on SIGTERM or SIGINT stops accepting, closes
//! every connection, and winds the core down (agents ended, the store flushed).
//! Knows nothing of the protocol spoken on a connection.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::access::{self, AccessError};
use super::connection::run_connection;
use super::doorway::{AT_THE_DOOR, AT_THE_DOOR_PER_PEER, AtTheDoor, Doorway, Tally};
use super::host::{HostHandle, HostOptions, start_host};
use super::keys::{Keys, Lease};
use super::login_book::LoginLimits;
use super::login_link::LinkIssuer;
use super::login_page::{login_url, monitor_url};
use super::page_key::PageKeyRenewer;
use super::stream::HubStream;
use super::tls::{self, TlsError};
use super::upgrade::{Admission, Endpoint, Gate, Verdict, websocket_config};
use crate::app::{AcpOptions, Running};
use crate::config::Team;
use crate::core::CoreHandle;

/// How long a client may take over its TLS handshake; how long a closing handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the token file is looked at (a `stat`) when nothing else looks.
const TOKEN_LOOK: Duration = Duration::from_secs(1);
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
    /// Connections let in at once; one over is closed once upgraded (1013, try again).
    pub max_connections: usize,
    /// From accept to upgrade, at most (TLS, the request head, the upgrade).
    pub door_timeout: Duration,
    /// How long a browser session of the monitor lasts.
    pub browser_session: Duration,
    /// Whether to make a first login link, to be announced (a credential for minutes).
    pub print_login_link: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the hub: {0}")]
    Runtime(std::io::Error),
}

/// Runs the hub until a signal. `on_listening` is told the bound address (the real
/// port when 0 was asked for), the monitor's URL and, if `print_login_link`, a
/// one-time login link for it, once connections are accepted. The token is not
/// told: it stays in its file.
pub fn run_serve(
    options: ServeOptions,
    team: Team,
    face: AcpOptions,
    on_listening: impl FnOnce(SocketAddr, &str, Option<&str>),
) -> Result<(), ServeError> {
    access::check_listen(options.listen, options.allow_remote, options.tls.is_some())?;
    // Read before anything starts: bad material costs no agent a start.
    let tls = match &options.tls {
        Some((cert, key)) => Some(TlsAcceptor::from(tls::server_config(cert, key)?)),
        None => None,
    };
    let limits = LoginLimits {
        session_life: options.browser_session,
        ..LoginLimits::default()
    };
    let mut keys = Keys::load(&access::token_path()?, limits)?;
    // Browser logins over TLS are never sent in the clear.
    keys.tls = tls.is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let served = runtime.block_on(serve(options, (keys, tls), team, face, on_listening));
    runtime.shutdown_timeout(Duration::from_millis(200));
    served
}

async fn serve(
    options: ServeOptions,
    (keys, tls): (Keys, Option<TlsAcceptor>),
    team: Team,
    face: AcpOptions,
    on_listening: impl FnOnce(SocketAddr, &str, Option<&str>),
) -> Result<(), ServeError> {
    let bind = |source| ServeError::Bind {
        addr: options.listen,
        source,
    };
    // Bound before the team starts: a port in use costs no agent a start.
    let listener = TcpListener::bind(options.listen).await.map_err(bind)?;
    let local = listener.local_addr().map_err(bind)?;
    let running = Running::start(team, &face).await;
    let host_options = HostOptions {
        // Beside the store: the sessions the hub hosts, to host them again after a restart.
        registry: face
            .store
            .path()
            .map(|p| p.with_extension("hub-sessions.json")),
        default_cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    };
    let host = start_host(&running.handle, host_options, running.shutdown.clone())
        .await
        .ok_or_else(|| {
            ServeError::Runtime(std::io::Error::other("the team's core did not start"))
        })?;
    let keys = Arc::new(keys);
    // A login code is made only to be printed: one nobody sees is no use to anyone.
    let login = match options.print_login_link {
        true => Some(login_url(local, keys.tls, &keys.issue_code()?)),
        false => None,
    };
    on_listening(local, &monitor_url(local, keys.tls), login.as_deref());
    let gate = Gate {
        keys,
        listen: local,
        allowed_origins: options.allowed_origins.clone(),
    };
    let config = websocket_config(options.max_frame);
    let hub = Hub {
        core: running.handle.clone(),
        host,
        max_message: face.max_message,
        max_backlog: options.max_backlog,
        tls,
        door_timeout: options.door_timeout,
    };
    // A rotation is seen within a second even if no one connects: the connections let
    // in with the old token end then, not at the next upgrade.
    tokio::spawn(watch_token(gate.keys.clone(), running.shutdown.clone()));
    let connections = TaskTracker::new();
    let doorway = Doorway::new(AT_THE_DOOR, AT_THE_DOOR_PER_PEER, options.max_connections);
    // A flood at the door is one line every 10 s, not one a connection.
    let mut pushed_tally = Tally::new(Duration::from_secs(10));
    let shutdown = CancellationToken::new();
    loop {
        // Every branch is cancel-safe: a signal or a connection not taken now is taken next time.
        tokio::select! {
            // A signal (the assembly's `Running` listens for SIGTERM and SIGINT).
            _ = running.shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Who has not shown a token yet waits at a small door under one
                    // deadline; a newcomer pushes out the oldest waiting, so idle
                    // sockets lose their place and never reach the room.
                    let (at_the_door, pushed) = doorway.arrive(peer.ip());
                    if let Some(why) = pushed
                        && let Some(count) = pushed_tally.count(std::time::Instant::now())
                    {
                        tracing::warn!(%peer, ?why, count, "hub busy at the door: waiting connections pushed out by newer ones");
                    }
                    let door = (at_the_door, doorway.clone());
                    let gate = gate.clone();
                    let shutdown = shutdown.clone();
                    let hub = hub.clone();
                    connections.spawn(serve_one(stream, peer, door, gate, config, hub, shutdown));
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
    let closed = async {
        if tokio::time::timeout(DRAIN_TIMEOUT, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!("hub connections did not close in time");
        }
    };
    running.wind_down(closed).await;
    Ok(())
}

/// What every connection of the hub reaches: the team's core and the limits.
#[derive(Clone)]
struct Hub {
    core: CoreHandle,
    host: HostHandle,
    max_message: usize,
    max_backlog: usize,
    /// Every connection speaks TLS first when this is set.
    tls: Option<TlsAcceptor>,
    /// From accept to upgrade, at most.
    door_timeout: Duration,
}

/// Looks at the token file every `TOKEN_LOOK` until the hub stops.
async fn watch_token(keys: Arc<Keys>, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(TOKEN_LOOK) => keys.look(),
        }
    }
}

/// A token for one connection: cancelled when the hub stops or its `lease` ends (the
/// hub's token changed; its browser session ended or its time is up); cancel it when
/// the connection ends, so its watch ends too.
fn ended_with(hub: &CancellationToken, lease: Lease, peer: SocketAddr) -> CancellationToken {
    use super::keys::LeaseEnd;
    let connection = hub.child_token();
    let watched = connection.clone();
    tokio::spawn(async move {
        // Both branches only wait: cancel-safe.
        tokio::select! {
            end = lease.ended() => {
                match end {
                    LeaseEnd::TokenChanged => tracing::info!(%peer, "hub token changed: a connection let in with the old one closed"),
                    LeaseEnd::SessionEnded => tracing::info!(%peer, "browser session ended: its connection closed"),
                    LeaseEnd::SessionExpired => tracing::info!(%peer, "browser session over (its time is up): its connection closed"),
                }
                watched.cancel();
            }
            () = watched.cancelled() => {}
        }
    });
    connection
}

/// TLS (when the hub serves it) over a fresh connection, within the handshake's time.
async fn open(tcp: TcpStream, tls: Option<&TlsAcceptor>) -> Option<HubStream> {
    // Small frames go at once: Nagle's algorithm held a reply's second frame
    // until the client's delayed ACK (40 ms a reply, measured on `/acp`).
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set");
    }
    let Some(acceptor) = tls else {
        return Some(HubStream::plain(tcp));
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => Some(HubStream::tls(stream)),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "hub TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("hub TLS handshake timed out");
            None
        }
    }
}

/// A connection that got past the door: its socket, where it asked to go, how it
/// was let in and the lease it ends with (the token's era, a browser session's life).
type Entered = (WebSocketStream<HubStream>, Endpoint, Admission, Lease);

async fn serve_one(
    tcp: TcpStream,
    peer: SocketAddr,
    door: (AtTheDoor, Arc<Doorway>),
    gate: Gate,
    config: WebSocketConfig,
    hub: Hub,
    shutdown: CancellationToken,
) {
    let (at_the_door, doorway) = door;
    let pushed_out = at_the_door.pushed_out();
    // One deadline from accept to upgrade: TLS, the request head, a page, the
    // upgrade. Cancel-safe: whatever is cut short by shutdown or a newer arrival
    // is just dropped.
    let entered = tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = pushed_out.cancelled() => return tracing::debug!(%peer, "hub connection pushed out of the door by a newer one"),
        entered = tokio::time::timeout(hub.door_timeout, enter(tcp, peer, &gate, config, &hub)) => entered,
    };
    let (mut socket, endpoint, admission, lease) = match entered {
        Ok(Some(entered)) => entered,
        Ok(None) => return,
        Err(_) => return tracing::debug!(%peer, "hub connection took too long at the door"),
    };
    let Some(_in_the_room) = doorway.let_in(at_the_door) else {
        tracing::warn!(%peer, "hub full: a connection let in was closed");
        let close = CloseFrame {
            code: CloseCode::Again,
            reason: "the hub is full (--max-connections): try again later".into(),
        };
        let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, socket.close(Some(close))).await;
        return;
    };
    tracing::debug!(%peer, ?endpoint, ?admission, "hub connection open");
    // Only the token's holder makes login links.
    let links = (admission == Admission::Token).then(|| LinkIssuer {
        keys: gate.keys.clone(),
        listen: gate.listen,
        era: lease.era.clone(),
    });
    // A browser session's page renews the page key its login's URL carried.
    let page_keys = lease.session.as_ref().map(|session| PageKeyRenewer {
        keys: gate.keys.clone(),
        serial: session.serial,
    });
    // Ends with the hub, or when what let it in ends: the token rotated away, or its
    // browser session over.
    let shutdown = ended_with(&shutdown, lease, peer);
    let _done = shutdown.clone().drop_guard();
    match endpoint {
        Endpoint::Ahp => {
            let asks = (links, page_keys);
            run_connection(socket, &hub.host, hub.max_backlog, asks, shutdown).await
        }
        Endpoint::Acp => {
            let limits = (hub.max_message, hub.max_backlog);
            super::acp_socket::serve_acp(socket, &hub.core, limits, shutdown).await
        }
    }
    tracing::debug!(%peer, "hub connection closed");
}

/// TLS, then a plain HTTP request answered (`None`) or an upgrade through the gate.
async fn enter(
    tcp: TcpStream,
    peer: SocketAddr,
    gate: &Gate,
    config: WebSocketConfig,
    hub: &Hub,
) -> Option<Entered> {
    let mut stream = open(tcp, hub.tls.as_ref()).await?;
    // A plain HTTP request gets the web monitor's page; an upgrade goes on.
    let front = super::http::front_door(&mut stream, gate.listen, &gate.keys).await;
    if front == super::http::Front::Done {
        return None;
    }
    let mut endpoint = Endpoint::Ahp;
    // Set by the check; until then, the least a connection may do.
    let mut admission = Admission::Session;
    let mut lease = Lease::default();
    // The callback's shape is tungstenite's (an unboxed error response).
    #[allow(clippy::result_large_err)]
    let check = |request: &_, response| {
        let Verdict {
            endpoint: asked,
            admitted,
        } = gate.check(request, response);
        endpoint = asked;
        admitted.map(|(response, how, on)| {
            admission = how;
            lease = on;
            response
        })
    };
    match tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(config)).await {
        Ok(socket) => Some((socket, endpoint, admission, lease)),
        Err(e) => {
            tracing::debug!(%peer, error = %e, "hub upgrade refused or failed");
            None
        }
    }
}
