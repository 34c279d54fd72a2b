//! Knowledge about particular agents: how to hand each adapter a role's persona and
//! policy, and what to tell the user when it fails. Keeps adapter specifics in one place.

mod quirks;

pub use quirks::{Quirks, StateKind, persona_preamble};
