//! Logging a browser in to the hub's monitor, against a running `ourocodus serve`:
//! the printed one-time link sets an HttpOnly SameSite=Strict session cookie once
//! (a second use is refused) and redirects with the session's page key in the
//! fragment; the cookie opens a WebSocket only with that page key (`?sk=`) and the
//! hub's own Origin (a cookie replayed by another local server is refused), and the
//! connection closes when the session's time is up; `ourocodus login-link` makes a
//! new link, and `ourocodus token --rotate` takes effect at once: the old token, the
//! old cookie and unused links refused, the new token taken, no restart.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::hub::Hub;
use crate::support::{bounded, ourocodus_bin};

const LIMIT: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(10);

/// One raw HTTP/1.1 GET of `url` (`http://ADDR/PATH`): the whole response.
async fn get(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8(response).unwrap()
    };
    tokio::time::timeout(WAIT, exchange).await.unwrap()
}

fn status(response: &str) -> u16 {
    response.split(' ').nth(1).unwrap().parse().unwrap()
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// What a browser holds after a login: the cookie, and the page key its page keeps.
struct Login {
    /// `ourocodus_session=…`, as a `Cookie` header sends it.
    cookie: String,
    page_key: String,
}

impl Login {
    /// The monitor's socket as the page opens it: `ws://ADDR/?sk=KEY`.
    fn socket(&self, hub: &Hub) -> String {
        format!("ws://{}/?sk={}", hub.addr, self.page_key)
    }
}

/// Logs in with `link`: the session cookie it sets and the page key in the fragment
/// of the redirect, each a secret of its own.
async fn log_in(link: &str) -> Login {
    let response = get(link).await;
    assert_eq!(status(&response), 303, "{response}");
    let location = header(&response, "location").unwrap();
    let page_key = location.strip_prefix("/#sk=").unwrap().to_string();
    assert_eq!(page_key.len(), 64, "{location}");
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let set = header(&response, "set-cookie").unwrap();
    let (cookie, attributes) = set.split_once("; ").unwrap();
    assert_eq!(attributes, "HttpOnly; SameSite=Strict; Path=/");
    let session = cookie.strip_prefix("ourocodus_session=").unwrap();
    assert_eq!(session.len(), 64, "{cookie}");
    assert_ne!(session, page_key);
    Login {
        cookie: cookie.to_string(),
        page_key,
    }
}

/// A command of the binary against this hub's config directory.
async fn ourocodus(hub: &Hub, args: &[&str]) -> String {
    let output = Command::new(ourocodus_bin())
        .args(args)
        .env("XDG_CONFIG_HOME", hub.dir())
        .env_remove("OUROCODUS_TOKEN")
        .env_remove("OUROCODUS_HUB")
        .output();
    let output = tokio::time::timeout(WAIT, output).await.unwrap().unwrap();
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// The monitor's socket opened as its page does: `login`'s cookie and page key, and
/// the hub's Origin.
async fn open_as_page(hub: &Hub, login: &Login) -> Socket {
    let mut request = login.socket(hub).into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("cookie", login.cookie.parse().unwrap());
    let origin = format!("http://{}", hub.addr);
    headers.insert("origin", origin.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// A request sent on a socket opened as the page does with `login`: its answer.
async fn ask_as_page(hub: &Hub, login: &Login, frame: &str) -> serde_json::Value {
    let mut socket = open_as_page(hub, login).await;
    socket.send(Message::text(frame)).await.unwrap();
    loop {
        let message = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
        if let Message::Text(text) = message.unwrap().unwrap() {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"channel":"ahp-root://"}}"#;
const LOGIN_LINK: &str = r#"{"jsonrpc":"2.0","id":2,"method":"_ourocodus/loginLink","params":{"channel":"ahp-root://"}}"#;

#[tokio::test]
async fn the_printed_link_logs_in_once_and_its_cookie_opens_the_socket_only_from_the_hubs_own_page()
{
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let prefix = format!("http://{}/login?code=", hub.addr);
        assert!(hub.login_link.starts_with(&prefix), "{}", hub.login_link);
        let login = log_in(&hub.login_link).await;
        let cookie = login.cookie.clone();

        let replayed = get(&hub.login_link).await;
        assert_eq!(status(&replayed), 401, "a link works once: {replayed}");
        assert!(header(&replayed, "set-cookie").is_none());
        assert!(replayed.contains("ourocodus login-link"), "{replayed}");
        let made_up = format!("{prefix}{}", "0".repeat(64));
        assert_eq!(status(&get(&made_up).await), 401);

        let pong = ask_as_page(&hub, &login, PING).await;
        assert_eq!(pong["result"], serde_json::Value::Null, "{pong}");
        let minted = ask_as_page(&hub, &login, LOGIN_LINK).await;
        assert_eq!(
            minted["error"]["code"], -32600,
            "a browser makes no links: {minted}"
        );

        let url = login.socket(&hub);
        let own = format!("http://{}", hub.addr);
        let with = |origin: &'static str| [("cookie", cookie.as_str()), ("origin", origin)];
        assert_eq!(
            hub.upgrade_status(&url, &[("cookie", &cookie)]).await,
            403,
            "a cookie with no Origin"
        );
        assert_eq!(
            hub.upgrade_status(&url, &with("http://127.0.0.1:1")).await,
            403,
            "a cookie from another page"
        );
        assert_eq!(
            hub.upgrade_status(&url, &with("https://evil.example"))
                .await,
            403
        );
        let forged = format!("ourocodus_session={}", "ab".repeat(32));
        let forged_status = hub
            .upgrade_status(&url, &[("cookie", &forged), ("origin", &own)])
            .await;
        assert_eq!(forged_status, 401, "a made-up cookie");
        let acp = format!("ws://{}/acp?sk={}", hub.addr, login.page_key);
        let acp_status = hub
            .upgrade_status(&acp, &[("cookie", &cookie), ("origin", &own)])
            .await;
        assert_eq!(
            acp_status, 403,
            "a browser login opens the AHP endpoint only"
        );
    })
    .await;
}

#[tokio::test]
async fn login_link_asks_the_running_hub_for_a_new_link_that_works_once() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let link = ourocodus(&hub, &["login-link", "--hub", &hub.addr]).await;
        let prefix = format!("http://{}/login?code=", hub.addr);
        assert!(link.starts_with(&prefix), "{link}");
        assert_ne!(link, hub.login_link);
        let login = log_in(&link).await;
        assert_eq!(status(&get(&link).await), 401, "once");
        let pong = ask_as_page(&hub, &login, PING).await;
        assert_eq!(pong["result"], serde_json::Value::Null, "{pong}");
        // The printed link is still good: each link is its own.
        log_in(&hub.login_link).await;
    })
    .await;
}

