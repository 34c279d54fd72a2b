//! JSON-RPC 2.0 over newline-delimited JSON: ids, the message envelope (read in one
//! validating pass that also indexes object params), framing, messages parsed read by
//! read from shared buffers, outgoing-message builders, and raw-object writers.
//! Knows nothing of ACP, agents or routing.

mod fields;
mod framing;
mod id;
mod message;
mod outgoing;
#[cfg(test)]
pub(crate) mod proptests;
pub mod raw;
mod reads;
mod repeated;
mod scan;
mod strict;

pub use fields::{Field, IndexScratch, IndexedAt, IndexedObject, IndexedTexts, ObjectFields};
pub use framing::{Frame, LineBudget, LineSplitter, Piece};
pub use id::RequestId;
pub use message::{Body, Message, ParseError, ParseErrorKind};
pub use outgoing::{
    ErrorObject, error_response, notification, request, response_raw, write_json_escaped,
    write_json_string,
};
pub use reads::{Incoming, ReadParser};
pub use strict::from_str_strict;

/// JSON-RPC error codes used on the wire (ACP adds -32000 and -32002).
pub mod codes {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    pub const REQUEST_CANCELLED: i64 = -32800;
    pub const AUTH_REQUIRED: i64 = -32000;
    pub const RESOURCE_NOT_FOUND: i64 = -32002;
}
