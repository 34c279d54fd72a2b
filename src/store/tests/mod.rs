//! Tests of the store through its public API: what is written is what is read back, and
//! failures (full disk, stalls, other writers, crashes) lose nothing that was settled.

mod crash;
mod failures;
mod linger;
mod reading;
mod support;
mod writing;
