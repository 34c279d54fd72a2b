//! The router (stub).
