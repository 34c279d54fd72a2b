//! The JSON-RPC frames the hub writes: a result or an error, with the request's id
//! echoed exactly as it came (number, string or null). Knows nothing of AHP's methods.

use ahp_types::errors::json_rpc_error_codes;
use serde::Serialize;
use serde_json::Value;

/// An error answered to the client (whether the connection goes on is the caller's call).
#[derive(Debug)]
pub struct RpcFailure {
    pub code: i32,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcFailure {
    pub fn new(code: i32, message: impl Into<String>) -> RpcFailure {
        RpcFailure {
            code,
            message: message.into(),
            data: None,
        }
    }
}

#[derive(Serialize)]
struct Success<'a, T: Serialize> {
    jsonrpc: &'static str,
    id: &'a Value,
    result: T,
}

#[derive(Serialize)]
struct Failure<'a> {
    jsonrpc: &'static str,
    id: &'a Value,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: i32,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
}

/// A typed result as the value to send.
pub fn to_value<T: Serialize>(result: T) -> Result<Value, RpcFailure> {
    serde_json::to_value(result)
        .map_err(|e| RpcFailure::new(json_rpc_error_codes::INTERNAL_ERROR, e.to_string()))
}

/// Serialising a `Value` id and result cannot fail: the default is never taken.
pub fn success_frame(id: &Value, result: &Value) -> String {
    let success = Success {
        jsonrpc: "2.0",
        id,
        result,
    };
    serde_json::to_string(&success).unwrap_or_default()
}

/// As `success_frame`: plain strings, numbers and `Value`s only.
pub fn failure_frame(id: &Value, failure: &RpcFailure) -> String {
    let body = Failure {
        jsonrpc: "2.0",
        id,
        error: ErrorBody {
            code: failure.code,
            message: &failure.message,
            data: failure.data.as_ref(),
        },
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// The id of `message` if it is a request for `method` (a number or string id);
/// `None` for anything else, notifications included.
pub fn request_id<'a>(message: &'a Value, method: &str) -> Option<&'a Value> {
    if message.get("method").and_then(Value::as_str) != Some(method) {
        return None;
    }
    message
        .get("id")
        .filter(|id| id.is_number() || id.is_string())
}

/// The frame refusing request `id` as not allowed here, saying why.
pub fn refused_frame(id: &Value, why: &str) -> String {
    let failure = RpcFailure::new(json_rpc_error_codes::INVALID_REQUEST, why);
    failure_frame(id, &failure)
}

/// The frame failing request `id` with an internal error, saying what went wrong.
pub fn internal_error_frame(id: &Value, what: &dyn std::fmt::Display) -> String {
    let failure = RpcFailure::new(json_rpc_error_codes::INTERNAL_ERROR, what.to_string());
    failure_frame(id, &failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_echoed_as_they_came() {
        let frame = success_frame(&Value::from("a-1"), &Value::Null);
        assert_eq!(frame, r#"{"jsonrpc":"2.0","id":"a-1","result":null}"#);
        let failure = RpcFailure::new(-32601, "no");
        let frame = failure_frame(&Value::from(7), &failure);
        assert_eq!(
            frame,
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"no"}}"#
        );
    }
}
