//! Transport (stub).
