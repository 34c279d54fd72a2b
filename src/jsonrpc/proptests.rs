//! Property tests for the JSON-RPC layer: framing against a reference split, the
//! envelope parse against a reference reading of the spec, the one-pass scan against
//! the thorough parse, the params index against serde, the builders and escaping.
//! Also the JSON-text generators the router's property tests share.

pub(crate) mod json_text;

mod framing;
mod message;
mod outgoing;
mod scan;

use proptest::test_runner::{Config, FileFailurePersistence};

/// How many times the debug count an optimized build runs: the set takes about 8 s
/// in a debug build and under a second optimized, so CI's release run looks further.
const OPTIMIZED_BUILD_FACTOR: u32 = 10;

/// A property's configuration: `cases` in a debug build (times
/// `OPTIMIZED_BUILD_FACTOR` in an optimized one) unless `PROPTEST_CASES` asks for
/// another number. Failures are not written to disk; a failing case is printed,
/// shrunk, and kept as a plain unit test once understood.
pub(crate) fn config(cases: u32) -> Config {
    let factor = if cfg!(debug_assertions) {
        1
    } else {
        OPTIMIZED_BUILD_FACTOR
    };
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases * factor);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}
