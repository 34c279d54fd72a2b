//! What a browser shows at the hub's door, and the rules for it: the `Origin` its
//! page comes from (the hub's own, in the hub's own scheme, or one given with
//! `--allow-origin`), and the two halves of a browser session as they travel: the
//! cookie (`ourocodus_session`, `__Host-ourocodus_session` under TLS; HttpOnly) and
//! the page key (in the fragment of the redirect `/login` answers with, then `?sk=`
//! on each upgrade), since a cookie for a host goes to every port on it. Knows
//! names, addresses and header syntax; which sessions are live is `Keys`'s.

use std::net::SocketAddr;

use tokio_tungstenite::tungstenite::http::{HeaderMap, header};

use super::http::query_param;

/// The session cookie's name in the clear.
pub const SESSION_COOKIE: &str = "ourocodus_session";
/// Its name under TLS: the browser takes it only `Secure`, with `Path=/` and no
/// `Domain`, so no other host, and nothing spoken in the clear, can set or shadow it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-ourocodus_session";
/// The page key's name, in the redirect's fragment and in an upgrade's query.
pub const PAGE_KEY: &str = "sk";
/// Session cookies looked at in one request, at most.
const MAX_SESSION_COOKIES: usize = 8;

/// How the hub is reached, which decides its own pages' origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reached<'a> {
    /// In the clear, at this address: its pages are `http://` a loopback name or the
    /// address, with its port.
    Clear(SocketAddr),
    /// Over TLS, with the `Host` the request names: its pages are `https://` that
    /// host (a certificate the browser accepted vouches for the name).
    Tls(Option<&'a str>),
}

/// Whether a connection's `Origin` header may reach the hub. No header: not a
/// browser (what it presents decides). A browser must come from the hub's own pages
/// (`reached`) or from an origin the user allowed (`--allow-origin`, e.g. VS Code
/// desktop's `vscode-file://vscode-app`). A page of the other scheme is never the
/// hub's: under TLS an `http://` page on this machine is another local server's.
pub fn origin_allowed(origin: Option<&str>, reached: Reached<'_>, allowed: &[String]) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let origin = origin.trim().trim_end_matches('/');
    if allowed.iter().any(|a| a.trim_end_matches('/') == origin) {
        return true;
    }
    let same = |page: String| origin.eq_ignore_ascii_case(&page);
    match reached {
        Reached::Tls(host) => host.is_some_and(|host| same(format!("https://{}", host.trim()))),
        Reached::Clear(listen) => {
            let port = listen.port();
            let own = match listen {
                SocketAddr::V4(v4) => v4.ip().to_string(),
                SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
            };
            // The address it listens on, or `localhost`: not the other family's
            // loopback, where another server may hold the same port.
            ["localhost", &own]
                .iter()
                .any(|host| same(format!("http://{host}:{port}")))
        }
    }
}

/// The session cookie's name where the hub serves TLS (`tls`) or not.
pub fn session_cookie_name(tls: bool) -> &'static str {
    if tls {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The `Set-Cookie` line of a new session: sent back only by this site's own
/// requests, never shown to the page's scripts; under TLS never in the clear.
pub fn set_session_cookie(value: &str, tls: bool) -> String {
    let name = session_cookie_name(tls);
    let secure = if tls { "; Secure" } else { "" };
    format!("Set-Cookie: {name}={value}; HttpOnly; SameSite=Strict; Path=/{secure}")
}

/// The `Location` line after a login: the monitor, with the page key in the
/// fragment (never sent to a server; the page keeps it and removes it).
pub fn after_login(page_key: &str) -> String {
    format!("Location: /#{PAGE_KEY}={page_key}")
}

/// The values of every session cookie of the hub's mode the request carries (a few
/// at most; the other mode's name is not looked at).
pub fn session_cookies(headers: &HeaderMap, tls: bool) -> impl Iterator<Item = &str> {
    let wanted = session_cookie_name(tls);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(move |pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == wanted).then(|| value.trim().trim_matches('"'))
        })
        .take(MAX_SESSION_COOKIES)
}

