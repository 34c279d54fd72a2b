//! `ourocodus acp --attach`: the ACP face of a running hub on this process's stdio.
//! Connects to `ws://HOST:PORT/acp` (or `wss://`, trusting what `tls` trusts) with
//! the client's token in a bearer header, then
//! pipes stdin lines to text frames and frames to stdout lines, one side waiting
//! on the other so memory stays bounded both ways (a stalled editor stops the socket
//! being read; a stalled hub stops stdin being read). Knows nothing of ACP or the core.

use std::process::ExitCode;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::access::{self, AccessError};
use super::tls::{self, TlsError};
use super::upgrade::websocket_config;
use crate::jsonrpc::{Frame as Line, LineSplitter};

/// How long connecting and the upgrade may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the hub may take to answer our closing frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
const IO_CHUNK: usize = 64 * 1024;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where the hub is and whether it speaks TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    tls: bool,
    /// `HOST:PORT`.
    authority: String,
}

impl Target {
    fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}{path}", self.authority)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("cannot attach to {given:?}: {reason}")]
    BadAddress { given: String, reason: &'static str },
    #[error("no hub at {addr} ({error}): start one with `ourocodus serve`")]
    NoHub { addr: String, error: std::io::Error },
    #[error("the hub at {addr} did not answer in time: is `ourocodus serve` running there?")]
    Timeout { addr: String },
    #[error(transparent)]
    Token(#[from] AccessError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("the hub token in $OUROCODUS_TOKEN cannot be sent: it holds characters no header may")]
    TokenUnsendable,
    #[error(
        "the hub at {addr} refused the token (401): set $OUROCODUS_TOKEN to the hub's token \
         (`ourocodus token` where it runs)"
    )]
    TokenRefused { addr: String },
    #[error("the hub at {addr} refused the connection ({status}): {body}")]
    Refused {
        addr: String,
        status: StatusCode,
        body: String,
    },
    #[error("cannot attach to the hub at {addr}: {error}")]
    Handshake { addr: String, error: WsError },
    #[error("cannot attach to the hub at {addr} over TLS: {error} ({hint})", hint = tls::UNTRUSTED_HINT)]
    TlsHandshake { addr: String, error: std::io::Error },
    #[error("the hub at {addr} closed the connection: {reason}")]
    HubGone { addr: String, reason: String },
    #[error("cannot start: {0}")]
    Runtime(std::io::Error),
}

/// Attaches stdio to the hub at `given` (else `$OUROCODUS_HUB`, else the default)
/// until stdin ends (success) or the hub goes away (an error). `max_message`
/// bounds a line read from stdin and a frame read from the hub.
pub fn run_attach(given: Option<&str>, max_message: usize) -> Result<ExitCode, AttachError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AttachError::Runtime)?;
    let attached = runtime.block_on(attach(&access::hub_address(given), max_message));
    // A blocking read of a terminal's stdin may be pending: not waited for.
    runtime.shutdown_timeout(Duration::from_millis(100));
    attached.map(|()| ExitCode::SUCCESS)
}

async fn attach(given: &str, max_message: usize) -> Result<(), AttachError> {
    let target = target(given)?;
    let socket = connect(&target, max_message).await?;
    let addr = target.authority;
    tracing::debug!(%addr, "attached to the hub");
    let (sink, stream) = socket.split();
    let to_hub = stdin_to_hub(sink, max_message);
    let from_hub = hub_to_stdout(stream);
    tokio::pin!(to_hub, from_hub);
    // Both futures are pinned and polled in place: the one that loses is not dropped
    // by the select, and `from_hub` is awaited on after stdin's end.
    tokio::select! {
        () = &mut to_hub => {
            // Our closing frame is out: wait (briefly) for the hub's answer.
            let _ = tokio::time::timeout(CLOSE_GRACE, &mut from_hub).await;
            Ok(())
        }
        reason = &mut from_hub => Err(AttachError::HubGone { addr, reason }),
    }
}

