//! Per-agent knowledge (stub).
