//! Property tests for the ACP face's pure parts: the per-message rewrite of a role's
//! update and the speaker floor.

mod floor;
mod rewrite;

pub(super) use crate::jsonrpc::proptests::config;
