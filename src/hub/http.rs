//! The plain-HTTP side of the hub's port: a first look at each connection's request
//! head (read, then put back, so a WebSocket upgrade still finds it whole), and for a
//! request that is no upgrade, the web monitor's page or its `/login` answered here
//! (HTTP/1.1, one response, then close), under a strict Content-Security-Policy
//! naming the hub's own socket address (`ws://`, or `wss://` under TLS). Knows
//! nothing of tokens, WebSockets or what the page says (`monitor` holds it;
//! `login_page` what `/login` answers).

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::keys::Keys;
use super::login_page;
use super::monitor::{self, Asset};
use super::stream::HubStream;

/// The largest request head looked at (a browser sends every cookie of `localhost`,
/// whichever local server set it); a longer one goes on to the upgrade gate, which
/// refuses it there.
const MAX_HEAD: usize = 32 * 1024;
/// Headers looked at in one head.
const MAX_HEADERS: usize = 64;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes asked for in each read of a head.
const READ_CHUNK: usize = 4096;
/// How long a client may take to read a page.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What became of a connection at the front door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// It asks for a WebSocket (or could not be read as plain HTTP): its bytes are
    /// untouched, for the upgrade to read.
    Upgrade,
    /// It was answered here, or gave up: nothing more to do with it.
    Done,
}

/// What a request head asks for, read without consuming it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Head {
    /// Not all of it has come yet.
    Incomplete,
    /// A WebSocket upgrade, or something only the upgrade gate should answer.
    Upgrade,
    /// A plain request: the method, the path and query apart, the head's length and
    /// its `Host` header.
    Plain {
        method: String,
        path: String,
        query: String,
        len: usize,
        host: Option<String>,
    },
}

/// Where the page's sockets may go: the hub as the browser reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketOrigin(String);

impl SocketOrigin {
    /// `ws://LISTEN` in the clear (loopback only); `wss://HOST` under TLS, the host
    /// the browser asked for (a hub listening on every address has no one name),
    /// when it is a plain host name or address.
    fn of(tls: bool, listen: SocketAddr, host: Option<&str>) -> SocketOrigin {
        match host.filter(|h| tls && is_plain_host(h)) {
            Some(host) => SocketOrigin(format!("wss://{host}")),
            None if tls => SocketOrigin(format!("wss://{listen}")),
            None => SocketOrigin(format!("ws://{listen}")),
        }
    }
}

/// A `Host` value safe to repeat in a header: letters, digits, `.-:[]` only.
/// The value of `name` in a URL query (`a=1&name=value`), the first if given twice.
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

/// One response to a plain request, before the headers every response carries.
pub struct Reply {
    /// `200 OK`, `303 See Other`, …
    pub status: &'static str,
    pub content_type: &'static str,
    pub body: Cow<'static, [u8]>,
    /// Header lines of its own (`Location: /`), without the line end.
    pub headers: Vec<String>,
}

/// Decides between the WebSocket upgrade and a page, answering a page request here.
/// `listen` is the hub's own address, named in the page's policy; `keys` take the
/// login codes `/login` is given.
pub async fn front_door(stream: &mut HubStream, listen: SocketAddr, keys: &Keys) -> Front {
    let (head, bytes) = match tokio::time::timeout(HEAD_TIMEOUT, take_head(stream)).await {
        Ok(Some(taken)) => taken,
        Ok(None) | Err(_) => return Front::Done,
    };
    let Head::Plain {
        method,
        path,
        query,
        host,
        ..
    } = head
    else {
        stream.unread(&bytes);
        return Front::Upgrade;
    };
    let sockets = SocketOrigin::of(stream.is_tls(), listen, host.as_deref());
    let response = match path.as_str() {
        login_page::LOGIN_PATH => {
            encode(login_page::answer(&method, &query, keys), &method, &sockets)
        }
        _ => respond(&method, &path, &sockets),
    };
    let answered = async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    };
    match tokio::time::timeout(WRITE_TIMEOUT, answered).await {
        Ok(Ok(())) => tracing::debug!(%method, %path, "hub page served"),
        Ok(Err(e)) => tracing::debug!(error = %e, "hub page not delivered"),
        Err(_) => tracing::debug!("hub page: the client did not read in time"),
    }
    Front::Done
}

/// Reads the request head until it is complete (or too long to be a page request):
/// what it asks for and every byte read; `None` when the client left first.
async fn take_head(stream: &mut HubStream) -> Option<(Head, Vec<u8>)> {
    let mut bytes = Vec::with_capacity(READ_CHUNK);
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        let got = stream.read(&mut chunk).await.ok()?;
        if got == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..got]);
        match read_head(&bytes) {
            Head::Incomplete if bytes.len() < MAX_HEAD => {}
            Head::Incomplete => return Some((Head::Upgrade, bytes)),
            decided => return Some((decided, bytes)),
        }
    }
}

/// Reads a request head from the bytes seen so far.
fn read_head(bytes: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Head::Incomplete,
        // Not HTTP this side can read: the upgrade refuses it in its own words.
        Err(_) => return Head::Upgrade,
    };
    let asks_upgrade = request.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("upgrade")
            && String::from_utf8_lossy(h.value)
                .split(',')
                .any(|v| v.trim().eq_ignore_ascii_case("websocket"))
    });
    let host = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("host"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .map(|v| v.trim().to_string());
    match (asks_upgrade, request.method, request.path) {
        (false, Some(method), Some(target)) => {
            let target = target.split('#').next().unwrap_or("");
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            Head::Plain {
                method: method.to_string(),
                path: path.to_string(),
                query: query.to_string(),
                len,
                host,
            }
        }
        _ => Head::Upgrade,
    }
}

/// The whole response to a plain request: the page's files to GET (HEAD: the same
/// without the body), 404 for any other path, 405 for any other method.
fn respond(method: &str, path: &str, sockets: &SocketOrigin) -> Vec<u8> {
    let (status, asset) = match (method, monitor::asset(path)) {
        ("GET" | "HEAD", Some(asset)) => ("200 OK", Some(asset)),
        ("GET" | "HEAD", None) => ("404 Not Found", None),
        _ => ("405 Method Not Allowed", None),
    };
    let mut reply = match asset {
        Some(Asset {
            content_type, body, ..
        }) => Reply {
            status,
            content_type,
            body: Cow::Borrowed(body.as_bytes()),
            headers: Vec::new(),
        },
        None => Reply::text(status, status),
    };
    if status.starts_with("405") {
        reply.headers.push("Allow: GET, HEAD".to_string());
    }
    encode(reply, method, sockets)
}

impl Reply {
    /// A plain-text reply.
    pub fn text(status: &'static str, body: &'static str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Cow::Borrowed(body.as_bytes()),
            headers: Vec::new(),
        }
    }
}

/// The reply's bytes, with the headers every response carries (and no body to `HEAD`).
fn encode(reply: Reply, method: &str, sockets: &SocketOrigin) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {}\r\n\
         Content-Type: {}\r\n\
         Content-Length: {}\r\n\
         Cache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\n\
         Content-Security-Policy: {}\r\n\
         Connection: close\r\n",
        reply.status,
        reply.content_type,
        reply.body.len(),
        policy(sockets)
    );
    for line in &reply.headers {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut response = head.into_bytes();
    if method != "HEAD" {
        response.extend_from_slice(&reply.body);
    }
    response
}

/// The page's Content-Security-Policy: its own files only, no inline script or
/// style, and sockets only to the hub.
pub fn policy(sockets: &SocketOrigin) -> String {
    let sockets = &sockets.0;
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' {sockets}; \
         img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