#[tokio::test]
async fn a_rotated_token_refuses_the_old_token_cookies_and_links_at_once_and_takes_the_new_one() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let login = log_in(&hub.login_link).await;
        let unused = ourocodus(&hub, &["login-link", "--hub", &hub.addr]).await;
        let own = format!("http://{}", hub.addr);
        let root = format!("ws://{}/", hub.addr);
        let page = login.socket(&hub);
        let with_cookie = [("cookie", login.cookie.as_str()), ("origin", own.as_str())];
        assert_eq!(hub.upgrade_status(&page, &with_cookie).await, 101);
        assert_eq!(hub.upgrade_status(&hub.url(), &[]).await, 101);

        let new = ourocodus(&hub, &["token", "--rotate"]).await;
        assert_eq!(new.len(), 64, "{new}");
        assert_ne!(new, hub.token);
        let file = std::fs::read_to_string(hub.dir().join("ourocodus/token")).unwrap();
        assert_eq!(file.trim(), new);
        assert_eq!(ourocodus(&hub, &["token"]).await, new, "kept");

        assert_eq!(hub.upgrade_status(&hub.url(), &[]).await, 401, "old token");
        let bearer = format!("Bearer {}", hub.token);
        let old_bearer = hub
            .upgrade_status(&root, &[("authorization", &bearer)])
            .await;
        assert_eq!(old_bearer, 401);
        let fresh = format!("ws://{}/?tkn={new}", hub.addr);
        assert_eq!(hub.upgrade_status(&fresh, &[]).await, 101, "new token");
        assert_eq!(
            hub.upgrade_status(&page, &with_cookie).await,
            401,
            "old cookie"
        );
        assert_eq!(status(&get(&unused).await), 401, "unused link");
        // New links come with the new token (`login-link` reads the file).
        let link = ourocodus(&hub, &["login-link", "--hub", &hub.addr]).await;
        let login = log_in(&link).await;
        let with_new_cookie = [("cookie", login.cookie.as_str()), ("origin", own.as_str())];
        assert_eq!(
            hub.upgrade_status(&login.socket(&hub), &with_new_cookie)
                .await,
            101
        );
    })
    .await;
}

