//! The hub (`ourocodus serve`): a long-lived team host several clients attach to.
//! So far: who may reach it and where clients find it (`access`). Knows nothing of
//! the core's state.

pub mod access;
