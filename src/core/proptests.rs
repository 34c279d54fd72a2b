//! Property tests for the core's pure parts: mention extraction.

mod mention;

pub(super) use crate::jsonrpc::proptests::config;
