//! Integration tests: the real binary, fake and third-party agents, one file per capability.

mod support;

mod multiplex;
mod peers;
mod routing;
mod speakers;
