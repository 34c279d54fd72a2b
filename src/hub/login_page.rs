//! `GET /login?code=CODE`: a one-time login code (printed by `serve`, or made by
//! `ourocodus login-link`) exchanged for a browser session (its cookie, and a
//! redirect to the monitor with the page key in the fragment), or a short page
//! saying the link was used or expired and how to get another. Knows the URL and the
//! words; the codes and sessions are `Keys`'s, how the halves travel `browser`'s,
//! the bytes on the wire `http`'s.

use std::borrow::Cow;
use std::net::SocketAddr;

use super::browser::{after_login, set_session_cookie};
use super::http::{Reply, query_param};
use super::keys::{Keys, SessionSecrets};

/// Where a login link points.
pub const LOGIN_PATH: &str = "/login";

/// The link that logs a browser in with `code`. `secure`: the hub serves TLS.
pub fn login_url(listen: SocketAddr, secure: bool, code: &str) -> String {
    let monitor = monitor_url(listen, secure);
    format!("{monitor}{LOGIN_PATH}?code={code}")
}

/// Where the monitor is, without a trailing slash: `http(s)://HOST:PORT`.
pub fn monitor_url(listen: SocketAddr, secure: bool) -> String {
    let scheme = if secure { "https" } else { "http" };
    let host = reachable(listen, machine_name().as_deref());
    format!("{scheme}://{host}")
}

/// Where a browser finds a hub listening on `listen`: that address, or for a hub on
/// every address (`0.0.0.0`, `[::]`, which no browser can open) the machine's name,
/// as other machines reach it and its certificate names it.
fn reachable(listen: SocketAddr, machine: Option<&str>) -> String {
    match machine {
        Some(name) if listen.ip().is_unspecified() => format!("{name}:{}", listen.port()),
        _ => listen.to_string(),
    }
}

/// This machine's host name, if it is one a URL can carry as it is.
fn machine_name() -> Option<String> {
    let name = nix::unistd::gethostname().ok()?.into_string().ok()?;
    let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    (!name.is_empty() && name.len() <= 253 && name.bytes().all(plain)).then_some(name)
}

const REFUSED: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Ourocodus: login link refused</title></head>
<body>
<h1>This login link was already used, or it expired</h1>
<p>A login link works once, within 10 minutes of being made.</p>
<p>For a new one, run <code>ourocodus login-link</code> where the hub runs
(or restart <code>ourocodus serve</code>, which prints one), and open the link it prints.</p>
</body></html>
";

/// The answer to a request for `/login`.
pub fn answer(method: &str, query: &str, keys: &Keys) -> Reply {
    if method != "GET" {
        // Not even HEAD: a look at the link must not use it up.
        let mut reply = Reply::text("405 Method Not Allowed", "405 Method Not Allowed");
        reply.headers.push("Allow: GET".to_string());
        return reply;
    }
    let code = query_param(query, "code");
    let redeemed = match code.filter(|c| !c.is_empty()).map(|c| keys.redeem(c)) {
        Some(Ok(redeemed)) => redeemed,
        None => None,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "hub login: no session id could be made");
            return Reply::text("500 Internal Server Error", "no session could be made\n");
        }
    };
    match redeemed {
        Some(session) => logged_in(&session, keys.tls),
        None => {
            tracing::debug!("hub login refused: link used, expired or unknown");
            Reply {
                status: "401 Unauthorized",
                content_type: "text/html; charset=utf-8",
                body: Cow::Borrowed(REFUSED.as_bytes()),
                headers: Vec::new(),
            }
        }
    }
}

/// 303 to the monitor, the session's halves apart: the cookie (sent back only by
/// this site's own requests, never shown to the page's scripts) and the page key in
/// the fragment (never sent to a server, kept by the page for its origin only).
fn logged_in(session: &SessionSecrets, secure: bool) -> Reply {
    tracing::info!("hub login: a browser session begins");
    let mut reply = Reply::text("303 See Other", "logged in: on to the monitor\n");
    let cookie = set_session_cookie(&session.cookie, secure);
    reply
        .headers
        .extend([after_login(&session.page_key), cookie]);
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::login_book::LoginLimits;

    fn keys() -> (Keys, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::load(&dir.path().join("token"), LoginLimits::default()).unwrap();
        (keys, dir)
    }

    fn header(reply: &Reply, name: &str) -> Option<String> {
        reply.headers.iter().find_map(|line| {
            let (n, v) = line.split_once(": ")?;
            n.eq_ignore_ascii_case(name).then(|| v.to_string())
        })
    }

    #[test]
    fn a_code_logs_in_once_with_a_strict_http_only_cookie_and_the_page_key_in_the_fragment() {
        let (keys, _dir) = keys();
        let code = keys.issue_code().unwrap();
        let query = format!("x=1&code={code}");
        assert!(answer("HEAD", &query, &keys).status.starts_with("405"));
        let first = answer("GET", &query, &keys);
        assert_eq!(first.status, "303 See Other");
        let location = header(&first, "location").unwrap();
        let page_key = location.strip_prefix("/#sk=").unwrap();
        let cookie = header(&first, "set-cookie").unwrap();
        let (pair, attributes) = cookie.split_once("; ").unwrap();
        assert_eq!(attributes, "HttpOnly; SameSite=Strict; Path=/");
        let session = pair.strip_prefix("ourocodus_session=").unwrap();
        assert_ne!(session, page_key, "each half its own secret");
        assert!(!cookie.contains(page_key) && !location.contains(session));
        assert!(keys.session_matches(session, page_key));
        assert!(!keys.session_matches(session, session));
        let again = answer("GET", &query, &keys);
        assert_eq!(again.status, "401 Unauthorized", "used once");
        assert!(String::from_utf8_lossy(&again.body).contains("ourocodus login-link"));
        assert!(answer("GET", "", &keys).status.starts_with("401"));
        assert!(answer("GET", "code=", &keys).status.starts_with("401"));
    }

    #[test]
    fn over_tls_the_cookie_is_secure_and_host_prefixed_and_the_link_https() {
        let secrets = SessionSecrets {
            cookie: "c".into(),
            page_key: "k".into(),
        };
        let cookie = header(&logged_in(&secrets, true), "set-cookie").unwrap();
        assert!(
            cookie.starts_with("__Host-ourocodus_session=c; "),
            "{cookie}"
        );
        assert!(cookie.ends_with("; Path=/; Secure"), "{cookie}");
        let listen = "127.0.0.1:7420".parse().unwrap();
        assert_eq!(
            login_url(listen, false, "c0de"),
            "http://127.0.0.1:7420/login?code=c0de"
        );
        assert!(login_url(listen, true, "c").starts_with("https://"));
    }

    #[test]
    fn a_hub_on_every_address_is_linked_by_the_machines_name_and_one_on_an_address_by_it() {
        let every: SocketAddr = "0.0.0.0:7420".parse().unwrap();
        let every6: SocketAddr = "[::]:7421".parse().unwrap();
        let one: SocketAddr = "192.0.2.7:7420".parse().unwrap();
        assert_eq!(reachable(every, Some("build-box")), "build-box:7420");
        assert_eq!(reachable(every6, Some("build-box")), "build-box:7421");
        assert_eq!(reachable(one, Some("build-box")), "192.0.2.7:7420");
        assert_eq!(
            reachable(every, None),
            "0.0.0.0:7420",
            "no name: as it listens"
        );
        if let Some(name) = machine_name() {
            let link = login_url(every, true, "c");
            assert_eq!(link, format!("https://{name}:7420/login?code=c"));
        }
    }
}
