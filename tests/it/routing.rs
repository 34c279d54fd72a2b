//! Routing tests (being written).