/// The hub of `ws://HOST:PORT/any/path`, `wss://…` or `HOST:PORT` (port 7420 if none).
fn target(given: &str) -> Result<Target, AttachError> {
    const EXPECTED: &str = "expected ws://HOST:PORT, wss://HOST:PORT or HOST:PORT";
    let bad = |reason| AttachError::BadAddress {
        given: given.to_string(),
        reason,
    };
    let given_trimmed = given.trim();
    let (tls, rest) = match given_trimmed.split_once("://") {
        None => (false, given_trimmed),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("ws") => (false, rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("wss") => (true, rest),
        Some(_) => return Err(bad(EXPECTED)),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad(EXPECTED));
    }
    let authority = access::with_default_port(authority);
    Ok(Target { tls, authority })
}

/// The upgraded connection to `ws(s)://ADDR/acp`, the token in a bearer header
/// (never in the URL, which proxies and logs keep).
async fn connect(target: &Target, max_message: usize) -> Result<Socket, AttachError> {
    let addr = target.authority.as_str();
    if let Some(reason) = access::cleartext_refusal(target.tls, addr) {
        return Err(AttachError::BadAddress {
            given: addr.to_string(),
            reason,
        });
    }
    let timeout = || AttachError::Timeout {
        addr: addr.to_string(),
    };
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| timeout())?
        .map_err(|error| AttachError::NoHub {
            addr: addr.to_string(),
            error,
        })?;
    let _ = tcp.set_nodelay(true);
    let token = access::client_token()?;
    let handshake = |error| AttachError::Handshake {
        addr: addr.to_string(),
        error,
    };
    let mut request = target
        .url("/acp")
        .into_client_request()
        .map_err(handshake)?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", token.as_str()))
        .map_err(|_| AttachError::TokenUnsendable)?;
    request.headers_mut().insert(header::AUTHORIZATION, bearer);
    let config = websocket_config(max_message);
    let connector = match target.tls {
        true => Connector::Rustls(tls::client_config()?),
        false => Connector::Plain,
    };
    let upgrade = tokio_tungstenite::client_async_tls_with_config(
        request,
        tcp,
        Some(config),
        Some(connector),
    );
    match tokio::time::timeout(CONNECT_TIMEOUT, upgrade).await {
        Err(_) => Err(timeout()),
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(WsError::Http(response))) => Err(refusal(addr, &response)),
        Ok(Err(WsError::Io(error))) if target.tls => Err(AttachError::TlsHandshake {
            addr: addr.to_string(),
            error,
        }),
        Ok(Err(error)) => Err(handshake(error)),
    }
}

fn refusal(
    addr: &str,
    response: &tokio_tungstenite::tungstenite::handshake::client::Response,
) -> AttachError {
    let addr = addr.to_string();
    if response.status() == StatusCode::UNAUTHORIZED {
        return AttachError::TokenRefused { addr };
    }
    let body = response
        .body()
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).trim().to_string())
        .unwrap_or_default();
    AttachError::Refused {
        addr,
        status: response.status(),
        body,
    }
}

/// stdin, read without a blocking thread when it is a pipe (as editors give it).
fn stdin_reader() -> Box<dyn AsyncRead + Unpin + Send> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    let piped = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .ok()
        .filter(|f| f.metadata().is_ok_and(|m| m.file_type().is_fifo()))
        .and_then(|f| tokio::net::unix::pipe::Receiver::from_file(f).ok());
    match piped {
        Some(pipe) => Box::new(pipe),
        None => Box::new(tokio::io::stdin()),
    }
}

/// stdout, written without a blocking thread when it is a pipe.
fn stdout_writer() -> Box<dyn AsyncWrite + Unpin + Send> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    let piped = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .ok()
        .filter(|f| f.metadata().is_ok_and(|m| m.file_type().is_fifo()))
        .and_then(|f| tokio::net::unix::pipe::Sender::from_file(f).ok());
    match piped {
        Some(pipe) => Box::new(pipe),
        None => Box::new(tokio::io::stdout()),
    }
}

