//! Property tests for the router's pure parts: the per-message rewrite of a role's
//! update, the speaker floor, and mention extraction.

mod floor;
mod mention;
mod rewrite;

pub(super) use crate::jsonrpc::proptests::config;
