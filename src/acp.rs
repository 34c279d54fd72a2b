//! ACP shapes (stub).
