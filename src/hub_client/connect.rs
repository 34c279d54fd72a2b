//! Reaching the hub: its address and token (as `hub::access` finds them), the
//! WebSocket upgrade (the token in a bearer header; TLS for `wss://`, trusting what
//! `hub::tls` trusts), the `ahp` client over it and `initialize`; and the errors a
//! hub command ends with, each with its exit code.
//! Knows nothing of sessions or chats.

use std::time::Duration;

use ahp::ahp_types::common::ROOT_RESOURCE_URI;
use ahp::{Client, ClientConfig, ClientError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::exit;
use crate::hub::access::{
    AccessError, Token, cleartext_refusal, client_token, hub_address, with_default_port,
};
use crate::hub::tls::{self, TlsError};
use crate::store::cli::CliError;

/// How long reaching the hub (TCP, upgrade) may take before it counts as absent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Actions a command may fall behind by before the client skips some: generous, so
/// a printer on a slow terminal loses nothing of a long stream.
const EVENT_BUFFER: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum HubCliError {
    #[error("no hub is running at {addr} ({reason}): start one with `ourocodus serve`")]
    NoHub { addr: String, reason: String },
    #[error(
        "the hub at {addr} refused the connection (HTTP {status}): check $OUROCODUS_TOKEN, or \
         the token file (`ourocodus token` on the hub's machine)"
    )]
    Refused { addr: String, status: u16 },
    #[error("cannot reach the hub at {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("cannot reach the hub at {addr} over TLS: {reason} ({hint})", hint = tls::UNTRUSTED_HINT)]
    TlsHandshake { addr: String, reason: String },
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("the hub refused {method}: {message} (error {code})")]
    Rpc {
        method: String,
        code: i32,
        message: String,
    },
    #[error("{method}: {reason}")]
    Client { method: String, reason: String },
    #[error("the hub closed the connection")]
    Closed,
    /// What the command was asked cannot be done (no such session, …).
    #[error("{0}")]
    Usage(String),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] CliError),
}

impl HubCliError {
    /// The process's exit code for this error: 3 when there is no hub, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            HubCliError::NoHub { .. } => exit::NO_HUB,
            _ => exit::ERROR,
        }
    }

    /// A closed pipe (`| head`) is not worth a message.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, HubCliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// An initialized connection to the hub.
pub struct Hub {
    pub client: Client,
    /// Where it was found (as given: host:port or a URL), for messages.
    pub addr: String,
    /// Ours for this connection: the hub's echo of our dispatches carries it.
    pub client_id: String,
}

impl Hub {
    /// Finds the hub (`flag`, `$OUROCODUS_HUB`, the default), connects, initializes.
    pub async fn connect(flag: Option<&str>) -> Result<Hub, HubCliError> {
        let addr = hub_address(flag);
        let token = match client_token() {
            Ok(token) => token,
            // No token usually means no hub was ever started here: say that first.
            Err(e) => {
                probe(&addr).await?;
                return Err(e.into());
            }
        };
        let socket = match tokio::time::timeout(CONNECT_TIMEOUT, upgrade(&addr, &token)).await {
            Ok(socket) => socket?,
            Err(_) => return Err(no_answer(&addr)),
        };
        let transport = ahp_ws::WebSocketTransport::from_stream(socket);
        let config = ClientConfig {
            subscription_buffer: EVENT_BUFFER,
            ..ClientConfig::default()
        };
        let client = Client::connect(transport, config)
            .await
            .map_err(|e| client_error("connect", e))?;
        let client_id = format!("ourocodus-cli-{}", uuid::Uuid::new_v4());
        let versions = vec![ahp::ahp_types::version::PROTOCOL_VERSION.to_string()];
        client
            .initialize(client_id.clone(), versions, Vec::new())
            .await
            .map_err(|e| client_error("initialize", e))?;
        Ok(Hub {
            client,
            addr,
            client_id,
        })
    }

    /// A request whose answer is read as `R`.
    pub async fn request<R: DeserializeOwned>(
        &self,
        method: &str,
        params: impl Serialize,
    ) -> Result<R, HubCliError> {
        self.client
            .request(method, params)
            .await
            .map_err(|e| client_error(method, e))
    }

    /// A request on the root channel with no other params (`_ourocodus/agents`).
    pub async fn root_request<R: DeserializeOwned>(&self, method: &str) -> Result<R, HubCliError> {
        self.request(method, Channel::new(ROOT_RESOURCE_URI)).await
    }
}

/// `{ channel }`: the params of the commands that take nothing else.
#[derive(Serialize)]
pub struct Channel<'a> {
    pub channel: &'a str,
}

impl<'a> Channel<'a> {
    pub fn new(channel: &'a str) -> Self {
        Channel { channel }
    }
}