/// Waits for the hub to close `socket`; panics if it is still open after `WAIT`.
async fn closed_by_the_hub(socket: &mut Socket) {
    let ended = async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    };
    tokio::time::timeout(WAIT, ended)
        .await
        .expect("the hub closes it");
}

#[tokio::test]
async fn connections_let_in_with_a_rotated_token_or_its_cookies_are_closed_without_anyone_connecting()
 {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let login = log_in(&hub.login_link).await;
        let (mut by_token, _) = tokio_tungstenite::connect_async(hub.url()).await.unwrap();
        let mut by_cookie = open_as_page(&hub, &login).await;
        by_token.send(Message::text(PING)).await.unwrap();
        assert!(matches!(by_token.next().await, Some(Ok(Message::Text(_)))));

        ourocodus(&hub, &["token", "--rotate"]).await;
        closed_by_the_hub(&mut by_token).await;
        closed_by_the_hub(&mut by_cookie).await;
        assert!(hub.log().contains("old one closed"), "{}", hub.log());
    })
    .await;
}

#[tokio::test]
async fn a_cookie_replayed_without_its_page_key_is_refused_and_so_is_a_page_key_alone() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let login = log_in(&hub.login_link).await;
        let other = log_in(&ourocodus(&hub, &["login-link", "--hub", &hub.addr]).await).await;
        // What another local server the browser visited receives, and forges around.
        let own = format!("http://{}", hub.addr);
        let root = format!("ws://{}/", hub.addr);
        let replayed = [("cookie", login.cookie.as_str()), ("origin", own.as_str())];
        assert_eq!(
            hub.upgrade_status(&root, &replayed).await,
            401,
            "no page key"
        );
        let made_up = format!("{root}?sk={}", "ab".repeat(32));
        assert_eq!(hub.upgrade_status(&made_up, &replayed).await, 401);
        let crossed = other.socket(&hub);
        assert_eq!(
            hub.upgrade_status(&crossed, &replayed).await,
            401,
            "another session's page key"
        );
        let key_alone = [("origin", own.as_str())];
        let page = login.socket(&hub);
        assert_eq!(hub.upgrade_status(&page, &key_alone).await, 401);
        assert_eq!(hub.upgrade_status(&page, &replayed).await, 101, "both");
    })
    .await;
}

#[tokio::test]
async fn a_connection_let_in_by_a_browser_session_closes_when_the_sessions_time_is_up() {
    bounded(LIMIT, async {
        let hub = Hub::start(&["--browser-session-secs", "3"]).await;
        let login = log_in(&hub.login_link).await;
        let mut by_cookie = open_as_page(&hub, &login).await;
        let (mut by_token, _) = tokio_tungstenite::connect_async(hub.url()).await.unwrap();
        by_cookie.send(Message::text(PING)).await.unwrap();
        assert!(matches!(by_cookie.next().await, Some(Ok(Message::Text(_)))));

        let opened = std::time::Instant::now();
        closed_by_the_hub(&mut by_cookie).await;
        assert!(
            opened.elapsed() >= Duration::from_secs(1),
            "not at once: {:?}",
            opened.elapsed()
        );
        assert!(hub.log().contains("its time is up"), "{}", hub.log());
        let own = format!("http://{}", hub.addr);
        let page = [("cookie", login.cookie.as_str()), ("origin", own.as_str())];
        let again = hub.upgrade_status(&login.socket(&hub), &page).await;
        assert_eq!(again, 401, "over");
        // The token's connection has no such time.
        by_token.send(Message::text(PING)).await.unwrap();
        assert!(matches!(by_token.next().await, Some(Ok(Message::Text(_)))));
    })
    .await;
}
