//! The two kinds of error: `RpcError` is what goes on the wire to a peer (a JSON-RPC
//! error object); `Error` is what ends a task or the process.

use std::path::PathBuf;

pub use crate::jsonrpc::ErrorObject as RpcError;
use crate::jsonrpc::codes;

/// Code for a request the proxy refused by the role's policy (a server-defined code).
pub const POLICY_DENIED: i64 = -32010;

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn parse_error(detail: impl Into<String>) -> Self {
        RpcError::new(
            codes::PARSE_ERROR,
            format!("parse error: {}", detail.into()),
        )
    }

    pub fn invalid_request(detail: impl Into<String>) -> Self {
        RpcError::new(
            codes::INVALID_REQUEST,
            format!("invalid request: {}", detail.into()),
        )
    }

    pub fn method_not_found(method: &str) -> Self {
        RpcError::new(
            codes::METHOD_NOT_FOUND,
            format!("method not found: {method}"),
        )
    }

    pub fn invalid_params(detail: impl Into<String>) -> Self {
        RpcError::new(
            codes::INVALID_PARAMS,
            format!("invalid params: {}", detail.into()),
        )
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        RpcError::new(codes::INTERNAL_ERROR, detail)
    }

    pub fn policy_denied(detail: impl Into<String>) -> Self {
        RpcError::new(POLICY_DENIED, detail)
    }
}

/// Errors that end a task (or, from `main`, the process).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{role} cannot start in its sandbox: {reason}")]
    Sandbox { role: String, reason: String },
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    WriteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
