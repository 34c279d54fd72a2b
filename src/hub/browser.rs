//! What a browser shows at the hub's door, and the rules for it: the `Origin` its
//! page comes from (the hub's own, in the hub's own scheme, or one given with
//! `--allow-origin`). Knows names, addresses and header syntax; nothing of tokens.

use std::net::SocketAddr;

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
            ["127.0.0.1", "localhost", "[::1]", &own]
                .iter()
                .any(|host| same(format!("http://{host}:{port}")))
        }
    }
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
            "http://[::1]:7420",
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
}