/// The page key in an upgrade's query (`sk=`), if any.
pub fn page_key(query: Option<&str>) -> Option<&str> {
    query_param(query?, PAGE_KEY).filter(|key| !key.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clear(listen: &str) -> Reached<'static> {
        Reached::Clear(listen.parse().unwrap())
    }

    #[test]
    fn in_the_clear_browsers_come_from_the_hubs_own_http_pages_or_an_allowed_origin() {
        let listen = clear("127.0.0.1:7420");
        let allowed = vec!["vscode-file://vscode-app".to_string()];
        assert!(origin_allowed(None, listen, &[]), "not a browser");
        for ok in [
            "http://127.0.0.1:7420",
            "http://localhost:7420/",
            "HTTP://LOCALHOST:7420",
        ] {
            assert!(origin_allowed(Some(ok), listen, &[]), "{ok}");
        }
        assert!(origin_allowed(
            Some("vscode-file://vscode-app"),
            listen,
            &allowed
        ));
        for bad in [
            // The other family's loopback: another server may hold the port there.
            "http://[::1]:7420",
            "http://127.0.0.1:7421",
            "https://127.0.0.1:7420",
            "https://evil.example",
            "null",
            "http://localhost.evil:7420",
            "http://127.0.0.1:7420.evil",
            "",
        ] {
            assert!(!origin_allowed(Some(bad), listen, &allowed), "{bad}");
        }
        let own = clear("127.0.0.2:9");
        assert!(origin_allowed(Some("http://127.0.0.2:9"), own, &[]));
        let six = clear("[::1]:7420");
        assert!(origin_allowed(Some("http://[::1]:7420"), six, &[]));
        assert!(origin_allowed(Some("http://localhost:7420"), six, &[]));
        assert!(!origin_allowed(Some("http://127.0.0.1:7420"), six, &[]));
    }

    #[test]
    fn under_tls_only_https_pages_of_the_host_asked_for_or_an_allowed_origin_come_in() {
        let allowed = vec!["vscode-file://vscode-app".to_string()];
        let tls = Reached::Tls(Some("127.0.0.1:7420"));
        assert!(origin_allowed(Some("https://127.0.0.1:7420"), tls, &[]));
        assert!(origin_allowed(
            Some("vscode-file://vscode-app"),
            tls,
            &allowed
        ));
        for other_local_server in [
            "http://127.0.0.1:7420",
            "http://localhost:7420",
            "http://[::1]:7420",
            "https://localhost:7420",
        ] {
            assert!(
                !origin_allowed(Some(other_local_server), tls, &allowed),
                "{other_local_server}"
            );
        }
        let named = Reached::Tls(Some("hub.example:7420"));
        assert!(origin_allowed(Some("https://hub.example:7420"), named, &[]));
        assert!(!origin_allowed(
            Some("https://evil.example:7420"),
            named,
            &[]
        ));
        assert!(!origin_allowed(Some("https://x"), Reached::Tls(None), &[]));
    }

    #[test]
    fn the_cookie_is_named_for_the_hubs_mode_and_under_tls_keeps_the_host_prefix_rules() {
        assert_eq!(
            set_session_cookie("ab", false),
            "Set-Cookie: ourocodus_session=ab; HttpOnly; SameSite=Strict; Path=/"
        );
        let secure = set_session_cookie("ab", true);
        assert_eq!(
            secure,
            "Set-Cookie: __Host-ourocodus_session=ab; HttpOnly; SameSite=Strict; Path=/; Secure"
        );
        assert!(!secure.to_ascii_lowercase().contains("domain"));
        assert_eq!(after_login("k3y"), "Location: /#sk=k3y");
    }

    #[test]
    fn only_the_cookie_of_the_hubs_mode_is_read_and_the_page_key_comes_in_the_query() {
        let mut headers = HeaderMap::new();
        let cookies = "a=1; ourocodus_session=plain; __Host-ourocodus_session=\"secure\"";
        headers.insert(header::COOKIE, cookies.parse().unwrap());
        headers.append(header::COOKIE, "xourocodus_session=alike".parse().unwrap());
        let read = |tls| session_cookies(&headers, tls).collect::<Vec<_>>();
        assert_eq!(read(false), ["plain"]);
        assert_eq!(read(true), ["secure"]);
        assert_eq!(page_key(Some("a=1&sk=k3y")), Some("k3y"));
        for none in [None, Some(""), Some("sk="), Some("skx=1"), Some("tkn=1")] {
            assert_eq!(page_key(none), None, "{none:?}");
        }
    }
}
