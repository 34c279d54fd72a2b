//! Property tests for the JSON-RPC layer: framing against a reference split, the
//! envelope parse against a reference reading of the spec, the builders and escaping.
//! Also the JSON-text generators the router's property tests share.

pub(crate) mod json_text;

mod framing;
mod message;
mod outgoing;

use proptest::test_runner::{Config, FileFailurePersistence};

/// A property's configuration: `cases` unless `PROPTEST_CASES` asks for another
/// number. Failures are not written to disk; a failing case is printed, shrunk, and
/// kept as a plain unit test once understood.
pub(crate) fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}
