//! The HTTP upgrade of a hub connection: the token (`?tkn=` or `Authorization:
//! Bearer`, else 401), the browser Origin (else 403), the endpoint the path names
//! (`/` AHP, `/acp` ACP; else 404), and the WebSocket limits. Knows nothing of what
//! is spoken once upgraded.

use std::net::SocketAddr;

use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::access::{Token, origin_allowed};

/// Who may come in, for every connection of one hub.
#[derive(Debug, Clone)]
pub struct Gate {
    pub token: Token,
    /// The address the hub listens on (its own pages' origin).
    pub listen: SocketAddr,
    /// `--allow-origin` values.
    pub allowed_origins: Vec<String>,
    /// Whether connections come over TLS: then the hub's own pages are also at
    /// `https://HOST`, whatever name the browser reached it by (a certificate the
    /// browser accepted vouches for that name).
    pub tls: bool,
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

impl Gate {
    /// The handshake's verdict on a request: the endpoint asked for and the response
    /// to go on with, or the refusal. The shape tungstenite's handshake callback
    /// takes, so the error stays unboxed.
    #[allow(clippy::result_large_err)]
    pub fn check(
        &self,
        request: &Request,
        response: Response,
    ) -> (Endpoint, Result<Response, ErrorResponse>) {
        let Some(endpoint) = Endpoint::of_path(request.uri().path()) else {
            let refused = refusal(StatusCode::NOT_FOUND, "no such endpoint: `/` or `/acp`");
            return (Endpoint::Ahp, Err(refused));
        };
        (endpoint, self.admit(request, response))
    }

    #[allow(clippy::result_large_err)]
    fn admit(&self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        if !presented_token(request).is_some_and(|t| self.token.matches(t)) {
            return Err(refusal(
                StatusCode::UNAUTHORIZED,
                "a valid hub token is required",
            ));
        }
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"));
        if !origin_allowed(origin, self.listen, &self.allowed_origins)
            && !self.same_origin_over_tls(request, origin)
        {
            return Err(refusal(
                StatusCode::FORBIDDEN,
                "this origin may not reach the hub",
            ));
        }
        Ok(response)
    }
}

impl Gate {
    /// An `Origin` of `https://` and the request's own `Host`, on a TLS connection.
    fn same_origin_over_tls(&self, request: &Request, origin: Option<&str>) -> bool {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        match (self.tls, origin, host) {
            (true, Some(origin), Some(host)) => {
                let origin = origin.trim().trim_end_matches('/');
                origin.eq_ignore_ascii_case(&format!("https://{}", host.trim()))
            }
            _ => false,
        }
    }
}

/// The token in the query (`tkn`, as VS Code sends it) or a bearer header.
fn presented_token(request: &Request) -> Option<&str> {
    let from_query = request
        .uri()
        .query()
        .and_then(|query| query.split('&').find_map(|pair| pair.strip_prefix("tkn=")));
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

    fn gate() -> Gate {
        let dir = tempfile::tempdir().unwrap();
        let token = super::super::access::load_or_create_token(&dir.path().join("t")).unwrap();
        Gate {
            token,
            listen: "127.0.0.1:7420".parse().unwrap(),
            allowed_origins: vec!["vscode-file://vscode-app".to_string()],
            tls: false,
        }
    }

    fn status(gate: &Gate, uri: &str, headers: &[(&str, &str)]) -> u16 {
        let mut builder = Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(()).unwrap();
        match gate.check(&request, Response::new(())).1 {
            Ok(_) => 101,
            Err(refused) => refused.status().as_u16(),
        }
    }

    #[test]
    fn the_token_comes_in_the_query_or_a_bearer_header_and_the_origin_is_checked() {
        let gate = gate();
        let token = gate.token.as_str().to_string();
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

    #[test]
    fn over_tls_a_page_from_the_host_the_browser_asked_for_is_the_hubs_own() {
        let mut gate = gate();
        gate.listen = "0.0.0.0:7420".parse().unwrap();
        let query = format!("/?tkn={}", gate.token.as_str());
        let from = |gate: &Gate, origin: &str, host: &str| {
            status(gate, &query, &[("origin", origin), ("host", host)])
        };
        let (page, host) = ("https://hub.example:7420", "hub.example:7420");
        assert_eq!(from(&gate, page, host), 403, "in the clear, no");
        gate.tls = true;
        assert_eq!(from(&gate, page, host), 101);
        assert_eq!(from(&gate, "http://hub.example:7420", host), 403);
        assert_eq!(from(&gate, "https://evil.example:7420", host), 403);
        assert_eq!(from(&gate, page, "evil.example:7420"), 403);
    }

    #[test]
    fn the_path_names_the_endpoint_and_an_unknown_one_is_not_found() {
        let gate = gate();
        let token = gate.token.as_str().to_string();
        let endpoint = |uri: &str| {
            let request = Request::builder().uri(uri).body(()).unwrap();
            let (endpoint, verdict) = gate.check(&request, Response::new(()));
            verdict.map(|_| endpoint).map_err(|e| e.status().as_u16())
        };
        assert_eq!(endpoint(&format!("/?tkn={token}")), Ok(Endpoint::Ahp));
        assert_eq!(endpoint(&format!("/acp?tkn={token}")), Ok(Endpoint::Acp));
        assert_eq!(endpoint(&format!("/other?tkn={token}")), Err(404));
        assert_eq!(endpoint("/acp"), Err(401));
    }
}
