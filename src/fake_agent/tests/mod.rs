//! In-process tests of the fake agent: a fake client on pipes, every wait bounded.

mod harness;
mod protocol;
mod schema;
mod turns;
