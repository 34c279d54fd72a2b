//! The editor-facing side: what the router receives from an editor (`EditorInput`)
//! and the queue it writes to (`EditorOutbox`), plus the stdio face. Knows nothing of
//! sessions or agents.

mod outbox;
mod stdio;

use crate::jsonrpc::{Message, ParseError};

pub use outbox::{EditorOutbox, HIGH_WATER_BYTES, LOW_WATER_BYTES};
pub use stdio::serve_stdio;

/// One thing that arrived from the editor, in order.
#[derive(Debug)]
pub enum EditorInput {
    Message(Message),
    /// A line that is not a usable JSON-RPC message.
    Malformed(ParseError),
    /// A line over the size cap was skipped.
    TooLong {
        bytes: usize,
    },
    /// The editor closed its end.
    Closed,
}

/// Lines over this size from the editor or an agent are refused and skipped.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
