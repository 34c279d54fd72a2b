//! The HTTP upgrade of a hub connection: the token (`?tkn=` or `Authorization:
//! Bearer`), or a browser session's cookie and page key together (only with an
//! Origin the hub allows: a cookie goes wherever the browser is made to connect),
//! else 401; the browser Origin (else 403); the endpoint the path names (`/` AHP,
//! `/acp` ACP; else 404); the `Lease` the connection holds; and the WebSocket
//! limits. Knows nothing of what is spoken once upgraded.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::browser::{Reached, origin_allowed, page_key, session_cookies};
use super::http::query_param;
use super::keys::{Keys, Lease};

/// Who may come in, for every connection of one hub.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The token and the browser sessions, as they are at each upgrade.
    pub keys: Arc<Keys>,
    /// The address the hub listens on (its own pages' origin).
    pub listen: SocketAddr,
    /// `--allow-origin` values.
    pub allowed_origins: Vec<String>,
}

/// What a connection speaks once upgraded, by the path it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/`: the Agent Host Protocol.
    Ahp,
    /// `/acp`: ACP, one JSON-RPC message per text frame (`ourocodus acp --attach`).
    Acp,
}

impl Endpoint {
    fn of_path(path: &str) -> Option<Endpoint> {
        match path {
            "" | "/" => Some(Endpoint::Ahp),
            "/acp" => Some(Endpoint::Acp),
            _ => None,
        }
    }
}

/// What let a connection in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The hub's token: anything a client may do.
    Token,
    /// A browser session (its cookie and its page key): the monitor's page, which
    /// mints no login links.
    Session,
}

/// The gate's answer to one upgrade request.
pub struct Verdict {
    /// What the path asks for (`Ahp` when refused before that was known).
    pub endpoint: Endpoint,
    /// The response to go on with, what admitted the connection and the lease it was
    /// let in on (what ends it besides the hub), or the refusal.
    pub admitted: Result<(Response, Admission, Lease), ErrorResponse>,
}

impl Gate {
    /// The handshake's verdict on a request: the endpoint asked for and the response
    /// to go on with, or the refusal.
    // The refusal is tungstenite's (an unboxed error response).
    #[allow(clippy::result_large_err)]
    pub fn check(&self, request: &Request, response: Response) -> Verdict {
        let Some(endpoint) = Endpoint::of_path(request.uri().path()) else {
            let refused = refusal(StatusCode::NOT_FOUND, "no such endpoint: `/` or `/acp`");
            return Verdict {
                endpoint: Endpoint::Ahp,
                admitted: Err(refused),
            };
        };
        let admitted = self.admit(request).and_then(|(how, lease)| {
            // The monitor speaks AHP only: a browser login opens nothing else.
            match (how, endpoint) {
                (Admission::Session, Endpoint::Acp) => Err(refusal(
                    StatusCode::FORBIDDEN,
                    "a browser login reaches the AHP endpoint `/` only",
                )),
                _ => Ok((response, how, lease)),
            }
        });
        Verdict { endpoint, admitted }
    }

    #[allow(clippy::result_large_err)]
    fn admit(&self, request: &Request) -> Result<(Admission, Lease), ErrorResponse> {
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"));
        let allowed = origin_allowed(origin, self.reached(request), &self.allowed_origins);
        if let Some(era) = presented_token(request).and_then(|t| self.keys.token_era(t)) {
            return match allowed {
                true => Ok((Admission::Token, Lease { era, session: None })),
                false => Err(forbidden_origin()),
            };
        }
        let page_key = page_key(request.uri().query());
        let mut cookies = session_cookies(request.headers(), self.keys.tls).peekable();
        if cookies.peek().is_none() && page_key.is_none() {
            return Err(unauthorized("a valid hub token is required"));
        }
        // A cookie comes with any request the browser is made to send: only the
        // hub's own pages (or an allowed origin) may use it, and a request with no
        // Origin at all is no browser page's.
        if origin.is_none() || !allowed {
            return Err(forbidden_origin());
        }
        // The cookie alone may be a replay by any server on this host the browser
        // visited (cookies ignore ports); the page key alone, a page's without its
        // browser. Both, of one session, or nothing.
        let Some(page_key) = page_key else {
            return Err(unauthorized(
                "this page holds no login key: run `ourocodus login-link` for a new link",
            ));
        };
        match cookies.find_map(|cookie| self.keys.session_lease(cookie, page_key)) {
            Some(lease) => Ok((Admission::Session, lease)),
            None => Err(unauthorized(
                "this browser session is over: run `ourocodus login-link` for a new link",
            )),
        }
    }

    /// How this request reached the hub, as far as its own pages' origin goes.
    fn reached<'a>(&self, request: &'a Request) -> Reached<'a> {
        match self.keys.tls {
            true => Reached::Tls(
                request
                    .headers()
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok()),
            ),
            false => Reached::Clear(self.listen),
        }
    }
}