/// Each stdin line as a text frame, until stdin ends; then the closing frame. A line
/// over the cap is skipped (and said so on stderr), never held.
async fn stdin_to_hub(mut sink: SplitSink<Socket, Frame>, max_message: usize) {
    let mut stdin = stdin_reader();
    let mut splitter = LineSplitter::new(max_message);
    let mut lines = Vec::new();
    let mut buf = vec![0u8; IO_CHUNK];
    loop {
        let n = match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        splitter.push(&buf[..n], |line| lines.push(line));
        if send_lines(&mut sink, &mut lines).await.is_err() {
            return;
        }
    }
    splitter.finish(|line| lines.push(line));
    let _ = send_lines(&mut sink, &mut lines).await;
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(Frame::Close(None))).await;
}

async fn send_lines(
    sink: &mut SplitSink<Socket, Frame>,
    lines: &mut Vec<Line>,
) -> Result<(), WsError> {
    for line in lines.drain(..) {
        match line {
            Line::Line(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => {}
            Line::Line(bytes) => {
                let frame = match String::from_utf8(bytes) {
                    Ok(text) => Frame::text(text),
                    Err(e) => Frame::binary(e.into_bytes()),
                };
                sink.feed(frame).await?;
            }
            Line::TooLong { bytes } => {
                tracing::warn!(
                    bytes,
                    "a line from the editor is over the message cap: skipped"
                );
            }
        }
    }
    sink.flush().await
}

/// Each frame from the hub as a stdout line, until the hub closes or the
/// connection breaks; returns why. While stdout is blocked the socket is not read.
async fn hub_to_stdout(mut stream: SplitStream<Socket>) -> String {
    let mut stdout = stdout_writer();
    loop {
        let line = match stream.next().await {
            None => return "the connection ended".to_string(),
            Some(Err(e)) => return format!("the connection broke: {e}"),
            Some(Ok(Frame::Close(frame))) => return closed_because(frame),
            Some(Ok(Frame::Text(text))) => text.as_bytes().to_vec(),
            Some(Ok(Frame::Binary(bytes))) => bytes.to_vec(),
            Some(Ok(_)) => continue,
        };
        let mut line = line;
        line.push(b'\n');
        if stdout.write_all(&line).await.is_err() || stdout.flush().await.is_err() {
            return "stdout was closed".to_string();
        }
    }
}

fn closed_because(frame: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    match frame {
        None => "no reason given".to_string(),
        Some(frame) if frame.code == CloseCode::Away => {
            format!(
                "{} (it stopped; start it again with `ourocodus serve`)",
                frame.reason
            )
        }
        Some(frame) => format!("{} ({})", frame.reason, u16::from(frame.code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_is_named_by_a_ws_url_or_host_and_port_with_any_path() {
        let ok = |given: &str| target(given).unwrap().authority;
        assert_eq!(ok("ws://127.0.0.1:7421"), "127.0.0.1:7421");
        assert_eq!(ok("ws://127.0.0.1:7421/"), "127.0.0.1:7421");
        assert_eq!(ok("ws://127.0.0.1:7421/acp?x=1"), "127.0.0.1:7421");
        assert_eq!(ok("localhost:9"), "localhost:9");
        assert_eq!(ok("localhost"), "localhost:7420");
        assert_eq!(ok("[::1]:5"), "[::1]:5");
        assert_eq!(ok("ws://[::1]/acp"), "[::1]:7420");
        for bad in ["http://h:1", "", "ws://", "wss://", "ws://u:p@h:1"] {
            assert!(target(bad).is_err(), "{bad}");
        }
        let tls = target("WSS://hub.example/acp").unwrap();
        assert!(tls.tls);
        assert_eq!(tls.url("/acp"), "wss://hub.example:7420/acp");
        assert!(!target("ws://h:1").unwrap().tls);
    }
}
