//! The faces: how clients reach the core. Each face decodes its clients' protocol
//! into core commands and renders the core's outputs for each client; the queue of
//! bytes to a client (`Outbox`) is shared by the line-based ones. Today: ACP on stdio
//! (and in memory, for tests), LSP on stdio, and the coordination tools (MCP) for
//! the agents.

pub mod acp;
pub mod lsp;
pub mod mcp;
pub mod outbox;

pub use outbox::{HIGH_WATER_BYTES, LOW_WATER_BYTES, Outbox, OutboxReceiver};

/// By default, lines over this size from the editor or an agent are refused and skipped.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Reads a size such as `64MiB`, `512KiB`, `1MB`, `100kB` or a plain byte count.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("not a size: {text:?}"))?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1024,
        "m" | "mb" => 1000 * 1000,
        "mib" => 1024 * 1024,
        "g" | "gb" => 1000 * 1000 * 1000,
        "gib" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use B, KiB, MiB, GiB, kB, MB, GB)"
            ));
        }
    };
    number
        .checked_mul(factor)
        .filter(|bytes| *bytes >= 1024)
        .ok_or_else(|| format!("size {text:?} is out of range (at least 1KiB)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("64MiB"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_size("2kB"), Ok(2000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("10").is_err(), "too small to hold a message");
    }
}
