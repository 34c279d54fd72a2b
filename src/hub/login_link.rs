//! `_ourocodus/loginLink`, answered on the connection that asks: a new one-time
//! login code as the monitor's `/login` URL (what `ourocodus login-link` prints).
//! Only a connection that came in with the hub's token may ask; one that came in
//! with a browser session may not mint itself more. Knows the request's shape and
//! its answer; the codes are `Keys`'s.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::keys::Keys;
use super::login_page::login_url;
use super::rpc::{internal_error_frame, refused_frame, request_id, success_frame};

pub const METHOD: &str = "_ourocodus/loginLink";

/// What a token-holding connection makes links with.
#[derive(Debug, Clone)]
pub struct LinkIssuer {
    pub keys: Arc<Keys>,
    /// The hub's address, as the link names it.
    pub listen: SocketAddr,
    /// The era the connection was let in under: once the token changed, it makes none.
    pub era: CancellationToken,
}

/// The frame answering `message`, if it is a `_ourocodus/loginLink` request.
/// `issuer`: `None` when this connection may not ask.
pub fn answer(message: &Value, issuer: Option<&LinkIssuer>) -> Option<String> {
    let id = request_id(message, METHOD)?;
    let Some(issuer) = issuer else {
        return Some(refused_frame(
            id,
            "`_ourocodus/loginLink` needs the hub's token (a browser session cannot make links)",
        ));
    };
    Some(match issuer.keys.issue_code_in(&issuer.era) {
        Ok(None) => refused_frame(
            id,
            "the hub's token changed since this connection came in: reconnect with the new one",
        ),
        Ok(Some(code)) => {
            let url = login_url(issuer.listen, issuer.keys.tls, &code);
            let expires = issuer.keys.code_life_secs();
            success_frame(id, &json!({ "url": url, "expiresInSecs": expires }))
        }
        Err(e) => internal_error_frame(id, &e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::login_book::LoginLimits;

    #[test]
    fn a_token_connection_gets_a_working_link_and_a_browser_session_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::load(&dir.path().join("token"), LoginLimits::default()).unwrap();
        let era = keys.token_era(keys.token().unwrap().as_str()).unwrap();
        let issuer = LinkIssuer {
            keys: Arc::new(keys),
            listen: "127.0.0.1:7420".parse().unwrap(),
            era,
        };
        let ask = json!({"jsonrpc": "2.0", "id": 3, "method": METHOD, "params": {}});
        let frame = answer(&ask, Some(&issuer)).unwrap();
        let reply: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(reply["id"], 3);
        assert_eq!(reply["result"]["expiresInSecs"], 600);
        let url = reply["result"]["url"].as_str().unwrap();
        let code = url
            .strip_prefix("http://127.0.0.1:7420/login?code=")
            .unwrap();
        assert!(issuer.keys.redeem(code).unwrap().is_some());

        let refused: Value = serde_json::from_str(&answer(&ask, None).unwrap()).unwrap();
        assert_eq!(refused["error"]["code"], -32600, "{refused}");
        let other = json!({"jsonrpc": "2.0", "id": 4, "method": "ping"});
        assert_eq!(answer(&other, Some(&issuer)), None);
    }
}