fn unauthorized(reason: &str) -> ErrorResponse {
    refusal(StatusCode::UNAUTHORIZED, reason)
}

fn forbidden_origin() -> ErrorResponse {
    refusal(StatusCode::FORBIDDEN, "this origin may not reach the hub")
}

/// The token in the query (`tkn`, as VS Code sends it) or a bearer header.
fn presented_token(request: &Request) -> Option<&str> {
    let from_query = request.uri().query().and_then(|q| query_param(q, "tkn"));
    from_query.or_else(|| {
        let value = request
            .headers()
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    })
}

fn refusal(status: StatusCode, reason: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(format!("{reason}\n")));
    *response.status_mut() = status;
    response
}

/// Limits for every connection: one message and one frame at most `max_frame` bytes.
pub fn websocket_config(max_frame: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_frame))
        .max_frame_size(Some(max_frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::browser::SESSION_COOKIE;
    use super::super::login_book::LoginLimits;

    /// A gate, and the directory its token file is in (kept for the gate's life).
    fn gate() -> (Gate, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::load(&dir.path().join("t"), LoginLimits::default()).unwrap();
        let gate = Gate {
            keys: Arc::new(keys),
            listen: "127.0.0.1:7420".parse().unwrap(),
            allowed_origins: vec!["vscode-file://vscode-app".to_string()],
        };
        (gate, dir)
    }

    fn verdict(gate: &Gate, uri: &str, headers: &[(&str, &str)]) -> Result<Admission, u16> {
        let mut builder = Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(()).unwrap();
        match gate.check(&request, Response::new(())).admitted {
            Ok((_, how, _)) => Ok(how),
            Err(refused) => Err(refused.status().as_u16()),
        }
    }

    fn status(gate: &Gate, uri: &str, headers: &[(&str, &str)]) -> u16 {
        verdict(gate, uri, headers).map_or_else(|status| status, |_| 101)
    }

    /// A new browser session of `gate`'s: its cookie header (as the hub names the
    /// cookie in `gate`'s mode) and its page key.
    fn log_in(gate: &Gate) -> (String, String) {
        let code = gate.keys.issue_code().unwrap();
        let session = gate.keys.redeem(&code).unwrap().unwrap();
        let name = crate::hub::browser::session_cookie_name(gate.keys.tls);
        (
            format!("other=1; {name}={}", session.cookie),
            session.page_key,
        )
    }

    #[test]
    fn a_browser_session_needs_its_cookie_its_page_key_and_the_hubs_own_origin() {
        let (gate, _dir) = gate();
        let (cookie, key) = log_in(&gate);
        let with_key = format!("/?sk={key}");
        let own = ("origin", "http://127.0.0.1:7420");
        assert_eq!(
            verdict(&gate, &with_key, &[("cookie", &cookie), own]),
            Ok(Admission::Session)
        );
        assert_eq!(
            status(&gate, "/", &[("cookie", &cookie), own]),
            401,
            "the cookie alone: another local server may replay it"
        );
        assert_eq!(status(&gate, &with_key, &[own]), 401, "the page key alone");
        assert_eq!(status(&gate, "/?sk=", &[("cookie", &cookie), own]), 401);
        let (other_cookie, other_key) = log_in(&gate);
        let crossed = format!("/?sk={other_key}");
        assert_eq!(
            status(&gate, &crossed, &[("cookie", &cookie), own]),
            401,
            "halves of two sessions"
        );
        assert_eq!(
            status(&gate, &with_key, &[("cookie", &other_cookie), own]),
            401
        );
        let both = format!("{cookie}; {other_cookie}");
        assert_eq!(status(&gate, &crossed, &[("cookie", &both), own]), 101);
        let acp = format!("/acp?sk={key}");
        assert_eq!(
            status(&gate, &acp, &[("cookie", &cookie), own]),
            403,
            "a browser login opens the AHP endpoint only"
        );

        assert_eq!(
            status(&gate, &with_key, &[("cookie", &cookie)]),
            403,
            "no Origin"
        );
        let foreign = ("origin", "http://127.0.0.1:8080");
        assert_eq!(
            status(&gate, &with_key, &[("cookie", &cookie), foreign]),
            403
        );
        assert_eq!(status(&gate, &with_key, &[foreign]), 403);
        let made_up = format!("{SESSION_COOKIE}={}", "ab".repeat(32));
        assert_eq!(status(&gate, &with_key, &[("cookie", &made_up), own]), 401);
        assert_eq!(status(&gate, "/", &[own]), 401, "neither cookie nor token");
        let named_alike = cookie.replace(SESSION_COOKIE, &format!("x{SESSION_COOKIE}"));
        assert_eq!(
            status(&gate, &with_key, &[("cookie", &named_alike), own]),
            401
        );
        let token = gate.keys.token().unwrap();
        assert_eq!(
            verdict(&gate, &format!("/?tkn={}", token.as_str()), &[own]),
            Ok(Admission::Token)
        );
    }

    #[test]
    fn the_token_comes_in_the_query_or_a_bearer_header_and_the_origin_is_checked() {
        let (gate, _dir) = gate();
        let token = gate.keys.token().unwrap().as_str().to_string();
        assert_eq!(status(&gate, "/", &[]), 401);
        assert_eq!(status(&gate, "/?tkn=nope", &[]), 401);
        assert_eq!(status(&gate, &format!("/?a=1&tkn={token}"), &[]), 101);
        let bearer = format!("Bearer {token}");
        assert_eq!(status(&gate, "/", &[("authorization", &bearer)]), 101);
        assert_eq!(status(&gate, "/", &[("authorization", "Bearer x")]), 401);
        let query = format!("/?tkn={token}");
        assert_eq!(
            status(&gate, &query, &[("origin", "https://evil.example")]),
            403
        );
        assert_eq!(
            status(&gate, &query, &[("origin", "vscode-file://vscode-app")]),
            101
        );
        assert_eq!(
            status(&gate, &query, &[("origin", "http://localhost:7420")]),
            101
        );
    }

    /// `gate`'s token file, served over TLS.
    fn over_tls(gate: &mut Gate, dir: &tempfile::TempDir) {
        let mut keys = Keys::load(&dir.path().join("t"), LoginLimits::default()).unwrap();
        keys.tls = true;
        gate.keys = Arc::new(keys);
    }

    #[test]
    fn over_tls_a_page_from_the_host_the_browser_asked_for_is_the_hubs_own() {
        let (mut gate, dir) = gate();
        gate.listen = "0.0.0.0:7420".parse().unwrap();
        let query = format!("/?tkn={}", gate.keys.token().unwrap().as_str());
        let from = |gate: &Gate, origin: &str, host: &str| {
            status(gate, &query, &[("origin", origin), ("host", host)])
        };
        let (page, host) = ("https://hub.example:7420", "hub.example:7420");
        assert_eq!(from(&gate, page, host), 403, "in the clear, no");
        over_tls(&mut gate, &dir);
        assert_eq!(from(&gate, page, host), 101);
        assert_eq!(from(&gate, "http://hub.example:7420", host), 403);
        assert_eq!(from(&gate, "https://evil.example:7420", host), 403);
        assert_eq!(from(&gate, page, "evil.example:7420"), 403);
        // A browser login works from that page too, and from no other.
        let (cookie, key) = log_in(&gate);
        let with = |origin: &str| {
            let headers = [
                ("cookie", cookie.as_str()),
                ("origin", origin),
                ("host", host),
            ];
            verdict(&gate, &format!("/?sk={key}"), &headers)
        };
        assert_eq!(with(page), Ok(Admission::Session));
        assert_eq!(with("https://evil.example:7420"), Err(403));
    }

    #[test]
    fn over_tls_the_cookie_is_host_prefixed_and_loopback_http_pages_are_not_the_hubs() {
        let (mut gate, dir) = gate();
        over_tls(&mut gate, &dir);
        let (cookie, key) = log_in(&gate);
        assert!(cookie.contains("; __Host-ourocodus_session="), "{cookie}");
        let with_key = format!("/?sk={key}");
        let host = ("host", "127.0.0.1:7420");
        let own = ("origin", "https://127.0.0.1:7420");
        let at =
            |cookie: &str, origin| status(&gate, &with_key, &[("cookie", cookie), origin, host]);
        assert_eq!(at(&cookie, own), 101);
        let plain_name = cookie.replace("__Host-", "");
        assert_eq!(at(&plain_name, own), 401, "the clear name is not read");
        for local in ["http://127.0.0.1:7420", "http://localhost:7420"] {
            assert_eq!(at(&cookie, ("origin", local)), 403, "{local}");
            let token = format!("/?tkn={}", gate.keys.token().unwrap().as_str());
            assert_eq!(status(&gate, &token, &[("origin", local), host]), 403);
        }
    }

    #[test]
    fn the_path_names_the_endpoint_and_an_unknown_one_is_not_found() {
        let (gate, _dir) = gate();
        let token = gate.keys.token().unwrap().as_str().to_string();
        let endpoint = |uri: &str| {
            let request = Request::builder().uri(uri).body(()).unwrap();
            let Verdict { endpoint, admitted } = gate.check(&request, Response::new(()));
            admitted.map(|_| endpoint).map_err(|e| e.status().as_u16())
        };
        assert_eq!(endpoint(&format!("/?tkn={token}")), Ok(Endpoint::Ahp));
        assert_eq!(endpoint(&format!("/acp?tkn={token}")), Ok(Endpoint::Acp));
        assert_eq!(endpoint(&format!("/other?tkn={token}")), Err(404));
        assert_eq!(endpoint("/acp"), Err(401));
    }
}
