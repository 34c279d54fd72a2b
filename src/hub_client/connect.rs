//! Reaching the hub: its address and token (as `hub::access` finds them), the
//! WebSocket URL (`?tkn=`, all `ahp-ws` can present), the `ahp` client over it and
//! `initialize`; and the errors a hub command ends with, each with its exit code.
//! Knows nothing of sessions or chats.

use std::time::Duration;

use ahp::ahp_types::common::ROOT_RESOURCE_URI;
use ahp::{Client, ClientConfig, ClientError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_tungstenite::tungstenite;

use super::exit;
use crate::hub::access::{AccessError, client_token, hub_address};
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
    #[error(transparent)]
    Access(#[from] AccessError),
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
        let url = ws_url(&addr, token.as_str());
        let connecting = ahp_ws::WebSocketTransport::connect(&url);
        let transport = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(transport)) => transport,
            Ok(Err(e)) => return Err(connect_error(&addr, e)),
            Err(_) => return Err(no_answer(&addr)),
        };
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

fn connect_error(addr: &str, error: ahp_ws::WebSocketTransportError) -> HubCliError {
    use ahp_ws::WebSocketTransportError as E;
    match error {
        E::WebSocket(tungstenite::Error::Io(e)) => HubCliError::NoHub {
            addr: addr.to_string(),
            reason: e.to_string(),
        },
        E::WebSocket(tungstenite::Error::Http(response)) => HubCliError::Refused {
            addr: addr.to_string(),
            status: response.status().as_u16(),
        },
        other => HubCliError::Connect {
            addr: addr.to_string(),
            reason: other.to_string(),
        },
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
    let connecting = tokio::net::TcpStream::connect(authority(addr));
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(HubCliError::NoHub {
            addr: addr.to_string(),
            reason: e.to_string(),
        }),
        Err(_) => Err(no_answer(addr)),
    }
}

/// `ws://host:port/PATH?tkn=TOKEN` from `host:port` or a `ws(s)://` / `http(s)://` URL.
pub fn ws_url(addr: &str, token: &str) -> String {
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
    let join = if path.contains('?') { '&' } else { '?' };
    format!(
        "{scheme}://{authority}{path}{join}tkn={}",
        percent_encode(token)
    )
}

/// `host:port` of a hub address, for a plain TCP probe.
fn authority(addr: &str) -> &str {
    let (_, rest) = split_scheme(addr.trim());
    rest.split(['/', '?']).next().unwrap_or(rest)
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

/// RFC 3986 unreserved characters kept, every other byte `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hub_address_becomes_a_websocket_url_with_the_token_in_the_query() {
        assert_eq!(
            ws_url("127.0.0.1:7420", "ab12"),
            "ws://127.0.0.1:7420/?tkn=ab12"
        );
        assert_eq!(ws_url(" ws://h:1/ ", "t"), "ws://h:1/?tkn=t");
        assert_eq!(ws_url("http://h:1", "t"), "ws://h:1/?tkn=t");
        assert_eq!(ws_url("https://h:1/x?a=b", "t"), "wss://h:1/x?a=b&tkn=t");
        assert_eq!(ws_url("h:1?a=b", "t"), "ws://h:1/?a=b&tkn=t");
        assert_eq!(ws_url("h:1", "a b&c"), "ws://h:1/?tkn=a%20b%26c");
    }

    #[test]
    fn the_probe_reaches_host_and_port_only() {
        assert_eq!(authority("127.0.0.1:7420"), "127.0.0.1:7420");
        assert_eq!(authority("ws://h:1/x?y"), "h:1");
        assert_eq!(authority("http://h:1?y"), "h:1");
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
