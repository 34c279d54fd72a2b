//! How the hub commands look: a role's label (one colour per role name, the same
//! every run, only on a terminal), one `tail` line per action, agents' text made
//! safe for a terminal, and what a turn's end means as an exit code. Pure text; no
//! I/O and nothing of the wire.

use super::action::Described;
use super::exit;
use crate::store::render::escape_controls;

/// ANSI colours a role can get.
const ROLE_COLOURS: [u8; 12] = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];
/// Width role labels are padded to in `tail`'s columns.
const ROLE_WIDTH: usize = 10;

/// Whether output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    On,
    Off,
}

/// `role`, padded to `width`, in its colour when `colour` is on.
pub fn role_label(role: &str, width: usize, colour: Colour) -> String {
    let padded = format!("{role:<width$}");
    match colour {
        Colour::Off => padded,
        Colour::On => format!("\x1b[{}m{padded}\x1b[0m", role_colour(role)),
    }
}

/// A role's colour: FNV-1a of its name, stable across runs and builds.
fn role_colour(role: &str) -> u8 {
    let hash = role.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    ROLE_COLOURS[hash as usize % ROLE_COLOURS.len()]
}

/// Where an action happened, as `tail` shows it: the session itself, its lead chat,
/// or a role's own chat (the same text can show in both chats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Session,
    Lead,
    RoleChat,
}

impl Place {
    fn label(self) -> &'static str {
        match self {
            Place::Session => "session",
            Place::Lead => "lead",
            Place::RoleChat => "role",
        }
    }
}

/// `    42  backend     lead     delta               Hello\nthere` — seq, role (`-`
/// for none), where, the type without its `chat/` family, the text on one line.
pub fn tail_line(action: &Described, place: Place, colour: Colour) -> String {
    let role = role_label(action.role.as_deref().unwrap_or("-"), ROLE_WIDTH, colour);
    let kind = action.kind.strip_prefix("chat/").unwrap_or(&action.kind);
    let text = escape_controls(&action.text);
    let place = place.label();
    format!("{:>6}  {role}  {place:<7}  {kind:<18}  {text}", action.seq)
        .trim_end()
        .to_string()
}

/// Whether `filter` (from `--kind`) names `kind`: the full type (`chat/delta`) or
/// the part after its family (`delta`), case-insensitively.
pub fn kind_matches(filter: &str, kind: &str) -> bool {
    let short = kind.rsplit_once('/').map_or(kind, |(_, short)| short);
    filter.eq_ignore_ascii_case(kind) || filter.eq_ignore_ascii_case(short)
}

/// Agents' text for a terminal: newlines and tabs kept, every other control
/// character (escape sequences) shown as an escape.
pub fn printable(text: &str) -> String {
    text.split_inclusive(['\n', '\t'])
        .map(|piece| {
            let end = piece.len() - piece.ends_with(['\n', '\t']) as usize;
            let (body, tail) = piece.split_at(end);
            format!("{}{tail}", escape_controls(body))
        })
        .collect()
}

/// The exit code for a completed turn's `stopReason` (absent: a normal end).
pub fn exit_for_stop(stop_reason: Option<&str>) -> u8 {
    match stop_reason {
        None | Some("end_turn") => exit::OK,
        Some("cancelled") => exit::CANCELLED,
        Some(_) => exit::STOPPED,
    }
}

/// A role's `**@role**` heading at the start of its part of the lead chat, dropped
/// (the label says it already), with the blank space after it.
pub fn strip_heading<'a>(role: &str, text: &'a str) -> &'a str {
    let heading = format!("**@{role}**");
    match text.trim_start().strip_prefix(heading.as_str()) {
        Some(rest) => rest.trim_start_matches([' ', '\n', '\r', ':']),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(kind: &str, role: Option<&str>, text: &str) -> Described {
        Described {
            seq: 42,
            channel: "ahp-chat:/s/lead".into(),
            kind: kind.into(),
            role: role.map(str::to_string),
            turn_id: Some("t1".into()),
            text: text.into(),
        }
    }

    #[test]
    fn a_tail_line_is_seq_role_kind_and_the_text_on_one_line() {
        let line = tail_line(
            &action("chat/delta", Some("backend"), "a\nb\u{1b}[2J"),
            Place::Lead,
            Colour::Off,
        );
        assert_eq!(
            line,
            "    42  backend     lead     delta               a\\nb\\u{1b}[2J"
        );
        let bare = tail_line(
            &action("session/titleChanged", None, ""),
            Place::Session,
            Colour::Off,
        );
        assert_eq!(bare, "    42  -           session  session/titleChanged");
    }

    #[test]
    fn role_labels_are_coloured_the_same_every_time_and_only_when_asked() {
        let on = role_label("backend", 8, Colour::On);
        assert!(
            on.starts_with("\x1b[") && on.ends_with("backend \x1b[0m"),
            "{on:?}"
        );
        assert_eq!(on, role_label("backend", 8, Colour::On));
        assert_eq!(role_label("backend", 8, Colour::Off), "backend ");
    }

    #[test]
    fn kinds_match_in_full_or_without_their_family() {
        assert!(kind_matches("delta", "chat/delta"));
        assert!(kind_matches("chat/delta", "chat/delta"));
        assert!(kind_matches("TurnStarted", "chat/turnStarted"));
        assert!(!kind_matches("delta", "chat/toolCallDelta"));
        assert!(!kind_matches("chat", "chat/delta"));
    }

    #[test]
    fn agents_text_keeps_lines_but_not_escape_sequences() {
        assert_eq!(printable("a\n\tb\u{1b}[2Jc\n"), "a\n\tb\\u{1b}[2Jc\n");
        assert_eq!(printable("plain"), "plain");
    }

    #[test]
    fn stop_reasons_map_to_exit_codes() {
        assert_eq!(exit_for_stop(None), 0);
        assert_eq!(exit_for_stop(Some("end_turn")), 0);
        assert_eq!(exit_for_stop(Some("refusal")), 2);
        assert_eq!(exit_for_stop(Some("max_tokens")), 2);
        assert_eq!(exit_for_stop(Some("cancelled")), 130);
    }

    #[test]
    fn the_role_heading_is_dropped_from_a_part() {
        assert_eq!(strip_heading("backend", "**@backend**\n\nhello"), "hello");
        assert_eq!(strip_heading("backend", "hello"), "hello");
    }
}
