//! `_ourocodus/renewPageKey`, answered on a connection a browser session let in:
//! that session's page key replaced by a fresh one, sent back for the page to keep.
//! The key a login delivered in its URL fragment (which browser history may keep)
//! then opens nothing. Knows the request's shape and its answer; the sessions are
//! `Keys`'s.

use std::sync::Arc;

use serde_json::{Value, json};

use super::keys::Keys;
use super::rpc::{internal_error_frame, refused_frame, request_id, success_frame};

pub const METHOD: &str = "_ourocodus/renewPageKey";

/// What a connection let in by a browser session renews its page key with.
#[derive(Debug, Clone)]
pub struct PageKeyRenewer {
    pub keys: Arc<Keys>,
    /// The session that let the connection in.
    pub serial: u64,
}

/// The frame answering `message`, if it is a `_ourocodus/renewPageKey` request.
/// `renewer`: `None` when the connection came in with the token (it has no page key).
pub fn answer(message: &Value, renewer: Option<&PageKeyRenewer>) -> Option<String> {
    let id = request_id(message, METHOD)?;
    let Some(renewer) = renewer else {
        return Some(refused_frame(
            id,
            "`_ourocodus/renewPageKey` belongs to a browser session (this connection came in with the token)",
        ));
    };
    Some(match renewer.keys.renew_page_key(renewer.serial) {
        Ok(Some(key)) => success_frame(id, &json!({ "pageKey": key })),
        Ok(None) => refused_frame(
            id,
            "this browser session is over: run `ourocodus login-link` for a new link",
        ),
        Err(e) => internal_error_frame(id, &e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::login_book::LoginLimits;

    fn ask(id: u64) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "method": METHOD, "params": {}})
    }

    #[test]
    fn a_renewed_page_key_opens_the_session_and_the_one_from_the_url_no_longer_does() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(Keys::load(&dir.path().join("token"), LoginLimits::default()).unwrap());
        let code = keys.issue_code().unwrap();
        let secrets = keys.redeem(&code).unwrap().unwrap();
        let lease = keys
            .session_lease(&secrets.cookie, &secrets.page_key)
            .unwrap();
        let renewer = PageKeyRenewer {
            keys: keys.clone(),
            serial: lease.session.unwrap().serial,
        };
        let reply: Value = serde_json::from_str(&answer(&ask(7), Some(&renewer)).unwrap()).unwrap();
        assert_eq!(reply["id"], 7);
        let renewed = reply["result"]["pageKey"].as_str().unwrap();
        assert!(
            renewed.len() == 64 && renewed != secrets.page_key,
            "{reply}"
        );
        assert!(keys.session_lease(&secrets.cookie, renewed).is_some());
        assert!(
            keys.session_lease(&secrets.cookie, &secrets.page_key)
                .is_none(),
            "the key from the URL opens nothing more"
        );
    }

    #[test]
    fn a_token_connection_has_no_page_key_and_other_methods_are_not_this_ones() {
        let refused: Value = serde_json::from_str(&answer(&ask(1), None).unwrap()).unwrap();
        assert_eq!(refused["error"]["code"], -32600, "{refused}");
        let other = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
        assert_eq!(answer(&other, None), None);
    }
}