pub fn client_error(method: &str, error: ClientError) -> HubCliError {
    match error {
        ClientError::Rpc(e) => HubCliError::Rpc {
            method: method.to_string(),
            code: e.code,
            message: e.message,
        },
        ClientError::Shutdown | ClientError::Transport(_) => HubCliError::Closed,
        ClientError::Cancelled => HubCliError::Client {
            method: method.to_string(),
            reason: "no answer from the hub in time".to_string(),
        },
        other => HubCliError::Client {
            method: method.to_string(),
            reason: other.to_string(),
        },
    }
}

/// The WebSocket to the hub at `addr`: TCP, TLS for `wss://`, then the upgrade
/// with the token in a bearer header (never in the URL, which logs keep).
async fn upgrade(
    addr: &str,
    token: &Token,
) -> Result<WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>, HubCliError> {
    let url = ws_url(addr);
    let tls = url.starts_with("wss://");
    let connect_failed = |reason: String| HubCliError::Connect {
        addr: addr.to_string(),
        reason,
    };
    if let Some(refused) = cleartext_refusal(tls, &authority(addr)) {
        return Err(connect_failed(refused.to_string()));
    }
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| connect_failed(e.to_string()))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", token.as_str()))
        .map_err(|_| connect_failed("the token holds characters no header may".to_string()))?;
    request.headers_mut().insert(header::AUTHORIZATION, bearer);
    let tcp = tokio::net::TcpStream::connect(authority(addr))
        .await
        .map_err(|e| HubCliError::NoHub {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
    let _ = tcp.set_nodelay(true);
    let connector = match tls {
        true => Connector::Rustls(tls::client_config()?),
        false => Connector::Plain,
    };
    let upgraded =
        tokio_tungstenite::client_async_tls_with_config(request, tcp, None, Some(connector)).await;
    match upgraded {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => Err(HubCliError::Refused {
            addr: addr.to_string(),
            status: response.status().as_u16(),
        }),
        Err(tungstenite::Error::Io(e)) if tls => Err(HubCliError::TlsHandshake {
            addr: addr.to_string(),
            reason: e.to_string(),
        }),
        Err(other) => Err(connect_failed(other.to_string())),
    }
}

fn no_answer(addr: &str) -> HubCliError {
    HubCliError::NoHub {
        addr: addr.to_string(),
        reason: format!("no answer in {}s", CONNECT_TIMEOUT.as_secs()),
    }
}

/// Whether anything listens at the hub's address: `NoHub` if not.
async fn probe(addr: &str) -> Result<(), HubCliError> {
    let authority = authority(addr);
    let connecting = tokio::net::TcpStream::connect(authority.as_str());
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(HubCliError::NoHub {
            addr: addr.to_string(),
            reason: e.to_string(),
        }),
        Err(_) => Err(no_answer(addr)),
    }
}

/// `ws://host:port/PATH` (`wss://` for TLS) from `host:port` or a `ws(s)://` /
/// `http(s)://` URL.
pub fn ws_url(addr: &str) -> String {
    let (scheme, rest) = split_scheme(addr.trim());
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let path = if path.is_empty() || path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    format!("{scheme}://{}{path}", with_default_port(authority))
}

/// `host:port` of a hub address (port 7420 if none), for TCP.
fn authority(addr: &str) -> String {
    let (_, rest) = split_scheme(addr.trim());
    with_default_port(rest.split(['/', '?']).next().unwrap_or(rest))
}

fn split_scheme(addr: &str) -> (&'static str, &str) {
    for (prefix, scheme) in [
        ("ws://", "ws"),
        ("wss://", "wss"),
        ("http://", "ws"),
        ("https://", "wss"),
    ] {
        if let Some(rest) = addr.strip_prefix(prefix) {
            return (scheme, rest);
        }
    }
    ("ws", addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hub_address_becomes_a_websocket_url_without_the_token() {
        assert_eq!(ws_url("127.0.0.1:7420"), "ws://127.0.0.1:7420/");
        assert_eq!(ws_url(" ws://h:1/ "), "ws://h:1/");
        assert_eq!(ws_url("http://h:1"), "ws://h:1/");
        assert_eq!(ws_url("https://h:1/x?a=b"), "wss://h:1/x?a=b");
        assert_eq!(ws_url("wss://hub.example"), "wss://hub.example:7420/");
        assert_eq!(ws_url("h:1?a=b"), "ws://h:1/?a=b");
    }

    #[test]
    fn the_probe_reaches_host_and_port_only() {
        assert_eq!(authority("127.0.0.1:7420"), "127.0.0.1:7420");
        assert_eq!(authority("ws://h:1/x?y"), "h:1");
        assert_eq!(authority("http://h:1?y"), "h:1");
        assert_eq!(authority("wss://[::1]/"), "[::1]:7420");
    }

    #[test]
    fn no_hub_exits_3_and_everything_else_1() {
        let none = HubCliError::NoHub {
            addr: "127.0.0.1:1".into(),
            reason: "refused".into(),
        };
        assert_eq!(none.exit_code(), 3);
        assert!(none.to_string().contains("ourocodus serve"), "{none}");
        assert_eq!(HubCliError::Closed.exit_code(), 1);
    }
}
